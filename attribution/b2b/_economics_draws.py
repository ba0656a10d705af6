"""The unit economics of every bootstrap draw, their intervals, the probability of a guardrail
breach, and the small-sample mark.

Method (README, "Uncertainty"; the draws are :mod:`attribution.engine._bootstrap`'s):

- A draw's row (model, segment, channel) takes the draw's credited customers and revenue and
  the point estimate's spend, churn and payback target: spend is what was paid, not a
  sample. Spend split across segments by credited customers (``segment_spend =
  "customers"``) follows the draw's customers; split by touches it is the point estimate's.
  Non-media costs allocated by customers follow the draw's customers of the model; by spend,
  they are the point estimate's. Every figure is then computed as for the point estimate
  (:func:`attribution.b2b._economics_metrics.with_metrics`).
- A paid row (spend > 0) whose draw credits it no customer costs an infinite CAC: its CAC,
  loaded CAC, payback and guardrail share count as ``inf`` in the percentiles (an upper bound
  of ``inf`` means more than 5% of the draws credit it nobody), its LTV/CAC as 0, and it
  breaches (as the point estimate's ``no_customers`` rows do). An unpaid channel (organic,
  direct) that a draw credits nobody leaves those draws out of its figures and does not
  breach for it. A figure no draw defines is null.
- Intervals are the 5th and 95th percentiles of the draws (``<figure>_ci_low``,
  ``<figure>_ci_high``: a 90% percentile interval); ``breach_probability`` is the share of
  draws in breach.
- ``low_confidence`` (always, bootstrap or not): the row's credited customers are fewer than
  :data:`MIN_CUSTOMERS` (5): its CAC, LTV/CAC, payback and guardrail rest on a handful of
  deals and move a lot with one more or one fewer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import polars as pl

from attribution._reporting_currency import money_text
from attribution.b2b._economics_metrics import Assumptions, with_metrics
from attribution.b2b._economics_slices import ALL
from attribution.b2b._reconcile import draws_reconciled
from attribution.engine._bootstrap import Bootstrap, interval_exprs

__all__ = [
    "DRAW_COLUMNS",
    "INTERVAL_FIGURES",
    "LOW_MARK",
    "MIN_CUSTOMERS",
    "bootstrap_parameters",
    "draw_notes",
    "economics_draws",
    "interval_columns",
    "low_note",
    "span",
    "with_bootstrap",
    "with_draw_intervals",
]

#: Fewer credited customers than this mark a row ``low_confidence``.
MIN_CUSTOMERS: Final = 5.0
#: The figures that get an interval, in the order of their columns.
INTERVAL_FIGURES: Final = (
    "customers",
    "cac",
    "loaded_cac",
    "ltv_to_cac",
    "payback_months",
    "guardrail_share",
)
#: ``economics_draws.parquet``: one row per draw, model, segment and channel.
DRAW_COLUMNS: Final = (
    "draw",
    "model",
    "segment",
    "channel",
    "customers",
    "revenue",
    "spend",
    "non_media_cost",
    "cac",
    "loaded_cac",
    "ltv",
    "ltv_to_cac",
    "payback_months",
    "guardrail_share",
    "breach",
)
_KEYS: Final = ("model", "segment", "channel")
_INFINITE_COST: Final = ("cac", "loaded_cac", "payback_months", "guardrail_share")


def interval_columns() -> list[str]:
    """The columns the intervals add to ``economics.parquet``, in order."""
    return [
        *(f"{figure}_ci_{end}" for figure in INTERVAL_FIGURES for end in ("low", "high")),
        "breach_probability",
    ]


def economics_draws(
    point: pl.DataFrame,
    credit: pl.DataFrame,
    assumptions: Assumptions,
    *,
    non_media: float,
    allocation: str,
    segment_spend: str,
) -> pl.DataFrame:
    """Every draw's figures (:data:`DRAW_COLUMNS`) for the rows of ``point`` (the point
    estimate's ``all`` and segment rows) from the draws' ``credit`` (``draw``, ``model``,
    ``segment``, ``channel``, ``customers``, ``revenue``): see the module."""
    if point.height == 0 or credit.height == 0:
        return pl.DataFrame(schema={c: _dtype(c) for c in DRAW_COLUMNS})
    fixed = point.select(
        *_KEYS,
        "spend",
        "annual_churn",
        "payback_target_months",
        pl.col("status").alias("_point_status"),
        pl.col("non_media_cost").alias("_point_non_media"),
    )
    draws = credit.select("draw").unique().sort("draw")
    rows = (
        draws.join(fixed, how="cross")
        .join(credit, on=["draw", *_KEYS], how="left")
        .with_columns(pl.col("customers", "revenue").fill_null(0.0))
    )
    if segment_spend == "customers":  # the spend of a channel's segments follows its customers
        seg = pl.col("segment") != ALL
        total = pl.col("customers").filter(seg).sum().over("draw", "model", "channel")
        all_spend = pl.col("spend").filter(~seg).first().over("draw", "model", "channel")
        rows = rows.with_columns(
            pl.when(seg & (total > 0))
            .then(all_spend * pl.col("customers") / total)
            .otherwise(pl.col("spend"))
            .alias("spend")
        )
    if allocation == "customers":
        model_total = (
            pl.col("customers").filter(pl.col("segment") == ALL).sum().over("draw", "model")
        )
        rows = rows.with_columns(
            pl.when(model_total > 0)
            .then(non_media * pl.col("customers") / model_total)
            .otherwise(0.0)
            .alias("non_media_cost")
        )
    else:
        rows = rows.with_columns(pl.col("_point_non_media").alias("non_media_cost"))
    figures = with_metrics(rows, assumptions, ("draw", *_KEYS, "_point_status"))
    nobody = pl.col("status") == "no_customers"
    paid_nobody = nobody & (pl.col("spend") > 0)
    return figures.with_columns(
        *(
            pl.when(paid_nobody).then(float("inf")).otherwise(pl.col(c)).alias(c)
            for c in _INFINITE_COST
        ),
        pl.when(paid_nobody).then(0.0).otherwise(pl.col("ltv_to_cac")).alias("ltv_to_cac"),
        # an unpaid channel that a draw credits nobody has not overspent
        (pl.col("breach") & ~(nobody & (pl.col("_point_status") == "unpaid"))).alias("breach"),
    ).select(DRAW_COLUMNS)


def with_draw_intervals(
    rows: pl.DataFrame, draws: pl.DataFrame | None, keys: Sequence[str] = _KEYS
) -> pl.DataFrame:
    """``rows`` (economics rows) with the intervals of :func:`interval_columns` from
    ``draws`` (null without draws, or for rows the draws do not hold) and ``low_confidence``."""
    marked = rows.with_columns(
        (pl.col("customers") < MIN_CUSTOMERS).fill_null(True).alias("low_confidence")
    )
    if draws is None or draws.height == 0:
        return marked.with_columns(
            pl.lit(None, pl.Float64).alias(c) for c in interval_columns()
        ).select(*rows.columns, *interval_columns(), "low_confidence")
    bounds = draws.group_by(*keys).agg(
        *(e for figure in INTERVAL_FIGURES for e in interval_exprs(figure)),
        pl.col("breach").cast(pl.Float64).mean().alias("breach_probability"),
    )
    return marked.join(bounds, on=list(keys), how="left", maintain_order="left").select(
        *rows.columns, *interval_columns(), "low_confidence"
    )


def with_bootstrap(
    out: pl.DataFrame,
    segments: pl.DataFrame,
    boot: Bootstrap | None,
    models: Sequence[str],
    assumptions: Assumptions,
    non_media: float,
    allocation: str,
    segment_spend: str,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The ``all`` rows and the segment rows of the unit economics with their intervals
    (null without ``boot``, the result's draws; the segment rows' also when the draws have
    no segments), and the draws' figures (:func:`economics_draws`; empty without)."""
    draws = None
    if boot is not None:
        credit = boot.credit.filter(pl.col("model").is_in(list(models)))
        if not (boot.segmented and segments.height):  # intervals of the "all" rows only
            credit = credit.filter(pl.col("segment") == ALL)
        else:  # the segments of a channel sum to its channel credit, as the point estimate's
            credit = draws_reconciled(credit)
        draws = economics_draws(
            pl.concat([out, segments]) if segments.height else out,
            credit,
            assumptions,
            non_media=non_media,
            allocation=allocation,
            segment_spend=segment_spend,
        )
    return (
        with_draw_intervals(out, draws),
        with_draw_intervals(segments, draws),
        draws if draws is not None else pl.DataFrame(),
    )


