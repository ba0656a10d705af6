"""The history of an incremental state (:mod:`attribution.engine._incremental`): every
validated input row read so far, indexed by entity so a nightly run reads only the rows of
the entities it re-opens.

Each run appends one file per input: its new rows (global ``_row`` numbers kept), **each
entity's rows together, entities ordered by their latest time** (the column ``_t``: the
latest timestamp among the rows whose entity key -- ``contact_id`` -- has the same hash;
then by that hash, then ``_row``), written as uncompressed Arrow IPC, and beside it an
**index** (``<file>.index.arrow``: each hash of an entity key, sorted, with its row range in
the file). A night looks the re-opened entities' hashes up in the index by binary search and
gathers only their rows from the memory-mapped file. Two entities sharing a hash share a
range: the gathered rows are filtered on the key itself, so the answer is exact.

Why by latest time rather than by hash (a decision, measured on the 10M benchmark's night):
the entities a night re-opens are mostly the recently active ones (95% of the re-opened
contacts' history rows belong to contacts active in the 30 days before, which hold 15% of
the history), so their rows lie together near the file's end and a night pages in a small
part of it; in hash order they were spread over the whole 1.1 GB file, and the page faults
of mapping it cost more than the gather itself (0.45 s of system CPU of 0.7 s). The rows at
or after a cutoff lie at the end too (an entity's latest time is at or after each of its
rows'): a night's late-window check reads only that end. The benefit holds for entities
active around when a file was written; a history whose big file is old gathers from more of
it (never a wrong row: only slower).

The cost is disk: uncompressed, the history takes about 4x its Parquet size (1.7 GB for 10M
touches of the benchmark's columns; the OS pages in what a night touches). When an input has
more than :data:`MAX_FILES` files, a run merges all but the first (the seed's, the big one)
into one, so a night looks up a bounded number of files.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa

from attribution.engine._history_take import numbers, take_batch
from attribution.inputs._schema import ROW

__all__ = [
    "BATCH_ROWS",
    "HASH",
    "LATEST",
    "MAX_FILES",
    "history_columns",
    "index_path",
    "merge_history",
    "rows_of",
    "rows_since",
    "write_history",
]

#: the column of the index holding the hash of an entity key
HASH = "_k"
#: the column of a history file holding the latest timestamp of the rows whose entity key has
#: the row's hash (the file is sorted by it)
LATEST = "_t"
#: rows per record batch of a history file
BATCH_ROWS = 1 << 20
#: more history files than this (per input) are merged, all but the first
MAX_FILES = 16
#: a text column with at most one distinct value per this many rows is stored as a dictionary
FEW_VALUES = 16


def _key_hash(keys: pl.Expr | pl.Series) -> pl.Expr | pl.Series:
    """The index's hash of an entity key (a null key has a hash too)."""
    return keys.cast(pl.String).hash(seed=0)


def index_path(path: Path) -> Path:
    """The index file of a history file (absent for a table without the key)."""
    return path.with_name(path.name.removesuffix(".arrow") + ".index.arrow")


def write_history(path: Path, frame: pl.DataFrame, key: str) -> None:
    """Write validated rows as a history file and its index (module docstring): each
    entity's rows together in ``_row`` order, entities by their latest time, uncompressed
    Arrow IPC in the layout that memory-maps (plain strings), in record batches of
    :data:`BATCH_ROWS` gathered one at a time (the sorted copy of a 10M-row history is never
    held whole). A table without ``key`` is written in row order, without an index."""
    # a categorical's dictionary would differ from batch to batch, which an IPC file cannot
    # hold: kept as text (the reader casts back to the new rows' types) -- or, for a text
    # column with few distinct values, as an enum of them, one dictionary for the file
    frame = frame.with_columns(pl.col(pl.Categorical, pl.Enum).cast(pl.String))
    frame = frame.with_columns(
        pl.col(name).cast(pl.Enum(values)) for name, values in _few_values(frame, key).items()
    )
    if key in frame.columns:
        frame = frame.with_columns(_key_hash(pl.col(key)).alias(HASH))
        frame = frame.with_columns(pl.col("timestamp").max().over(HASH).alias(LATEST))
        order = frame.select(pl.arg_sort_by(LATEST, HASH, ROW)).to_series()
        _write_index(index_path(path), frame.get_column(HASH).gather(order))
        frame = frame.drop(HASH)
    else:
        order = pl.int_range(frame.height, eager=True)
    oldest = pl.CompatLevel.oldest()
    schema = frame.clear().to_arrow(compat_level=oldest).schema
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, schema) as writer:
        for start in range(0, frame.height, BATCH_ROWS):
            batch = frame[order.slice(start, BATCH_ROWS)].to_arrow(compat_level=oldest)
            # (a cast goes through pyarrow.compute: only when a batch's types differ)
            same = batch.schema.equals(schema, check_metadata=True)
            writer.write_table(batch if same else batch.cast(schema), max_chunksize=BATCH_ROWS)


