"""Item 3 of fix19: a channel's money in the plan over its measured spend, scaled to the
plan's months, is one rule (:func:`attribution.b2b._plan_extrapolation.spend_multiple`): the
reallocation's and the target allocation's spend multiple, and the ratio of the plan's own
``budget`` flags (:mod:`attribution.b2b._plan_flags`)."""

from __future__ import annotations

import polars as pl
import pytest

import attribution
from attribution.b2b import _plan_extrapolation, _plan_flags
from attribution.engine._memory import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA

PLAN = {"budget": {"a": 1000, "b": 30_000, "c": 1000},
        "targets": {"customers": 30, "cac": 100, "mqls": 60}}  # fmt: skip


def _check(make_stages) -> attribution.PlanCheck:
    credit = pl.DataFrame([("linear", "a", 10.0, 1.0, 0.0), ("linear", "b", 10.0, 1.0, 0.0),
                           ("linear", "c", 5.0, 1.0, 0.0)],
                          schema=CHANNEL_CREDIT_SCHEMA, orient="row")  # fmt: skip
    result = attribution.AttributionResult(credit, pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA), {})
    spend = pl.DataFrame({"channel": ["a", "b", "c"], "month": ["2025-01-01"] * 3,
                          "amount": [1e3, 3e3, 2.5e3]})  # fmt: skip
    rows = [(f"c{i}", "mql", 1, None) for i in range(10)]
    rows += [("c0", "closed_won", 9, 10.0), ("c1", "closed_won", 9, 10.0)]
    return attribution.check_plan(PLAN, result, spend, make_stages(rows))


def _budget_flags(check: attribution.PlanCheck) -> dict[str, dict[str, object]]:
    rows = check.flags.filter(pl.col("assumption") == "budget").iter_rows(named=True)
    return {str(r["channel"]): r for r in rows}


def test_the_budget_flag_is_the_plans_spend_multiple(make_stages) -> None:
    flags = _budget_flags(_check(make_stages))
    # one month of spend in the data, a 12-month plan: b's 30,000 is 30,000 / 36,000
    assert flags["b"]["ratio"] == pytest.approx(30_000 / (3e3 * 12))
    assert flags["a"]["ratio"] == pytest.approx(1000 / 12_000)
    assert (flags["a"]["flagged"], flags["a"]["direction"]) == (True, "contracted")


def test_a_change_of_the_rule_reaches_the_budget_flags(
    make_stages, monkeypatch: pytest.MonkeyPatch
) -> None:
    def doubled(money: pl.Expr, scale: float | None) -> pl.Expr:
        return 2 * _plan_extrapolation.spend_multiple(money, scale)

    monkeypatch.setattr(_plan_flags, "spend_multiple", doubled)
    flags = _budget_flags(_check(make_stages))
    assert flags["b"]["ratio"] == pytest.approx(2 * 30_000 / 36_000)
