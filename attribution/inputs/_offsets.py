"""Timestamps zoned by a fixed UTC offset, as pandas and Snowflake write them, read as UTC.

pandas gives ISO text with an offset (``2025-01-01T10:00:00+05:30``) the type
``datetime64[ns, UTC+05:30]`` and ``to_parquet`` writes Arrow ``timestamp[ns, tz=+05:30]``
(a Snowflake ``TIMESTAMP_TZ`` fetched into pandas too). Polars reads some such zones
(``+01:00``) and not others: ``+05:30`` (India), ``+05:45``, ``-03:30``, ``+09:30`` made its
Arrow conversion panic (new-user report 22b, S3: a Rust backtrace and
``pyo3_runtime.PanicException``, which ``except Exception`` does not catch; the command line
exited 1 with 246 lines of traceback). The run reads aware values as UTC instants anyway
(README, "Input formats"), so such a column is cast to UTC before Polars sees it: the same
instants, nothing guessed. Only a file or table that has one pays for it (a Parquet file is
then read whole through Arrow instead of scanned); the schema check reads the footer alone.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Final

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["offsets_to_utc", "scan_parquet"]

#: A zone that is a fixed offset from UTC: ``+05:30``, ``-0800``, ``+05``.
_OFFSET: Final = re.compile(r"[+-]\d{2}(?::?\d{2})?")


def _offset_columns(schema: pa.Schema) -> list[int]:
    return [i for i, f in enumerate(schema)
            if pa.types.is_timestamp(f.type) and f.type.tz and _OFFSET.fullmatch(f.type.tz)]


def offsets_to_utc(table: pa.Table) -> pa.Table:
    """``table`` with its timestamp columns zoned by a fixed offset cast to UTC (the same
    instants); ``table`` itself when it has none."""
    columns = _offset_columns(table.schema)
    if not columns:
        return table
    schema = table.schema
    for i in columns:
        field = schema.field(i)
        schema = schema.set(i, field.with_type(pa.timestamp(field.type.unit, tz="UTC")))
    return table.cast(schema)


def scan_parquet(path: Path, row_index_name: str | None = None) -> pl.LazyFrame:
    """``pl.scan_parquet(path, row_index_name=...)``, or, when a timestamp column is zoned by
    a fixed offset, the file read through Arrow with those columns in UTC (the row index
    added the same way)."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException):  # not Parquet, or unreadable: the scan words it
        return pl.scan_parquet(path, row_index_name=row_index_name)
    if not _offset_columns(schema):
        return pl.scan_parquet(path, row_index_name=row_index_name)
    frame = pl.from_arrow(offsets_to_utc(pq.read_table(path)))
    assert isinstance(frame, pl.DataFrame)
    return (frame.with_row_index(row_index_name) if row_index_name else frame).lazy()
