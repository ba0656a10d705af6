"""The plan check: projection, gap, flags and the reallocation within caps, by hand."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


@pytest.fixture
def result() -> attribution.AttributionResult:
    credit = pl.DataFrame(
        [
            ("linear", "a", 10.0, 1.0, 0.0),
            ("linear", "b", 10.0, 1.0, 0.0),
            ("linear", "c", 5.0, 1.0, 0.0),
        ],
        schema=CHANNEL_CREDIT_SCHEMA,
        orient="row",
    )
    return attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})


@pytest.fixture
def spend() -> pl.DataFrame:
    # measured CAC: a 100, b 300, c 500
    return pl.DataFrame(
        {"channel": ["a", "b", "c"], "month": ["2025-01-01"] * 3, "amount": [1e3, 3e3, 2.5e3]}
    )


@pytest.fixture
def stages(make_stages) -> pl.DataFrame:
    # 10 MQLs, 2 of them won: MQL-to-customer 20%
    rows = [(f"c{i}", "mql", 1, None) for i in range(10)]
    rows += [("c0", "closed_won", 9, 10.0), ("c1", "closed_won", 9, 10.0)]
    return make_stages(rows)


def plan(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "budget": {"a": 1000, "b": 1000, "c": 1000},
        "targets": {"customers": 30, "cac": 100, "mqls": 60},
    }
    base.update(changes)
    return base


def by_channel(check: attribution.PlanCheck) -> dict[str, dict[str, object]]:
    return {r["channel"]: r for r in check.table.iter_rows(named=True)}


def test_projection_and_gap(result, spend, stages) -> None:
    check = attribution.check_plan(plan(), result, spend, stages)
    r = by_channel(check)
    assert r["a"]["measured_cac"] == pytest.approx(100.0)
    assert r["b"]["projected_customers"] == pytest.approx(1000 / 300)
    assert r["c"]["target_customers"] == pytest.approx(10.0)  # split by budget share
    assert r["c"]["gap"] == pytest.approx(2 - 10)
    assert r["a"]["projected_mqls"] == pytest.approx(10 / 0.2)
    total = r["(total)"]
    assert total["projected_customers"] == pytest.approx(10 + 1000 / 300 + 2)
    assert total["gap"] == pytest.approx(10 + 1000 / 300 + 2 - 30)
    assert total["measured_cac"] == pytest.approx(6500 / 25)  # blended over plan channels
    assert check.summary_data["model"] == "linear"
    # the plan's CAC is one figure: the (total) row, the verdict, plan.json and the summary
    plan_cac = 3000 / (10 + 1000 / 300 + 2)
    assert total["projected_cac"] == pytest.approx(plan_cac)
    assert r["b"]["projected_cac"] == pytest.approx(300.0)  # a channel's is its measured CAC
    assert check.summary_data["projected"]["cac"] == pytest.approx(plan_cac)
    assert f"about 15 customers at ${plan_cac:,.0f} each" in check.verdict
    text = check.summary()
    total_line = next(line for line in text.splitlines() if line.lstrip().startswith("(total)"))
    assert f"${plan_cac:,.0f}" in total_line
    assert "$260" not in total_line
    assert "the same channels cost $260 a customer as the data spent on them" in text


def test_far_assumptions_are_flagged_with_the_data_beside(result, spend, stages) -> None:
    check = attribution.check_plan(plan(), result, spend, stages)
    # the rows against the data (the plan's own arithmetic and the ranges follow them)
    data_rows = check.flags.filter(pl.col("against") == "data")
    assert check.flags.head(data_rows.height).equals(data_rows)
    flags = {(r["assumption"], r["channel"]): r for r in data_rows.iter_rows(named=True)}
    rate = flags[("mql_to_customer", None)]
    assert (rate["plan_value"], rate["data_value"]) == (pytest.approx(0.5), pytest.approx(0.2))
    assert rate["flagged"] is True
    assert rate["direction"] == "optimistic"
    assert "50.0%" in rate["note"]
    assert "20.0%" in rate["note"]
    cac = flags[("cac", None)]
    # the target against the plan's CAC: the budget / the customers it buys at measured CACs
    # (not the channels' blended CAC as spent in the data, 6,500 / 25 = 260)
    assert cac["data_value"] == pytest.approx(3000 / (10 + 1000 / 300 + 2))
    assert cac["ratio"] == pytest.approx(100 / (3000 / (10 + 1000 / 300 + 2)))
    assert cac["flagged"] is False  # 1.96x, as the customers: inside the 2x band
    tighter = attribution.check_plan(plan(plan={"flag_factor": 1.5}), result, spend, stages)
    assert tighter.flags.filter(
        (pl.col("assumption") == "cac") & (pl.col("against") == "data")
    ).item(0, "flagged")
    customers = flags[("customers", None)]
    assert customers["ratio"] == pytest.approx(30 / (10 + 1000 / 300 + 2))
    assert customers["flagged"] is False  # 1.96x: inside the 2x band
    # the data has one month of spend; scaled to the plan's 12 months a spent 12,000
    assert flags[("budget", "a")]["data_value"] == pytest.approx(12_000.0)
    assert flags[("budget", "a")]["flagged"] is True
    monthly = attribution.check_plan(plan(plan={"period_months": 1}), result, spend, stages)
    budget_a = monthly.flags.filter(pl.col("channel") == "a").row(0, named=True)
    assert (budget_a["data_value"], budget_a["flagged"]) == (1000.0, False)


def test_reallocation_meets_the_cac_target_only_by_cutting(result, spend, stages) -> None:
    check = attribution.check_plan(plan(), result, spend, stages)
    r = by_channel(check)
    # caps default to 2x budget: a can take 2,000 at CAC 100; anything more costs more
    assert [r[c]["reallocated_budget"] for c in "abc"] == [2000.0, 0.0, 0.0]
    assert check.summary_data["reallocation"]["mode"] == "cut_budget"
    assert check.summary_data["reallocation"]["cac"] == pytest.approx(100.0)
    assert "met only by cutting the budget to $2,000" in check.verdict
    assert (r["a"]["action"], r["b"]["action"]) == ("grow", "drop")


def test_reallocation_meets_the_target_within_the_same_budget(result, spend, stages) -> None:
    check = attribution.check_plan(plan(caps={"a": 5000}), result, spend, stages)
    r = by_channel(check)
    assert [r[c]["reallocated_budget"] for c in "abc"] == [3000.0, 0.0, 0.0]
    assert r["(total)"]["reallocated_customers"] == pytest.approx(30.0)
    assert check.summary_data["reallocation"]["cac_target_met"] is True
    assert "meets the $100 CAC target: 30 customers at $100" in check.verdict


def test_impossible_target_is_said_so_and_caps_and_floors_hold(result, spend, stages) -> None:
    p = plan(targets={"customers": 30, "cac": 50}, caps={"a": 1500}, floors={"c": 500})
    check = attribution.check_plan(p, result, spend, stages)
    r = by_channel(check)
    # floors first (c 500), then cheapest first up to the caps: a 1,500, b the remaining 1,000
    assert [r[c]["reallocated_budget"] for c in "abc"] == [1500.0, 1000.0, 500.0]
    for c in "abc":
        assert r[c]["floor"] <= r[c]["reallocated_budget"] <= r[c]["cap"]
    out = check.summary_data["reallocation"]
    best = 3000 / (15 + 1000 / 300 + 1)
    assert out["mode"] == "impossible"
    assert out["cac"] == pytest.approx(best)
    assert out["cac_reduction_needed"] == pytest.approx(1 - 50 / best)
    assert "No reallocation meets the $50 CAC target" in check.verdict
    assert "the cheapest channel, a, costs $100" in check.verdict


def test_unknown_channel_and_assumptions(result, spend, stages) -> None:
    p = plan(
        budget={"a": 1000, "tiktok": 500},
        assumptions={"mql_to_customer": 0.5, "cac": {"a": 20}},
    )
    check = attribution.check_plan(p, result, spend, stages)
    flags = check.flags.filter(pl.col("flagged"))
    assert ("channel_cac", "tiktok") in flags.select("assumption", "channel").rows()
    assert ("cac", "a") in flags.select("assumption", "channel").rows()
    assert by_channel(check)["tiktok"]["projected_customers"] is None
    with pytest.raises(attribution.ConfigError, match="did you mean 'mql_to_customer'"):
        attribution.check_plan(plan(assumptions={"mql_to_custmer": 0.5}), result, spend, stages)


def test_plan_file_errors(tmp_path: Path) -> None:
    path = tmp_path / "plan.toml"
    path.write_text("[budjet]\na = 1\n")
    with pytest.raises(attribution.ConfigError, match=r"plan '.*plan.toml'.*did you mean 'budget'"):
        attribution.read_plan(path)
    path.write_text("[budget]\na = -1\n")
    with pytest.raises(attribution.ConfigError, match="a must be a number >= 0"):
        attribution.read_plan(path)
    path.write_text("[budget]\na = 10\n[targets]\ncustomer = 3\n")
    with pytest.raises(attribution.ConfigError, match="did you mean 'customers'"):
        attribution.read_plan(path)


def test_written_files(result, spend, stages, tmp_path: Path) -> None:
    check = attribution.check_plan(plan(), result, spend, stages)
    check.write(tmp_path)
    table = pl.read_parquet(tmp_path / "plan.parquet")
    assert table.get_column("channel").to_list() == ["a", "b", "c", "(total)"]
    flags = pl.read_parquet(tmp_path / "plan_flags.parquet")
    assert {"assumption", "plan_value", "data_value", "ratio", "flagged", "note"} <= set(
        flags.columns
    )
    meta = json.loads((tmp_path / "plan.json").read_text())
    assert meta["targets"] == {"customers": 30.0, "cac": 100.0, "mqls": 60.0}
    assert meta["verdict"] == check.verdict


def test_sample_plan_on_sample_data() -> None:
    res = attribution.attribute(
        SAMPLE / "touches.parquet", SAMPLE / "stages.parquet", models=["linear"]
    )
    check = attribution.check_plan(
        SAMPLE / "plan.toml", res, SAMPLE / "spend.parquet", SAMPLE / "stages.parquet"
    )
    table = check.table
    assert table.filter(pl.col("channel") == "(total)").item(0, "budget") == 750_000
    flags = check.flags.filter(pl.col("flagged"))
    rate = flags.filter(pl.col("assumption") == "mql_to_customer").row(0, named=True)
    assert rate["plan_value"] == pytest.approx(5000 / 15000)
    assert rate["data_value"] == pytest.approx(521 / 8221)
    assert check.summary_data["reallocation"]["mode"] == "impossible"
    capped = table.filter(pl.col("channel") != "(total)")
    assert (capped["reallocated_budget"] <= capped["cap"] + 1e-6).all()
    assert capped["reallocated_budget"].sum() == pytest.approx(750_000)


def test_a_paid_channel_with_no_touch_is_held_not_cut() -> None:
    """Finance pays for trade shows; the CRM logs no trade-show touch. Its spend measures no
    CAC: the plan held it and said 'a channel to test, not to cut' in its verdict while the
    levers said 'cut trade shows: 14 of 14 models' and the reallocation moved its budget
    away (new-user report 8 #3). It is now held (no_data), in no lever, like a channel the
    data does not have."""
    sample = Path(__file__).resolve().parents[1] / "sample_data"
    stages = pl.read_parquet(sample / "stages.parquet")
    result = attribution.attribute(sample / "touches.parquet", stages, models=["linear"])
    spend = pl.read_parquet(sample / "spend.parquet")
    shows = spend.head(1).with_columns(pl.lit("trade_shows").alias("channel"),
                                       pl.lit(80_000.0).alias("amount"))  # fmt: skip
    paid = pl.concat([spend, shows])
    budget = {"linkedin": 250_000, "google_ads": 150_000, "trade_shows": 80_000}
    check = attribution.check_plan(
        {"budget": budget, "targets": {"customers": 5000, "cac": 150}}, result, paid, stages
    )
    row = by_channel(check)["trade_shows"]
    assert row["action"] == "no_data"
    assert row["reallocated_budget"] == pytest.approx(80_000)
    summary = check.summary()
    assert "cut trade_shows" not in summary
    assert "trade_shows: no CAC in the data" in summary
