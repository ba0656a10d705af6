"""New-user report 11, serious #1: ``--database`` on the command line was ignored in silence
when the config had ``[inputs.database] uri`` (the run read the config's database, exit
0), and with one ``--touches-sql`` the run mixed two databases (touches of one, stages of
the other); ``--touches-sql`` alone with such a config was refused. Now ``--database``
replaces the config's URI for every query of the run, a command-line query without it reads
the config's URI (then ``ATTRIBUTION_DATABASE_URI``), and the manifest names one source per
table. Two real DuckDB files, through the command line as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

START = datetime(2026, 6, 1, tzinfo=UTC)


def _tables(channels: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Six contacts, each touched once per channel over a few days and won after: the
    channels name the database the touches came from."""
    contacts = [f"P{i:03d}" for i in range(6)]
    touches = pl.DataFrame(
        {
            "touch_id": [f"{c}-{ch}" for c in contacts for ch in channels],
            "contact_id": [c for c in contacts for _ in channels],
            "channel": [ch for _ in contacts for ch in channels],
            "timestamp": [
                START + timedelta(days=i, hours=k)
                for i, _ in enumerate(contacts)
                for k, _ in enumerate(channels)
            ],
        }
    )
    stages = pl.DataFrame(
        {
            "contact_id": contacts,
            "stage": ["closed_won"] * len(contacts),
            "timestamp": [START + timedelta(days=i + 3) for i in range(len(contacts))],
            "value": [1000.0] * len(contacts),
        }
    )
    return touches, stages


def _database(path: Path, channels: list[str]) -> str:
    touches, stages = _tables(channels)
    with duckdb.connect(str(path)) as con:
        con.register("t", touches.to_arrow())
        con.register("s", stages.to_arrow())
        con.execute("CREATE SCHEMA crm")
        con.execute("CREATE TABLE crm.touch_events AS SELECT * FROM t")
        con.execute("CREATE TABLE crm.stage_events AS SELECT * FROM s")
    return f"duckdb://{path}"


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    """Two DuckDB files of the same contacts, the config naming the first (``wh``)."""
    base = tmp_path_factory.mktemp("two")
    wh = _database(base / "wh.duckdb", ["wh_ads", "wh_email"])
    big = _database(base / "big.duckdb", ["big_ads", "big_webinar"])
    config = base / "run.toml"
    config.write_text(
        f'[inputs.database]\nuri = "{wh}"\n'
        'touches = "SELECT * FROM crm.touch_events"\n'
        'stages = "SELECT * FROM crm.stage_events"\n'
    )
    return wh, big, config


def _run(
    args: list[str], out: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, str], set[str]]:
    """The CLI run; its manifest's source per input table and the channels credited."""
    command = [sys.executable, "-m", "attribution.cli", "run", *args, "-m", "linear",
               "--out", str(out)]  # fmt: skip
    environ = {k: v for k, v in os.environ.items() if k != "ATTRIBUTION_DATABASE_URI"}
    proc = subprocess.run(
        command, capture_output=True, text=True, timeout=300,
        env={**environ, "COLUMNS": "200", **(env or {})},
    )  # fmt: skip
    if proc.returncode != 0 or not out.is_dir():
        return proc, {}, set()
    (run_dir,) = out.iterdir()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    sources = {name: entry["source"] for name, entry in manifest["inputs"].items()}
    channels = set(pl.read_parquet(run_dir / "channel_credit.parquet").get_column("channel"))
    return proc, sources, channels


def test_database_flag_replaces_the_configs_uri_for_every_query(two, tmp_path) -> None:
    wh, big, config = two
    proc, sources, channels = _run(["-c", str(config), "--database", big], tmp_path / "a")
    assert proc.returncode == 0, proc.stderr
    assert sources == {"touches": big, "stages": big}
    assert channels == {"big_ads", "big_webinar"}
    # one query on the command line: still one database for the whole run
    proc, sources, channels = _run(
        ["-c", str(config), "--database", big, "--touches-sql", "SELECT * FROM crm.touch_events"],
        tmp_path / "b",
    )
    assert proc.returncode == 0, proc.stderr
    assert sources == {"touches": big, "stages": big}
    assert channels == {"big_ads", "big_webinar"}


def test_a_query_flag_without_database_reads_the_configs_uri(two, tmp_path) -> None:
    wh, big, config = two
    proc, sources, channels = _run(
        ["-c", str(config), "--touches-sql", "SELECT * FROM crm.touch_events WHERE channel <> 'x'"],
        tmp_path / "a",
        env={"ATTRIBUTION_DATABASE_URI": big},  # the config's key is nearer than the env's
    )
    assert proc.returncode == 0, proc.stderr
    assert sources == {"touches": wh, "stages": wh}
    assert channels == {"wh_ads", "wh_email"}
    # without a config, the environment's URI
    proc, sources, channels = _run(
        ["--touches-sql", "SELECT * FROM crm.touch_events",
         "--stages-sql", "SELECT * FROM crm.stage_events"],
        tmp_path / "b",
        env={"ATTRIBUTION_DATABASE_URI": big},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert sources == {"touches": big, "stages": big}


def test_a_database_flag_no_query_reads_is_an_error(two, tmp_path) -> None:
    wh, big, _ = two
    touches, stages = _tables(["ads"])
    touches.write_parquet(tmp_path / "t.parquet")
    stages.write_parquet(tmp_path / "s.parquet")
    proc, _, _ = _run(
        ["--touches", str(tmp_path / "t.parquet"), "--stages", str(tmp_path / "s.parquet"),
         "--database", big],
        tmp_path / "runs",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "--database gives no table" in proc.stderr
    assert not (tmp_path / "runs").exists()
