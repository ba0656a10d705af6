"""New-user report 11, minor #4: a nightly (``--state``) error about a query named the
engine's wrapper (``SELECT * FROM ( ... ) AS _attribution_q WHERE ...``) and a 1-based row
of the night's filtered rows as if it were the table's. It now names the user's own query,
says the rows are the night's (at or after the cutoff, or without a timestamp) and numbers
the row among those. A DuckDB file and the CLI, as a nightly job runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl

START = datetime(2026, 6, 1, tzinfo=UTC)
STAGES = "SELECT * FROM crm.stage_events"


def _night(db: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "attribution.cli", "run", "--database", f"duckdb://{db}",
               "--touches-sql", "SELECT * FROM crm.touch_events", "--stages-sql", STAGES,
               "-m", "linear", "--state", str(tmp_path / "state"), "--late-window", "2d",
               "--out", str(tmp_path / "runs")]  # fmt: skip
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_a_nightly_query_error_names_the_users_query(tmp_path) -> None:
    contacts = [f"P{i:03d}" for i in range(8)]
    touches = pl.DataFrame(
        {
            "touch_id": [f"{c}-{k}" for c in contacts for k in range(2)],
            "contact_id": [c for c in contacts for _ in range(2)],
            "channel": ["ads", "email"] * len(contacts),
            "timestamp": [START + timedelta(days=i, hours=k) for i in range(8) for k in range(2)],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": contacts,
            "stage": ["closed_won"] * len(contacts),
            "timestamp": [START + timedelta(days=i, hours=5) for i in range(8)],
            "value": [10.0] * len(contacts),
        }
    )
    db = tmp_path / "night.duckdb"
    with duckdb.connect(str(db)) as con:
        con.register("t", touches.to_arrow())
        con.register("s", stages.to_arrow())
        con.execute("CREATE SCHEMA crm")
        con.execute("CREATE TABLE crm.touch_events AS SELECT * FROM t")
        con.execute("CREATE TABLE crm.stage_events AS SELECT * FROM s")
    first = _night(db, tmp_path)
    assert first.returncode == 0, first.stderr
    assert "first run" in first.stderr
    with duckdb.connect(str(db)) as con:  # a late stage row without its time
        con.execute(
            "INSERT INTO crm.stage_events VALUES ('P007', 'closed_won', NULL, 5.0), "
            "('P006', 'opportunity', TIMESTAMPTZ '2026-06-08 09:00:00+00', NULL)"
        )
    night = _night(db, tmp_path)
    assert night.returncode == 2, night.stderr
    error = night.stderr.strip().splitlines()[-1]
    assert f"query: {STAGES} (the night's rows: at or after " in error, error
    assert "or without a timestamp)" in error
    assert "_attribution_q" not in night.stderr
    assert "WHERE" not in night.stderr
    assert "empty value(s) in a required column" in error
    assert "(first offending rows, 1-based among the night's rows: " in error