def _write_index(path: Path, hashes: pl.Series) -> None:
    """The index of a history file whose rows have the hashes ``hashes`` (in file order;
    each hash's rows together): each hash, sorted, with its first row and the row past its
    last, in one record batch."""
    n = hashes.len()
    starts = (hashes != hashes.shift(1)).fill_null(True).arg_true().cast(pl.Int64)
    ends = pl.concat([starts.slice(1), pl.Series([n] if n else [], dtype=pl.Int64)])
    index = pl.DataFrame(
        [hashes.gather(starts).alias(HASH), starts.alias("start"), ends.alias("end")]
    ).sort(HASH)
    table = index.to_arrow()
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=max(1, index.height))


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


def _take(table: pa.Table, positions: np.ndarray, *, text: bool = True) -> pl.DataFrame:
    """The rows at ``positions`` (ascending) of a mapped file, gathered record batch by
    record batch (Arrow's take on a chunked table first concatenates every chunk: it would
    read the whole file)."""
    batches = table.to_batches()
    if not batches:
        return _frame(table.slice(0, 0), text=text)
    ends = np.cumsum([b.num_rows for b in batches])
    positions = positions.astype(np.int64, copy=False)
    cuts = np.searchsorted(positions, ends)  # rows of batch i: positions[cuts[i-1]:cuts[i]]
    starts = np.concatenate([[0], ends[:-1]])
    lower = np.concatenate([[0], cuts[:-1]])
    taken = [
        take_batch(batch, positions[lo:hi] - start)
        for batch, start, lo, hi in zip(batches, starts, lower, cuts, strict=True)
        if hi > lo
    ]
    found = pa.Table.from_batches(taken, schema=table.schema) if taken else table.slice(0, 0)
    return _frame(found, text=text)


