"""SQL sources and write-back: a DuckDB file and a real PostgreSQL server (one per session,
tests/postgres_server.py) give the same credit as Parquet; errors name the query and the
user's column; credentials never reach the manifest or an error; write-back is one
transaction (a failure writes nothing)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import attribution
from attribution import SqlTable, write_back

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
MODELS = ["linear", "w_shaped", "markov"]
BY = ["model", "conversion_id", "touch_id"]


@pytest.fixture(scope="module")
def sample() -> tuple[pl.DataFrame, pl.DataFrame]:
    return pl.read_parquet(SAMPLE / "touches.parquet"), pl.read_parquet(SAMPLE / "stages.parquet")


@pytest.fixture(scope="module")
def from_parquet() -> attribution.AttributionResult:
    return attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=MODELS
    )


@pytest.fixture(scope="module")
def duck(tmp_path_factory, sample) -> Path:
    """A DuckDB file holding the sample touches and stages, under the user's own names."""
    path = tmp_path_factory.mktemp("duck") / "crm.duckdb"
    touches, stages = sample
    with duckdb.connect(str(path)) as con:
        con.register("t", touches.rename({"timestamp": "event_time"}).to_arrow())
        con.register("s", stages.to_arrow())
        con.execute("CREATE TABLE marketing_touches AS SELECT * FROM t")
        con.execute("CREATE TABLE crm_stages AS SELECT * FROM s")
    return path


def _same(got: attribution.AttributionResult, expected: attribution.AttributionResult) -> None:
    assert_frame_equal(got.touch_credit.sort(BY), expected.touch_credit.sort(BY), abs_tol=1e-12)
    by = ["model", "channel"]
    assert_frame_equal(
        got.channel_credit.sort(by), expected.channel_credit.sort(by), abs_tol=1e-12
    )
    assert got.manifest["reconciliation"] == expected.manifest["reconciliation"]


QUERY = "SELECT * FROM marketing_touches"


@pytest.mark.parametrize("executor", ["memory", "partitioned"])
def test_duckdb_queries_give_the_credit_of_parquet(duck, from_parquet, executor) -> None:
    touches = SqlTable(f"duckdb://{duck}", QUERY)
    stages = SqlTable(str(duck), "SELECT * FROM crm_stages")  # a bare .duckdb path works too
    columns = {"touches": {"timestamp": "event_time"}}
    if executor == "memory":
        got = attribution.attribute(touches, stages, models=MODELS, columns=columns)
    else:
        got = attribution.attribute_partitioned(
            touches, stages, models=MODELS, columns=columns, partitions=3
        )
    _same(got, from_parquet)
    entry = got.manifest["inputs"]["touches"]
    assert entry["source"] == f"duckdb://{duck}"
    assert entry["query"] == QUERY
    assert entry["rows"] == 109_615  # the sample: 89,387 marketing + 20,228 sales touches
    assert len(entry["sha256"]) == 64
    # the hash is of the result: another result, another hash
    other = SqlTable(f"duckdb://{duck}", QUERY + " WHERE channel <> 'direct'")
    assert other.describe(0)["sha256"] != entry["sha256"]


def test_a_bad_value_names_the_query_the_users_column_and_the_row(duck) -> None:
    query = "SELECT contact_id, channel, 'not a date' AS event_time FROM marketing_touches"
    with pytest.raises(attribution.SchemaError) as caught:
        attribution.attribute(
            SqlTable(f"duckdb://{duck}", query + " LIMIT 3"),
            SqlTable(f"duckdb://{duck}", "SELECT * FROM crm_stages"),
            columns={"touches": {"timestamp": "event_time"}},
        )
    text = str(caught.value)
    assert "table 'touches'" in text
    assert "query: SELECT contact_id" in text
    assert "column 'event_time' (ours: 'timestamp')" in text
    assert "rows, 1-based: 1, 2, 3" in text


def test_a_failing_query_and_a_missing_file_are_errors_that_say_so(duck, tmp_path) -> None:
    with pytest.raises(attribution.InputError, match="table 'stages'.*the query failed.*nope"):
        attribution.attribute(
            SqlTable(f"duckdb://{duck}", QUERY),
            SqlTable(f"duckdb://{duck}", "SELECT * FROM nope"),
            columns={"touches": {"timestamp": "event_time"}},
        )
    with pytest.raises(attribution.ConfigError, match="database file not found"):
        SqlTable(f"duckdb://{tmp_path}/missing.duckdb", QUERY).frame()
    with pytest.raises(attribution.ConfigError, match="cannot tell the database"):
        SqlTable("mysql://u:pw@host/db", QUERY)


def test_a_query_without_rows_is_an_error_naming_it(duck) -> None:
    with pytest.raises(attribution.InputError, match="query: SELECT .* no data rows"):
        attribution.attribute(
            SqlTable(f"duckdb://{duck}", QUERY + " WHERE false"),
            SqlTable(f"duckdb://{duck}", "SELECT * FROM crm_stages"),
            columns={"touches": {"timestamp": "event_time"}},
        )


