"""New-user report 16, M4: the CFO's plan as she had it (a CSV, quarter sub-tables, amounts
written '£500,000') is refused with a message that says what a plan is, never a Python repr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import attribution
from attribution.b2b._plan_file import read_plan

CSV_PLAN = """FY27 Media Plan (Finance),,
Quarter,Channel,Budget
Q1 2027,LinkedIn,"£120,000"
Q1 2027,Google Ads,"£60,000"
Total,,"£180,000"
"""


def _refusal(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(attribution.ConfigError) as caught:
        read_plan(path)
    return str(caught.value)


@pytest.mark.parametrize("name", ["FY27_media_plan.csv", "plan.XLSX", "plan.json"])
def test_a_spreadsheet_plan_says_a_plan_is_toml_and_shows_its_shape(
    tmp_path: Path, name: str
) -> None:
    message = _refusal(tmp_path, name, CSV_PLAN)
    assert "a plan is a TOML file" in message
    assert "not valid TOML" not in message
    for part in ("[budget]", "[targets]", "period_months = 12", "linkedin = 500_000"):
        assert part in message, message
    # the shape shown is itself a plan that reads
    shape = tmp_path / "shape.toml"
    shape.write_text(message.split("plan.toml:\n", 1)[1], encoding="utf-8")
    plan = read_plan(shape)
    assert plan.budget == {"linkedin": 500_000.0, "google_ads": 240_000.0}
    assert plan.targets == {"customers": 1_800.0, "cac": 500.0}


def test_quarter_sub_tables_say_the_budget_is_one_period(tmp_path: Path) -> None:
    message = _refusal(
        tmp_path,
        "fy27_b_quarters.toml",
        '[plan]\nperiod_months = 12\n[budget."2027-Q1"]\nLinkedIn = 120000\n"Google Ads" = 60000\n'
        '[budget."2027-Q2"]\nLinkedIn = 130000\n[targets]\ncustomers = 1800\n',
    )
    assert "{" not in message
    assert "'LinkedIn':" not in message
    assert '[budget."2027-Q1"]' in message
    assert "Sum the quarters" in message
    assert "period_months = 3" in message
    assert "period_months" in message.split("Sum the quarters", 1)[1]
    # a table in [targets] or [caps]: named as a table, no repr either
    message = _refusal(tmp_path, "t.toml", '[budget]\na = 1\n[targets.q1]\ncustomers = 5\n')
    assert '[targets] "q1" is a table' in message
    assert "{" not in message


@pytest.mark.parametrize(
    ("section", "key", "written"),
    [
        ("budget", '"LinkedIn"', "£500,000"),
        ("budget", "google_ads", "$750,000"),
        ("budget", "google_ads", "750,000"),
        ("targets", "customers", "1,800"),
        ("targets", "cac", "£500"),
    ],
)
def test_an_amount_in_quotes_gets_the_plain_number_hint(
    tmp_path: Path, section: str, key: str, written: str
) -> None:
    budget = "" if section == "budget" else "[budget]\nlinkedin = 1000\n"
    message = _refusal(tmp_path, "p.toml", f'{budget}[{section}]\n{key} = "{written}"\n')
    assert f"got the text {written!r}" in message
    assert "amounts are plain numbers, 750000 or 750_000" in message


def test_the_cli_exits_2_with_the_shape(tmp_path: Path) -> None:
    path = tmp_path / "FY27_media_plan.csv"
    path.write_text(CSV_PLAN, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", str(path)],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert done.returncode == 2, done.stderr
    assert "a plan is a TOML file" in done.stderr
    assert "[budget]" in done.stderr
    assert "Traceback" not in done.stderr