def _ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The positions of the row ranges ``[start, end)``, in order of ``starts`` (ascending,
    not overlapping: the ranges of distinct hashes)."""
    order = np.argsort(starts, kind="stable")
    starts, lengths = starts[order], ends[order] - starts[order]
    total = int(lengths.sum())
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    positions: np.ndarray = np.arange(total, dtype=np.int64) + shift
    return positions


def _frame(table: pa.Table, *, text: bool = True) -> pl.DataFrame:
    """A mapped table's rows as a frame, without the index columns; ``text``: its
    dictionary columns as text (:func:`_as_text`), else as the file's enums."""
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.drop(HASH, LATEST, strict=False)
    return _as_text(frame) if text else frame


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Text as the rows were read (one file's dictionary is not another's)."""
    return frame.with_columns(pl.col(pl.Enum).cast(pl.String))


def history_columns(files: Sequence[Path]) -> list[str]:
    """The columns of the history's rows (without the index's hash)."""
    if not files:
        return []
    names = pa.ipc.open_file(pa.memory_map(str(files[0]))).schema.names
    return [c for c in names if c not in (HASH, LATEST)]


def rows_of(files: Sequence[Path], key: str, entities: pl.Series) -> pl.DataFrame | None:
    """Every history row of ``entities`` (values of ``key``; a null among them: the rows
    without a key), in ``_row`` order; None when the history has no file or no ``key``."""
    if not files:
        return None
    parts: list[pl.DataFrame] = []
    hashed = _key_hash(entities)
    assert isinstance(hashed, pl.Series)
    wanted = hashed.unique().sort().to_numpy()
    names = entities.drop_nulls().implode()
    for path in files:
        index = index_path(path)
        if not index.is_file():
            return None
        hashes, starts, ends = _index(index)
        if not hashes.size:
            continue
        at = np.searchsorted(hashes, wanted).clip(max=hashes.size - 1)
        found = at[hashes[at] == wanted]
        gathered = _take(_mapped(path), _ranges(starts[found], ends[found]), text=False)
        inside = pl.col(key).is_in(names)
        if entities.null_count():
            inside = inside | pl.col(key).is_null()
        mask = gathered.select(inside.fill_null(False)).to_series()
        # exact: two keys may share a hash (filtered only then: a filter copies every column)
        parts.append(gathered if mask.all() else gathered.filter(mask))
    if len(parts) == 1:  # sorted while its text columns are codes (a quarter cheaper)
        return _as_text(parts[0].sort(ROW))
    return pl.concat([_as_text(part) for part in parts]).sort(ROW) if parts else None


def _index(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A history file's index, memory-mapped: the hashes (sorted) and their row ranges."""
    table = _mapped(path)
    columns = []
    for name in (HASH, "start", "end"):
        chunks = [numbers(chunk) for chunk in table.column(name).chunks]
        columns.append(chunks[0] if len(chunks) == 1 else np.concatenate(chunks))
    return columns[0], columns[1], columns[2]


def rows_since(files: Sequence[Path], cutoff: datetime) -> pl.DataFrame | None:
    """The history rows with a timestamp at or after ``cutoff`` (None without history): in
    a file sorted by its entities' latest time (:data:`LATEST`) they lie past the first
    entity whose latest time is at or after ``cutoff``, so only the file's end is read."""
    if not files:
        return None
    parts = []
    for path in files:
        table = _mapped(path)
        positions, offset = [], 0
        for batch in table.to_batches():
            start = 0
            if LATEST in batch.schema.names:
                latest = batch.column(LATEST)
                if not latest.null_count:
                    start = int(np.searchsorted(_ticks(latest), _tick(cutoff, latest), "left"))
            stamps = batch.column("timestamp").slice(start)
            recent = np.flatnonzero(_ticks(stamps) >= _tick(cutoff, stamps))
            if stamps.null_count:  # a null timestamp is never at or after the cutoff
                recent = recent[_valid(stamps)[recent]]
            positions.append(recent.astype(np.int64) + (offset + start))
            offset += batch.num_rows
        parts.append(_take(table, np.concatenate([np.empty(0, np.int64), *positions])))
    return pl.concat(parts)


def _ticks(array: pa.Array) -> np.ndarray:
    """A timestamp array's values as integers of its unit (a null's value is meaningless:
    see :func:`_valid`), read from the mapped buffer (``pl.from_arrow`` of an array imports
    ``pyarrow.compute``, which a night need not pay for)."""
    if not len(array):
        return np.empty(0, np.int64)
    values = np.frombuffer(array.buffers()[1], dtype=np.int64, count=len(array) + array.offset)
    return values[array.offset :]


def _valid(array: pa.Array) -> np.ndarray:
    bits = np.unpackbits(np.frombuffer(array.buffers()[0], dtype=np.uint8), bitorder="little")
    return bits[array.offset : array.offset + len(array)].astype(bool)


def _tick(moment: datetime, array: pa.Array) -> int:
    """``moment`` in the integer ticks of a timestamp array (rounded up: a value at or after
    the tick is at or after the moment)."""
    per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[array.type.unit]
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    since = aware - datetime(1970, 1, 1, tzinfo=UTC)
    micros = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds
    return -((-micros * per_second) // 1_000_000)


def merge_history(files: Sequence[Path], target: Path, key: str) -> None:
    """Merge history files into one (what :data:`MAX_FILES` asks)."""
    frame = pl.concat([_frame(_mapped(path)) for path in files])
    write_history(target, frame, key)
