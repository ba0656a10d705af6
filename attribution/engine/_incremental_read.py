"""Reading an incremental run's new rows (:mod:`attribution.engine._incremental`): each
input's rows at or after the cutoff (``watermark - late_window``), and how many rows it holds
before it (checked against the history: inputs are taken to only grow)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from attribution.engine._old_rows import SQL_CHECKSUM_FORM, sql_checksum
from attribution.engine._stages import load_input
from attribution.exceptions import InputError
from attribution.inputs._database import (
    SqlTable,
    database_kind,
    redacted,
    result_hash,
    subquery,
)
from attribution.inputs._offsets import scan_parquet
from attribution.inputs._schema import Table, TableSpec
from attribution.inputs._sources import Source, read_source
from attribution.options import RunOptions
from attribution.typing import TableLike

__all__ = ["Read", "described", "read_after", "sql_mark"]


#: the column of source positions while an input is filtered (dropped before validation)
_POSITION = "__attribution_position"


def _their_timestamp(options: RunOptions, table: str) -> str:
    return (options.table_columns(table) or {}).get("timestamp", "timestamp")


def _literal(moment: datetime, naive: str | None = None) -> str:
    """``moment`` as SQL the database compares with the timestamp column: a time-zone-aware
    column with an absolute moment; a column without a time zone (``naive``: the zone its
    values are read in, UTC or ``--timezone``) or a date with ``moment`` on that zone's
    clock, so the database's session time zone (the server's or the machine's local one)
    never enters the comparison."""
    if naive is None:
        return f"CAST('{moment.isoformat()}' AS TIMESTAMP WITH TIME ZONE)"
    local = moment.astimezone(ZoneInfo(naive)).replace(tzinfo=None)
    return f"CAST('{local.isoformat()}' AS TIMESTAMP)"


@dataclass
class Read:
    """One input's rows at or after the cutoff (validated, ``_row`` local), and how many
    rows the input holds before it (rows without a timestamp not counted); ``whole``: the
    input was read whole; ``recent``: the history's rows at or after the cutoff (set by the
    caller)."""

    table: Table
    before: int
    whole: bool = True  #: the whole input was read (its blank rows counted), not filtered
    recent: pl.DataFrame | None = None
    #: the source positions (0-based, blank rows included) of the rows read, by their local
    #: ``_row``; None: ``_row`` is the source position already (an input read whole)
    positions: pl.Series | None = None
    #: how many positions (rows, blank ones included) the source holds; None: not known
    #: (a query the database filters)
    total: int | None = None
    #: the rows read not read before (set by the caller)
    fresh: pl.DataFrame | None = None
    #: what the state keeps to check the old rows next time
    #: (:mod:`attribution.engine._old_rows`), and why they are not as read (None: they are)
    mark: dict[str, Any] | None = None
    changed: str | None = None
    #: the manifest's record of the input tonight (:func:`described`)
    described: dict[str, Any] | None = None


def described(data: TableLike, rows: pl.DataFrame) -> dict[str, Any]:
    """A night's record of one input for the manifest (and the state): where it came from
    (a query: the redacted URI and the query text; a file: its path), and the rows read
    tonight -- their count and a sha256 of them as validated (a full run's ``sha256`` is of
    the whole source; a night reads only its new rows and the late window's)."""
    if isinstance(data, SqlTable):
        entry: dict[str, Any] = {"source": redacted(data.uri), "query": data.query}
    elif isinstance(data, str | os.PathLike):
        entry = {"source": str(data)}
    else:
        entry = {"source": "<memory>"}
    entry["rows_read"] = rows.height
    entry["sha256_rows_read"] = result_hash(rows)
    return entry


def read_after(
    data: TableLike,
    spec: TableSpec,
    options: RunOptions,
    cutoff: datetime,
    start: int | None = None,
    seen: Mapping[str, Any] | None = None,
    *,
    mark_at: datetime | None = None,
) -> Read:
    """The rows of ``data`` with a timestamp at or after ``cutoff``, and the count before it:
    a query is wrapped so the database filters; a file whose timestamp column is a datetime
    is filtered as it is scanned; anything else is read whole and filtered once validated.
    ``start``: the source positions read before (rows past them without a timestamp are
    read too, so that blank ones are counted and others refused, as a full run does).
    ``seen``: the state's record of the input (a query's rows before the last cutoff are
    checked against the database's checksum of them). ``mark_at``: where the checksum a
    query's next night checks ends (this night's cutoff, at or after ``cutoff``: default
    ``cutoff``)."""
    column = _their_timestamp(options, spec.name)
    naive, schema = (
        _query_clock(data, spec, options, column) if isinstance(data, SqlTable) else (False, None)
    )
    if isinstance(data, SqlTable) and naive is not False:
        # rows without a timestamp are read too: they are refused, naming the query and
        # the column, as a full run refuses them (else a night would skip them in silence)
        after = SqlTable(
            data.uri,
            f'SELECT * FROM {subquery(data.query)} WHERE "{column}" >= '
            f'{_literal(cutoff, naive)} OR "{column}" IS NULL',
        )
        stored = dict((seen or {}).get("old_rows") or {})
        checked = stored.get("before") if stored.get("kind") == "sql" else None
        form = int(stored.get("form") or 1)
        mark = cutoff if mark_at is None else mark_at
        counted = _sums_before(
            data, spec, column, (cutoff, mark), (checked, form), naive, schema
        )
        read = Read(
            load_input(_night_rows(after, data, spec, cutoff), spec, options, require_rows=False),
            int(counted["n"]),
        )
        read.whole = False
        read.mark = _mark(mark, counted)
        if checked is not None and counted["checked"] != stored.get("sum"):
            read.changed = (
                f"the database's checksum of the rows before {checked} differs from that of "
                "the rows read"
            )
        return read
    source = read_source(data, table=spec.name)
    dtype = source.frame.collect_schema().get(column)
    if isinstance(dtype, pl.Datetime):
        moment = (  # naive values are on the clock of --timezone (else UTC): so is the bound
            pl.lit(cutoff)
            .dt.convert_time_zone(options.timezone or "UTC")
            .dt.replace_time_zone(None)
            if dtype.time_zone is None
            else None
        )
        bound = (
            moment
            if moment is not None
            else pl.lit(cutoff).dt.convert_time_zone(dtype.time_zone or "UTC")
        )
        # each row's position in the source, so the new rows are numbered as a full run
        # numbers them, blank rows included: free on a new scan of a Parquet file, which
        # still skips row groups by their statistics (Polars 2.1 stops skipping them when a
        # row index is added to a scan whose schema was collected: 1.6 s of CPU at 12M rows)
        numbered = (
            scan_parquet(source.path, row_index_name=_POSITION)
            if source.path is not None and source.path.suffix.lower() in (".parquet", ".pq")
            else source.frame.with_row_index(_POSITION)
        )
        wanted = pl.col(column) >= bound
        if start is not None:
            wanted = wanted | (pl.col(column).is_null() & (pl.col(_POSITION) >= start))
        recent = numbered.filter(wanted).collect()
        filtered = Source(
            recent.drop(_POSITION).lazy(),
            f"{source.name} (rows at or after {cutoff.isoformat()})",
            numbering=None,
        )
        total = int(source.frame.select(pl.len()).collect().item())
        timed = recent.height - recent.get_column(column).null_count()
        before = _count_before(source, column, bound, timed, total)
        positions = recent.get_column(_POSITION).cast(pl.Int64)
        table = load_input(filtered, spec, options)
        return Read(table, before, whole=False, positions=positions, total=total)
    table = load_input(data, spec, options)
    early = table.frame.get_column("timestamp") < cutoff
    before = int(early.sum())
    return Read(_replace(table, table.frame.filter(~early)), before, total=table.rows_in)


def _night_rows(after: SqlTable, data: SqlTable, spec: TableSpec, cutoff: datetime) -> Source:
    """The rows of ``after`` (``data``'s query wrapped to filter the night's rows) as a
    source named by the user's own query, never the wrapper's SQL, its rows numbered among
    those read (a 1-based row of the night's rows is no row the user finds in the table):
    an error says so."""
    shown = (
        f"{data.name} (the night's rows: at or after {cutoff.isoformat()}, or without a timestamp)"
    )
    try:
        frame = after.frame(spec.name)
    except InputError as exc:
        raise exc.replace(source=shown) from None
    numbering = ("rows, 1-based among the night's rows", 1)
    return Source(frame.lazy(), shown, numbering=numbering, sql=after)


def _sums_before(
    data: SqlTable,
    spec: TableSpec,
    column: str,
    bounds: datetime | tuple[datetime, datetime],
    checked: tuple[str | None, int],
    naive: str | None,
    schema: pl.Schema | None,
) -> dict[str, Any]:
    """One query: the count ``n`` of the rows dated before the first of ``bounds`` (the
    night's read bound) and the checksum ``now`` (of :data:`SQL_CHECKSUM_FORM`, over the
    columns of ``schema``) of those before the second (at or after the first: where the next
    night's check ends; one bound: both), and (``checked``: the previous night's bound and
    the form of its sum) the checksum of those before it (``naive``: :func:`_literal`)."""
    cutoff, mark = bounds if isinstance(bounds, tuple) else (bounds, bounds)
    kind = database_kind(data.uri)
    uri = fixed_session(data.uri) if kind == "postgresql" else data.uri
    sums = sql_checksum(kind, "_attribution_q", schema=schema) + " AS now"
    counted = "count(*)"
    if mark != cutoff:
        counted += f' FILTER (WHERE "{column}" < {_literal(cutoff, naive)})'

    before, form = checked
    if before is not None:
        earlier = f'"{column}" < {_literal(datetime.fromisoformat(before), naive)}'
        same = schema if form == SQL_CHECKSUM_FORM else None  # a state's older form: its own
        sums += ", " + sql_checksum(kind, "_attribution_q", earlier, same) + " AS checked"
    count = SqlTable(
        uri,
        f"SELECT {counted} AS n, {sums} FROM {subquery(data.query)} "
        f'WHERE "{column}" < {_literal(mark, naive)}',
    )
    try:
        return count.frame(spec.name).row(0, named=True)
    except InputError as exc:  # named by the user's query, not the wrapper's SQL
        raise exc.replace(source=data.name) from None


#: The PostgreSQL session settings a row's text depends on, fixed for the checksum (it
#: hashes each row's text): a ``timestamptz`` prints in the session's TimeZone, dates in its
#: DateStyle, floats by extra_float_digits. A server, role or ``PGTZ`` set otherwise on
#: another night would change every sum and force a full recompute blamed on changed rows.
PINNED_SESSION = (
    "-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres -c extra_float_digits=1"
)


def fixed_session(uri: str) -> str:
    """``uri`` (PostgreSQL) with :data:`PINNED_SESSION` in libpq's ``options`` (before any
    options the URI gives, which therefore still apply: a ``search_path``).

    >>> fixed_session("postgresql://u@h/db")
    'postgresql://u@h/db?options=-c%20TimeZone%3DUTC%20-c%20DateStyle%3DISO%2CMDY%20-c%20IntervalStyle%3Dpostgres%20-c%20extra_float_digits%3D1'
    >>> fixed_session("postgresql://u@h/db?options=-csearch_path%3Dbi").count("options=")
    1
    """
    pinned = quote(PINNED_SESSION, safe="")
    at = uri.find("options=")
    if at >= 0:
        start = at + len("options=")
        return f"{uri[:start]}{pinned}%20{uri[start:]}"
    return uri + ("&" if "?" in uri else "?") + "options=" + pinned


def sql_mark(
    data: TableLike, spec: TableSpec, options: RunOptions, cutoff: datetime
) -> dict[str, Any] | None:
    """What a full night keeps so the next night can check a query's old rows: the
    database's checksum of its rows dated before ``cutoff`` (the next night's cutoff: the
    rows it will not read again). None for anything but a query whose timestamp column the
    database can compare (a file is marked by :func:`attribution.engine._old_rows.file_mark`)."""
    if not isinstance(data, SqlTable):
        return None
    column = _their_timestamp(options, spec.name)
    naive, schema = _query_clock(data, spec, options, column)
    if naive is False:
        return None
    return _mark(cutoff, _sums_before(data, spec, column, cutoff, (None, 1), naive, schema))


def _mark(cutoff: datetime, counted: dict[str, Any]) -> dict[str, Any]:
    """A query's mark: the cutoff and the checksum of the rows before it, and its form."""
    return {
        "kind": "sql",
        "form": SQL_CHECKSUM_FORM,
        "before": cutoff.isoformat(),
        "sum": counted["now"],
    }


def _query_clock(
    data: SqlTable, spec: TableSpec, options: RunOptions, column: str
) -> tuple[str | None | Literal[False], pl.Schema | None]:
    """Whether the query's timestamp column is a date/time the database can compare, so the
    query can be wrapped (``WHERE "timestamp" >= ...``), and how to compare it: None for a
    time-zone-aware column, the zone its values are read in (``--timezone``, else UTC) for
    one without a time zone or a date (:func:`_literal`). Its columns are probed first
    (``LIMIT 0``) and checked as the query's own result would be, so a missing or mistyped
    column is the error a full run gives, naming the user's query, never the wrapper's SQL.
    Text timestamps (ISO 8601 or with ``timestamp_formats``): False, the query is read whole
    and filtered once parsed, as a CSV file is. A probe the database refuses: False (the
    query then runs as written and its own error names it). Also the query's columns as
    read (the probe's schema), which the checksum of its old rows hashes."""
    probe = SqlTable(data.uri, f"SELECT * FROM {subquery(data.query)} LIMIT 0")
    try:
        empty = probe.frame(spec.name)
    except InputError:
        return False, None
    source = Source(empty.lazy(), data.name, numbering=("rows, 1-based", 1))
    load_input(source, spec, options, require_rows=False)  # the columns and their types
    dtype = empty.schema.get(column)
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return None, empty.schema
    if isinstance(dtype, pl.Datetime | pl.Date):
        return options.timezone or "UTC", empty.schema
    return False, None


def _count_before(source: Source, column: str, bound: pl.Expr, after: int, total: int) -> int:
    """How many rows of a file have a timestamp before the cutoff, ``after`` being those at
    or after it and ``total`` all its rows: for a Parquet file whose statistics count the
    column's nulls, the rows less those and the nulls, from the file's metadata (a filtered
    count scans the whole column: 0.16 s for 12M rows); else counted by that scan."""
    nulls = _parquet_nulls(source.path, column) if source.path is not None else None
    if nulls is None:
        counted = source.frame.filter(pl.col(column) < bound).select(pl.len()).collect()
        return int(counted.item())
    return total - after - nulls


def _parquet_nulls(path: Path, column: str) -> int | None:
    """The nulls of a top-level column of a Parquet file, from its row groups' statistics;
    None when it is no Parquet file or a row group does not count them."""
    if path.suffix.lower() not in (".parquet", ".pq") or not path.is_file():
        return None
    try:
        metadata = pq.ParquetFile(path).metadata
        index = metadata.schema.names.index(column)
    except (OSError, ValueError, pa.ArrowException):
        return None
    total = 0
    for group in range(metadata.num_row_groups):
        stats = metadata.row_group(group).column(index).statistics
        if stats is None or not stats.has_null_count:
            return None
        total += int(stats.null_count)
    return total


def _replace(table: Table, frame: pl.DataFrame) -> Table:
    return Table(
        frame,
        table.source,
        frame.height,
        names=table.names,
        spec=table.spec,
        blank_rows=table.blank_rows,
        trimmed=table.trimmed,
    )
