"""A data engineer's warehouse as it is (new-user report 7): passwords pasted without
percent-encoding, a server that never answers, PostgreSQL's money / numeric / uuid /
interval columns, duplicate column names, a query ending in a comment, rows without a
timestamp on a night, and a --state that cannot be made. Each was a wrong answer, a leaked
password, a hang or a traceback."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import attribution
from attribution import SqlTable
from attribution.engine._state_lock import state_lock
from attribution.inputs import _database
from attribution.inputs._database import _postgres_uri, _scrub, readable, redacted

# --- passwords as pasted ------------------------------------------------------------------

PASTED = ["Pa55#word", "Pa55?word", "p/ss:W0rd", "p@ss#W0rd", "Tr0ub4dor&3xyz"]


@pytest.mark.parametrize("password", PASTED)
def test_a_password_pasted_without_encoding_is_never_shown(password: str) -> None:
    uri = f"postgresql://analyst:{password}@127.0.0.1:54337/crm?sslmode=disable"
    assert redacted(uri) == "postgresql://analyst:***@127.0.0.1:54337/crm?sslmode=disable"
    # what libpq is given: the password percent-encoded, so it is read whole
    handed = _postgres_uri(uri)
    assert handed.startswith("postgresql://analyst:")
    assert "@127.0.0.1:54337/crm?sslmode=disable&connect_timeout=30" in handed
    encoded = handed.removeprefix("postgresql://analyst:").split("@127.0.0.1")[0]
    assert unquote(encoded) == password
    assert not set(encoded) & set("#?/@:&")
    message = f"cannot connect to {uri}: failed; tried {handed}"
    scrubbed = _scrub(message, uri)
    assert password not in scrubbed
    assert redacted(uri) in scrubbed


def test_an_encoded_password_stays_as_it_was_written() -> None:
    uri = "postgresql://analyst:Tr0ub4dor%263xyz@db/crm"
    assert _postgres_uri(uri) == uri + "?connect_timeout=30"


def test_a_short_password_is_not_hunted_through_the_drivers_message() -> None:
    """Replacing 'e' or 'analyst' wherever it occurs said where the password was."""
    for password, message in [
        ("analyst", 'password authentication failed for user "analyst"'),
        ("e", "Failed to connect: connection to server refused"),
        ("127", 'connection to server at "127.0.0.1", port 54337 failed'),
    ]:
        assert _scrub(message, f"postgresql://analyst:{password}@db/crm") == message
    # a long one that a message repeats is hidden
    echoed = "could not parse Tr0ub4dor&3xyz"
    assert _scrub(echoed, "postgresql://a:Tr0ub4dor&3xyz@db/crm") == "could not parse ***"


def test_a_timeout_in_the_uri_or_the_environment_is_kept(monkeypatch) -> None:
    assert _postgres_uri("postgres://u@db/crm?connect_timeout=5") == (
        "postgresql://u@db/crm?connect_timeout=5"
    )
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "7")
    assert _postgres_uri("postgresql://u@db/crm") == "postgresql://u@db/crm"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A listener that accepts connections and never says a word."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(sock.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield int(sock.getsockname()[1])
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    sock.close()


def test_a_server_that_never_answers_is_an_error_not_a_hang(silent_server, monkeypatch) -> None:
    pytest.importorskip("adbc_driver_postgresql")
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    monkeypatch.setattr(_database, "CONNECT_TIMEOUT_S", 2)  # libpq's least
    uri = f"postgresql://analyst:x-secret-1@127.0.0.1:{silent_server}/crm"
    started = time.monotonic()
    with pytest.raises(attribution.ConfigError) as caught:
        SqlTable(uri, "SELECT 1").frame("touches")
    assert time.monotonic() - started < 30
    assert "cannot connect to postgresql://analyst:***@127.0.0.1" in str(caught.value)
    assert "x-secret-1" not in str(caught.value)


# --- column types --------------------------------------------------------------------------


def _pg(name: str, kind: pa.DataType, typname: str) -> pa.Field:
    return pa.field(name, kind, metadata={"POSTGRESQL:type": typname})


def test_money_is_refused_naming_the_column_and_the_cast() -> None:
    arrow = pa.table({"value": pa.array([1250], pa.int64())}).cast(
        pa.schema([_pg("value", pa.int64(), "money")])
    )
    with pytest.raises(attribution.InputError) as caught:
        readable(arrow, "stages", "db query: SELECT ...")
    text = str(caught.value)
    assert "column 'value' is a PostgreSQL money" in text
    assert "value::numeric" in text


def test_numeric_and_uuid_are_read_as_a_number_and_text_an_interval_left_out() -> None:
    numeric = pa.opaque(pa.string(), "numeric", "PostgreSQL")
    arrow = pa.Table.from_arrays(
        [
            pa.ExtensionArray.from_storage(numeric, pa.array(["12.50", "0.10", None])),
            pa.ExtensionArray.from_storage(
                pa.uuid(), pa.array([bytes(range(16))] * 3, pa.binary(16))
            ),
            pa.array([pa.MonthDayNano([0, 1, 0])] * 3, pa.month_day_nano_interval()),
            pa.array(["a", "b", "c"]),
        ],
        schema=pa.schema(
            [
                _pg("cost", numeric, "numeric"),
                _pg("touch_id", pa.uuid(), "uuid"),
                _pg("lag", pa.month_day_nano_interval(), "interval"),
                _pg("channel", pa.string(), "text"),
            ]
        ),
    )
    frame = readable(arrow, "touches", "db query")
    assert frame.columns == ["cost", "touch_id", "channel"]
    assert frame.get_column("cost").to_list() == [12.5, 0.1, None]
    assert frame.get_column("touch_id").to_list() == ["00010203-0405-0607-0809-0a0b0c0d0e0f"] * 3


def test_two_columns_of_one_name_are_an_error_naming_it() -> None:
    arrow = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["channel", "channel"])
    with pytest.raises(attribution.InputError, match="'channel' more than once"):
        readable(arrow, "touches", "db query")


def test_postgres_columns_as_a_warehouse_has_them(postgres_uri) -> None:
    """Against the real server: money refused, numeric and uuid read, an interval left out,
    a query whose last line is a comment run as written, and a password with '#' (trust
    auth ignores it) connecting and never shown."""
    uri = postgres_uri.replace("attribution@", "attribution:Pa55#w0rd@")
    frame = SqlTable(
        uri,
        "SELECT 12.50::numeric(12,2) AS cost, md5('a')::uuid AS touch_id, "
        "interval '1 day' AS lag, 'email' AS channel -- every column",
    ).frame("touches")
    assert frame.to_dicts() == [
        {"cost": 12.5, "touch_id": "0cc175b9-c0f1-b6a8-31c3-99e269772661", "channel": "email"}
    ]
    with pytest.raises(attribution.InputError, match="PostgreSQL money") as caught:
        SqlTable(uri, "SELECT 12.5::money AS value").frame("stages")
    assert "Pa55#w0rd" not in str(caught.value)


# --- nights ---------------------------------------------------------------------------------


def test_a_night_refuses_rows_without_a_timestamp_as_a_full_run_does(tmp_path: Path) -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    touches = pl.DataFrame(
        {
            "touch_id": ["t1", "t2"],
            "contact_id": ["c1", "c2"],
            "channel": ["ads", "email"],
            "timestamp": [t0, t0 + timedelta(days=1)],
        }
    )
    stages = pl.DataFrame(
        {"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
         "timestamp": [t0 + timedelta(days=5)] * 2}
    )  # fmt: skip
    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        con.register("t", touches.to_arrow())
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE touches AS SELECT * FROM t")
        con.execute("CREATE TABLE stages AS SELECT * FROM s")
    uri = f"duckdb://{path}"

    def night() -> attribution.AttributionResult:
        return attribution.attribute_incremental(
            SqlTable(uri, "SELECT * FROM touches"),
            SqlTable(uri, "SELECT * FROM stages"),
            models=["linear"],
            state=tmp_path / "state",
        )

    night()
    with duckdb.connect(str(path)) as con:
        con.execute(
            "INSERT INTO touches VALUES ('t3', 'c1', 'ads', TIMESTAMPTZ '2025-01-03 00:00:00+00'),"
            " ('t4', 'c2', 'ads', NULL)"
        )
    with pytest.raises(attribution.InputError, match="timestamp") as caught:
        night()
    with pytest.raises(attribution.InputError) as full:
        attribution.attribute(
            SqlTable(uri, "SELECT * FROM touches"), SqlTable(uri, "SELECT * FROM stages")
        )
    assert type(caught.value) is type(full.value)


def test_a_state_that_cannot_be_made_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(attribution.ConfigError, match="state .* cannot create or open it"):
        with state_lock(tmp_path / "afile" / "state"):
            pass


def test_each_night_says_what_it_did_on_stderr(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from attribution.cli import app

    root = Path(__file__).resolve().parents[1] / "sample_data"
    args = ["run", "--touches", str(root / "touches.parquet"), "--stages",
            str(root / "stages.parquet"), "-m", "linear", "-o", str(tmp_path / "runs"),
            "--state", str(tmp_path / "state")]  # fmt: skip
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "incremental run: first run, every row read (" in first.stderr
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "incremental run: new rows read: 0 touches, 0 stages; 0 entities re-opened" in (
        again.stderr
    )
    manifest = json.loads(next((tmp_path / "runs").glob("*/manifest.json")).read_text())
    assert manifest["parameters"]["incremental"]


# --- write-back into tables that exist -------------------------------------------------------


def _result(bootstrap: int = 0) -> attribution.AttributionResult:
    root = Path(__file__).resolve().parents[1] / "sample_data"
    return attribution.attribute(
        root / "touches.parquet", root / "stages.parquet", models=["linear"],
        bootstrap=bootstrap, bootstrap_seed=1,
    )  # fmt: skip


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_a_bootstraps_interval_columns_are_added_to_an_existing_table(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Report 7 #13: turning on --bootstrap made every later write-back fail (ci_low and
    ci_high missing from the table the earlier runs made)."""
    if kind == "duckdb":
        uri = f"duckdb://{tmp_path / 'out.duckdb'}"
    else:
        uri = request.getfixturevalue("postgres_uri")
        with _database.open_database(uri, write=True) as db, db.transaction() as t:
            t.handle.execute("DROP TABLE IF EXISTS attribution_channel_credit")
            t.handle.execute("DROP TABLE IF EXISTS attribution_touch_credit")
            t.handle.execute("DROP TABLE IF EXISTS attribution_campaign_influence")
    attribution.write_back(_result(), uri, run_id="plain")
    attribution.write_back(_result(bootstrap=20), uri, run_id="boot")
    attribution.write_back(_result(), uri, run_id="plain-again")
    got = SqlTable(
        uri, "SELECT run_id, count(ci_low) AS n, count(*) AS rows FROM "
        "attribution_channel_credit GROUP BY run_id ORDER BY run_id"
    ).frame()  # fmt: skip
    rows = {r["run_id"]: (r["n"], r["rows"]) for r in got.to_dicts()}
    assert rows["boot"][0] == rows["boot"][1] > 0
    assert rows["plain"][0] == 0
    assert rows["plain-again"][0] == 0


def test_a_column_that_would_round_the_credit_is_refused(tmp_path: Path) -> None:
    """Report 7 #14: a pre-created table with integer columns got 182 for 182.44."""
    path = tmp_path / "typ.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE attribution_channel_credit (run_id VARCHAR, model VARCHAR, "
            "channel VARCHAR, conversions BIGINT, value DECIMAL(12,0), share DOUBLE)"
        )
    with pytest.raises(attribution.ConfigError) as caught:
        attribution.write_back(_result(), f"duckdb://{path}", run_id="r")
    text = str(caught.value)
    assert "conversions BIGINT, value DECIMAL(12,0) would round" in text
    assert "nothing was written" in text
    with duckdb.connect(str(path)) as con:
        assert con.execute("SELECT count(*) FROM attribution_channel_credit").fetchone() == (0,)