def test_config_database_section(duck, tmp_path) -> None:
    from attribution.inputs._config import load_config

    shutil.copy(duck, tmp_path / "crm.duckdb")
    config = tmp_path / "run.toml"
    config.write_text(
        '[inputs.database]\nuri = "duckdb://crm.duckdb"\n'
        f'touches = "{QUERY}"\nstages = "SELECT * FROM crm_stages"\n'
        '[columns.touches]\ntimestamp = "event_time"\n'
    )
    cfg = load_config(config)
    assert cfg.inputs["touches"] == SqlTable(f"duckdb://{tmp_path / 'crm.duckdb'}", QUERY)
    config.write_text(
        '[inputs]\ntouches = "t.parquet"\n[inputs.database]\nuri = "duckdb://crm.duckdb"\n'
        f'touches = "{QUERY}"\n'
    )
    with pytest.raises(attribution.ConfigError, match="touches is given both as a file"):
        load_config(config)
    config.write_text('[inputs.database]\nuri = "duckdb://crm.duckdb"\ntouchs = "SELECT 1"\n')
    with pytest.raises(attribution.ConfigError, match="unknown key 'touchs'.*touches"):
        load_config(config)


# --- PostgreSQL ------------------------------------------------------------------------------


def _load_postgres(uri: str, tables: dict[str, pl.DataFrame]) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cursor:
        for name, frame in tables.items():
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
            cursor.adbc_ingest(name, frame.to_arrow(), mode="create")
        con.commit()


def _with_password(uri: str, password: str = "s3cr3t-pw") -> str:
    return uri.replace("attribution@", f"attribution:{password}@")


def test_postgres_queries_give_the_credit_of_parquet(postgres_uri, sample, from_parquet) -> None:
    touches, stages = sample
    _load_postgres(postgres_uri, {"touches": touches, "stages": stages})
    uri = _with_password(postgres_uri)  # trust auth ignores it: it must still never show
    got = attribution.attribute(
        SqlTable(uri, "SELECT * FROM touches"),
        SqlTable(uri, "SELECT * FROM stages"),
        models=MODELS,
    )
    _same(got, from_parquet)
    text = json.dumps(got.manifest)
    assert "s3cr3t-pw" not in text
    assert "attribution:***@" in text
    assert got.manifest["inputs"]["stages"]["query"] == "SELECT * FROM stages"
    with pytest.raises(attribution.InputError) as caught:
        SqlTable(uri, "SELECT * FROM missing_table").frame("touches")
    assert "missing_table" in str(caught.value)
    assert "s3cr3t-pw" not in str(caught.value)


# --- write-back ------------------------------------------------------------------------------


def _read(uri: str, sql: str) -> pl.DataFrame:
    """A query's result, DuckDB's Etc/UTC timestamps as UTC (the same instants)."""
    frame = SqlTable(uri, sql).frame()
    aware = [c for c, t in frame.schema.items() if isinstance(t, pl.Datetime) and t.time_zone]
    return frame.with_columns(pl.col(aware).dt.convert_time_zone("UTC"))


