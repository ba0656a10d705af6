"""Old rows changed in place: each incremental night (:mod:`attribution.engine._incremental`)
checks, cheaply, that the rows earlier runs read are still in the input as they were read,
and rebuilds the state when they are not (a full recompute, the reason in the manifest and
on stderr). Inputs are taken to only grow; this is how a night notices when one did not.

- **Rows inside the late window** (at or after the cutoff, every source): each history row
  there must be among the rows read again (compared as a multiset of row hashes, which the
  night computes anyway to skip rows it has read): exact.
- **A Parquet file**: the footer's description of each row group -- its rows, and per column
  the compressed and uncompressed sizes, value and null counts, min and max -- must be what
  it was for every row group read whole before (the last one read may have grown by the
  appended rows). Free (the footer only), and not a content hash: an edit that keeps every
  size and min/max of its row group (a compressed page of the same length) is not seen; a
  file rewritten with other row groups (another writer, another row-group size) reads as
  changed: a full recompute.
- **A CSV, TSV or NDJSON file**: a hash of the bytes read before (the file as it was, a
  prefix of it now): exact for a file that is appended to. It costs one pass over the file
  (about 1 GB/s; the file is read and parsed whole every night anyway); a file rewritten
  with other formatting or row order reads as changed.
- **A query**: the database sums a hash of every row before the previous night's cutoff,
  in the query that counts those rows (DuckDB's ``hash`` of the row, PostgreSQL's ``md5``
  of its text): the database's work, one pass over its old rows. The rows dated between
  the previous cutoff and this one are read again that night (``read_from`` in
  :mod:`attribution.engine._night_rows`), so the first check covers them.
- **A frame in memory**: rows before the cutoff are counted, not checked.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from attribution.typing import TableLike

__all__ = ["CHUNK", "SQL_CHECKSUM_FORM", "check_file", "file_mark", "sql_checksum"]

#: bytes read and summed at a time
CHUNK = 8 << 20
_TEXT = (".csv", ".tsv", ".ndjson", ".jsonl", ".json")
_PARQUET = (".parquet", ".pq")


def _path(data: TableLike) -> Path | None:
    if isinstance(data, str | os.PathLike):
        path = Path(data)
        return path if path.is_file() else None
    return None


def file_mark(data: TableLike) -> dict[str, Any] | None:
    """What the state keeps to check the rows of ``data`` next time: a Parquet file's row
    groups, a text file's size and hash; None for anything else (a query is checked by the
    database: :func:`sql_checksum`)."""
    return check_file(data, None)[1]


def check_file(
    data: TableLike, stored: Mapping[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    """Whether the rows ``stored`` describes are still in ``data`` as read (a reason when
    not, else None), and the mark of ``data`` now."""
    path = _path(data)
    if path is None:
        return None, None
    suffix = path.suffix.lower()
    if suffix in _PARQUET:
        return _check_parquet(path, stored)
    if suffix in _TEXT:
        return _check_text(path, stored)
    return None, None


def _groups(path: Path) -> tuple[list[tuple[int, str]], list[int]] | None:
    """Each row group's rows and a digest of its footer description, and the byte where
    each ends."""
    try:
        metadata = pq.ParquetFile(path).metadata
    except (OSError, pa.ArrowException):
        return None
    groups, ends = [], []
    kinds: dict[int, tuple[str | None, bool]] = {}  # a column's timestamp unit, once
    for index in range(metadata.num_row_groups):
        group = metadata.row_group(index)
        columns, end = [], 0
        for j in range(group.num_columns):
            chunk = group.column(j)
            stats = chunk.statistics
            described: list[Any] = [
                chunk.path_in_schema,
                chunk.total_compressed_size,
                chunk.total_uncompressed_size,
                chunk.num_values,
            ]
            if stats is not None:
                described.append(stats.null_count if stats.has_null_count else None)
                if stats.has_min_max:
                    if j not in kinds:
                        kinds[j] = _timestamp_unit(stats)
                    described += [_bound(stats, "min", kinds[j]), _bound(stats, "max", kinds[j])]
            columns.append(described)
            first = chunk.dictionary_page_offset if chunk.has_dictionary_page else None
            start = first if first is not None else chunk.data_page_offset
            end = max(end, int(start) + int(chunk.total_compressed_size))
        digest = hashlib.sha256(json.dumps(columns, default=str).encode()).hexdigest()[:32]
        groups.append((group.num_rows, digest))
        ends.append(end)
    return groups, ends


_EPOCH = datetime(1970, 1, 1)
_UNITS = {"milliseconds": "milliseconds", "microseconds": "microseconds"}


def _timestamp_unit(stats: Any) -> tuple[str | None, bool]:
    """A column's timestamp unit when :func:`_bound` reads it raw (milliseconds or
    microseconds; None: any other type), and whether it is adjusted to UTC."""
    logical = json.loads(stats.logical_type.to_json() or "{}")
    unit = _UNITS.get(logical.get("timeUnit", "")) if logical.get("Type") == "Timestamp" else None
    return unit, bool(logical.get("isAdjustedToUTC"))


def _bound(stats: Any, which: str, kind: tuple[str | None, bool]) -> str:
    """A row-group statistic's min or max as text, as ``str(stats.min)`` gives it; a
    timestamp in milliseconds or microseconds (``kind``: :func:`_timestamp_unit`) from its
    raw value: pyarrow's conversion of a timestamp statistic imports pandas (0.3 s of CPU a
    night paid only for that)."""
    unit, utc = kind
    if unit is None:
        return str(getattr(stats, which))
    raw = getattr(stats, f"{which}_raw")
    try:
        moment = _EPOCH + timedelta(**{unit: int(raw)})
    except (OverflowError, TypeError, ValueError):
        return str(getattr(stats, which))
    return str(moment.replace(tzinfo=UTC) if utc else moment)


def _check_parquet(
    path: Path, stored: Mapping[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    """The row groups read whole before (all but the last one read, which the appended rows
    may have grown) must be the same bytes (:func:`_checksums` of the file up to their end)
    and the same footer description; the last one, the same description or a grown one."""
    found = _groups(path)
    if found is None:
        return None, None
    groups, ends = found
    covered = ends[-2] if len(ends) > 1 else 0  # the bytes of every row group but the last
    earlier = None
    if stored is not None and stored.get("kind") == "parquet" and stored["groups"]:
        earlier = int(stored["bytes"])
    sums = _checksums(path, sorted({covered, *([] if earlier is None else [earlier])}))
    mark = {
        "kind": "parquet",
        "groups": [list(g) for g in groups],
        "bytes": covered,
        "sum": sums[covered],
    }
    if stored is None or earlier is None:
        return None, mark
    before = [tuple(g) for g in stored["groups"]]
    if len(groups) < len(before):
        return f"the Parquet file has {len(groups)} row groups where {len(before)} were read", mark
    *whole, last = before
    for index, (old, new) in enumerate(zip(whole, groups, strict=False)):
        if old != new:
            return (
                f"row group {index + 1} of the Parquet file is not as it was read (its rows, "
                "sizes or min/max differ)",
                mark,
            )
    rows, digest = groups[len(whole)]
    if rows < last[0] or (rows == last[0] and digest != last[1]):
        return f"row group {len(before)} of the Parquet file is not as it was read", mark
    if earlier > path.stat().st_size or sums[earlier] != stored["sum"]:
        return (
            f"the bytes of row groups 1-{len(whole)} of the Parquet file (the rows read "
            "before) changed",
            mark,
        )
    return None, mark


def _check_text(
    path: Path, stored: Mapping[str, Any] | None
) -> tuple[str | None, dict[str, Any] | None]:
    """One pass over the file: the checksum of its first ``stored["size"]`` bytes
    (compared) and of all of it (the new mark)."""
    size = path.stat().st_size
    old = int(stored["size"]) if stored is not None and stored.get("kind") == "bytes" else None
    if old is not None and size < old:
        return f"the file holds {size:,} bytes where {old:,} were read", _text_mark(path, size)
    ends = sorted({size, *([] if old is None else [old])})
    hashes = _checksums(path, ends)
    mark = {"kind": "bytes", "size": size, "hash": hashes[size]}
    if old is not None and hashes[old] != stored["hash"]:  # type: ignore[index]
        return f"the first {old:,} bytes of the file (the rows read before) changed", mark
    return None, mark


def _text_mark(path: Path, size: int) -> dict[str, Any]:
    return {"kind": "bytes", "size": size, "hash": _checksums(path, [size])[size]}


def _checksums(path: Path, ends: list[int]) -> dict[int, str]:
    """For each of ``ends`` (ascending), a checksum of the file's bytes before it, in one
    pass: a Fletcher-style pair of sums over the bytes as little-endian 64-bit words --
    their sum and their sum weighted by position, modulo 2**64 -- and the length (the last,
    partial word zero-padded). Any change of one word changes it; accidental changes of
    several cancel out about once in 2**64. NumPy over :data:`CHUNK` bytes at a time of the
    memory-mapped file, the weighted sum a dot product (no copy: 0.06 s of CPU for the 10M
    benchmark's 296 MB of touches, where a product array summed took 0.07 s and reading the
    file into a buffer 0.12-0.17 s)."""
    size = path.stat().st_size
    if not ends or ends[-1] > size or size < 8:
        return _checksums_read(path, ends)  # past the end (a file that shrank), or tiny
    with path.open("rb") as file, mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        every = np.frombuffer(mapped, dtype=np.uint64, count=size // 8)
        try:
            return _fletcher(every, mapped, ends)
        finally:
            del every  # the mapping closes only once no array views it


def _fletcher(every: np.ndarray, mapped: mmap.mmap, ends: list[int]) -> dict[int, str]:
    """:func:`_checksums` of the file whose whole words are ``every`` (``mapped``: its
    bytes)."""
    out: dict[int, str] = {}
    weights = np.arange(1, CHUNK // 8 + 1, dtype=np.uint64)
    plain, weighted = np.uint64(0), np.uint64(0)
    position = 0
    with np.errstate(over="ignore"):
        for end in ends:
            whole = end - end % 8
            while position < whole:
                step = min(CHUNK, whole - position)
                words = every[position // 8 : (position + step) // 8]
                total = words.sum(dtype=np.uint64)
                plain += total
                weighted += np.dot(words, weights[: words.size])
                weighted += np.uint64(position // 8) * total
                position += step
            word = np.uint64(int.from_bytes(mapped[position:end], "little"))
            sums = (plain + word, weighted + word * np.uint64(position // 8 + 1))
            out[end] = f"{int(sums[0]):016x}{int(sums[1]):016x}-{end}"
    return out


def _checksums_read(path: Path, ends: list[int]) -> dict[int, str]:
    """:func:`_checksums` by reading the file into a buffer (any ``ends``, past its end
    too)."""
    out: dict[int, str] = {}
    buffer = np.empty(CHUNK // 8, dtype=np.uint64)
    raw = buffer.data.cast("B")
    weights = np.arange(1, CHUNK // 8 + 1, dtype=np.uint64)
    plain, weighted = np.uint64(0), np.uint64(0)
    position = 0
    with path.open("rb", buffering=0) as file, np.errstate(over="ignore"):
        for end in ends:
            whole = end - end % 8
            while position < whole:
                read = file.readinto(raw[: min(CHUNK, whole - position)]) or 0
                if not read:
                    break
                words = buffer[: read // 8]
                total = words.sum(dtype=np.uint64)
                plain += total
                weighted += np.dot(words, weights[: words.size])
                weighted += np.uint64(position // 8) * total
                position += read
            last = file.read(end - position)
            file.seek(position)  # read again as part of a whole word past this end
            word = np.uint64(int.from_bytes(last, "little"))
            sums = (plain + word, weighted + word * np.uint64(position // 8 + 1))
            out[end] = f"{int(sums[0]):016x}{int(sums[1]):016x}-{end}"
    return out


#: The form of a PostgreSQL checksum a state's mark holds (``form`` in the mark; absent: 1,
#: the row's own text, whose dates and times print in the session's TimeZone and DateStyle).
SQL_CHECKSUM_FORM = 2


def _pg_text(name: str, dtype: pl.DataType) -> str:
    """A column's text in a form no session setting changes (form 2): times in UTC, ISO."""
    column = '"' + name.replace('"', '""') + '"'
    if isinstance(dtype, pl.Datetime):
        at = f"{column} AT TIME ZONE 'UTC'" if dtype.time_zone is not None else column
        text = f"to_char({at}, 'YYYY-MM-DD HH24:MI:SS.US')"
    elif isinstance(dtype, pl.Date):
        text = f"to_char({column}, 'YYYY-MM-DD')"
    else:
        text = f"{column}::text"
    return f"coalesce({text}, '\\N')"


def sql_checksum(
    kind: str, alias: str, where: str | None = None, schema: pl.Schema | None = None
) -> str:
    """The SQL of a checksum of the rows of ``alias`` (a subquery; ``where``: those rows
    only), by the database: a sum of a hash of each row, as text. DuckDB: its ``hash`` of
    the row. PostgreSQL: 60 bits of the ``md5`` of the row's text; with ``schema`` (the
    query's columns as read) each column's text in a fixed form (:data:`SQL_CHECKSUM_FORM`:
    a ``PGTZ`` or ``PGDATESTYLE`` of the job, which outranks the session's pinned settings,
    changes nothing), else the row's own text (form 1, of states written before)."""
    only = "" if where is None else f" FILTER (WHERE {where})"
    if kind == "duckdb":
        return f"CAST(sum(hash({alias})){only} AS VARCHAR)"
    text = f"{alias}::text"
    if schema is not None and len(schema):
        parts = ", ".join(_pg_text(name, dtype) for name, dtype in schema.items())
        text = f"concat_ws(chr(31), {parts})"
    hashed = f"('x' || substr(md5({text}), 1, 15))::bit(60)::bigint"
    return f"CAST(sum({hashed}){only} AS TEXT)"
