"""An empty survey benchmark is no answer (new-user report 3, defect 18): `attribution surveys`
exits 3 naming the join it tried, unless --allow-empty; `run --surveys` warns and goes on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution import EmptyResultError

TOUCHES = pl.DataFrame(
    {"contact_id": ["C001", "C001", "C002"], "channel": ["linkedin", "email", "webinar"],
     "timestamp": ["2025-01-01", "2025-01-05", "2025-01-02"]}
)  # fmt: skip
STAGES = pl.DataFrame(
    {"contact_id": ["C001", "C002"], "stage": ["closed_won"] * 2,
     "timestamp": ["2025-02-01"] * 2}
)  # fmt: skip


def _result() -> attribution.AttributionResult:
    return attribution.attribute(TOUCHES, STAGES, models=["linear", "last_touch"])


def test_no_answer_joined_names_the_join_tried_with_ids_of_both_sides() -> None:
    answers = pl.DataFrame({"contact_id": ["ZZZ1", "ZZZ2"], "response": ["google", "linkedin"]})
    bench = attribution.compare_surveys(_result(), answers, bootstrap=50)
    assert bench.empty is not None
    assert bench.empty.startswith("no survey answer joined a conversion")
    assert "contact_id: 2 answer(s), e.g. 'ZZZ1', 'ZZZ2', none among the 2 conversions'" in (
        bench.empty
    )
    assert "'C001'" in bench.empty
    assert "the answers have no opportunity_id or account_id" in bench.empty
    with pytest.raises(EmptyResultError, match="the survey benchmark is empty: no survey answer"):
        bench.require_compared()
    text = bench.summary()
    assert "Leaderboard: none, no model is ranked. Warning: the survey benchmark is empty" in text
    assert "Leaderboard by" not in text


def test_joined_answers_naming_no_tracked_channel_are_empty_too() -> None:
    answers = pl.DataFrame({"contact_id": ["C001", "C002"], "response": ["idk", "a podcast"]})
    bench = attribution.compare_surveys(_result(), answers, bootstrap=50)
    assert bench.empty == (
        "none of the 2 answer(s) joined to a conversion names a tracked channel of an "
        "attributed conversion: 1 name none (other: don't know, blank, unmatched), 1 name a "
        "channel the touches never record, 0 belong to conversions without touches"
    )
    ok = pl.DataFrame({"contact_id": ["C001"], "response": ["LinkedIn"]})
    assert attribution.compare_surveys(_result(), ok, bootstrap=50).require_compared().empty is None


def _cli(tmp_path: Path, command: str, *extra: str) -> subprocess.CompletedProcess[str]:
    TOUCHES.write_csv(tmp_path / "touches.csv")
    STAGES.write_csv(tmp_path / "stages.csv")
    (tmp_path / "nojoin.csv").write_text("contact_id,response\nZZZ1,google\nZZZ2,linkedin\n")
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", command, "--surveys",
         str(tmp_path / "nojoin.csv"), "--touches", str(tmp_path / "touches.csv"),
         "--stages", str(tmp_path / "stages.csv"), "-m", "linear", "-m", "last_touch",
         "--out", str(tmp_path / "runs"), *extra],
        capture_output=True, text=True, env=dict(os.environ, COLUMNS="300"), timeout=300,
    )  # fmt: skip


def _runs(tmp_path: Path) -> list[Path]:
    out = tmp_path / "runs"
    return [p for p in out.iterdir() if not p.name.startswith(".")] if out.exists() else []


@pytest.mark.slow
def test_surveys_command_exits_3_on_an_empty_benchmark_unless_allowed(tmp_path: Path) -> None:
    proc = _cli(tmp_path, "surveys")
    assert proc.returncode == 3, proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error")]
    assert line.startswith("error: the survey benchmark is empty: no survey answer joined")
    assert "contact_id: 2 answer(s), e.g. 'ZZZ1', 'ZZZ2'" in line
    assert "Traceback" not in proc.stderr
    assert _runs(tmp_path) == []
    allowed = _cli(tmp_path, "surveys", "--allow-empty")
    assert allowed.returncode == 0, allowed.stderr
    (run_dir,) = _runs(tmp_path)
    meta = json.loads((run_dir / "survey_benchmark.json").read_text())
    assert meta["empty"].startswith("no survey answer joined a conversion")
    assert "Warning: the survey benchmark is empty: no survey answer" in allowed.stdout


@pytest.mark.slow
def test_run_with_surveys_warns_and_goes_on(tmp_path: Path) -> None:
    """A run's main answer is the attribution: an empty survey benchmark is a warning,
    counted, and the decision model falls back."""
    proc = _cli(tmp_path, "run")
    assert proc.returncode == 0, proc.stderr
    assert "no model is ranked. Warning: the survey benchmark is empty: no survey answer" in (
        proc.stdout
    )
    assert "Leaderboard by" not in proc.stdout
    (run_dir,) = _runs(tmp_path)
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert (manifest["decision_model"], manifest["decision_model_source"]) == ("linear", "default")
    meta = json.loads((run_dir / "survey_benchmark.json").read_text())
    assert meta["counts"]["answers_without_conversion"] == 2
    assert meta["empty"].startswith("no survey answer joined a conversion")
    # no model is ranked anywhere: no leaderboard rows of NaN ranks, no 'agrees best'
    assert pl.read_parquet(run_dir / "survey_leaderboard.parquet").height == 0
    assert "agrees best with what buyers report" not in (run_dir / "report.html").read_text()
    assert manifest["decision_model_reason"] == (
        "the survey is unusable: 0 of 2 answers joined a conversion"
    )
    assert "Decision model: linear, the default (the survey is unusable: 0 of 2 answers" in (
        proc.stdout
    )