def _results(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database without result tables: a new DuckDB file, or the session's PostgreSQL
    server with them dropped."""
    if kind == "duckdb":
        return f"duckdb://{tmp_path / 'results.duckdb'}"
    uri: str = request.getfixturevalue("postgres_uri")
    _drop(uri)
    return uri


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_write_back_appends_each_run_with_its_id(kind, request, tmp_path, from_parquet) -> None:
    uri = _results(kind, request, tmp_path)
    first = write_back(from_parquet, uri, run_id="night-1")
    write_back(from_parquet, uri, run_id="night-2")
    assert first == {
        "attribution_channel_credit": from_parquet.channel_credit.height,
        "attribution_touch_credit": from_parquet.touch_credit.height,
        "attribution_campaign_influence": from_parquet.campaign_influence.height,
    }
    assert from_parquet.campaign_influence.height > 0  # the sample's touches carry campaigns
    influence = _read(uri, "SELECT * FROM attribution_campaign_influence WHERE run_id = 'night-2'")
    keys = ["opportunity_id", "model", "campaign_id", "channel"]
    assert_frame_equal(
        influence.drop("run_id").sort(keys),
        from_parquet.campaign_influence.sort(keys),
        abs_tol=1e-12,
    )
    stored = _read(uri, "SELECT * FROM attribution_channel_credit")
    assert stored.columns == ["run_id", *from_parquet.channel_credit.columns]
    assert stored.group_by("run_id").len().sort("run_id").rows() == [
        ("night-1", from_parquet.channel_credit.height),
        ("night-2", from_parquet.channel_credit.height),
    ]
    night = stored.filter(pl.col("run_id") == "night-2").drop("run_id")
    by = ["model", "channel"]
    assert_frame_equal(night.sort(by), from_parquet.channel_credit.sort(by), abs_tol=1e-12)
    touch = _read(uri, "SELECT * FROM attribution_touch_credit WHERE run_id = 'night-1'")
    assert_frame_equal(
        touch.drop("run_id").sort(BY), from_parquet.touch_credit.sort(BY), abs_tol=1e-12
    )


def _drop(uri: str) -> None:
    import adbc_driver_postgresql.dbapi as pg

    with pg.connect(uri) as con, con.cursor() as cursor:
        for table in attribution.engine._writeback.WRITE_BACK_TABLES.values():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        con.commit()


@pytest.mark.parametrize("kind", ["duckdb", "postgresql"])
def test_a_failed_write_back_writes_nothing(kind, request, tmp_path, from_parquet) -> None:
    uri = _results(kind, request, tmp_path)
    # the touch-credit table exists with other columns: its append fails after the channel
    # credit's went through, and the transaction takes that back too
    if kind == "duckdb":
        with duckdb.connect(str(tmp_path / "results.duckdb")) as con:
            con.execute("CREATE TABLE attribution_touch_credit (run_id INTEGER, other DOUBLE)")
    else:
        _load_postgres(
            uri, {"attribution_touch_credit": pl.DataFrame({"run_id": [1], "other": [0.5]})}
        )
    secret = _with_password(uri) if kind == "postgresql" else uri
    with pytest.raises(attribution.ConfigError, match="nothing was written") as caught:
        write_back(from_parquet, secret, run_id="night-1")
    assert "s3cr3t-pw" not in str(caught.value)
    tables = _read(
        uri,
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_name LIKE 'attribution_%'",
    )
    assert tables.get_column("table_name").to_list() == ["attribution_touch_credit"]


def test_cli_reads_a_database_and_writes_back(duck, tmp_path, from_parquet) -> None:
    results = tmp_path / "results.duckdb"
    env = dict(os.environ, COLUMNS="200", ATTRIBUTION_DATABASE_URI=f"duckdb://{duck}")
    command = [
        sys.executable, "-m", "attribution.cli", "run",
        "--touches-sql", QUERY, "--stages-sql", "SELECT * FROM crm_stages",
        "--config", str(tmp_path / "columns.toml"),
        *[flag for m in MODELS for flag in ("-m", m)],
        "--spend", str(SAMPLE / "spend.parquet"),
        "--write-to", f"duckdb://{results}", "--out", str(tmp_path / "runs"),
    ]  # fmt: skip
    (tmp_path / "columns.toml").write_text('[columns.touches]\ntimestamp = "event_time"\n')
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert f"(run_id {run_dir.name})" in proc.stdout
    stored = _read(f"duckdb://{results}", "SELECT * FROM attribution_channel_credit")
    assert set(stored.get_column("run_id")) == {run_dir.name}
    on_disk = pl.read_parquet(run_dir / "channel_credit.parquet")
    assert_frame_equal(stored.drop("run_id"), on_disk)
    economics = _read(f"duckdb://{results}", "SELECT * FROM attribution_economics")
    assert economics.drop("run_id").equals(pl.read_parquet(run_dir / "economics.parquet"))
    # a query flag without a database is refused before any work
    env.pop("ATTRIBUTION_DATABASE_URI")
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2
    assert "--touches-sql, --stages-sql need --database" in proc.stderr


def test_a_write_target_held_by_another_process_stops_the_run_before_its_work(tmp_path) -> None:
    """New-user report 4, defect 7: a BI tool holding the DuckDB file open made the write-back
    fail after the run (and after a nightly state advanced) with DuckDB's advice to open the
    file read-only. Now it is found before any work; a write-back refused after the run says
    what was and was not written and what to do."""
    results = tmp_path / "results.duckdb"
    with duckdb.connect(str(results)) as con:
        con.execute("CREATE TABLE attribution_channel_credit (x INTEGER)")  # not the run's
    command = [
        sys.executable, "-m", "attribution.cli", "run",
        "--touches", str(SAMPLE / "touches.parquet"), "--stages", str(SAMPLE / "stages.parquet"),
        "-m", "linear", "--write-to", f"duckdb://{results}", "--out", str(tmp_path / "runs"),
    ]  # fmt: skip
    code = (
        "import duckdb, sys, time\n"
        "c = duckdb.connect(sys.argv[1], read_only=True)\nprint('open', flush=True)\n"
        "time.sleep(120)\n"
    )
    reader = subprocess.Popen([sys.executable, "-c", code, str(results)],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "open"
        held = subprocess.run(command, capture_output=True, text=True, timeout=300)
    finally:
        reader.kill()
        reader.wait(timeout=30)
        if reader.stdout is not None:
            reader.stdout.close()
    assert held.returncode == 2, held.stderr
    assert f"the file is locked by another process (PID {reader.pid})" in held.stderr
    assert "nothing was run" in held.stderr
    assert "read-only mode" not in held.stderr
    assert not (tmp_path / "runs").exists()
    # free, but its table has other columns: the run is written, the database is not
    refused = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2, refused.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert "Nothing of this run was written to it; the run directory" in refused.stderr
    assert f"{run_dir.name} is complete: run the same command again" in refused.stderr
