"""Created pipeline by sourced channel and segment: what the published "pipeline per $ of
spend" ranges are about (the economics compare it with the spend, per segment).

- **An opportunity** is a deal (:func:`attribution.b2b._funnel_unit.deal_table`: one per
  ``opportunity_id``, however many contacts its events are written on).
- **Its amount** is the ``value`` of its first opportunity event that has one, else that of
  its won event, else of its lost event (CRMs that write the amount only on close); an
  opportunity without any is counted with no amount.
- **Its channel** is its sourced channel (the first touch of any of its entities), when that
  touch is at or before the opportunity (its opportunity event, else its close); an
  opportunity whose first touch came later, or with no touch, is sourced by no channel
  (``(no touch)``) and is in no channel's pipeline. The same under every model: a model
  credits the conversions it was run on (won deals), not the open and lost opportunities.
"""

from __future__ import annotations

from typing import Final

import polars as pl

__all__ = ["PIPELINE_SCHEMA", "created_pipeline"]

#: ``Funnel.pipeline``: per ``segment`` (``all`` and each segment) and sourced ``channel``
PIPELINE_SCHEMA: Final = pl.Schema(
    {
        "segment": pl.String(),
        "channel": pl.String(),
        "opportunities": pl.Int64(),
        "pipeline": pl.Float64(),
    }
)


def created_pipeline(wide: pl.DataFrame, steps: list[str], no_touch: str) -> pl.DataFrame:
    """The created pipeline (:data:`PIPELINE_SCHEMA`) of the funnel's deals (``wide``,
    with ``channel`` and ``_first_touch_at`` from the touches; empty without them), per
    sourced channel overall (``segment = "all"``) and per segment when ``wide`` has one."""
    if "channel" not in wide.columns or "_first_touch_at" not in wide.columns:
        return pl.DataFrame(schema=PIPELINE_SCHEMA)
    opp, won = steps[-2], steps[-1]
    at = pl.coalesce(pl.col(f"{opp}_at"), pl.col(f"{won}_at"), pl.col("_lost_at"))
    sourced = (pl.col("_first_touch_at") <= at).fill_null(False)
    opps = wide.filter(pl.col("depth") >= len(steps) - 2).select(
        pl.when(sourced).then(pl.col("channel")).otherwise(pl.lit(no_touch)).alias("channel"),
        pl.coalesce(pl.col("_opportunity_value"), pl.col("won_value")).alias("_amount"),
        (pl.col("segment") if "segment" in wide.columns else pl.lit(None, pl.String)).alias(
            "_segment"
        ),
    )
    scopes = [pl.lit("all")] + ([pl.col("_segment")] if "segment" in wide.columns else [])
    return (
        pl.concat(
            [
                opps.group_by(scope.alias("segment"), "channel").agg(
                    pl.len().cast(pl.Int64).alias("opportunities"),
                    pl.col("_amount").sum().alias("pipeline"),
                )
                for scope in scopes
            ]
        )
        .filter(pl.col("channel") != no_touch)
        .sort("segment", "channel")
        .select(PIPELINE_SCHEMA.names())
        .cast(PIPELINE_SCHEMA)
    )
