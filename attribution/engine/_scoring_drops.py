"""The touches of a scoring request that a batch run would not credit, dropped and counted.

A journey sent for scoring is read as the published run read its data
(:meth:`~attribution.engine._snapshots.ModelSnapshot.scoring_options`), so the touches that
run would have left out are left out here too, in the run's order, and counted by the
reason the run's reconciliation uses (``touches_dropped`` of its manifest):

- ``exact_duplicate``: a touch equal in every field sent to an earlier touch of its journey
  (so sent without a ``touch_id``; a ``touch_id`` sent twice is an error), as a run drops
  an exact duplicate row; always, snapshot or not;
- ``outside_lookback``: with the run's ``lookback`` (a scorer's ``lookback``), a touch
  before ``conversion - lookback`` (the window includes both ends, as in a run);
- ``journey_too_long``: with the run's ``max_touches_per_journey``, a journey over the cap
  keeps its last touches (ties in time by ``touch_id``, then the order sent), as
  :mod:`attribution.journeys._cap` does.

A conversion whose touches are all dropped is unattributed, as in a run. Everything is
columnar: a few expressions over the request's touch table.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from attribution.inputs._schema import ROW

__all__ = ["DROPPED", "apply_drops", "dropped_counts", "unattributed_ids"]

#: The column of :func:`~attribution.engine._journey_request.frames`' touches naming why a
#: touch is dropped (null: kept).
DROPPED = "_dropped"


def apply_drops(touches: pl.DataFrame, conversions: pl.DataFrame, *,
                window: timedelta | None, cap: int | None
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The touches kept (without :data:`DROPPED`) and the touches dropped
    (``conversion_id``, ``reason``), ``touches`` and ``conversions`` being the frames of
    :func:`~attribution.engine._journey_request.frames`."""
    reason = pl.col(DROPPED)
    if window is not None:
        times = conversions.select("conversion_id", pl.col("timestamp").alias("_T"))
        touches = touches.join(times, on="conversion_id", how="left", maintain_order="left")
        outside = reason.is_null() & (pl.col("timestamp") < pl.col("_T") - window)
        touches = touches.with_columns(
            pl.when(outside).then(pl.lit("outside_lookback")).otherwise(reason).alias(DROPPED)
        ).drop("_T")
    if cap is not None and touches.height > cap:
        # each journey's touches in time order (the run's: time, touch_id, then as sent),
        # counted from the end
        from_end = (
            touches.filter(reason.is_null())
            .sort("conversion_id", "timestamp", "touch_id", ROW)
            .select(ROW, pl.int_range(pl.len(), 0, -1).over("conversion_id").alias("_k"))
            .filter(pl.col("_k") > cap)
            .get_column(ROW)
        )
        if from_end.len():
            touches = touches.with_columns(
                pl.when(pl.col(ROW).is_in(from_end.implode()))
                .then(pl.lit("journey_too_long")).otherwise(reason).alias(DROPPED)
            )
    dropped = reason.is_not_null()
    return (touches.filter(~dropped).drop(DROPPED),
            touches.filter(dropped).select("conversion_id", reason.alias("reason")))


def dropped_counts(dropped: pl.DataFrame) -> dict[str, int]:
    """Touches dropped by reason (``reason`` -> count), reasons in name order; {} for none."""
    if not dropped.height:
        return {}
    counts = dropped.group_by("reason").len().sort("reason")
    return dict(zip(counts.get_column("reason").to_list(), counts.get_column("len").to_list(),
                    strict=True))


def unattributed_ids(conversions: pl.DataFrame, kept: pl.DataFrame) -> list[str]:
    """The conversion ids (in the order sent) without a touch kept: none sent, or every one
    dropped."""
    with_touches = kept.get_column("conversion_id").unique().implode()
    ids: list[str] = conversions.filter(
        ~pl.col("conversion_id").is_in(with_touches)).get_column("conversion_id").to_list()
    return ids
