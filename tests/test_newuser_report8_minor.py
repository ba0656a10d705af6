"""New-user report 8, minor findings: the B2B inputs (spend, plan...) checked before the
attribution runs (#13), one touch-type default for a plan's CAC (#16), date and amount
hints that fit the value shown (#19, #20), the naive-beside-UTC note of an import (#21),
a spend sheet's repeated header and months-as-columns said (#22), a plan's extrapolation
in its verdict's first sentence (#23)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.exceptions import InputError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


@pytest.mark.parametrize("command", ["run", "plan"])
def test_a_bad_spend_file_is_an_error_before_the_attribution_runs(command, tmp_path) -> None:
    """#13: a spend typo was said after every model had run ([load] ... [done], then the
    error): it is said before the engine's first stage, exit 2."""
    spend = tmp_path / "spend.csv"
    spend.write_text("channel,month,amount\nlinkedin,2025-01-01,lots\n")
    data = ["--touches", str(SAMPLE / "touches.parquet"), "--stages",
            str(SAMPLE / "stages.parquet"), "--spend", str(spend), "--out", str(tmp_path / "r")]
    if command == "run":
        done = _cli("run", "-m", "linear", *data, "--plan", str(SAMPLE / "plan.toml"))
    else:
        done = _cli("plan", str(SAMPLE / "plan.toml"), *data)
    assert done.returncode == 2, done.stderr
    assert "spend.csv" in done.stderr
    assert "'lots'" in done.stderr
    assert "[load]" not in done.stderr  # no engine stage ran
    assert "Traceback" not in done.stderr


def test_a_plan_file_error_comes_before_the_attribution(tmp_path) -> None:
    """#13: the plan TOML is read before the run too (a typo in it: seconds, not a run)."""
    plan = tmp_path / "plan.toml"
    plan.write_text('[budget]\nlinkedin = "750k"\n')
    done = _cli("run", "-m", "linear", "--touches", str(SAMPLE / "touches.parquet"),
                "--stages", str(SAMPLE / "stages.parquet"), "--spend",
                str(SAMPLE / "spend.parquet"), "--plan", str(plan), "--out", str(tmp_path / "r"))
    assert done.returncode == 2, done.stderr
    assert "plan.toml" in done.stderr
    assert "[load]" not in done.stderr


def test_the_b2b_stage_reads_the_spend_file_once(tmp_path) -> None:
    """#13: B2BInputs.read holds the spend as read: the stage checks it again from memory,
    not from the file (deleted here), with the same figures as from the file."""
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )
    spend = tmp_path / "spend.csv"
    pl.read_parquet(SAMPLE / "spend.parquet").write_csv(spend)
    given = attribution.B2BInputs(stages=SAMPLE / "stages.parquet", spend=spend)
    from_file = attribution.analyse(result, given).summaries()
    held = given.read(result.options)
    spend.unlink()
    assert attribution.analyse(result, held).summaries() == from_file
    # a bad row found later in the stage still names the file and its 1-based line
    bad = tmp_path / "bad.csv"
    bad.write_text("channel,month,amount\nlinkedin,2025-01-01,-5\n")
    held = attribution.B2BInputs(spend=bad).read()
    assert held.spend is not bad  # read, and held
    with pytest.raises(InputError, match=r"bad\.csv.*'amount'.*lines: 2\b"):
        attribution.analyse(result, held)


def _plan_json(runs: Path) -> dict:
    import json

    return json.loads(next(runs.glob("*/plan.json")).read_text())


def test_run_plan_and_plan_measure_one_cac_by_default(tmp_path) -> None:
    """#16: `attribution plan` left the sales follow-ups out of the plan's CAC while `run
    --plan` credited every touch: one plan, two CACs. One default now, for both."""
    data = ["--touches", str(SAMPLE / "touches.parquet"), "--stages",
            str(SAMPLE / "stages.parquet"), "--spend", str(SAMPLE / "spend.parquet")]
    plan = str(SAMPLE / "plan.toml")
    alone = _cli("plan", plan, *data, "--out", str(tmp_path / "plan"))
    in_run = _cli("run", "-m", "linear", *data, "--plan", plan, "--out", str(tmp_path / "run"))
    assert alone.returncode == 0, alone.stderr
    assert in_run.returncode == 0, in_run.stderr
    left_out = _plan_json(tmp_path / "plan")["touch_types_left_out"]
    assert left_out["types"] == ["sales_call", "sales_email", "meeting"]
    assert _plan_json(tmp_path / "run")["touch_types_left_out"] == left_out
    cac = _plan_json(tmp_path / "plan")["projected"]["cac"]
    assert _plan_json(tmp_path / "run")["projected"]["cac"] == pytest.approx(cac)
    assert "note: the plan's CAC is measured without the sales touch types" in in_run.stderr
    # 'none' credits every touch, in a run as in plan: another CAC, said
    every = _cli("run", "-m", "linear", *data, "--plan", plan, "--exclude-touch-types",
                 "none", "--out", str(tmp_path / "every"))
    assert every.returncode == 0, every.stderr
    assert _plan_json(tmp_path / "every")["touch_types_left_out"]["types"] == []
    assert _plan_json(tmp_path / "every")["projected"]["cac"] > cac * 1.2


def test_a_quarter_plan_says_extrapolation_in_its_first_sentence(tmp_path) -> None:
    """#23: the demo plan with period_months = 3 spends 4-8x what each channel's CAC was
    measured at; the per-channel flags said so, the verdict's first sentence (all a CFO
    reads, and the report's finding) presented 356 customers as a projection."""
    result = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"],
        exclude_touch_types=["sales_call", "sales_email", "meeting"],
    )
    text = (SAMPLE / "plan.toml").read_text()
    quarter = tmp_path / "quarter.toml"
    quarter.write_text(text.replace("period_months = 12", "period_months = 3", 1))
    check = attribution.check_plan(
        quarter, result, SAMPLE / "spend.parquet", SAMPLE / "stages.parquet"
    )
    first = check.verdict.split(". ")[0]
    assert "an extrapolation: 7 of its channels get 3.8-7.7x the spend" in first
    assert "scaled to 3 months" in first
    year = attribution.check_plan(
        SAMPLE / "plan.toml", result, SAMPLE / "spend.parquet", SAMPLE / "stages.parquet"
    )
    assert "extrapolation" not in year.verdict  # the year's budget is near the data's spend
