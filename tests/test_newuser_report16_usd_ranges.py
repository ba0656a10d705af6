"""New-user report 16, M8: the shipped table's money ranges are published in US dollars; in
a run whose reporting currency is not USD each line showing one (or a figure derived from
one) writes it in dollars and says so. USD runs read as before; a range of your own is
yours, unlabelled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import attribution
from attribution._reporting_currency import money_in
from attribution.b2b._economics_ranges import PUBLISHED_USD
from attribution.b2b._funnel_kpis import judged
from attribution.inputs._benchmarks import load_benchmarks

PLAN = """[plan]
name = "FY27"
period_months = 12
[budget]
linkedin = 500_000
google_ads = 240_000
[targets]
customers = 1_800
cac = 500
"""


def _cpc_row() -> dict[str, object]:
    r = load_benchmarks().get("cpc", channel="linkedin")
    assert r is not None
    assert (r.low, r.high, r.unit, r.origin) == (5.0, 15.0, "usd", "shipped")
    return {"benchmark_low": r.low, "benchmark_high": r.high, "benchmark_gap": 0.0,
            "benchmark_source": r.source}


def test_a_kpi_against_a_published_money_range_is_labelled_usd() -> None:
    row = _cpc_row()
    with money_in("GBP"):
        text = judged(8.73, "usd", "cpc", row)
    assert text == "£8.73 vs a target of $5-$15 (published ranges, USD; within it)"
    with money_in("USD"):  # a USD run: as before
        assert judged(8.73, "usd", "cpc", row) == "$8.73 vs a target of $5-$15 (within it)"
    with money_in("GBP"):  # a rate is no money: unlabelled
        rate = judged(0.005, "rate", "ctr", {**row, "benchmark_low": 0.003,
                                             "benchmark_high": 0.008})
    assert PUBLISHED_USD[1:-1] not in rate
    own = {**row, "benchmark_source": "our agency's 2026 rate card"}
    with money_in("GBP"):  # a range of your own is in your currency
        assert judged(8.73, "usd", "cpc", own) == "£8.73 vs a target of £5-£15 (within it)"


def test_the_plan_check_writes_the_implied_cac_in_dollars_labelled(tmp_path: Path) -> None:
    plan = attribution.read_plan(_write(tmp_path / "plan.toml", PLAN))
    with money_in("GBP"):
        notes = list(attribution.check_plan(plan).flags.get_column("note"))
    cac = next(n for n in notes if n.startswith("The CAC target"))
    assert cac.startswith(
        "The CAC target £500 is 2.8x below $1,389, the lowest CAC the published ranges imply "
        "(published ranges, USD; range $1,389-$62,500"
    ), cac
    assert "CPC $5-$15" in cac
    assert "£1,389" not in cac
    with money_in("USD"):
        notes = list(attribution.check_plan(plan).flags.get_column("note"))
    cac = next(n for n in notes if n.startswith("The CAC target"))
    assert "published ranges, USD" not in cac
    assert "below $1,389, the lowest CAC the published ranges imply (range $1,389" in cac
    # your own cost rows: your currency, unlabelled
    own = _write(
        tmp_path / "bench.csv",
        "metric,segment,channel,low,high,unit,better,source\n"
        "cpc,,linkedin,5,15,usd,lower,our rate card\n",
    )
    with money_in("GBP"):
        notes = list(attribution.check_plan(plan, benchmarks=own).flags.get_column("note"))
    cac = next(n for n in notes if n.startswith("The CAC target"))
    assert "published ranges, USD" not in cac
    assert "below £1,389" in cac


def test_the_cli_plan_with_currency_gbp(tmp_path: Path) -> None:
    path = _write(tmp_path / "plan.toml", PLAN)
    done = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", str(path), "--currency", "GBP",
         "--out", str(tmp_path / "runs")],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if "The CAC target" in x)
    assert "£500 is 2.8x below $1,389" in line
    assert "(published ranges, USD; range $1,389-$62,500" in line


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _usd_outside() -> None:
    """Each test starts in USD (the default outside a run)."""
    from attribution._reporting_currency import current_currency

    assert current_currency() == "USD"


def test_the_report_writes_published_ranges_in_dollars() -> None:
    from attribution.report._kpis import _range
    from attribution.report._plan import _in_unit

    row = {"unit": "usd", "kpi": "cpc", "benchmark_source": _cpc_row()["benchmark_source"]}
    with money_in("GBP"):
        assert _range(row, 5.0, 15.0) == "$5-$15 (published ranges, USD)"
        assert _in_unit("cac", 1388.9, True) == "$1,389 (USD)"
        assert _in_unit("cac", 500.0) == "£500"
    with money_in("USD"):
        assert _range(row, 5.0, 15.0) == "$5-$15"