def bootstrap_parameters(boot: Bootstrap | None, sliced: bool) -> dict[str, object]:
    """``economics.json``'s ``parameters.bootstrap``: the draws, and the low-n threshold."""
    if boot is None:
        return {"draws": 0, "min_customers": MIN_CUSTOMERS}
    return {
        **boot.describe(),
        "segment_intervals": bool(boot.segmented and sliced),
        "min_customers": MIN_CUSTOMERS,
    }


def draw_notes(boot: Bootstrap | None, sliced: bool) -> dict[str, str]:
    """The method notes of the intervals and the small-sample mark (``economics.json``);
    ``sliced``: the economics have segment rows."""
    drawn, segments = boot is not None, sliced and (boot is None or boot.segmented)
    notes = {
        "low_confidence": f"fewer than {MIN_CUSTOMERS:g} credited customers: the row's CAC, "
        "LTV/CAC, payback and guardrail rest on a handful of deals",
    }
    if drawn:
        notes["intervals"] = (
            "<figure>_ci_low / _ci_high: 5th and 95th percentiles over the bootstrap draws "
            "(Poisson(1) counts of journeys, or of accounts at account level; every model "
            "refitted per draw); spend, churn and payback targets are the point estimate's; a "
            "paid row a draw credits nobody counts an infinite CAC (inf bounds), an unpaid one "
            "leaves the draw out; breach_probability = share of draws in breach; "
            "economics_draws.parquet has every draw"
            + ("" if segments else "; segment rows have none: give the accounts table to "
               "the attribution run too (attribute(accounts=...))")
        )
    return notes


