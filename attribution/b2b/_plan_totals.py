"""The plan check's totals: the ``(total)`` row and the two CACs of the plan's channels.

- **The plan's CAC** (``projected_cac``) is the budget of the channels with a CAC in the data
  (spend in it) / the customers that budget buys. A channel without one (new, spelled
  otherwise, or unpaid in the data: an SEO budget on ``organic_search``) is not projected:
  its budget is stated on its own (``budget_not_projected``), never divided by zero
  customers into the plan's CAC (new-user report 5, defect 7).
- **The same channels as the data spent on them** (the ``(total)`` row's ``measured_spend``,
  ``measured_customers`` and ``measured_cac``; ``measured.blended_cac_of_plan_channels``) is
  over the plan's channels with spend in the data only: an unpaid channel's free customers
  would make the paid ones look cheaper than they are (defect 6). The line under the table
  names the channels when some are left out.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution.b2b._shared import money

__all__ = ["TOTAL", "blended_line", "not_projected_line", "plan_parts", "total_row"]

TOTAL = "(total)"


def plan_parts(frame: pl.DataFrame) -> dict[str, Any]:
    """The plan's channels (budget > 0) split by whether the data has spend on them:
    ``paid`` (their blended CAC as spent, ``blended_cac``), ``projected_budget`` (theirs)
    and the rest (``held_budget``, ``held_channels``: not projected)."""
    bought = frame.filter(pl.col("budget") > 0)
    has_spend = pl.col("measured_spend") > 0
    paid = bought.filter(has_spend)
    held = bought.filter(~has_spend)
    spend = float(paid.get_column("measured_spend").sum())
    customers = float(paid.get_column("measured_customers").sum())
    return {
        "paid": paid.get_column("channel").to_list(),
        "unpaid": held.get_column("channel").to_list(),
        "spend": spend,
        "customers": customers,
        "blended_cac": spend / customers if customers > 0 else None,
        "projected_budget": float(paid.get_column("budget").sum()),
        "held_budget": float(held.get_column("budget").sum()),
        "held_channels": held.get_column("channel").to_list(),
    }


def total_row(
    frame: pl.DataFrame,
    parts: dict[str, Any],
    *,
    projected_total: float,
    total_budget: float,
    planned: dict[str, Any],
    target_customers: float | None,
    target_mqls: float | None,
) -> pl.DataFrame:
    """The ``(total)`` row of ``plan.parquet`` (its columns in ``frame``'s order)."""
    projected_budget = parts["projected_budget"]
    total = frame.select(
        pl.lit(TOTAL).alias("channel"),
        pl.col("budget").sum(),
        pl.lit(parts["spend"], pl.Float64).alias("measured_spend"),
        pl.lit(parts["customers"], pl.Float64).alias("measured_customers"),
        pl.lit(parts["blended_cac"], pl.Float64).alias("measured_cac"),
        pl.col("projected_customers").fill_null(0.0).sum(),
        pl.lit(
            projected_budget / projected_total if projected_total > 0 else None, pl.Float64
        ).alias("projected_cac"),
        pl.lit(planned.get("customers_low"), pl.Float64).alias("customers_low"),
        pl.lit(planned.get("customers_high"), pl.Float64).alias("customers_high"),
        pl.col("projected_mqls").sum(),
        pl.col("target_customers").sum(),
        pl.col("target_mqls").sum(),
        pl.lit(total_budget / target_customers if target_customers else None, pl.Float64).alias(
            "implied_cac"
        ),
        pl.col("gap").sum(),
        pl.col("floor").sum(),
        pl.col("cap").sum(),
        pl.col("reallocated_budget").sum(),
        pl.col("reallocated_customers").sum(),
        pl.col("change").sum(),
        pl.lit(None, pl.String).alias("action"),
    )
    if not target_customers:
        total = total.with_columns(pl.lit(None, pl.Float64).alias("target_customers"))
    if not target_mqls:
        total = total.with_columns(pl.lit(None, pl.Float64).alias("target_mqls"))
    return total.with_columns(
        (pl.col("projected_customers") - pl.col("target_customers")).alias("gap")
    )


def blended_line(measured: dict[str, Any]) -> str | None:
    """The line under the channel table: the plan's paid channels as the data spent on
    them, naming them (and the ones left out) when not every channel of the plan is paid."""
    blended = measured.get("blended_cac_of_plan_channels")
    if blended is None:
        return None
    how = "their spend / credited customers, weighted by that spend, not by this plan"
    left_out = measured.get("channels_without_spend") or []
    cost = f"{money(blended)} a customer as the data spent on them: {how}"
    if not left_out:
        return f"  (the same channels cost {cost})"
    paid = ", ".join(measured["blended_cac_channels"])
    return (
        f"  (the plan's channels with spend in the data ({paid}) cost {cost}; "
        f"{', '.join(left_out)}: no spend in the data, not in this figure)"
    )


def not_projected_line(projected: dict[str, Any]) -> str | None:
    """Under the table, when part of the budget has no CAC in the data."""
    held = projected.get("budget_not_projected") or 0.0
    if held <= 0:
        return None
    return (
        f"  (the (total) CAC is on the {money(projected['budget'])} with a measured CAC; "
        f"{money(held)} on {', '.join(projected['channels_not_projected'])} is not projected: "
        "no CAC in the data)"
    )
