"""Account engagement: time-decayed touch weights summed over 30 / 60 / 90 days, the
z-score of the score across accounts and the hot / warm / cold tier (the rules are in
:mod:`attribution.b2b._accounts`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Final

import polars as pl

__all__ = [
    "COLD_Z",
    "DEFAULT_TOUCH_WEIGHTS",
    "ENGAGEMENT_HALF_LIFE",
    "ENGAGEMENT_WINDOWS_DAYS",
    "HOT_Z",
    "engagement_windows",
    "engagement_z_expr",
    "tier_expr",
    "touch_weight_expr",
]

#: Engagement weight of a touch by ``touch_type``; other or missing types weigh 1.
DEFAULT_TOUCH_WEIGHTS: Final[Mapping[str, float]] = {
    "meeting": 3.0,
    "attend": 2.0,
    "form_fill": 2.0,
    "referral": 2.0,
    "click": 1.0,
    "visit": 1.0,
    "mail": 1.0,
    "open": 0.5,
    "view": 0.5,
}
ENGAGEMENT_HALF_LIFE: Final = timedelta(days=30)
ENGAGEMENT_WINDOWS_DAYS: Final = (30, 60, 90)
HOT_Z: Final = 1.0
COLD_Z: Final = -0.5


def engagement_z_expr() -> pl.Expr:
    """z of log1p(engagement score) over the accounts of the frame (0 when all are equal)."""
    x = pl.col("engagement_score").log1p()
    std = x.std(ddof=0)
    return pl.when(std > 0).then((x - x.mean()) / std).otherwise(0.0)


def tier_expr() -> pl.Expr:
    """hot: z >= HOT_Z; cold: z <= COLD_Z or score 0; warm otherwise (needs engagement_z)."""
    return (
        pl.when((pl.col("engagement_score") <= 0) | (pl.col("engagement_z") <= COLD_Z))
        .then(pl.lit("cold"))
        .when(pl.col("engagement_z") >= HOT_Z)
        .then(pl.lit("hot"))
        .otherwise(pl.lit("warm"))
    )


def touch_weight_expr(touches: pl.DataFrame, touch_weights: Mapping[str, float]) -> pl.Expr:
    """Weight of each touch from its ``touch_type``; the text is normalised once per distinct
    value, not once per row."""
    if "touch_type" not in touches.columns:
        return pl.lit(1.0)
    types = touches.select(pl.col("touch_type").drop_nulls().unique()).with_columns(
        pl.col("touch_type")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(dict(touch_weights), default=1.0, return_dtype=pl.Float64)
        .alias("w")
    )
    mapping = dict(types.iter_rows())
    return pl.col("touch_type").replace_strict(mapping, default=1.0, return_dtype=pl.Float64)


def engagement_windows(
    touches: pl.DataFrame, reference_time: datetime | None, touch_weights: Mapping[str, float]
) -> list[pl.Expr]:
    """Per touch row, its decayed weight in each window (``engagement_30d``, ...): 0 outside
    the window; all 0 without a reference time (no data)."""
    scores = [f"engagement_{d}d" for d in ENGAGEMENT_WINDOWS_DAYS]
    if reference_time is None:
        return [pl.lit(0.0).alias(name) for name in scores]
    ref = pl.lit(reference_time).cast(pl.Datetime("us", "UTC"))
    age = (ref - pl.col("timestamp")).dt.total_microseconds().cast(pl.Float64) / 86_400e6
    half_life = ENGAGEMENT_HALF_LIFE.total_seconds() / 86_400
    decayed = touch_weight_expr(touches, touch_weights) * (2.0 ** (-age / half_life))
    # row-wise columns summed by a plain group-by: filters inside .agg are much slower
    return [
        pl.when(age <= days).then(decayed).otherwise(0.0).alias(name)
        for days, name in zip(ENGAGEMENT_WINDOWS_DAYS, scores, strict=True)
    ]