#: The mark of a low-confidence figure wherever one is printed (the CLI, the report).
LOW_MARK: Final = "~"


def span(
    low: float | None, high: float | None, kind: str = "money", customers: float | None = None
) -> str:
    """An interval as text: ``$1,234-$5,678``, ``12.0%-30.5%`` or ``3.1-7.9`` (``kind``
    ``money``, ``pct``, ``num``); ``-`` without an interval. Never ``inf``: an upper end
    that is infinite (more than 5% of the draws credit the channel no customer, so its CAC,
    payback and guardrail share have no upper bound) reads ``$2,485 or more``, and both ends
    infinite (no customer in 95% of the draws) ``not measured``, with the row's credited
    ``customers`` when given (``not measured (0 customers)``)."""
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "-"
    if math.isinf(low):
        return "not measured" + (
            f" ({customers:,.3g} customers)"
            if customers is not None and not math.isnan(customers)
            else ""
        )

    def one(x: float) -> str:
        if kind == "money":
            return money_text(x)
        if kind == "pct":
            return f"{x:.1%}"
        return f"{x:,.1f}"

    if math.isinf(high):
        return f"{one(low)} or more"
    return f"{one(low)}-{one(high)}"


def low_note(draws: int | None) -> str:
    """The legend of the marks: what ``~`` means, and where the intervals come from."""
    note = f"{LOW_MARK} low n: fewer than {MIN_CUSTOMERS:g} credited customers"
    if draws:
        note += (
            f"; 90% intervals (5th-95th percentile) over {draws} bootstrap draws; 'X or "
            "more': some draws credit the channel no customer, so the figure has no upper "
            "bound"
        )
    return note


def _dtype(column: str) -> pl.DataType:
    if column == "draw":
        return pl.Int32()
    if column in ("model", "segment", "channel"):
        return pl.String()
    if column == "breach":
        return pl.Boolean()
    return pl.Float64()
