"""The history of an incremental state (:mod:`attribution.engine._incremental`): every
validated input row read so far, indexed by entity so a nightly run reads only the rows of
the entities it re-opens.

Each run appends one file per input: its new rows (global ``_row`` numbers kept) **sorted by
a hash of the entity key** (``contact_id``; the hash is the column ``_k``), written as
uncompressed Arrow IPC. The sorted hash column is the index: the re-opened entities' hashes
are looked up by binary search, which gives each one's row range, and only those rows are
gathered from the memory-mapped file (a 1% night on a 10M-row history: ~0.5 s where scanning
and filtering the whole history took 2-4 s). Two entities sharing a hash share a range: the
gathered rows are filtered on the key itself, so the answer is exact.

The cost is disk: uncompressed, the history takes about 4x its Parquet size (1.7 GB for 10M
touches of the benchmark's columns; the OS pages in what a night touches). When an input has
more than :data:`MAX_FILES` files, a run merges all but the first (the seed's, the big one)
into one, so a night looks up a bounded number of files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from attribution.inputs._schema import ROW

__all__ = [
    "BATCH_ROWS",
    "HASH",
    "MAX_FILES",
    "history_columns",
    "merge_history",
    "rows_of",
    "rows_since",
    "write_history",
]

#: the column holding the hash of the entity key, by which a history file is sorted
HASH = "_k"
#: rows per record batch of a history file
BATCH_ROWS = 1 << 20
#: more history files than this (per input) are merged, all but the first
MAX_FILES = 16
#: a text column with at most one distinct value per this many rows is stored as a dictionary
FEW_VALUES = 16


def _key_hash(keys: pl.Expr | pl.Series) -> pl.Expr | pl.Series:
    """The index's hash of an entity key (a null key has a hash too)."""
    return keys.cast(pl.String).hash(seed=0)


def write_history(path: Path, frame: pl.DataFrame, key: str) -> None:
    """Write validated rows as a history file: sorted by the hash of ``key`` (rows of one
    entity in ``_row`` order), uncompressed Arrow IPC in the layout that memory-maps (plain
    strings), in record batches of :data:`BATCH_ROWS` gathered one at a time (the sorted
    copy of a 10M-row history is never held whole). A table without ``key`` is written in
    row order, unindexed."""
    # a categorical's dictionary would differ from batch to batch, which an IPC file cannot
    # hold: kept as text (the reader casts back to the new rows' types) -- or, for a text
    # column with few distinct values, as an enum of them, one dictionary for the file
    frame = frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    frame = frame.with_columns(
        pl.col(name).cast(pl.Enum(values)) for name, values in _few_values(frame, key).items()
    )
    if key in frame.columns:
        frame = frame.with_columns(_key_hash(pl.col(key)).alias(HASH))
        order = frame.select(pl.arg_sort_by(HASH, ROW)).to_series()
    else:
        order = pl.int_range(frame.height, eager=True)
    oldest = pl.CompatLevel.oldest()
    schema = frame.clear().to_arrow(compat_level=oldest).schema
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for start in range(0, frame.height, BATCH_ROWS):
            batch = frame[order.slice(start, BATCH_ROWS)].to_arrow(compat_level=oldest)
            writer.write_table(batch.cast(schema), max_chunksize=BATCH_ROWS)


