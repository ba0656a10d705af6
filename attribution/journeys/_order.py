"""The entity keys as integers and the (entity, time) order every journey step reads.

Entities are keyed by a 64-bit hash of their key, checked against a second, independent hash
(exact ids after a collision); :func:`entity_time_order` sorts rows by (id, time, tiebreak)
on one u128 key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import polars as pl

from attribution._runs import run_start
from attribution.inputs._schema import ROW
from attribution.inputs._separator import check_channels

__all__ = ["ENTITY", "ENTITY_ID", "channel_codes", "entity_order", "entity_time_order"]

ENTITY = "_entity"
#: Integer stand-in for the entity key: sorting, grouping and as-of joining 10M touches on a
#: u64 is several times faster than on a string (measured: 1.05 s vs 3.35 s for the sort).
ENTITY_ID = "_entity_id"
_HASH_SEED = 0x5EED
_CHECK_SEED = 0xC0FFEE
_SeriesOrExpr = TypeVar("_SeriesOrExpr", pl.Series, pl.Expr)


def _hash_ids(keys: _SeriesOrExpr) -> _SeriesOrExpr:
    return keys.hash(_HASH_SEED)


def _check_ids(keys: _SeriesOrExpr) -> _SeriesOrExpr:
    """A second hash of the keys, independent of :func:`_hash_ids` (another seed)."""
    return keys.hash(_CHECK_SEED)


def _dense_ids(keys: pl.Series, every_key: pl.Series) -> pl.Series:
    """Exact ids: the rank of each key among ``every_key`` (slower; used after a collision)."""
    ranks = every_key.unique().sort()
    mapping = pl.DataFrame(
        {"k": ranks, "id": pl.int_range(ranks.len(), dtype=pl.UInt64, eager=True)}
    )
    return keys.to_frame("k").join(mapping, on="k", how="left", maintain_order="left")["id"]


def entity_order(
    touches: pl.DataFrame,
    conv: pl.DataFrame,
    key: str,
    carry: Sequence[pl.Series],
    *,
    with_contact: bool,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The slim work table: one row per touch in (entity, time, touch_id, row) order.

    Columns: ``_idx`` (row of ``touches``), ``ENTITY_ID``, ``timestamp``, the ``carry``
    series (one value per touch, put in the same order) and ``contact_id`` for a narrowed
    scope. Entities are keyed by a 64-bit hash of the key, checked for collisions (two keys,
    one id) among the touches and conversions with a second, independent 64-bit hash of the
    key (another seed); on a collision the ids are recomputed exactly. So
    two entities are merged only if their keys agree on both hashes: odds of about
    ``n**2 / 2**129`` for ``n`` entities (1e-27 for 1.7M). Comparing the key strings instead
    was exact but cost 0.65 s at 10M touches (gathering 10M strings); the check hash, computed
    beside the first and carried through the sort, 0.05 s.
    Returns the work table and ``conv`` with ``ENTITY_ID``.
    """

    def in_order(ids: pl.Series, check: pl.Series) -> pl.DataFrame:
        payload = [check.alias("_check"), *carry]
        if with_contact:
            payload.append(touches.get_column("contact_id"))
        work = entity_time_order(
            ids, touches.get_column("timestamp"), touches, ("touch_id", ROW), payload
        )
        return work.rename({"id": ENTITY_ID, "time": "timestamp"})

    keys = touches.get_column(key)
    conv_keys = conv.get_column(ENTITY)
    conv_ids = _hash_ids(conv_keys)
    hashes = keys.to_frame().select(_hash_ids(pl.col(key)), _check_ids(pl.col(key)).alias("c"))
    work = in_order(hashes.get_column(key), hashes.get_column("c"))
    if _collides(work, conv_ids, _check_ids(conv_keys)):  # exact ids instead
        every = pl.concat([keys, conv_keys.rename(key)])
        conv_ids = _dense_ids(conv_keys, every)
        work = in_order(_dense_ids(keys, every), hashes.get_column("c"))
    return work.drop("_check"), conv.with_columns(conv_ids.alias(ENTITY_ID))


