"""New-user report 11, minor #8: where the write-back's tables go, as the README says.

- PostgreSQL: the schema is the URI's ``search_path`` (``?options=-csearch_path%3Dbi``;
  written there in tests/test_fix11_writeback_clock.py); a pre-created table there that the
  role has no privilege on (``information_schema`` hides its columns, so the pre-check saw
  no table and the append failed with the driver's ``Column "status" does not exist``) is
  now refused before anything is appended, naming the table, the role and the grant.
- DuckDB: a URI has no schema; the tables go to the file's ``main`` schema (a table of the
  same name in another schema is not touched), and a separate results file is read from
  the warehouse with ``ATTACH``, or through views in the schema of your choice."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

import attribution
from attribution import write_back

SCHEMA = "fix11_hide"
ROLE = "fix11_etl"


@pytest.fixture(scope="module")
def result() -> attribution.AttributionResult:
    touches = pl.DataFrame(
        {
            "contact_id": ["c1", "c1", "c2"],
            "channel": ["ads", "email", "ads"],
            "timestamp": ["2026-01-01", "2026-01-05", "2026-01-03"],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": ["c1", "c2"],
            "stage": ["closed_won", "closed_won"],
            "timestamp": ["2026-01-10", "2026-01-09"],
            "value": [100.0, 50.0],
        }
    )
    return attribution.attribute(touches, stages, models=["linear"])


def test_postgres_table_the_role_cannot_see_is_refused_by_name(postgres_uri, result) -> None:
    import adbc_driver_postgresql.dbapi as pg

    def admin(*sql: str) -> None:
        with pg.connect(postgres_uri) as con, con.cursor() as cursor:
            for statement in sql:
                cursor.execute(statement)
            con.commit()

    admin(
        f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE",
        f"DROP ROLE IF EXISTS {ROLE}",
        f"CREATE ROLE {ROLE} LOGIN",
        f"CREATE SCHEMA {SCHEMA}",
        f"GRANT USAGE, CREATE ON SCHEMA {SCHEMA} TO {ROLE}",
        # another team's table, no grant to the role: hidden from its information_schema
        f"CREATE TABLE {SCHEMA}.attribution_channel_credit (status TEXT, n INTEGER)",
    )
    try:
        uri = postgres_uri.replace("attribution@", f"{ROLE}@", 1)
        target = f"{uri}?options=-csearch_path%3D{SCHEMA}"
        with pytest.raises(attribution.ConfigError) as caught:
            write_back(result, target, run_id="night-1")
        text = str(caught.value)
        assert f"table {SCHEMA}.attribution_channel_credit exists but the role {ROLE} " in text
        assert "has no privilege on it" in text
        assert "nothing was written" in text
        assert "does not exist" not in text  # not the driver's follow-up error
        with pg.connect(postgres_uri) as con, con.cursor() as cursor:
            cursor.execute(
                "SELECT table_name FROM information_schema.tables "
                f"WHERE table_schema = '{SCHEMA}' ORDER BY 1"
            )
            assert cursor.fetchall() == [("attribution_channel_credit",)]  # nothing new
        # granted, the same write goes through to the column-list check (other columns)
        admin(f"GRANT SELECT, INSERT ON {SCHEMA}.attribution_channel_credit TO {ROLE}")
        with pytest.raises(attribution.ConfigError, match=r"has the columns \(status text"):
            write_back(result, target, run_id="night-1")
    finally:
        admin(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE", f"DROP ROLE IF EXISTS {ROLE}")


def test_duckdb_writes_to_main_read_by_attach_or_a_view(tmp_path: Path, result) -> None:
    results = tmp_path / "attribution.duckdb"
    with duckdb.connect(str(results)) as con:  # a table of that name in another schema
        con.execute("CREATE SCHEMA bi")
        con.execute("CREATE TABLE bi.attribution_channel_credit (status VARCHAR)")
    written = write_back(result, f"duckdb://{results}", run_id="night-1")
    assert written["attribution_channel_credit"] == result.channel_credit.height
    with duckdb.connect(str(results)) as con:
        placed = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name LIKE 'attribution_%' ORDER BY 1, 2"
        ).fetchall()
        assert placed == [
            ("bi", "attribution_channel_credit"),
            ("main", "attribution_channel_credit"),
            ("main", "attribution_touch_credit"),
        ]
        assert con.execute("SELECT count(*) FROM bi.attribution_channel_credit").fetchone() == (
            0,
        )
        # views in the schema of your choice
        con.execute(
            "CREATE VIEW bi.touch_credit AS SELECT * FROM main.attribution_touch_credit"
        )
        rows = con.execute("SELECT count(*) FROM bi.touch_credit").fetchone()
        assert rows == (result.touch_credit.height,)
    # or the results file attached to the warehouse, read-only
    with duckdb.connect(str(tmp_path / "warehouse.duckdb")) as con:
        con.execute(f"ATTACH '{results}' AS attribution (READ_ONLY)")
        got = con.execute(
            "SELECT sum(credit) FROM attribution.attribution_touch_credit "
            "WHERE run_id = 'night-1'"
        ).fetchone()
        assert got is not None
        assert got[0] == pytest.approx(result.touch_credit.get_column("credit").sum())
