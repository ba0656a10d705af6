"""The economics rows against the published segment ranges: created pipeline per dollar of
spend and CAC recovery (payback), each with its range from the benchmark table, its gap and
a judgement.

- **Created pipeline** (``pipeline_created``, ``opportunities``) of a channel in a segment =
  the amounts of the opportunities it sourced there (:mod:`attribution.b2b._funnel_pipeline`:
  the first touch at or before the opportunity; the same under every model). The ``all``
  rows hold every segment. Blended rows (every channel of a segment) hold every
  channel's sourced pipeline, channels without spend or customers included. Null when the
  run has no stages and touches to find opportunities in.
- ``created_pipeline_per_dollar`` = created pipeline / media spend (null without spend),
  against the segment's ``pipeline_per_dollar`` range (SMB 15-40x, mid-market 10-25x,
  enterprise 5-15x): ``pipeline_per_dollar_low`` / ``_high`` / ``_gap`` / ``_judgement``.
  The ``all`` rows have no range (the table gives none for every segment together).
- ``payback_months`` against the segment's ``cac_payback_months`` range (CAC recovery: SMB
  3-9 months, mid-market 6-12, enterprise 12-24): ``cac_payback_low`` / ``_high`` /
  ``_gap`` / ``_judgement``; beside the payback target (``payback_target_months``, the
  upper end of 12-18 / 24 months) the row already carries.
- **Gap** as everywhere (:func:`attribution.inputs._benchmarks.gap`): how far the figure lies
  beyond the end of the range it passes, as a share of that end, negative on the worse side,
  0 inside; **judgement** ``short`` (gap < 0), ``within`` (0) or ``better`` (beyond the good
  end), null without a range or a figure. A segment or channel row of your own
  ``[benchmarks]`` file or ``[targets.segment.NAME]`` wins over the shipped one.
"""

from __future__ import annotations

import functools
from typing import Final

import polars as pl

from attribution._reporting_currency import DEFAULT_CURRENCY, current_currency, money_in
from attribution.b2b._economics_metrics import ratio
from attribution.inputs._benchmarks import Benchmarks, format_range, gap_expr, load_benchmarks

__all__ = [
    "PUBLISHED_USD",
    "RANGE_COLUMNS",
    "blended_pipeline",
    "judgement",
    "published_in_usd",
    "usd_range",
    "with_pipeline",
    "with_ranges",
]

#: *Decision* (README, "Currencies"; new-user report 16, M8): the shipped table's money
#: ranges (CPC, CPM, CPL) are published in US dollars and never converted. In a run whose
#: reporting currency is not USD, each line that shows one, or a figure derived from one
#: (the CAC and cost per MQL the plan check says the ranges imply), writes them in dollars
#: with this label, so a GBP reader never takes "$1,389" for a published pound figure. USD
#: runs read as before; a range of your own (``[benchmarks] file``, ``[targets]``) is yours,
#: in your currency, and unlabelled.
PUBLISHED_USD: Final = "(published ranges, USD)"


@functools.cache
def _shipped_money_sources() -> frozenset[str]:
    """The ``source`` of each money row of the shipped table."""
    table = load_benchmarks().table.filter(pl.col("unit") == "usd")
    return frozenset(table.get_column("source").to_list())


def published_in_usd(
    unit: str | None, *, origin: str | None = None, source: str | None = None
) -> bool:
    """Whether a range in ``unit`` is a money range of the shipped (published, USD) table
    shown in a run whose reporting currency is not USD: by the benchmark row's ``origin``
    (``shipped``), else by its ``source`` (the funnel tables keep that one)."""
    if unit != "usd" or current_currency() == DEFAULT_CURRENCY:
        return False
    if origin is not None:
        return origin == "shipped"
    return source is not None and source in _shipped_money_sources()


def usd_range(low: float | None, high: float | None, unit: str, metric: str = "") -> str:
    """:func:`attribution.inputs._benchmarks.format_range` written in US dollars
    (``$5-$15``), whatever the run's currency."""
    with money_in(DEFAULT_CURRENCY):
        return format_range(low, high, unit, metric)

