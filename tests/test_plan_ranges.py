"""The plan check before any data: the plan's own arithmetic and its assumptions against
the published ranges, with hand-computed figures (the worked check of the benchmark table)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution

WORKED = {  # 15,000 MQLs -> 5,000 customers for $750K at $150, MQLs at $75-80 today
    "plan": {"name": "worked check"},
    "budget": {"linkedin": 450_000, "google_ads": 300_000},
    "targets": {"customers": 5_000, "cac": 150, "mqls": 15_000},
    "assumptions": {"cost_per_mql": [75, 80], "mql_to_customer": 0.33},
}


def rows(check: attribution.PlanCheck) -> dict[tuple[str, str], dict[str, object]]:
    return {(r["assumption"], r["against"]): r for r in check.flags.iter_rows(named=True)}


def test_the_worked_check_without_data() -> None:
    check = attribution.check_plan(WORKED)
    got = rows(check)
    # 15-25% x 40-60% x 20-30% = 1.2-4.5% MQL -> customer; 33% is 7-28x that
    rate = got[("mql_to_customer", "benchmark")]
    assert (rate["range_low"], rate["range_high"]) == (
        pytest.approx(0.15 * 0.40 * 0.20),
        pytest.approx(0.25 * 0.60 * 0.30),
    )
    assert rate["flagged"] is True
    assert rate["direction"] == "optimistic"
    assert 0.33 / 0.045 == pytest.approx(7.33, abs=0.01)
    assert "33% is 7.3-27.5x the published 1.2-4.5%" in rate["note"]
    # $75-80 per MQL: 15,000 MQLs cost $1.125-1.2M, not $750K
    cost = got[("cost_of_target_mqls", "plan")]
    assert (cost["range_low"], cost["range_high"]) == (75 * 15_000, 80 * 15_000)
    assert cost["plan_value"] == 750_000
    assert cost["flagged"] is True
    assert "$1,125,000-$1,200,000, not $750,000" in cost["note"]
    assert "buys 9,375-10,000 MQLs" in cost["note"]  # 750,000 / 80 and / 75
    # at 33% that is $227-242 per customer, not $150
    cac = got[("cac_from_assumptions", "plan")]
    assert (cac["range_low"], cac["range_high"]) == (pytest.approx(75 / 0.33),
                                                     pytest.approx(80 / 0.33))  # fmt: skip
    assert cac["flagged"] is True
    assert "$227-$242 per customer, not the $150 CAC target" in cac["note"]
    # what agrees is said too: budget / customers = $150; 5,000 / 15,000 = 33.3% ~ 33%
    assert got[("implied_cac", "plan")]["flagged"] is False
    assert got[("mql_to_customer", "plan")]["flagged"] is False
    assert check.summary_data["mode"] == "no_data"
    assert check.table.get_column("channel").to_list() == ["linkedin", "google_ads", "(total)"]
    assert check.table.get_column("target_customers").to_list() == [3_000, 2_000, 5_000]
    assert check.table.get_column("measured_cac").null_count() == 3  # nothing measured
    # and the published ranges judge the $150 CAC and the $75-80 per MQL (a CAC of $150 is
    # 9.3x below the $1,389 that LinkedIn's best published costs and rates give)
    assert "4 of 7 check(s) are flagged" in check.verdict
    bench_cac = got[("cac", "benchmark")]
    assert bench_cac["flagged"] is True
    assert bench_cac["range_low"] == pytest.approx(5 / 0.2 / 0.4 / (0.25 * 0.6 * 0.3))
    assert got[("cost_per_mql", "benchmark")]["flagged"] is False
    text = check.summary()
    assert text.index("cost per MQL") < text.index("Verdict")
    assert "! budget / cost per MQL" in text


def test_a_point_assumption_and_the_tolerance() -> None:
    plan = {**WORKED, "assumptions": {"cost_per_mql": 77.5, "mql_to_customer": 0.33}}
    got = rows(attribution.check_plan(plan))
    cost = got[("cost_of_target_mqls", "plan")]
    assert cost["range_low"] == cost["range_high"] == 77.5 * 15_000  # $1,162,500
    assert "$1,162,500, not $750,000" in cost["note"]
    assert got[("cac_from_assumptions", "plan")]["range_low"] == pytest.approx(77.5 / 0.33)
    # a budget within 5% of the cost of its MQL target agrees; 6% off does not
    near = {**plan, "budget": {"a": 77.5 * 15_000 * 0.96}}
    assert rows(attribution.check_plan(near))[("cost_of_target_mqls", "plan")]["flagged"] is False
    far = {**plan, "budget": {"a": 77.5 * 15_000 * 0.94}}
    assert rows(attribution.check_plan(far))[("cost_of_target_mqls", "plan")]["flagged"] is True
    loose = {**far, "plan": {"tolerance": 0.10}}
    assert rows(attribution.check_plan(loose))[("cost_of_target_mqls", "plan")]["flagged"] is False


def test_step_assumptions_against_their_ranges_and_each_other() -> None:
    plan = {
        "budget": {"a": 1000},
        "assumptions": {
            "mql_to_customer": 0.05,
            "mql_to_sql": 0.10,  # below 15-25%
            "sql_to_opportunity": 0.50,  # within 40-60%
            "opportunity_to_closed_won": 0.25,
            "lead_to_mql": 0.2,  # no published range (visitor -> MQL is not lead -> MQL)
        },
    }
    got = rows(attribution.check_plan(plan))
    low = got[("mql_to_sql", "benchmark")]
    assert (low["flagged"], low["direction"]) == (True, "conservative")
    assert low["ratio"] == pytest.approx(0.10 / 0.15)
    assert got[("sql_to_opportunity", "benchmark")]["flagged"] is False
    assert "no range" in got[("lead_to_mql", "benchmark")]["note"]
    # the steps multiply to 10% x 50% x 25% = 1.25%, not the assumed 5%
    steps = got[("mql_to_customer", "plan")]
    assert steps["range_low"] == pytest.approx(0.10 * 0.50 * 0.25)
    assert steps["flagged"] is True
    # 5% MQL -> customer: above the 1.2-4.5% range
    assert got[("mql_to_customer", "benchmark")]["ratio"] == pytest.approx(0.05 / 0.045)


def test_your_targets_move_the_ranges_the_plan_is_judged_against() -> None:
    bench = attribution.load_benchmarks(
        targets={
            "mql_to_sql": [0.3, 0.4],
            "sql_to_opportunity": 0.5,
            "opportunity_to_closed_won": 0.4,
            "ltv_to_cac": 20,
        }  # fmt: skip
    )
    plan = {**WORKED, "assumptions": {"mql_to_customer": 0.07, "ltv": 2_400}}
    got = rows(attribution.check_plan(plan, benchmarks=bench))
    rate = got[("mql_to_customer", "benchmark")]
    assert (rate["range_low"], rate["range_high"]) == (pytest.approx(0.06), pytest.approx(0.08))
    assert rate["flagged"] is False
    ltv = got[("ltv_to_cac", "benchmark")]  # $2,400 / $150 = 16x, short of your 20x
    assert ltv["plan_value"] == pytest.approx(16.0)
    assert ltv["flagged"] is True


def test_with_data_the_data_comes_first_then_the_ranges(make_stages) -> None:
    touches = pl.DataFrame(
        {"contact_id": ["c1", "c2"], "channel": ["a", "a"], "timestamp": ["2025-01-01"] * 2}
    )
    stages = make_stages(
        [(f"c{i}", "mql", 1, None) for i in range(1, 11)] + [("c1", "closed_won", 9, 10.0)]
    )
    res = attribution.attribute(touches, stages, models=["linear"])
    spend = pl.DataFrame({"channel": ["a"], "month": ["2025-01-01"], "amount": [1500.0]})
    check = attribution.check_plan(WORKED, res, spend, stages)
    against = check.flags.get_column("against").to_list()
    assert against[0] == "data"
    assert against == sorted(against, key=lambda a: a != "data")  # data rows, then the rest
    data_rate = check.flags.filter(
        (pl.col("assumption") == "mql_to_customer") & (pl.col("against") == "data")
    ).row(0, named=True)
    assert data_rate["data_value"] == pytest.approx(1 / 10)
    cpm = check.flags.filter(
        (pl.col("assumption") == "cost_per_mql") & (pl.col("against") == "data")
    )  # the targets' (budget / MQLs = $50) and the assumption's ($75-80, mid 77.5)
    assert cpm.get_column("plan_value").to_list() == [50.0, 77.5]
    assert cpm.get_column("data_value").to_list() == [pytest.approx(150.0)] * 2  # $1,500 / 10
    assert "the plan assumes $75-$80, the data shows $150" in cpm.item(1, "note")
    text = check.summary()
    assert text.index("Assumptions far from the data") < text.index("published ranges (")
    with pytest.raises(attribution.ConfigError, match="give all three, or none"):
        attribution.check_plan(WORKED, res, spend)


def test_an_unknown_assumption_is_named_without_data() -> None:
    plan = {"budget": {"a": 1}, "assumptions": {"mql_to_sqll": 0.2}}
    with pytest.raises(
        attribution.ConfigError, match="unknown assumption 'mql_to_sqll'.*mql_to_sql"
    ):
        attribution.check_plan(plan)


@pytest.mark.parametrize(
    ("assumptions", "match"),
    [
        ({"cost_per_mql": -1}, "cost_per_mql must be an amount > 0"),
        ({"cost_per_mql": [80, 75]}, "cost_per_mql must be an amount > 0 or"),
        ({"mql_to_customer": 1.5}, "mql_to_customer must be a rate in"),
        ({"mql_to_customer": [0.1, 0.2, 0.3]}, "mql_to_customer must be a rate in"),
    ],
)
def test_bad_assumptions_are_named(assumptions: dict[str, object], match: str) -> None:
    with pytest.raises(attribution.ConfigError, match=match):
        attribution.read_plan({"budget": {"a": 1}, "assumptions": assumptions})


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "attribution.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


def test_cli_plan_without_data(tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(
        "[budget]\nlinkedin = 450_000\ngoogle_ads = 300_000\n"
        "[targets]\ncustomers = 5_000\ncac = 150\nmqls = 15_000\n"
        "[assumptions]\ncost_per_mql = 77.5\nmql_to_customer = 0.33\n"
    )
    proc = run_cli("plan", "plan.toml", "--out", "runs", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "15,000 MQLs cost $1,162,500, not $750,000" in proc.stdout
    assert "$235 per customer, not the $150 CAC target" in proc.stdout
    assert "33% is 7.3-27.5x the published 1.2-4.5%" in proc.stdout
    (written,) = (tmp_path / "runs").iterdir()
    assert written.name.startswith("plan-")
    flags = pl.read_parquet(written / "plan_flags.parquet")
    assert flags.filter(pl.col("flagged")).height == 4  # the 3 above and the $150 CAC
    assert "9.3x below $1,389, the lowest CAC the published ranges imply" in proc.stdout
    assert json.loads((written / "plan.json").read_text())["mode"] == "no_data"
    # a benchmark file of your own over the shipped one, from the command line
    (tmp_path / "b.csv").write_text(
        "metric,low,high,unit,better\nmql_to_sql,0.5,0.9,rate,higher\n"
        "sql_to_opportunity,0.9,1,rate,higher\nopportunity_to_closed_won,0.5,0.8,rate,higher\n"
    )
    mine = run_cli("plan", "plan.toml", "--benchmarks", "b.csv", "--out", "runs", cwd=tmp_path)
    assert mine.returncode == 0, mine.stderr
    assert "33% is within the published 22.5-72%" in mine.stdout


def test_cli_plan_exit_codes(tmp_path: Path) -> None:
    (tmp_path / "empty.toml").write_text("[budget]\na = 10\n")
    proc = run_cli("plan", "empty.toml", "--out", "runs", cwd=tmp_path)
    assert proc.returncode == 3
    assert "nothing to check without data" in proc.stderr
    assert not (tmp_path / "runs").exists()
    proc = run_cli("plan", "empty.toml", "--spend", "spend.parquet", cwd=tmp_path)
    assert proc.returncode == 2
    assert "needs --touches, --stages too" in proc.stderr
    (tmp_path / "b.csv").write_text("metric,low,high,unit\nmql_to_sql,0.1,x,rate\n")
    proc = run_cli("plan", "empty.toml", "--benchmarks", "b.csv", cwd=tmp_path)
    assert proc.returncode == 2
    assert "b.csv" in proc.stderr
    assert "column 'high'" in proc.stderr
    assert "lines: 2" in proc.stderr
    assert "Traceback" not in proc.stderr
