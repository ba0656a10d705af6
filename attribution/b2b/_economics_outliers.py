"""Credited deals worth far more than the others: a typo in an amount is said before the
figures it moves.

*Decision* (README, "Which conversions are customers"): a credited customer's deal value
over :data:`OUTLIER_MULTIPLE` times the median of the credited customers' non-zero values
is named (its ``conversion_id``, value, and the median) in a warning before the economics
table, in ``economics.json`` (``parameters.deal_value_outliers``) and as an alert; it is
kept (a whale deal can be real). New-user report 22: her 46,500 typed 4650000000 gave
LTV/CAC 37,920 and payback 0.0 months, exit 0, no word; the run already checks
subscriptions for amounts 100x off (cents) but not one deal.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import polars as pl

from attribution._reporting_currency import money_text

__all__ = ["OUTLIER_MULTIPLE", "deal_value_outliers", "outliers_line"]

#: A deal worth more than this many times the median of the credited customers' values.
OUTLIER_MULTIPLE: Final = 100
#: Deals named in the warning.
LISTED: Final = 3


def deal_value_outliers(conversions: pl.DataFrame) -> dict[str, Any] | None:
    """The credited conversions (with touches) whose value is over :data:`OUTLIER_MULTIPLE`
    times the median of the credited non-zero values; None when none is."""
    if "value" not in conversions.columns or not conversions.height:
        return None
    credited = (conversions.filter(pl.col("n_touches") > 0)
                if "n_touches" in conversions.columns else conversions)
    valued = credited.filter(pl.col("value") > 0)
    if valued.height < 3:
        return None
    median = float(valued.select(pl.col("value").median()).item() or 0.0)
    far = valued.filter(pl.col("value") > OUTLIER_MULTIPLE * median).sort(
        "value", "conversion_id", descending=[True, False])
    if not far.height:
        return None
    total = float(valued.get_column("value").sum())
    return {
        "deals": far.height, "median": median, "multiple": OUTLIER_MULTIPLE,
        "share_of_revenue": float(far.get_column("value").sum()) / total,
        "listed": far.head(LISTED).select("conversion_id", "value").to_dicts(),
    }


def outliers_line(found: Mapping[str, Any]) -> str:
    """The warning of :func:`deal_value_outliers`' finding."""
    listed = ", ".join(f"{r['conversion_id']} {money_text(r['value'])}" for r in found["listed"])
    more = f" and {found['deals'] - len(found['listed'])} more" if found["deals"] > len(
        found["listed"]) else ""
    return (
        f"WARNING: {found['deals']:,} credited deal(s) worth over {found['multiple']}x the "
        f"median deal ({money_text(found['median'])}): {listed}{more}, "
        f"{found['share_of_revenue']:.0%} of the credited revenue. A typo in the amount? "
        "ARPA, LTV, LTV/CAC and payback count it; fix the amount in the stages, or keep it if "
        "the deal is real."
    )