def _few_values(frame: pl.DataFrame, key: str) -> dict[str, pl.Series]:
    """The text columns (but ``key``) with at most one distinct value per
    :data:`FEW_VALUES` rows (judged first on the leading rows), and their values: stored
    as a dictionary, they take one or two bytes a row, which halves the history of a touch
    log (channel, campaign, touch type, UTM fields...) and what a night pages in and
    gathers."""
    out: dict[str, pl.Series] = {}
    for name, dtype in frame.schema.items():
        if dtype != pl.String or name == key:
            continue
        head = frame.get_column(name).head(1 << 16)
        if head.n_unique() > max(1, head.len() // FEW_VALUES):
            continue
        values = frame.get_column(name).drop_nulls().unique().sort()
        if values.len() <= max(1, frame.height // FEW_VALUES):
            out[name] = values
    return out


def _mapped(path: Path) -> pa.Table:
    """A history file, memory-mapped: reading a column or gathering rows pages in only what
    they touch."""
    return pa.ipc.open_file(pa.memory_map(str(path))).read_all()


def _take(table: pa.Table, rows: pl.Series) -> pl.DataFrame:
    """The rows ``rows`` (ascending positions) of a mapped file, gathered record batch by
    record batch (Arrow's take on a chunked table first concatenates every chunk: it would
    read the whole file)."""
    batches = table.to_batches()
    if not batches:
        return _frame(table.slice(0, 0))
    ends = np.cumsum([b.num_rows for b in batches])
    positions = rows.to_numpy().astype(np.int64, copy=False)
    cuts = np.searchsorted(positions, ends)  # rows of batch i: positions[cuts[i-1]:cuts[i]]
    starts = np.concatenate([[0], ends[:-1]])
    lower = np.concatenate([[0], cuts[:-1]])
    taken = [
        batch.take(pa.array(positions[lo:hi] - start))
        for batch, start, lo, hi in zip(batches, starts, lower, cuts, strict=True)
        if hi > lo
    ]
    return _frame(pa.Table.from_batches(taken, schema=table.schema) if taken else table.slice(0, 0))


def _frame(table: pa.Table) -> pl.DataFrame:
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    # text as the rows were read (one file's dictionary is not another's)
    return frame.drop(HASH, strict=False).with_columns(pl.col(pl.Enum).cast(pl.String))


def history_columns(files: Sequence[Path]) -> list[str]:
    """The columns of the history's rows (without the index's hash)."""
    if not files:
        return []
    return [c for c in pa.ipc.open_file(pa.memory_map(str(files[0]))).schema.names if c != HASH]


def rows_of(files: Sequence[Path], key: str, entities: pl.Series) -> pl.DataFrame | None:
    """Every history row of ``entities`` (values of ``key``; a null among them: the rows
    without a key), in ``_row`` order; None when the history has no file or no ``key``."""
    if not files:
        return None
    parts: list[pl.DataFrame] = []
    wanted = _key_hash(entities).unique().sort()
    names = entities.drop_nulls().implode()
    for path in files:
        table = _mapped(path)
        if HASH not in table.column_names:
            return None
        hashes = pl.from_arrow(table.column(HASH))
        assert isinstance(hashes, pl.Series)
        lo, hi = (hashes.search_sorted(wanted, side) for side in ("left", "right"))
        ranges = pl.DataFrame({"lo": lo, "hi": hi})
        index = ranges.select(pl.int_ranges("lo", "hi").explode().drop_nulls()).to_series()
        gathered = _take(table, index)
        inside = pl.col(key).is_in(names)
        if entities.null_count():
            inside = inside | pl.col(key).is_null()
        parts.append(gathered.filter(inside))  # exact: two keys may share a hash
    return pl.concat(parts).sort(ROW)


def rows_since(files: Sequence[Path], cutoff: datetime) -> pl.DataFrame | None:
    """The history rows with a timestamp at or after ``cutoff`` (None without history)."""
    if not files:
        return None
    parts = []
    for path in files:
        table = _mapped(path)
        stamps = pl.from_arrow(table.column("timestamp"))
        assert isinstance(stamps, pl.Series)
        recent = (stamps >= cutoff).arg_true()
        parts.append(_take(table, recent))
    return pl.concat(parts)


def merge_history(files: Sequence[Path], target: Path, key: str) -> None:
    """Merge history files into one (what :data:`MAX_FILES` asks)."""
    frame = pl.concat([_frame(_mapped(path)) for path in files])
    write_history(target, frame, key)
