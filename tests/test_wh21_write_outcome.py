"""New-user report 17 (a nightly job writing back to PostgreSQL), the write-back's outcome:

- M5: the run directory's manifest records the write-back's target (redacted) and outcome
  (``write_back``: committed with its rows, failed with why); ``--keep-runs`` does not count
  a run whose write did not commit and removes it (the runs directory and the database hold
  the same runs); ``GET /v1/runs`` shows each run's write-back;
- M9: SIGTERM during the write-back says what the process knows (rolled back before
  COMMIT), not "whole or absent";
- M10: a pre-created ``numeric`` column (dbt's money type) is written (PostgreSQL's cast, no
  driver error after the run), on UTC's clock under a database in another time zone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest

from attribution.inputs._database import SqlTable

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
SECRET = "Wh21#s3cret/pw"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small part of the sample (300 contacts) as Parquet files."""
    where = tmp_path_factory.mktemp("wh21")
    touches = pl.read_parquet(SAMPLE / "touches.parquet")
    contacts = touches.get_column("contact_id").unique().sort().head(300)
    touches.filter(pl.col("contact_id").is_in(contacts.implode())).write_parquet(
        where / "touches.parquet"
    )
    stages = pl.read_parquet(SAMPLE / "stages.parquet")
    stages.filter(pl.col("contact_id").is_in(contacts.implode())).write_parquet(
        where / "stages.parquet"
    )
    return where


def _run(data: Path, where: Path, target: str, *more: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "attribution.cli", "run",
               "--touches", str(data / "touches.parquet"),
               "--stages", str(data / "stages.parquet"), "-m", "linear",
               "--write-to", target, "--out", str(where / "runs"), *more]  # fmt: skip
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, COLUMNS="200"))  # fmt: skip


def _manifest(run_dir: Path) -> dict[str, object]:
    manifest: dict[str, object] = json.loads((run_dir / "manifest.json").read_text())
    return manifest


def _runs(where: Path) -> list[Path]:
    return sorted(p for p in (where / "runs").iterdir() if not p.name.startswith("."))


def test_the_manifest_says_whether_the_write_back_committed(data: Path, tmp_path: Path) -> None:
    results = tmp_path / "results.duckdb"
    ok = _run(data, tmp_path, f"duckdb://{results}")
    assert ok.returncode == 0, ok.stderr
    (first,) = _runs(tmp_path)
    record = _manifest(first)["write_back"]
    assert isinstance(record, dict)
    assert record["status"] == "committed"
    assert record["target"] == f"duckdb://{results}"
    assert record["run_id"] == first.name
    with duckdb.connect(str(results), read_only=True) as con:
        stored = {
            table: con.execute(
                f"SELECT count(*) FROM {table} WHERE run_id = '{first.name}'"
            ).fetchone()[0]  # type: ignore[index]
            for table in record["tables"]
        }
    assert stored == record["tables"]
    assert record["rows"] == sum(stored.values()) > 0
    # a table of that name with other columns: the write fails, the manifest says so
    with duckdb.connect(str(results)) as con:
        con.execute("DROP TABLE attribution_touch_credit")
        con.execute("CREATE TABLE attribution_touch_credit (something TEXT)")
    failed = _run(data, tmp_path, f"duckdb://{results}")
    assert failed.returncode == 2, failed.stderr
    second = _runs(tmp_path)[-1]
    record = _manifest(second)["write_back"]
    assert isinstance(record, dict)
    assert record["status"] == "failed"
    assert "missing" in str(record["error"])
    assert "tables" not in record
    with duckdb.connect(str(results)) as con:  # nothing of it was written
        assert con.execute(
            f"SELECT count(*) FROM attribution_channel_credit WHERE run_id = '{second.name}'"
        ).fetchone() == (0,)
        con.execute("DROP TABLE attribution_touch_credit")
    # the next night keeps 2 runs whose write committed, and removes the failed one
    third = _run(data, tmp_path, f"duckdb://{results}", "--keep-runs", "2")
    assert third.returncode == 0, third.stderr
    names = [p.name for p in _runs(tmp_path)]
    assert second.name not in names
    assert first.name in names
    assert len(names) == 2
    assert f"{second.name}: its write-back did not commit" in third.stderr
    # the service lists each run with its write-back
    from fastapi.testclient import TestClient

    from service import Settings, create_app

    key = "k-0123456789abcdef"
    settings = Settings(api_keys=(key,), data_dir=tmp_path / "data", runs_dir=tmp_path / "runs")
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/runs", headers={"Authorization": f"Bearer {key}"}).json()["runs"]
    assert {r["run_id"]: r["write_back"]["status"] for r in listed} == dict.fromkeys(
        names, "committed"
    )


def test_a_run_written_without_write_to_counts_as_before(data: Path, tmp_path: Path) -> None:
    import attribution

    plain = attribution.attribute(
        data / "touches.parquet", data / "stages.parquet", models=["linear"]
    ).write(tmp_path / "runs")
    assert "write_back" not in _manifest(plain)
    ok = _run(data, tmp_path, f"duckdb://{tmp_path / 'r.duckdb'}", "--keep-runs", "2")
    assert ok.returncode == 0, ok.stderr
    assert plain.name in [p.name for p in _runs(tmp_path)]


