"""``attribution run --keep-runs N``: after a successful run the runs directory keeps its
newest N run directories; only run directories this package wrote are removed (their
manifest says so), never the run just written, and the command says what it removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
from typer.testing import CliRunner

import attribution
from attribution.cli._app import app

TOUCHES = pl.DataFrame(
    {"contact_id": ["c1", "c1", "c2"], "channel": ["email", "ads", "webinar"],
     "timestamp": ["2025-01-01", "2025-01-03", "2025-01-02"]}
)  # fmt: skip
STAGES = pl.DataFrame(
    {"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
     "timestamp": ["2025-01-10", "2025-01-11"]}
)  # fmt: skip


def _old_runs(runs: Path, n: int) -> list[str]:
    return [
        attribution.attribute(TOUCHES, STAGES, models=["linear"]).write(runs).name
        for _ in range(n)
    ]


def _foreign(runs: Path) -> set[str]:
    """Entries that are not run directories of ours, each a near miss."""
    (runs / "notes").mkdir()  # no manifest
    (runs / "notes" / "todo.txt").write_text("keep me")
    other = runs / "20250101T000000Z-00000000"  # a run id's name, another tool's manifest
    other.mkdir()
    (other / "manifest.json").write_text(json.dumps(
        {"run_id": other.name, "created_at": "2000-01-01T00:00:00+00:00",
         "package": {"name": "something-else"}}))  # fmt: skip
    renamed = runs / "copy-of-a-run"  # ours, but its manifest names another directory
    renamed.mkdir()
    (renamed / "manifest.json").write_text(json.dumps(
        {"run_id": "20250101T000000Z-11111111", "created_at": "2000-01-01T00:00:00+00:00",
         "package": {"name": "attribution-engine"}}))  # fmt: skip
    (runs / "state").mkdir()  # a --state directory beside the runs
    (runs / "readme.txt").write_text("a file")
    (runs / ".snapshots").mkdir()
    return {"notes", other.name, renamed.name, "state", "readme.txt", ".snapshots"}


def _run(tmp_path: Path, runs: Path, keep: int) -> Any:
    TOUCHES.write_csv(tmp_path / "touches.csv")
    STAGES.write_csv(tmp_path / "stages.csv")
    return CliRunner().invoke(app, [
        "run", "--touches", str(tmp_path / "touches.csv"), "--stages",
        str(tmp_path / "stages.csv"), "-m", "linear", "--out", str(runs),
        "--keep-runs", str(keep),
    ])  # fmt: skip


def test_keep_runs_removes_the_oldest_runs_of_ours_only(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    old = _old_runs(runs, 3)
    foreign = _foreign(runs)
    got = _run(tmp_path, runs, 2)
    assert got.exit_code == 0, got.output
    left = {p.name for p in runs.iterdir()}
    (new,) = left - foreign - set(old)
    assert left == foreign | {old[2], new}
    assert (runs / "notes" / "todo.txt").read_text() == "keep me"
    assert (
        f"--keep-runs 2: removed 2 older run directories from {runs}: {old[0]}, {old[1]}; "
        f"kept 2 (newest {new}); 5 other entries (not run directories of ours) left alone"
    ) in got.output


def test_keep_runs_never_removes_the_run_just_written(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    (future,) = _old_runs(runs, 1)
    manifest = runs / future / "manifest.json"  # a run dated later than now (a clock ahead)
    meta = json.loads(manifest.read_text())
    manifest.write_text(json.dumps(meta | {"created_at": "2999-01-01T00:00:00+00:00"}))
    got = _run(tmp_path, runs, 1)
    assert got.exit_code == 0, got.output
    names = {p.name for p in runs.iterdir()}
    assert len(names) == 2  # the new run stays, and so does the newest
    assert future in names
    assert "--keep-runs 1: nothing removed" in got.output


def test_keep_runs_with_fewer_runs_removes_nothing(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    _old_runs(runs, 1)
    got = _run(tmp_path, runs, 5)
    assert got.exit_code == 0, got.output
    assert f"--keep-runs 5: nothing removed from {runs} (2 run directories)" in got.output
    assert len(list(runs.iterdir())) == 2
