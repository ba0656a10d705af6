"""Parallel deals (``parallel_deals="share"``): a deal opened while another deal of its
entity was open also takes the touches that went to that deal.

By default (``"earliest"``, models.md) a touch belongs to the earliest conversion of its
entity at or after it, so an account's expansion deal opened while its new-business deal was
open gets only the touches after the new-business deal closed (often none). Under
``"share"`` a conversion whose own opportunity was created before the entity's previous
conversion (a *parallel* deal: ``opportunity_at < _previous``) also takes, within its
lookback, the touches after the entity's last conversion at or before its opportunity's
creation and up to its previous conversion: touches that are already in an earlier deal's
journey (and only those: a touch in no journey stays where it was). Such a touch is then in
two (or more) journeys; each journey's credit still sums to 1, so channel totals count it
once per deal.

Bounded: a deal keeps its own touches first and then the latest shared ones, up to
``max_touches_per_journey`` in all; at most that many of its account's touches before the
previous conversion are looked at (under a narrowed contact scope, those of its scope's
contacts among them). Found with as-of joins on each parallel entity's distinct times, so
the work is per parallel deal (at most the cap's rows each), never per pair of touches.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl

from attribution.journeys._order import ENTITY_ID

__all__ = ["PARALLEL_DEALS", "shared_touches"]

#: The two rules for touches of deals that overlap in time (``RunOptions.parallel_deals``).
PARALLEL_DEALS: tuple[str, ...] = ("earliest", "share")

_EMPTY = pl.DataFrame(schema={"_idx": pl.UInt32, "_conv_row": pl.UInt32})


def _asof(
    left: pl.DataFrame, right: pl.DataFrame, on: str, right_on: str, *, forward: bool, exact: bool
) -> pl.DataFrame:
    return left.sort(on).join_asof(
        right.sort(right_on),
        left_on=on,
        right_on=right_on,
        by=ENTITY_ID,
        strategy="forward" if forward else "backward",
        allow_exact_matches=exact,
        check_sortedness=False,
    )


def shared_touches(
    assigned: pl.DataFrame,
    conv: pl.DataFrame,
    scope: pl.DataFrame | None,
    lookback: timedelta | str,
    cap: int | None,
) -> pl.DataFrame:
    """The extra journey rows of parallel deals: ``_idx`` (the touch's row) and ``_conv_row``
    (the parallel conversion's row in ``conv``), in conversion and time order.

    ``assigned``: the work table in (entity, time, touch_id, row) order after the primary
    assignment and the cap (``_idx``, ``ENTITY_ID``, ``timestamp``, ``_conv_row``,
    ``_in_journey``, ``contact_id`` under a narrowed scope, the per-touch window column when
    ``lookback`` names one); ``conv``: the conversions in their row order, with
    ``ENTITY_ID``, ``timestamp``, ``opportunity_at``, ``_previous``, ``conversion_id``;
    ``scope``: ``conversion_id``, ``contact_id`` of a narrowed contact scope (a conversion
    absent from it takes every contact: account scope).
    """
    conv = conv.with_row_index("_conv_row")
    parallel = conv.filter(pl.col("opportunity_at") < pl.col("_previous")).select(
        "_conv_row", "conversion_id", ENTITY_ID, "timestamp", "opportunity_at", "_previous"
    )
    if not parallel.height:
        return _EMPTY
    # S: the entity's last conversion at or before the deal's creation
    times = conv.select(ENTITY_ID, pl.col("timestamp").alias("_since")).unique()
    parallel = _asof(parallel, times, "opportunity_at", "_since", forward=False, exact=True)
    ids = parallel.get_column(ENTITY_ID).unique().implode()
    per_touch = [lookback] if isinstance(lookback, str) else []
    touches = (
        assigned.lazy()
        .with_row_index("_pos")
        .filter(pl.col(ENTITY_ID).is_in(ids))
        .select("_pos", ENTITY_ID, "timestamp", *per_touch)
        .collect()
    )
    if isinstance(lookback, str):  # one window per entity
        windows = touches.group_by(ENTITY_ID).agg(pl.col(lookback).first().alias("_w"))
        parallel = parallel.join(windows, on=ENTITY_ID, how="left")
        start = pl.col("timestamp") - pl.col("_w")
    else:
        start = pl.col("timestamp") - lookback
    # none: from the entity's first touch on
    dawn = touches.group_by(ENTITY_ID).agg(
        (pl.col("timestamp").min() - timedelta(microseconds=1)).alias("_dawn")
    )
    parallel = (
        parallel.join(dawn, on=ENTITY_ID, how="inner")
        .with_columns(start.alias("_from"), pl.col("_since").fill_null(pl.col("_dawn")))
        .drop("_dawn")
    )
    # each distinct time once: its first and last position (ties sit together)
    stamps = touches.group_by(ENTITY_ID, "timestamp").agg(
        pl.col("_pos").min().alias("_lo"), pl.col("_pos").max().alias("_hi")
    )
    last = stamps.select(ENTITY_ID, pl.col("timestamp").alias("_t"), "_hi")
    first = stamps.select(ENTITY_ID, pl.col("timestamp").alias("_t"), "_lo")
    parallel = _asof(parallel, last, "_previous", "_t", forward=False, exact=True).drop("_t")
    parallel = _asof(parallel, first, "_since", "_t", forward=True, exact=False).drop("_t")
    parallel = _asof(
        parallel, first.rename({"_lo": "_lo_w"}), "_from", "_t", forward=True, exact=True
    ).drop("_t")
    low = pl.max_horizontal("_lo", "_lo_w")
    if cap is not None:
        low = pl.max_horizontal(low, pl.col("_hi").cast(pl.Int64) - cap + 1)
    ranges = (
        parallel.with_columns(low.alias("_low"))
        # no time after S, or none in the window: nothing to share (max_horizontal skips nulls)
        .filter(pl.all_horizontal(pl.col("_lo", "_lo_w", "_hi").is_not_null()))
        .filter(pl.col("_low") <= pl.col("_hi"))
        .select(
            "_conv_row",
            "conversion_id",
            pl.int_ranges("_low", pl.col("_hi") + 1, dtype=pl.Int64).alias("_pos"),
        )
        .explode("_pos")
    )
    if not ranges.height:
        return _EMPTY
    own = pl.col("_conv_row")
    picked = assigned.select(
        "_idx",
        own.alias("_primary"),
        "_in_journey",
        *(["contact_id"] if scope is not None else []),
    ).gather(ranges.get_column("_pos"))
    rows = pl.concat([ranges, picked], how="horizontal").filter(
        pl.col("_in_journey") & (pl.col("_primary") != own)
    )
    if scope is not None:  # the deal's scope's contacts (no scope: account scope)
        scoped = scope.get_column("conversion_id").unique().implode()
        in_scope = rows.join(scope, on=["conversion_id", "contact_id"], how="semi")
        rows = pl.concat([in_scope, rows.filter(~pl.col("conversion_id").is_in(scoped))])
    if cap is not None:  # its own touches first, then the latest shared ones
        owned = (
            assigned.lazy()
            .filter(pl.col("_in_journey"))
            .group_by("_conv_row")
            .agg(pl.len().cast(pl.Int64).alias("_own"))
            .collect()
        )
        from_end = pl.int_range(pl.len(), 0, -1).over("_conv_row")
        rows = (
            rows.join(owned, on="_conv_row", how="left")
            .sort("_conv_row", "_pos")
            .filter(from_end <= cap - pl.col("_own").fill_null(0))
        )
    return rows.sort("_conv_row", "_pos").select(
        pl.col("_idx").cast(pl.UInt32), pl.col("_conv_row").cast(pl.UInt32)
    )