# --- PostgreSQL ------------------------------------------------------------------------------


def _execute(uri: str, *sql: str) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cursor:
        for statement in sql:
            cursor.execute(statement)
        con.commit()


@pytest.fixture
def schemas(postgres_uri: str) -> Iterator[None]:
    """The schemas these tests write to, dropped after each (other tests of the session's
    server list every schema's attribution_* tables)."""
    yield
    _execute(postgres_uri, "DROP SCHEMA IF EXISTS wh21_term CASCADE",
             "DROP SCHEMA IF EXISTS wh21_dbt CASCADE")  # fmt: skip


@pytest.mark.usefixtures("schemas")
def test_sigterm_while_the_write_waits_says_it_was_rolled_back(
    data: Path, tmp_path: Path, postgres_uri: str
) -> None:
    import adbc_driver_postgresql.dbapi as pg

    _execute(postgres_uri, "DROP SCHEMA IF EXISTS wh21_term CASCADE", "CREATE SCHEMA wh21_term")
    target = postgres_uri.replace("attribution@", f"attribution:{SECRET}@")
    target += "?options=-csearch_path%3Dwh21_term"
    first = _run(data, tmp_path, target)  # creates the tables
    assert first.returncode == 0, first.stderr
    holder = pg.connect(postgres_uri)
    cursor = holder.cursor()
    cursor.execute("LOCK TABLE wh21_term.attribution_touch_credit IN ACCESS EXCLUSIVE MODE")
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "attribution.cli", "run",
             "--touches", str(data / "touches.parquet"),
             "--stages", str(data / "stages.parquet"), "-m", "linear",
             "--write-to", target, "--out", str(tmp_path / "runs")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        waited = 0.0
        while waited < 120:  # until its write waits on the lock
            with pg.connect(postgres_uri) as con, con.cursor() as look:
                look.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND pid <> pg_backend_pid()"
                )
                if look.fetchone()[0]:  # type: ignore[index]
                    break
            time.sleep(0.2)
            waited += 0.2
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.0)  # SIGTERM is seen once the driver's COPY returns: the lock released
    finally:
        holder.rollback()
        holder.close()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    last = err.strip().splitlines()[-1]
    assert "whole or absent" not in last
    assert "was rolled back before COMMIT: nothing of this run is in the database" in last
    assert SECRET not in err
    assert "attribution:***@" in last
    stopped = _runs(tmp_path)[-1]
    record = _manifest(stopped)["write_back"]
    assert isinstance(record, dict)
    assert record["status"] == "failed"
    assert SECRET not in (stopped / "manifest.json").read_text()
    count = SqlTable(
        postgres_uri,
        "SELECT count(*) AS n FROM wh21_term.attribution_channel_credit "
        f"WHERE run_id = '{stopped.name}'",
    ).frame()
    assert count.item() == 0


@pytest.mark.usefixtures("schemas")
def test_a_numeric_column_is_written_on_utcs_clock(
    data: Path, tmp_path: Path, postgres_uri: str
) -> None:
    _execute(
        postgres_uri,
        "DROP SCHEMA IF EXISTS wh21_dbt CASCADE",
        "CREATE SCHEMA wh21_dbt",
        "CREATE TABLE wh21_dbt.attribution_touch_credit (run_id text, conversion_id text, "
        "touch_id text, contact_id text, account_id text, channel text, timestamp timestamp, "
        "model text, credit numeric, value numeric(18, 2))",
    )
    target = postgres_uri + "?options=-csearch_path%3Dwh21_dbt%20-cTimeZone%3DAmerica/New_York"
    ok = _run(data, tmp_path, target)
    assert ok.returncode == 0, ok.stderr
    (run_dir,) = _runs(tmp_path)
    assert _manifest(run_dir)["write_back"]["status"] == "committed"  # type: ignore[index]
    stored = SqlTable(
        postgres_uri,
        "SELECT touch_id, conversion_id, timestamp, credit::float8 AS credit, "
        "value::float8 AS value FROM wh21_dbt.attribution_touch_credit",
    ).frame()
    ours = pl.read_parquet(run_dir / "touch_credit.parquet").select(  # its wide layout
        "touch_id", "conversion_id", pl.col("timestamp").dt.replace_time_zone(None),
        pl.col("credit:linear").alias("credit"),
        (pl.col("credit:linear") * pl.col("conversion_value")).alias("value"),
    )
    joined = ours.join(stored, on=["touch_id", "conversion_id"], suffix="_db")
    assert joined.height == ours.height == stored.height > 0
    assert (joined["timestamp"] == joined["timestamp_db"]).all()  # UTC wall times
    assert (joined["credit"] - joined["credit_db"]).abs().max() < 1e-12  # type: ignore[operator]
    assert (joined["value"] - joined["value_db"]).abs().max() <= 0.005  # type: ignore[operator]
