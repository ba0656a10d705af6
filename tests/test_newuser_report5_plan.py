"""New-user report 5, the plan check's defects 6-8: the CACs it prints are on the channels
they describe (the measured, paid part of the plan), and the benchmark checks on the plan's
own channels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import attribution
from attribution.cli._plan import plan_hint
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA


@pytest.fixture
def result() -> attribution.AttributionResult:
    # linkedin 10 customers on $4,000 ($400), email 5 on $500 ($100), organic_search 40 free
    credit = pl.DataFrame(
        [(m, c, n, 1.0, 0.0) for m in ("linear", "first_touch")
         for c, n in (("linkedin", 10.0), ("email", 5.0), ("organic_search", 40.0))],
        schema=CHANNEL_CREDIT_SCHEMA, orient="row",
    )  # fmt: skip
    return attribution.AttributionResult(
        credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {"parameters": {}}
    )


@pytest.fixture
def spend() -> pl.DataFrame:
    return pl.DataFrame({"channel": ["linkedin", "email"], "month": ["2025-01-01"] * 2,
                         "amount": [4000.0, 500.0]})  # fmt: skip


@pytest.fixture
def stages(make_stages) -> pl.DataFrame:
    return make_stages([*[(f"c{i}", "mql", 1, None) for i in range(10)],
                        ("c0", "closed_won", 9, 10.0)])  # fmt: skip


def rows(check: attribution.PlanCheck) -> dict[str, dict[str, object]]:
    return {r["channel"]: r for r in check.table.iter_rows(named=True)}


# ------------------------------ 6: the blended CAC of the plan's channels is of paid ones
def test_the_blended_cac_leaves_out_an_unpaid_channels_free_customers(
    result, spend, stages
) -> None:
    plan = {"budget": {"linkedin": 8000, "organic_search": 2000},
            "targets": {"customers": 30}}  # fmt: skip
    check = attribution.check_plan(plan, result, spend, stages)
    measured = check.summary_data["measured"]
    # linkedin's $4,000 / its 10 customers, not / (10 + organic_search's 40 free ones)
    assert measured["blended_cac_of_plan_channels"] == pytest.approx(400.0)
    assert measured["blended_cac_channels"] == ["linkedin"]
    total = rows(check)["(total)"]
    assert total["measured_cac"] == pytest.approx(400.0)
    assert total["measured_spend"] / total["measured_customers"] == pytest.approx(400.0)
    text = check.summary()
    assert "(the plan's channels with spend in the data (linkedin) cost $400 a customer" in text
    assert "organic_search: no spend in the data, not in this figure" in text
    assert "$80 a customer" not in text


# ------------------- 7: budget without a measured CAC is not projected, and said so
def test_unmeasured_budget_is_left_out_of_the_plans_cac_and_the_gap(
    result, spend, stages
) -> None:
    plan = {"budget": {"linkedin": 8000, "tiktok": 12000},
            "targets": {"customers": 50, "cac": 200}}  # fmt: skip
    check = attribution.check_plan(plan, result, spend, stages)
    r = rows(check)
    # linkedin's $8,000 buys 20 at $400; tiktok's $12,000 has no CAC: not projected
    assert r["(total)"]["projected_customers"] == pytest.approx(20.0)
    assert r["(total)"]["projected_cac"] == pytest.approx(400.0)
    projected = check.summary_data["projected"]
    assert projected["cac"] == pytest.approx(400.0)
    assert projected["budget"] == pytest.approx(8000.0)
    assert projected["budget_not_projected"] == pytest.approx(12000.0)
    assert projected["channels_not_projected"] == ["tiktok"]
    v = check.verdict
    assert v.startswith(
        "At measured CACs $8,000 of the $20,000 budget (linkedin) buys about 20 customers "
        "at $400 each; the other $12,000 (tiktok: no CAC in the data) is not projected"
    )
    assert "$1,000 each" not in v  # $20,000 / 20 customers
    # the gap is on the measured part: $400 down to $200 is 50%, not 80% ($1,000 to $200)
    assert "so the CAC of the channels with a measured CAC would have to fall by 50%" in v
    assert "fall by 80%" not in v
    assert check.summary_data["reallocation"]["cac"] == pytest.approx(400.0)
    assert check.summary_data["reallocation"]["held_budget"] == pytest.approx(12000.0)
    cac_flag = check.flags.filter((pl.col("assumption") == "cac") & (pl.col("against") == "data"))
    assert cac_flag.item(0, "data_value") == pytest.approx(400.0)
    # the customers target's share of the measured budget, against what that buys
    cust = check.flags.filter(pl.col("assumption") == "customers")
    assert cust.item(0, "plan_value") == pytest.approx(50 * 8000 / 20000)
    assert cust.item(0, "data_value") == pytest.approx(20.0)
    assert "$12,000 on tiktok is not projected" in cust.item(0, "note")
    text = check.summary()
    assert "the (total) CAC is on the $8,000 with a measured CAC" in text
    # the risk's CAC is on the same budget: at most $400 x 1.2 in the median, not $1,000+
    assert check.risk.item(0, "cac") < 400 * 1.25


def test_a_cheap_measured_channel_can_meet_the_cac_target_beside_an_unmeasured_one(
    result, spend, stages
) -> None:
    # email's $100 meets a $150 target; tiktok's budget (no CAC) used to count as a floor
    # that buys nothing, so no cut could ever meet it
    plan = {"budget": {"email": 1000, "linkedin": 1000, "tiktok": 5000},
            "targets": {"cac": 150}}  # fmt: skip
    check = attribution.check_plan(plan, result, spend, stages)
    outcome = check.summary_data["reallocation"]
    assert outcome["cac_target_met"] is True
    assert outcome["cac"] <= 150
    assert rows(check)["tiktok"]["reallocated_budget"] == pytest.approx(5000)


def test_a_plan_whose_channels_all_have_a_cac_reads_as_before(result, spend, stages) -> None:
    plan = {"budget": {"linkedin": 8000, "email": 2000}, "targets": {"customers": 50}}
    check = attribution.check_plan(plan, result, spend, stages)
    assert check.verdict.startswith(
        "At measured CACs the $10,000 budget buys about 40 customers at $250 each, against a "
        "target of 50."
    )
    assert "(the same channels cost $300 a customer as the data spent on them" in (
        check.summary()
    )


# ---------------- 8: the benchmark CAC checks use the plan's channels the table covers
def test_benchmark_costs_come_from_the_plans_own_channels() -> None:
    plan = {"budget": {"partner_referral": 40_000, "g2_capterra": 60_000, "email": 10_000},
            "targets": {"customers": 100, "cac": 1_200}}  # fmt: skip
    check = attribution.check_plan(plan)
    cac = check.flags.filter(pl.col("assumption").is_in(["cac", "implied_cac_vs_benchmark"]))
    assert cac.height == 2
    assert not any(cac.get_column("flagged"))
    assert all("the benchmark table has no cost for the plan's channels" in n
               for n in cac.get_column("note"))  # fmt: skip
    assert all("it covers linkedin, content_syndication" in n for n in cac.get_column("note"))
    # linkedin in the plan: its range alone, not content syndication's
    check = attribution.check_plan({"budget": {"linkedin": 450_000, "google_ads": 300_000},
                                    "targets": {"customers": 5_000, "cac": 150}})
    row = check.flags.filter(pl.col("assumption") == "cac").row(0, named=True)
    assert row["flagged"]
    assert row["range_high"] == pytest.approx(62_500)
    assert "content_syndication" not in row["note"]
    assert "(range $1,389-$62,500, of the plan's channels the table covers: linkedin" in (
        row["note"]
    )


def test_the_flagged_arithmetic_row_says_what_does_not_add_up() -> None:
    plan = {"budget": {"linkedin": 110_000}, "targets": {"customers": 100, "cac": 1_200}}
    check = attribution.check_plan(plan)
    row = check.flags.filter(pl.col("assumption") == "implied_cac").row(0, named=True)
    assert row["flagged"]
    assert row["note"].endswith(
        "the CAC target is $1,200: at $1,200 the budget buys 92 customers, not 100"
    )
    plan["targets"] = {"customers": 100, "cac": 1_000}
    row = attribution.check_plan(plan).flags.filter(
        pl.col("assumption") == "implied_cac").row(0, named=True)  # fmt: skip
    assert row["note"].endswith(
        "the CAC target is $1,000: at $1,000 the budget buys 110 customers, not 100"
    )


# ------------------- 32: a cap below the budget, a floor above it, cap_multiple < 1
@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"caps": {"email": 500}},
         r"channel 'email': budget 1,000 is above its cap 500 \(\[caps\] is the most"),
        ({"floors": {"linkedin": 9000}},
         r"channel 'linkedin': floor 9,000 is above its budget 8,000 \(\[floors\] is a "),
        ({"plan": {"cap_multiple": 0.5}}, r"\[plan\] cap_multiple must be at least 1"),
    ],
)
def test_a_plan_that_breaks_its_own_caps_or_floors_is_an_error(changes, match) -> None:
    plan = {"budget": {"linkedin": 8000, "email": 1000}, "targets": {"customers": 30}} | changes
    with pytest.raises(attribution.ConfigError, match=match):
        attribution.read_plan(plan)


def test_the_reallocation_never_buys_fewer_than_the_plan(result, spend, stages) -> None:
    plan = {"budget": {"linkedin": 8000, "email": 1000}, "targets": {"customers": 100},
            "caps": {"email": 1000}, "plan": {"cap_multiple": 1}}  # fmt: skip
    check = attribution.check_plan(plan, result, spend, stages)
    total = rows(check)["(total)"]
    assert total["reallocated_customers"] >= total["projected_customers"] - 1e-9


# ------------------------- 18: the two benchmark CAC rows have names of their own
def test_each_check_has_its_own_name() -> None:
    plan = {"budget": {"linkedin": 110_000}, "targets": {"customers": 100, "cac": 1_200}}
    check = attribution.check_plan(plan)
    names = check.flags.get_column("assumption").to_list()
    assert names == ["implied_cac", "cac", "implied_cac_vs_benchmark"]
    assert "3 of 3 check(s) are flagged (implied_cac, cac, implied_cac_vs_benchmark)" in (
        check.verdict
    )


# ------------- 25: an [assumptions.cac] channel outside the budget is not "far from the data"
def test_an_assumed_cac_of_a_channel_outside_the_budget_is_noted_not_flagged(
    result, spend, stages
) -> None:
    # linkedin's budget is its spend in the data scaled to 12 months: nothing far from it
    plan = {"budget": {"linkedin": 48_000}, "targets": {"customers": 120},
            "assumptions": {"cac": {"linkedin": 400, "tiktok": 50, "emial": 90}}}  # fmt: skip
    check = attribution.check_plan(plan, result, spend, stages)
    cac = check.flags.filter(pl.col("assumption") == "cac").filter(pl.col("channel").is_not_null())
    by = {r["channel"]: r for r in cac.iter_rows(named=True)}
    assert not by["tiktok"]["flagged"]
    assert "tiktok is not a channel of [budget]" in by["tiktok"]["note"]
    assert "did you mean 'email'" in by["emial"]["note"]
    assert "0 assumption(s) are far from the data" in check.verdict


# ---------------------------- 16: read_plan names an unknown money assumption
def test_a_typo_of_a_money_assumption_is_named() -> None:
    plan = {"budget": {"linkedin": 1000}, "targets": {"customers": 3},
            "assumptions": {"cost_per_mq": 80}}  # fmt: skip
    with pytest.raises(attribution.ConfigError,
                       match=r"unknown assumption 'cost_per_mq'; did you mean 'cost_per_mql'"):
        attribution.read_plan(plan)


# ------------------- 23: `attribution plan` hints at what it takes, not run's options
def test_plan_says_how_to_map_the_stage_name_with_its_own_options(tmp_path: Path) -> None:
    (tmp_path / "t.csv").write_text("timestamp,channel,contact_id\n2025-03-01,linkedin,c1\n")
    (tmp_path / "s.csv").write_text("timestamp,stage,contact_id\n2025-03-05,Closed Won,c1\n")
    (tmp_path / "sp.csv").write_text("channel,month,amount\nlinkedin,2025-03-01,100\n")
    (tmp_path / "p.toml").write_text("[budget]\nlinkedin = 1000\n[targets]\ncustomers = 5\n")
    proc = subprocess.run(
        [sys.executable, "-m", "attribution.cli", "plan", "p.toml", "--touches", "t.csv",
         "--stages", "s.csv", "--spend", "sp.csv", "-m", "linear", "--out", "runs"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, COLUMNS="400"),
    )  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    assert "--conversion-stage (" not in proc.stderr
    assert "--allow-empty" not in proc.stderr
    assert ('([stage_names] closed_won = ["Closed Won"]) in a config given with -c CONFIG '
            "(attribution plan has no --conversion-stage)") in " ".join(proc.stderr.split())
    assert plan_hint("Did you mean 'customer'? Give it with --conversion-stage customer") == (
        "Did you mean 'customer'? attribution plan measures the stage 'closed_won': map "
        'customer to it in a config given with -c CONFIG ([stage_names] closed_won = '
        '["customer"])'
    )
