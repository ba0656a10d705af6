"""``attribution run --quiet`` for a scheduled job, and the line an incremental night prints
once its state is committed (new-user report 17, M4: cron mailed 17 lines of stderr and
114 of stdout a night; a first night that then attributed nothing said "the state is
built" and exited 3 with no state)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl

from tests.test_shared_opportunities import STAGES, TOUCHES


def _run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", "run", "--touches", "t.csv", "--stages",
         "s.csv", "-m", "linear", "--out", "runs", *args],
        cwd=where, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, COLUMNS="200"),
    )  # fmt: skip


def _files(where: Path) -> None:
    # ';'-separated (as Excel writes in a comma-decimal locale): the run notes it
    (where / "t.csv").write_text(TOUCHES.write_csv().replace(",", ";"))
    STAGES.write_csv(where / "s.csv")


def test_quiet_prints_the_run_directory_warnings_and_errors_only(tmp_path: Path) -> None:
    _files(tmp_path)
    loud = _run(tmp_path)
    assert loud.returncode == 0, loud.stderr
    assert "note: touches 't.csv': read as ';'-separated" in loud.stderr
    assert "[journeys]" in loud.stderr
    assert "warning: 4 conversions share 2 opportunity id(s)" in loud.stdout
    quiet = _run(tmp_path, "--quiet")
    assert quiet.returncode == 0, quiet.stderr
    (printed,) = quiet.stdout.splitlines()  # the run directory alone, for a script to read
    assert (tmp_path / printed / "manifest.json").is_file()
    lines = quiet.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("warning: 4 conversions share 2 opportunity id(s)")
    # an error is said as ever, and exits 2
    (tmp_path / "s.csv").write_text("timestamp,stage,contact_id\nnot a time,closed_won,c1\n")
    failed = _run(tmp_path, "--quiet")
    assert failed.returncode == 2
    assert failed.stderr.startswith("error: ")
    assert failed.stdout == ""


def test_a_quiet_night_prints_its_line_after_the_state_is_committed(tmp_path: Path) -> None:
    _files(tmp_path)
    first = _run(tmp_path, "--state", "state", "--quiet")
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines()[0] == (
        "incremental run: first run, every row read (5 touches, 5 stages); the state is built"
    )
    assert (tmp_path / "state" / "state.json").is_file()
    again = _run(tmp_path, "--state", "state", "--quiet")
    assert again.returncode == 0, again.stderr
    assert "incremental run: new rows read: 0 touches, 0 stages; 0 entities re-opened" in (
        again.stderr.splitlines()
    )


def test_a_first_night_that_attributes_nothing_does_not_say_the_state_is_built(
    tmp_path: Path,
) -> None:
    _files(tmp_path)
    STAGES.with_columns(pl.lit("Closed Won").alias("stage")).write_csv(tmp_path / "s.csv")
    night = _run(tmp_path, "--state", "state")
    assert night.returncode == 3, night.stderr
    assert "the state is built" not in night.stderr
    assert not (tmp_path / "state" / "state.json").exists()
