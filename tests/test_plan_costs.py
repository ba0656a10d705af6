"""The plan check without data judges the plan's CAC and cost per MQL against what the
published ranges imply ("$750K for 5,000 customers at $150" was 'ok ... (consistent)')."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import attribution
from attribution.b2b._funnel import DEFAULT_STEPS
from attribution.b2b._plan_costs import published_costs

MQL_TO_CUSTOMER = (0.15 * 0.40 * 0.20, 0.25 * 0.60 * 0.30)  # the shipped step ranges
LINKEDIN_MQL = (5 / 0.20 / 0.40, 15 / 0.10 / 0.20)  # CPC / lead-form conversion / MQL rate
SYNDICATION_MQL = (50 / 0.30, 200 / 0.15)  # CPL / MQL rate
CAC_FLOOR = LINKEDIN_MQL[0] / MQL_TO_CUSTOMER[1]  # $1,389
CAC_CEILING = SYNDICATION_MQL[1] / MQL_TO_CUSTOMER[0]  # $111,111
CAC_ROWS = ["cac", "implied_cac_vs_benchmark"]  # the CAC target's row, budget / customers'


def test_the_costs_the_shipped_ranges_imply() -> None:
    per_mql, cac, to_customer = published_costs(attribution.load_benchmarks(), DEFAULT_STEPS)
    assert to_customer == pytest.approx(MQL_TO_CUSTOMER)
    got = {i.channel: (i.low, i.high) for i in per_mql}
    # paid search has no MQL rate and programmatic no lead conversion: no cost per MQL
    assert got == {
        "linkedin": pytest.approx(LINKEDIN_MQL),
        "content_syndication": pytest.approx(SYNDICATION_MQL),
    }
    cacs = {i.channel: (i.low, i.high) for i in cac}
    assert cacs["linkedin"] == pytest.approx(
        (LINKEDIN_MQL[0] / MQL_TO_CUSTOMER[1], LINKEDIN_MQL[1] / MQL_TO_CUSTOMER[0])
    )
    assert min(low for low, _ in cacs.values()) == pytest.approx(CAC_FLOOR)
    assert round(CAC_FLOOR) == 1389


def flags_of(plan: dict) -> dict[str, dict]:
    check = attribution.check_plan(plan)
    return {
        r["assumption"]: r
        for r in check.flags.filter(pl.col("against") == "benchmark").iter_rows(named=True)
    }


def test_750k_for_5000_customers_is_flagged_without_data() -> None:
    got = flags_of({"budget": {"linkedin": 750_000}, "targets": {"customers": 5_000, "cac": 150}})
    cac = got["cac"]
    assert cac["flagged"] is True
    assert cac["direction"] == "optimistic"
    assert cac["range_low"] == pytest.approx(CAC_FLOOR)
    assert cac["ratio"] == pytest.approx(150 / CAC_FLOOR)
    assert "The CAC target $150 is 9.3x below $1,389" in cac["note"]


@given(
    budget=st.floats(1e3, 1e8),
    customers=st.floats(1, 1e6),
    cac=st.none() | st.floats(1, 1e6),
)
@settings(max_examples=60, deadline=None)
def test_a_plan_cac_is_flagged_exactly_outside_the_implied_range(budget, customers, cac) -> None:
    targets = {"customers": customers} | ({"cac": cac} if cac else {})
    # the plan buys both channels the shipped table implies a CAC for: its range is theirs
    split = {"linkedin": budget / 2, "content_syndication": budget / 2}
    check = attribution.check_plan({"budget": split, "targets": targets})
    bench = pl.col("against") == "benchmark"
    rows = check.flags.filter(pl.col("assumption").is_in(CAC_ROWS) & bench)
    judged = [cac] if cac else []
    implied = budget / customers
    if not cac or abs(implied / cac - 1) > 0.05:
        judged.append(implied)
    assert sorted(rows.get_column("plan_value").to_list()) == pytest.approx(sorted(judged))
    for r in rows.iter_rows(named=True):
        outside = r["plan_value"] < CAC_FLOOR or r["plan_value"] > CAC_CEILING
        assert r["flagged"] is outside
    # a budget and any target is something to check: the no-data check is never empty
    assert check.flags.height >= 1
    # a channel the table has no cost for ('x') is judged by no other channel's range
    other = attribution.check_plan({"budget": {"x": budget}, "targets": targets})
    rows = other.flags.filter(pl.col("assumption").is_in(CAC_ROWS) & bench)
    assert sorted(rows.get_column("plan_value").to_list()) == pytest.approx(sorted(judged))
    assert not any(rows.get_column("flagged"))
    assert all("the benchmark table has no cost for the plan's channels (x)" in n
               for n in rows.get_column("note"))  # fmt: skip


def test_cost_per_mql_and_your_own_table(tmp_path: Path) -> None:
    plan = {"budget": {"linkedin": 750_000}, "targets": {"mqls": 15_000}}
    got = flags_of(plan)
    assert got["cost_per_mql"]["plan_value"] == pytest.approx(50.0)  # budget / target MQLs
    assert got["cost_per_mql"]["flagged"] is True  # below LinkedIn's $62.50
    assumed = flags_of(plan | {"assumptions": {"cost_per_mql": [75, 80]}})
    assert assumed["cost_per_mql"]["flagged"] is False
    assert "within the cost per MQL the published ranges imply" in assumed["cost_per_mql"]["note"]
    # the derivation follows a table of your own: cheaper syndicated leads lower the floor
    (tmp_path / "b.csv").write_text(
        "metric,segment,channel,low,high,unit,better\n"
        "cpl,,content_syndication,5,10,usd,lower\n"
    )
    both = plan | {"budget": {"linkedin": 375_000, "content_syndication": 375_000}}
    mine = attribution.check_plan(both, benchmarks=tmp_path / "b.csv")
    row = mine.flags.filter(pl.col("assumption") == "cost_per_mql").row(0, named=True)
    assert row["range_low"] == pytest.approx(5 / 0.30)
    assert row["flagged"] is False
    # ... for a plan that buys syndicated leads: LinkedIn alone keeps its own floor
    mine = attribution.check_plan(plan, benchmarks=tmp_path / "b.csv")
    row = mine.flags.filter(pl.col("assumption") == "cost_per_mql").row(0, named=True)
    assert row["range_low"] == pytest.approx(62.5)
    assert row["flagged"] is True


def test_cli_budget_and_customers_only_is_checked(tmp_path: Path) -> None:
    (tmp_path / "plan.toml").write_text(
        "[budget]\nlinkedin = 750000\n[targets]\ncustomers = 5000\n"
    )
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", "plan.toml", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "! Budget / target customers ($750,000 / 5,000) $150 is 9.3x below $1,389" in (
        proc.stdout
    )
    assert "1 of 1 check(s) are flagged (implied_cac_vs_benchmark)" in proc.stdout


@given(
    spend=st.lists(st.floats(100, 1e6), min_size=2, max_size=4),
    customers=st.lists(st.integers(1, 500), min_size=4, max_size=4),
    budget=st.lists(st.just(0.0) | st.floats(1, 1e6), min_size=4, max_size=4),
)
@settings(max_examples=40, deadline=None)
def test_the_plans_cac_is_one_figure_everywhere(spend, customers, budget) -> None:
    from attribution.b2b._shared import money
    from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

    channels = [f"ch{i}" for i in range(len(spend))]
    credit = pl.DataFrame(
        [("linear", c, float(n), 1.0, 0.0) for c, n in zip(channels, customers, strict=False)],
        schema=CHANNEL_CREDIT_SCHEMA,
        orient="row",
    )
    result = attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})
    spend_table = pl.DataFrame(
        {"channel": channels, "month": ["2025-01-01"] * len(channels), "amount": spend}
    )
    stages = pl.DataFrame(
        {"contact_id": ["a", "a"], "stage": ["mql", "closed_won"],
         "timestamp": ["2025-01-01", "2025-01-05"]}
    )  # fmt: skip
    plan = {"budget": dict(zip(channels, budget, strict=False)), "targets": {"cac": 10}}
    if sum(plan["budget"].values()) <= 0:
        return
    check = attribution.check_plan(plan, result, spend_table, stages)
    total = check.table.filter(pl.col("channel") == "(total)").row(0, named=True)
    cac = sum(plan["budget"].values()) / total["projected_customers"]
    # by hand: each channel buys budget / (spend / customers)
    by_hand = sum(
        b / (s / n) for b, s, n in zip(budget, spend, customers, strict=False)
    )
    assert total["projected_customers"] == pytest.approx(by_hand)
    assert total["projected_cac"] == pytest.approx(cac)
    assert check.summary_data["projected"]["cac"] == pytest.approx(cac)
    assert f"at {money(cac)} each" in check.verdict  # cents under $10: never "$0"
    flag = check.flags.filter((pl.col("assumption") == "cac") & (pl.col("against") == "data"))
    assert flag.item(0, "data_value") == pytest.approx(cac)
    # the other CAC, as spent, is the plan channels' spend / customers, labelled apart
    paid = [(s, n) for s, n, b in zip(spend, customers, budget, strict=False) if b > 0]
    assert total["measured_cac"] == pytest.approx(
        sum(s for s, _ in paid) / sum(n for _, n in paid)
    )


def test_a_cheap_channel_without_budget_or_cap_is_said_not_divided_by() -> None:
    """Found by the property above: the cheapest channel had no budget (so no cap) and the
    reallocation's cut path divided by zero customers (a traceback)."""
    from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

    credit = pl.DataFrame(
        [("linear", "a", 500.0, 1.0, 0.0), ("linear", "b", 1.0, 1.0, 0.0)],
        schema=CHANNEL_CREDIT_SCHEMA, orient="row",
    )  # fmt: skip
    result = attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})
    spend = pl.DataFrame(
        {"channel": ["a", "b"], "month": ["2025-01-01"] * 2, "amount": [100.0, 1000.0]}
    )
    stages = pl.DataFrame(
        {"contact_id": ["a", "a"], "stage": ["mql", "closed_won"],
         "timestamp": ["2025-01-01", "2025-01-05"]}
    )  # fmt: skip
    plan = {"budget": {"a": 0, "b": 1000}, "targets": {"cac": 10}}
    check = attribution.check_plan(plan, result, spend, stages)
    outcome = check.summary_data["reallocation"]
    assert outcome["mode"] == "impossible"
    assert outcome["cheap_without_room"] == ["a"]
    assert "(a) have no budget and no cap" in check.verdict
    # with room, the same channel takes the money and meets the target
    capped = attribution.check_plan(plan | {"caps": {"a": 500}}, result, spend, stages)
    assert capped.summary_data["reallocation"]["cac_target_met"] is True
    assert capped.table.filter(pl.col("channel") == "a").item(0, "reallocated_budget") == 500
