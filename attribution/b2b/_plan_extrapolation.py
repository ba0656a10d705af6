"""Extrapolation: a budget far above the spend a channel's CAC was measured at.

A measured CAC is an average over the spend seen, not a marginal cost: four times the spend
does not buy four times the customers. *Decision* (README, "The plan check"): one check, one
sentence, wherever the plan check puts money on a channel -- the plan's own split (the
``budget`` flags), the reallocation the tool recommends (``reallocated_budget``), the
allocation that would reach the customers target, the levers and the report's headline:

- a channel's *spend multiple* = its money in the plan / its media spend in the data scaled
  to the plan's months; above ``flag_factor`` (default 2) it is an extrapolation;
- said the same way everywhere: ``(an extrapolation: google_ads get 4.4x the spend their CAC
  was measured at, scaled to 12 months; a CAC usually rises with spend, so read the
  customers as a ceiling, not a forecast)``.

The reallocation is *not* capped at a multiple of the measured spend: its caps are the
plan's (``[caps]``, else ``cap_multiple`` x the channel's budget), which is the plan owner's
word; to hold a channel near its measured spend give it a ``[caps]`` entry. What the check
adds is the caveat, with the multiple, in ``plan.json`` (``reallocation.extrapolation``),
``levers.parquet`` (``spend_multiple``, ``extrapolated``), the levers' lines and the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from attribution.b2b._plan_file import Plan

__all__ = [
    "MULTIPLE",
    "extrapolation_caveat",
    "extrapolation_summary",
    "lever_caveat",
    "levers_with_multiples",
    "scaled_spend",
    "spend_multiple",
    "with_spend_multiples",
]

#: the plan frame's column: the reallocated budget / the measured spend (scaled)
MULTIPLE = "reallocated_spend_multiple"


def scaled_spend(scale: float | None) -> pl.Expr:
    """The channel's measured spend scaled to the plan's months: what a spend multiple
    divides by (null without the data's months)."""
    if scale is None:
        return pl.lit(None, pl.Float64)
    return pl.col("measured_spend") * scale


def spend_multiple(money: pl.Expr, scale: float | None) -> pl.Expr:
    """``money`` over the channel's measured spend scaled to the plan's months (null when
    the data has no spend on it or no months): the one rule of the reallocation's, the
    target allocation's and the plan's own budget's multiple (its ``budget`` flags' ratio:
    :func:`attribution.b2b._plan_flags.plan_flags`)."""
    base = scaled_spend(scale)
    return pl.when(base > 0).then(money / base)


def with_spend_multiples(frame: pl.DataFrame, scale: float | None) -> pl.DataFrame:
    """The plan frame with :data:`MULTIPLE` (the reallocation's spend multiple)."""
    return frame.with_columns(spend_multiple(pl.col("reallocated_budget"), scale).alias(MULTIPLE))


def extrapolation_caveat(
    rows: Sequence[tuple[str, float]], months: float, *, whose: str = "customers"
) -> str:
    """The caveat for ``rows`` (channel, spend multiple) above the flag factor; empty when
    there is none. ``whose``: what to read as a ceiling."""
    if not rows:
        return ""
    ratios = [r for _, r in rows]
    low, high = float(min(ratios)), float(max(ratios))
    times = f"{low:.1f}x" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}x"
    names = [c for c, _ in rows]
    which = ", ".join(names) if len(names) <= 3 else f"{len(names)} of its channels"
    return (
        f" (an extrapolation: {which} get {times} the spend their CAC was measured at, "
        f"scaled to {months:g} months; a CAC usually rises with spend, so read the "
        f"{whose} as a ceiling, not a forecast)"
    )


def _over(frame: pl.DataFrame, column: str, factor: float) -> list[tuple[str, float]]:
    if column not in frame.columns:
        return []
    rows = frame.filter(pl.col(column) > factor).select("channel", column)
    return [(str(c), float(r)) for c, r in rows.iter_rows()]


def extrapolation_summary(
    p: Plan, frame: pl.DataFrame, outcome: dict[str, Any], scale: float | None
) -> dict[str, Any]:
    """``plan.json``'s ``reallocation.extrapolation``: the channels the reallocation and
    the customers target's allocation spend beyond ``flag_factor`` x their measured spend,
    with their multiples, and the caveats as the verdict says them."""
    realloc = _over(frame, MULTIPLE, p.flag_factor)
    target: list[tuple[str, float]] = []
    spends = outcome.get("target_allocation")
    if spends and scale is not None:
        alloc = pl.DataFrame({"channel": list(spends), "_for_target": list(spends.values())})
        joined = frame.select("channel", "measured_spend").join(alloc, on="channel")
        joined = joined.with_columns(
            spend_multiple(pl.col("_for_target"), scale).alias("_multiple")
        )
        target = _over(joined, "_multiple", p.flag_factor)
    return {
        "flag_factor": p.flag_factor,
        "period_months": p.period_months,
        "reallocation": {c: round(r, 2) for c, r in realloc},
        "target_allocation": {c: round(r, 2) for c, r in target},
        "reallocation_caveat": extrapolation_caveat(realloc, p.period_months).strip(" ()"),
        "target_caveat": extrapolation_caveat(target, p.period_months).strip(" ()"),
    }


def levers_with_multiples(
    levers: pl.DataFrame, frame: pl.DataFrame, factor: float
) -> pl.DataFrame:
    """``levers`` with ``spend_multiple`` (the decision model's reallocated budget of the
    channel / its measured spend, scaled) and ``extrapolated`` (above ``factor``)."""
    if MULTIPLE not in frame.columns or levers.height == 0:
        return levers.with_columns(
            pl.lit(None, pl.Float64).alias("spend_multiple"),
            pl.lit(False).alias("extrapolated"),
        )
    multiples = frame.select("channel", pl.col(MULTIPLE).alias("spend_multiple"))
    return levers.join(multiples, on="channel", how="left", maintain_order="left").with_columns(
        (pl.col("spend_multiple") > factor).fill_null(False).alias("extrapolated")
    )


def lever_caveat(row: dict[str, Any]) -> str:
    """A grow lever's caveat when the reallocation it stands for is an extrapolation:
    ``4.4x the spend its CAC was measured at: an extrapolation, read as a ceiling, not a
    forecast``; a cut lever's when it cuts a channel of more value per dollar than one grown
    (``value_caveat``, :func:`attribution.b2b._plan_levers.levers_with_value`); empty
    otherwise."""
    if row.get("action") == "cut" and row.get("value_caveat"):
        return str(row["value_caveat"])
    if row.get("action") != "grow" or not row.get("extrapolated"):
        return ""
    return (
        f"{float(row['spend_multiple']):.1f}x the spend its CAC was measured at: an "
        "extrapolation, read as a ceiling, not a forecast"
    )