#: the columns :func:`with_pipeline` and :func:`with_ranges` add, in their order
RANGE_COLUMNS: Final = (
    "opportunities",
    "pipeline_created",
    "created_pipeline_per_dollar",
    "pipeline_per_dollar_low",
    "pipeline_per_dollar_high",
    "pipeline_per_dollar_gap",
    "pipeline_per_dollar_judgement",
    "cac_payback_low",
    "cac_payback_high",
    "cac_payback_gap",
    "cac_payback_judgement",
)
#: (benchmark metric, the row's figure, column prefix)
_JUDGED: Final = (
    ("pipeline_per_dollar", "created_pipeline_per_dollar", "pipeline_per_dollar"),
    ("cac_payback_months", "payback_months", "cac_payback"),
)


def judgement(gap: pl.Expr) -> pl.Expr:
    """``short`` below the worse end of a range, ``within``, ``better`` beyond the good end;
    null without a gap."""
    return (
        pl.when(gap < 0)
        .then(pl.lit("short"))
        .when(gap > 0)
        .then(pl.lit("better"))
        .when(gap == 0)
        .then(pl.lit("within"))
    )


def with_pipeline(frame: pl.DataFrame, pipeline: pl.DataFrame | None) -> pl.DataFrame:
    """``frame`` (``segment``, ``channel``, ``spend``) with ``opportunities`` and
    ``pipeline_created`` of its channel in its segment (0 for a channel that sourced none;
    null when ``pipeline`` is None)."""
    if pipeline is None:
        return frame.with_columns(
            pl.lit(None, pl.Int64).alias("opportunities"),
            pl.lit(None, pl.Float64).alias("pipeline_created"),
        )
    return frame.join(
        pipeline.select(
            "segment", "channel", "opportunities", pl.col("pipeline").alias("pipeline_created")
        ),
        on=["segment", "channel"],
        how="left",
        maintain_order="left",
    ).with_columns(
        pl.col("opportunities").fill_null(0),
        pl.col("pipeline_created").fill_null(0.0),
    )


def blended_pipeline(blended: pl.DataFrame, pipeline: pl.DataFrame | None) -> pl.DataFrame:
    """``blended`` (one row per model and segment) with every channel's created pipeline of
    its segment."""
    if pipeline is None:
        return with_pipeline(blended, None)
    per_segment = pipeline.group_by("segment").agg(
        pl.col("opportunities").sum(), pl.col("pipeline").sum().alias("pipeline_created")
    )
    return blended.join(per_segment, on="segment", how="left", maintain_order="left").with_columns(
        pl.col("opportunities").fill_null(0), pl.col("pipeline_created").fill_null(0.0)
    )


def with_ranges(frame: pl.DataFrame, bench: Benchmarks) -> pl.DataFrame:
    """``frame`` (with :func:`with_pipeline`'s columns, ``spend``, ``payback_months``,
    ``segment`` and perhaps ``channel``) with the rest of :data:`RANGE_COLUMNS`."""
    out = frame.with_columns(
        ratio(pl.col("pipeline_created"), pl.col("spend")).alias("created_pipeline_per_dollar")
    )
    segment = pl.when(pl.col("segment") != "all").then(pl.col("segment"))
    channel = pl.col("channel") if "channel" in frame.columns else None
    for metric, figure, prefix in _JUDGED:
        out = bench.attach(out, pl.lit(metric), segment=segment, channel=channel, prefix="_r_")
        gap = gap_expr(pl.col(figure), pl.col("_r_low"), pl.col("_r_high"), pl.col("_r_better"))
        out = out.with_columns(
            pl.col("_r_low").alias(f"{prefix}_low"),
            pl.col("_r_high").alias(f"{prefix}_high"),
            gap.alias(f"{prefix}_gap"),
        ).with_columns(judgement(pl.col(f"{prefix}_gap")).alias(f"{prefix}_judgement"))
        out = out.drop("_r_low", "_r_high", "_r_unit", "_r_better", "_r_source")
    return out
