"""New-user report 11, serious #2: a DuckDB write-back into a pre-created ``TIMESTAMP``
column (no time zone: what a dbt model or a migration usually makes) stored the touch times
on the clock of the machine's ``TZ`` (``TZ=America/New_York`` shifted each by 4-5 hours,
exit 0) while PostgreSQL stored UTC. Both now store UTC wall times; a new table still gets
times with a time zone. The run in a subprocess with ``TZ`` (and ``PGTZ``) set, as a cron
job on a New York host runs it. The PostgreSQL case writes through
``?options=-csearch_path%3D<schema>``, the README's way to pick the schema."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

import attribution

START = datetime(2026, 6, 1, 20, 16, 53, tzinfo=UTC)  # 16:16 in New York, the day before 01:00
SCHEMA = "fix11_bi"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("clock")
    contacts = [f"C{i}" for i in range(4)]
    touches = pl.DataFrame(
        {
            "touch_id": [f"{c}-{k}" for c in contacts for k in range(3)],
            "contact_id": [c for c in contacts for _ in range(3)],
            "channel": ["ads", "email", "webinar"] * len(contacts),
            "timestamp": [
                START + timedelta(days=30 * i, hours=5 * k) for i in range(4) for k in range(3)
            ],  # June (EDT, -4) to September: and one in winter time below
        }
    )
    touches = pl.concat(
        [
            touches,
            pl.DataFrame(
                {
                    "touch_id": ["W-1"],
                    "contact_id": ["W"],
                    "channel": ["ads"],
                    "timestamp": [datetime(2026, 1, 15, 3, 30, tzinfo=UTC)],  # EST, -5
                }
            ),
        ]
    )
    stages = pl.DataFrame(
        {
            "contact_id": [*contacts, "W"],
            "stage": ["closed_won"] * 5,
            "timestamp": [
                *(START + timedelta(days=30 * i + 1) for i in range(4)),
                datetime(2026, 1, 20, tzinfo=UTC),
            ],
            "value": [100.0] * 5,
        }
    )
    touches.write_parquet(base / "touches.parquet")
    stages.write_parquet(base / "stages.parquet")
    return base / "touches.parquet", base / "stages.parquet"


def _ddl(touches: Path, stages: Path) -> str:
    """The touch-credit table as a data team would pre-create it: the run's columns, the
    touch time a ``TIMESTAMP`` without a time zone."""
    result = attribution.attribute(touches, stages, models=["linear"])
    kinds = {pl.String: "VARCHAR", pl.Float64: "DOUBLE PRECISION"}
    columns = ["run_id VARCHAR"] + [
        f'"{name}" ' + ("TIMESTAMP" if isinstance(dtype, pl.Datetime) else kinds[dtype.base_type()])
        for name, dtype in result.touch_credit.schema.items()
    ]
    return f"CREATE TABLE attribution_touch_credit ({', '.join(columns)})"


def _run(touches: Path, stages: Path, target: str, out: Path) -> Path:
    command = [sys.executable, "-m", "attribution.cli", "run", "--touches", str(touches),
               "--stages", str(stages), "-m", "linear", "--write-to", target,
               "--out", str(out)]  # fmt: skip
    env = {**os.environ, "TZ": "America/New_York", "PGTZ": "America/New_York", "COLUMNS": "200"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = out.iterdir()
    return run_dir


def _expected(run_dir: Path) -> list[datetime]:
    """The run's touch times (touch_credit.parquet, UTC) as UTC wall times."""
    frame = pl.read_parquet(run_dir / "touch_credit.parquet")
    return sorted(frame.get_column("timestamp").dt.replace_time_zone(None).to_list())


def test_duckdb_naive_timestamp_column_gets_utc_under_another_tz(inputs, tmp_path) -> None:
    touches, stages = inputs
    results = tmp_path / "pre.duckdb"
    with duckdb.connect(str(results)) as con:
        con.execute(_ddl(touches, stages))
    run_dir = _run(touches, stages, f"duckdb://{results}", tmp_path / "runs")
    with duckdb.connect(str(results)) as con:
        stored = [r[0] for r in con.execute(
            'SELECT "timestamp" FROM attribution_touch_credit ORDER BY 1'
        ).fetchall()]  # fmt: skip
    expected = _expected(run_dir)
    assert len(expected) == 13
    assert stored == expected  # was 4-5 hours earlier: New York's clock
    # a table the run creates keeps the time zone: the same instants
    fresh = tmp_path / "new.duckdb"
    run_dir = _run(touches, stages, f"duckdb://{fresh}", tmp_path / "runs2")
    got = attribution.SqlTable(
        f"duckdb://{fresh}", "SELECT timestamp FROM attribution_touch_credit"
    ).frame()
    dtype = got.schema["timestamp"]
    assert isinstance(dtype, pl.Datetime)
    assert dtype.time_zone is not None
    instants = got.get_column("timestamp").dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    assert sorted(instants.to_list()) == _expected(run_dir)


def test_postgres_naive_timestamp_column_gets_utc_in_the_schema_picked(
    postgres_uri, inputs, tmp_path
) -> None:
    import adbc_driver_postgresql.dbapi as pg

    touches, stages = inputs
    with pg.connect(postgres_uri) as con, con.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        cursor.execute(f"CREATE SCHEMA {SCHEMA}")
        cursor.execute(_ddl(touches, stages).replace("TABLE ", f"TABLE {SCHEMA}.", 1))
        con.commit()
    try:
        target = f"{postgres_uri}?options=-csearch_path%3D{SCHEMA}"
        run_dir = _run(touches, stages, target, tmp_path / "runs")
        with pg.connect(postgres_uri) as con, con.cursor() as cursor:
            cursor.execute(f'SELECT "timestamp" FROM {SCHEMA}.attribution_touch_credit')
            stored = pl.from_arrow(cursor.fetch_arrow_table())
            cursor.execute(
                "SELECT table_schema, table_name FROM information_schema.tables "
                f"WHERE table_name LIKE 'attribution_%' AND table_schema = '{SCHEMA}' ORDER BY 2"
            )
            placed = cursor.fetchall()
            cursor.execute(  # other tests' tables in public: none has this run's rows
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' "
                "AND table_name = 'attribution_touch_credit'"
            )
            if cursor.fetchall() == [(1,)]:
                cursor.execute(
                    "SELECT count(*) FROM public.attribution_touch_credit "
                    f"WHERE run_id::text = '{run_dir.name}'"
                )
                assert cursor.fetchall() == [(0,)]
    finally:
        with pg.connect(postgres_uri) as con, con.cursor() as cursor:
            cursor.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
            con.commit()
    assert isinstance(stored, pl.DataFrame)
    assert sorted(stored.get_column("timestamp").to_list()) == _expected(run_dir)
    assert placed == [(SCHEMA, "attribution_channel_credit"), (SCHEMA, "attribution_touch_credit")]
