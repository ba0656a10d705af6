"""The scoring rule for channels a data-driven model never saw.

A scoring request may hold a channel the fitted model (the published snapshot's path table)
never saw. The model learned nothing about it, so it earns no credit of its own: every
data-driven model scores the journey **as its seen touches alone**, the unseen touches get
0, and a journey whose channels are all unseen is split evenly over its distinct channels,
then over each channel's touches. Every conversion's credit still sums to 1.

Markov and Shapley do this by themselves (an unseen channel weighs 0 in
:func:`~attribution.models._allocation.allocate_by_channel_weights`). Counterfactual does
not: a path holding an unseen channel was never seen converting, so its own rule would give
the path's last position all the credit, which is the unseen channel itself when it is the
last touch. :func:`allocate_seen` applies the rule to it; the small engine
(:mod:`attribution.engine._scoring_small`) gives the same credit.
"""

from __future__ import annotations

import polars as pl

from attribution.models._counterfactual import CounterfactualModel
from attribution.models._estimator import PathModel

__all__ = ["allocate_seen"]

_ROW = "__scoring_row"


def allocate_seen(estimator: PathModel, touches: pl.DataFrame) -> pl.DataFrame:
    """``estimator.allocate(touches)`` under the scoring rule for unseen channels.

    ``touches`` holds ``conversion_id``, ``position`` and ``channel`` (the journey table);
    the result is its rows in input order plus ``credit``.
    """
    if not isinstance(estimator, CounterfactualModel):
        return estimator.allocate(touches)
    seen = pl.col("channel").cast(pl.String).is_in(
        pl.Series(estimator.channels_, dtype=pl.String))
    mask = touches.select(seen.alias("seen")).to_series()
    if mask.all():
        return estimator.allocate(touches)
    frame = touches.with_row_index(_ROW)
    credited = estimator.allocate(frame.filter(mask)).select(_ROW, "credit")
    conversion = pl.col("conversion_id")
    return (
        frame.join(credited, on=_ROW, how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("credit").is_not_null()).then(pl.col("credit"))
            .when(seen.any().over(conversion)).then(0.0)
            # no seen channel: an equal split over the distinct channels, then their touches
            .otherwise(1.0 / pl.col("channel").n_unique().over(conversion)
                       / pl.len().over(conversion, "channel"))
            .cast(pl.Float64)
            .alias("credit")
        )
        .drop(_ROW)
    )