def entity_time_order(
    ids: pl.Series,
    times: pl.Series,
    frame: pl.DataFrame,
    tiebreak: Sequence[str],
    carry: Sequence[pl.Series] = (),
) -> pl.DataFrame:
    """Rows in (``ids``, ``times``, then the ``tiebreak`` columns of ``frame``) order.

    Returns ``_idx`` (the row), ``id`` (u64), ``time`` (``times``) and the ``carry`` series
    in that order (one gather for them all, which Polars runs in parallel): the same order as
    ``frame.sort([ids, times, *tiebreak])``, in 0.7 s instead of 1.5 s for 10M rows in a new
    process. A multi-column sort goes through row encoding and a frame sort gathers every
    column, while sorting the values of one u128 column is fast (0.2 s) and carries the row
    with it: the key is the id (high 64 bits) over the time quantised to ``64 - b`` bits and
    the row number (``b`` bits, enough for the rows). That order is exact except where two
    rows of one id share a quantised time (equal times, or times closer than the quantum):
    only those ids' rows are sorted again on the full columns, in place (an id's rows keep
    their positions, since the id leads the key). When over a quarter of the rows need that
    (times given as dates, say), the whole table is sorted on the full columns instead. Ids
    are u64 (a hash, exact dense ids after a collision, or a rank); neither ids nor times
    may be null.

    Polars expressions rather than NumPy: on the 2-core VMs here, fresh NumPy temporaries
    of 80 MB (transparent huge pages on ``madvise``) made the same steps twice as slow.
    """
    u64, u128 = pl.UInt64, pl.UInt128
    assert not ids.null_count(), "ids must not be null"
    assert not times.null_count(), "times must not be null"
    out = pl.DataFrame([ids.cast(u64).alias("id"), times.alias("time"), *carry])
    columns = ["_idx", *out.columns]
    n = out.height
    if n == 0:
        return out.select(pl.int_range(0, dtype=pl.get_index_type()).alias("_idx"), pl.all())
    # integers of the time's unit, not datetimes: exact, and any year Polars can hold
    physical = times.to_physical()
    t_min = int(physical.min())  # type: ignore[arg-type]
    span = int(physical.max()) - t_min  # type: ignore[arg-type]
    row_bits = max(1, (n - 1).bit_length())
    time_div = 2 ** max(0, span.bit_length() - (64 - row_bits))
    t_rel = (pl.col("time").to_physical() - t_min).cast(u64)
    low = (t_rel // pl.lit(time_div, u64)) * pl.lit(2**row_bits, u64) + pl.int_range(n, dtype=u64)
    key = (pl.col("id").cast(u128) * pl.lit(2**64, u128) + low.cast(u128)).alias("_key")
    low_bits = pl.col("_key").cast(u64, wrap_numerical=True)
    ordered = (
        out.lazy()
        .select(key)
        .sort("_key")
        .select(
            (low_bits & pl.lit(2**row_bits - 1, u64)).cast(pl.get_index_type()).alias("_idx"),
            (pl.col("_key") // pl.lit(2**64, u128)).cast(u64).alias("id"),
            (low_bits // pl.lit(2**row_bits, u64)).alias("_quantum"),
        )
        .collect()
    )
    # a lazy gather with one-chunk indices reads the many chunks of a Parquet read directly:
    # 0.29 s for 3 columns at 10M rows, where rechunking them and gathering took 0.41 s
    # (the columns of both come out in different chunks: eager steps on the joined frame
    # would rechunk them, so the tie check below runs on the sort's frame alone)
    rows = ordered.get_column("_idx").rechunk()
    payload = out.lazy().select(pl.exclude("id").gather(rows)).collect()
    # an id needs the exact sort when two of its rows share a quantised time
    same_id = pl.col("id") == pl.col("id").shift(1)
    tie = same_id & (pl.col("_quantum") == pl.col("_quantum").shift(1))
    # lazy queries here and below: an eager one materialises its 10M-row temporaries, which
    # on the VMs here costs more than the work (a lazy query runs in cache-sized morsels)
    redo = (
        ordered.lazy().filter(tie.fill_null(False)).select(pl.col("id").unique()).collect()
    ).get_column("id")
    ordered = pl.concat([ordered.select("_idx", "id"), payload], how="horizontal")
    if redo.len():
        positions = ordered.select(
            pl.arg_where(pl.col("id").is_in(redo.implode())).alias("pos")
        ).get_column("pos")
        if positions.len() > n // 4:  # coarse times (dates only): sort it all
            return (
                frame.select(*tiebreak)
                .with_columns(out.get_columns())
                .with_row_index("_idx")
                .sort(["id", "time", *tiebreak])
                .select(columns)
            )
        part = ordered.gather(positions)
        resorted = (
            part.with_columns(frame.select(*tiebreak).gather(part.get_column("_idx")))
            .sort(["id", "time", *tiebreak])
            .select(ordered.columns)
        )
        ordered = ordered.with_columns(
            ordered.get_column(name).scatter(positions, resorted.get_column(name))
            for name in columns
        )
    return ordered


def _collides(work: pl.DataFrame, conv_ids: pl.Series, conv_check: pl.Series) -> bool:
    """True if some id stands for two keys: two check hashes (``_check`` per touch in
    ``work``, in id order, and ``conv_check`` per conversion) under one id."""
    check = pl.col("_check")
    starts = run_start(pl.col(ENTITY_ID))
    # within a run of one id the check hash must not change
    changes = work.lazy().select(((~starts) & (check != check.shift(1))).any()).collect().item()
    if changes:
        return True
    conv = pl.DataFrame({"id": conv_ids, "k": conv_check}).unique()
    if conv.get_column("id").n_unique() < conv.height:
        return True
    # a conversion's id among the touches' (one run each, sorted) must carry the same check
    firsts = work.lazy().filter(starts).select(ENTITY_ID, "_check").collect()
    ids, checks = firsts.get_column(ENTITY_ID), firsts.get_column("_check")
    if ids.is_empty():
        return False
    at = ids.search_sorted(conv.get_column("id")).clip(0, ids.len() - 1)
    same_id = ids.gather(at) == conv.get_column("id")
    return bool((same_id & (checks.gather(at) != conv.get_column("k"))).any())


def channel_codes(touches: pl.DataFrame, channels: Sequence[str] | None = None) -> pl.Series:
    """The touches' channels as an ``Enum`` of the log's channels (sorted), named ``_ch``.
    A channel name holding the path separator ``>`` is an InputError naming its rows.
    ``channels``: the distinct channels of ``touches`` when the caller has them (the
    validate stage does): the log is then only cast, not also searched for its names.

    Most touches of a log sit in null paths, whose channels the engine keeps as codes:
    fetching 9M channel strings took 0.7 s at 10M touches. On the streaming engine the string
    hashing runs on every core: 0.15 s instead of 0.26 s.
    """
    channel = touches.lazy().select("channel")
    if channels is None:
        names = channel.select(pl.col("channel").unique()).collect(engine="streaming")
        distinct = names.get_column("channel")
    else:
        distinct = pl.Series("channel", list(channels), dtype=pl.String)
    # on the distinct names, so the check costs nothing on a clean log
    check_channels(distinct, touches, table="touches", column="channel", row=ROW)
    enum = pl.Enum(distinct.drop_nulls().unique().sort())
    codes = channel.select(pl.col("channel").cast(enum)).collect(engine="streaming")
    return codes.get_column("channel").alias("_ch")
