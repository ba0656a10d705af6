"""Input contract: table specs, column mapping, type normalisation and row-level checks.

Schemas are checked once, here, at the entry point. Every table comes out with canonical
column names and types, timestamps as ``Datetime("us", "UTC")`` and a ``_row`` column holding
the 0-based row number in the source, so later errors and drops can point at input rows.
Blank text (``""``, whitespace only) is a missing value; timestamps are read with the
user's strftime patterns first, then ISO 8601 (:mod:`attribution.inputs._reading`). Errors
name the user's column beside ours and the file's own lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import polars as pl

from attribution.exceptions import (
    ColumnNotFoundError,
    InputError,
    NullValueError,
    SchemaError,
    did_you_mean,
)
from attribution.inputs._column_guess import value_column_guess
from attribution.inputs._column_map import check_column_map
from attribution.inputs._control import refuse_control_characters, scan_text, spaceless
from attribution.inputs._currency_column import CURRENCY, currency_column, read_currency
from attribution.inputs._ids import tidy_ids
from attribution.inputs._limits import check_limits
from attribution.inputs._money import MONEY_COLUMNS
from attribution.inputs._money_signs import SIGN_KEY, read_signs
from attribution.inputs._numbers import decimal_comma_of, read_number
from attribution.inputs._preamble import preamble_hint
from attribution.inputs._read_errors import (
    check_has_rows,
    check_repeated_headers,
    missing_column_hint,
    mixed_header_hint,
    months_as_columns,
    separator_hint,
    unreadable,
)
from attribution.inputs._reading import (
    aligned_row_index,
    blanks_as_null,
    check_parsed,
    drop_blank_rows,
    drop_duplicate_rows,
    frame_blanks_as_null,
    locate,
    parquet_text_bounds,
    parse_date,
    text_bounds,
    timestamp_conversion,
    zone_of,
)
from attribution.inputs._referrers import referrer_columns, unread_columns
from attribution.inputs._sources import Source, TableLike, read_source
from attribution.inputs._specs import (
    ACCOUNTS,
    CONTACTS,
    DATE,
    EVENTS,
    EXPERIMENTS,
    FLOAT,
    INT,
    PATHS,
    SPECS,
    SPEND,
    STAGES,
    STRING,
    SUBSCRIPTIONS,
    SURVEYS,
    TIMESTAMP,
    TOUCHES,
    TableSpec,
)
from attribution.inputs._spend_rows import check_spend_rows
from attribution.inputs._time_zones import count_zones
from attribution.inputs._timestamp_hints import epoch_recipe

__all__ = [  # the specs (attribution.inputs._specs) re-exported: callers import them here
    "ACCOUNTS", "CONTACTS", "DATE", "EVENTS", "EXPERIMENTS", "FLOAT", "INT", "PATHS", "ROW",
    "SPECS", "SPEND", "STAGES", "STRING", "SUBSCRIPTIONS", "SURVEYS", "TIMESTAMP", "TOUCHES",
    "UTC_DATETIME", "Table", "TableSpec", "load",
]

_E = TypeVar("_E", bound=InputError)

ROW = "_row"
UTC_DATETIME = pl.Datetime("us", "UTC")
_MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Table:
    """A validated table: canonical columns, normalised types, ``_row`` = source row number.

    ``unloaded`` names the source's canonical columns that were type-checked but not read
    (see ``keep`` in :func:`load`); :meth:`full_rows` reads them for a few rows.
    """

    frame: pl.DataFrame
    source: Source
    rows_in: int
    unloaded: tuple[str, ...] = ()
    renamed: pl.LazyFrame | None = None  # the source with canonical names, for full_rows
    spec: TableSpec | None = None
    #: our column -> the user's, for the columns the config renamed (error messages)
    names: Mapping[str, str] = field(default_factory=dict)
    formats: Mapping[str, Sequence[str]] = field(default_factory=dict)
    #: rows dropped because every cell was empty (a trailing blank line of a CSV file):
    #: counted in the reconciliation's ``blank_rows_dropped`` (``rows_in`` includes them)
    blank_rows: int = 0
    #: the rows dropped as exact repeats of an earlier row (``TableSpec.unique_rows``)
    duplicates: pl.DataFrame | None = None
    #: id cells trimmed of surrounding whitespace, per column (``ids_trimmed``)
    trimmed: Mapping[str, int] = field(default_factory=dict)
    truncated: Mapping[str, Mapping[str, object]] = field(default_factory=dict)  # CUT_TEXT

    def error(self, exc: InputError) -> InputError:
        """``exc`` located in this table's source: the user's column, the file's lines."""
        return locate(exc, self.source, self.names)

    def full_rows(self, rows: pl.Series) -> pl.DataFrame:
        """Every canonical column (loaded or not) of the source rows ``rows`` (``_row``
        values), normalised like ``frame``, in ``_row`` order."""
        picked = self.frame.filter(pl.col(ROW).is_in(rows.implode())).sort(ROW)
        if not self.unloaded or self.renamed is None or self.spec is None:
            return picked
        extra = (
            self.renamed.select(self.unloaded)
            .with_row_index(ROW)
            .filter(pl.col(ROW).is_in(rows.cast(pl.get_index_type()).implode()))
            .collect()
            .with_columns(pl.col(ROW).cast(pl.Int64))
        )
        spec = TableSpec(self.spec.name, {c: self.spec.columns[c] for c in self.unloaded})
        extra = _normalise_types(extra, spec, self.source, self.formats)
        return picked.join(extra, on=ROW, how="left", maintain_order="left")


def load(
    data: TableLike | Source,
    spec: TableSpec,
    *,
    columns: Mapping[str, str] | None = None,
    keep: Callable[[Sequence[str]], Collection[str]] | None = None,
    prehash: bool = False,
    formats: Mapping[str, Sequence[str]] | None = None,
    require_rows: bool | None = None,
    currency_rates: str | os.PathLike[str] | None = None,
) -> Table:
    """Read ``data`` and check it against ``spec``.

    Parameters
    ----------
    columns
        Map of canonical column name -> the user's column name (from the config file).
    keep
        Given the canonical columns present, the ones to read (default: all). The others are
        checked by type only, which for a typed source (Parquet, Arrow, a frame) is the whole
        check; a text column that would need parsing (a CSV ``cost``) is always read, so a bad
        value is still reported. Reading 5 of the 10 columns of a 10M-touch Parquet log takes
        0.34 s instead of 0.59 s, and the collect, types and checks shrink with it. Ignored
        for a LazyFrame: its plan may not give the same rows in the same order twice.
    prehash
        Start the file's content hash for the manifest in the background (see
        :func:`attribution.inputs._sources.read_source`).
    formats
        Our column -> strftime patterns tried in order, before ISO 8601, on its text values
        (timestamp and date columns).
    require_rows
        A table without data rows (an empty or header-only file) is an error naming it.
        Default: for a file (a path) -- a spend sheet exported with the wrong filter must
        not read as "no spend" -- but not for a frame (an empty frame is an empty table).
    currency_rates
        The run's currency rates file, kept with the source (a :class:`Source` read again
        converts alike): :mod:`attribution.inputs._currency_column`.
    """
    if require_rows is None:
        require_rows = isinstance(data, str | os.PathLike)
    check_column_map(columns, spec.name, spec.columns)
    source = read_source(data, table=spec.name, prehash=prehash)
    if currency_rates is not None:
        source = replace(source, currency_rates=str(currency_rates))
    names = {ours: theirs for ours, theirs in (columns or {}).items() if theirs != ours}
    try:
        return _load(source, spec, columns, keep, formats or {}, require_rows, names)
    except InputError as exc:
        raise locate(exc, source, names) from None
    except pl.exceptions.PolarsError as exc:  # the reader's own failure, said in one line
        raise unreadable(source, spec.name, exc) from None


def _load(
    source: Source,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    keep: Callable[[Sequence[str]], Collection[str]] | None,
    formats: Mapping[str, Sequence[str]],
    require_rows: bool,
    names: dict[str, str],
) -> Table:
    if not source.repeatable:
        keep = None
    lazy = source.frame
    available = list(lazy.collect_schema().names())
    check_repeated_headers(available, set(spec.columns) | set((columns or {}).values()),
                           spec.name, source)
    renames: dict[str, str] = {}
    for ours, theirs in (columns or {}).items():
        if ours not in spec.columns:
            raise _error(
                ColumnNotFoundError,
                f"the config maps unknown column '{ours}'",
                spec,
                source,
                ours,
                hint=did_you_mean(ours, list(spec.columns)),
            )
        if theirs not in available:
            raise _error(
                ColumnNotFoundError,
                f"the config maps '{ours}' to '{theirs}', which is not in the data",
                spec,
                source,
                theirs,
                hint=mixed_header_hint(source, available) or preamble_hint(source, available)
                or months_as_columns(spec.name, available) or did_you_mean(theirs, available),
            )
        if theirs != ours:
            renames[theirs] = ours
    if renames:
        # a user column that already has a canonical name and is not mapped makes way
        clash = [c for c in renames.values() if c in available and c not in renames]
        lazy = lazy.drop(clash).rename(renames)
    if (found := currency_column(spec.name, available, names)) is not None:
        lazy, names[CURRENCY] = lazy.rename({found: CURRENCY}), found  # errors name it
    if found_urls := referrer_columns(spec.name, available, names):  # context_page_referrer
        lazy = lazy.rename({theirs: ours for ours, theirs in found_urls.items()})
        names.update(found_urls)
    schema = lazy.collect_schema()
    available = list(schema.names())
    unread = unread_columns(spec, available, names)  # said: 'referrer' was never read
    value_unread = value_column_guess(spec.name, available, names)  # 'Amount', no 'value'
    _check_columns(spec, available, source)
    present = [c for c in spec.columns if c in available]
    parsed = {col for col, _ in _conversions(schema, spec, source, formats)[1]}  # bad types raise
    wanted = set(present if keep is None else keep(present)) | parsed | set(spec.not_null)
    if wanted & MONEY_COLUMNS.get(spec.name, set()):  # the amounts' currency with them
        wanted.add(CURRENCY)
    loaded = [c for c in present if c in wanted]
    unloaded = tuple(c for c in present if c not in wanted)
    read = lazy.select(loaded).with_row_index(ROW).with_columns(pl.col(ROW).cast(pl.Int64))
    frame = aligned_row_index(read.collect(), ROW)  # a frame in memory: see there
    if require_rows and frame.height == 0:
        check_has_rows(source, spec.name)
    # ids trimmed; blank cells null where the bounds (statistics, or min and max) allow one
    bounds = text_bounds(frame, loaded, _statistics_bounds(source, loaded, renames))
    scans = scan_text(frame, source)  # ids, channels, stages: controls? whitespace?
    frame, trimmed, bounds = tidy_ids(frame, bounds, spec.name, source, ROW, spaceless(scans))
    frame = frame_blanks_as_null(frame, loaded, bounds, spaceless(scans))
    lazy = blanks_as_null(lazy, present)  # for full_rows: the unloaded columns, a few rows
    money: dict[str, tuple[int, str]] = {}  # money columns' values read as money
    zones = {} if zone_of(formats) else count_zones(frame, spec.columns, TIMESTAMP)  # naive?
    frame, sign = read_signs(frame, spec.name, source, ROW, names, CURRENCY)  # '£2,750.00'
    frame = _normalise_types(frame, spec, source, formats, money)
    frame, currency = read_currency(frame, spec.name, source, ROW, source.currency_rates, names)
    kinds = {c: spec.columns[c] for c in loaded}  # limits (a survey answer is cut to its own)
    frame, truncated = check_limits(frame, kinds, spec.name, source, ROW)
    rows_in = frame.height
    frame, blank = drop_blank_rows(frame, lazy, unloaded, ROW)
    if require_rows and blank and frame.height == 0:  # only blank lines under the header
        check_has_rows(source, spec.name, blank)
    check_spend_rows(frame, spec.name, source, ROW)  # a total row ('Summe'), a blank month
    _check_not_null(frame, spec, source)
    refuse_control_characters(frame, spec.name, source, ROW, scans)  # a NUL in 'linkedin'
    frame, repeats = drop_duplicate_rows(frame, ROW) if spec.unique_rows else (frame, None)
    source = replace(source, money={c: (*v, names.get(c, c)) for c, v in money.items()},
                     currency=currency and {**currency, "column": names.get(CURRENCY, CURRENCY),
                                            **({SIGN_KEY: sign} if sign else {})},
                     zones={c: (*v, names.get(c, c)) for c, v in zones.items()},
                     decimal_comma=decimal_comma_of(formats), unread=unread,
                     value_unread=value_unread)
    return Table(
        frame, source, rows_in, unloaded, lazy if unloaded else None, spec, names, formats,
        blank_rows=blank, duplicates=repeats, trimmed=trimmed, truncated=truncated,
    )


def _statistics_bounds(
    source: Source, columns: Sequence[str], renames: Mapping[str, str]
) -> dict[str, tuple[str, str]]:
    """The bounds of those of ``columns`` (ours) that a Parquet file's statistics give
    (:func:`~attribution.inputs._reading.parquet_text_bounds`); none for other sources."""
    if source.path is None or source.path.suffix.lower() not in (".parquet", ".pq"):
        return {}
    theirs = {ours: theirs for theirs, ours in renames.items()}
    names = {theirs.get(c, c): c for c in columns}
    bounds = parquet_text_bounds(source.path, list(names))
    return {names[name]: ends for name, ends in bounds.items()}


def _check_columns(spec: TableSpec, available: Sequence[str], source: Source) -> None:
    suffix = source.path.suffix.lower() if source.path is not None else ""
    missing = [c for c in spec.required if c not in available]
    if missing and (title := mixed_header_hint(source, available)  # 'Kosten (EUR, netto)'
                    or preamble_hint(source, available)):  # an ad platform's report
        raise _error(ColumnNotFoundError, "required column is missing", spec, source,
                     missing[0], hint=title)  # fmt: skip
    if (suffix in (".csv", ".tsv") and len(available) == 1) and (
        other := separator_hint(available, "\t" if suffix == ".tsv" else ",")
    ):  # one column named 'a;b;c': the file is not delimited as its extension says
        missing = [c for c in spec.required if c not in available]
        raise _error(
            ColumnNotFoundError,
            f"found one column {available[0]!r} and not the required ones",
            spec,
            source,
            missing[0] if missing else available[0],
            hint=other,
        )
    for col in spec.required:
        if col not in available:
            raise _error(
                ColumnNotFoundError,
                "required column is missing",
                spec,
                source,
                col,
                hint=missing_column_hint(spec.name, [col], available, spec.hints.get(col)),
            )
    for group in spec.one_of:
        if not any(c in available for c in group):
            names = " or ".join(f"'{c}'" for c in group)
            raise _error(
                ColumnNotFoundError,
                f"needs at least one of {names}; found {', '.join(available) or 'no columns'}",
                spec,
                source,
                group[0],
                hint=missing_column_hint(spec.name, group, available, spec.hints.get(group[0])),
            )


def _error(
    kind: type[_E], message: str, spec: TableSpec, source: Source, column: str, **details: Any
) -> _E:
    """``kind`` of input error about ``column`` of the table ``spec`` read from ``source``
    (``details``: ``rows``, ``hint``)."""
    return kind(
        message,
        table=spec.name,
        source=source.name,
        column=column,
        numbering=source.numbering,
        **details,
    )


def _rows_where(frame: pl.DataFrame, predicate: pl.Expr) -> list[int]:
    return frame.filter(predicate).get_column(ROW).head(_MAX_ROWS_SHOWN).to_list()


#: What each column kind expects, as a type error says it, and the hint it gives.
_EXPECTED = {STRING: ("text", None), FLOAT: ("a number", None), DATE: ("a date", None),
             TIMESTAMP: ("an ISO 8601 timestamp", "timestamps are text like "
                         "2025-03-01T09:30:00Z or a datetime column")}  # fmt: skip


def _conversions(
    schema: pl.Schema,
    spec: TableSpec,
    source: Source,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> tuple[list[pl.Expr], list[tuple[str, str]]]:
    """The expressions that bring ``schema``'s columns to ``spec``'s types, and the parsed
    (column, kind) pairs whose values must be checked after conversion. Raises
    :class:`SchemaError` for a type that cannot be converted."""
    exprs: list[pl.Expr] = []
    checks: list[tuple[str, str]] = []  # (column, expected kind) to verify after conversion
    for col, kind in spec.columns.items():
        if col not in schema or kind not in _EXPECTED:
            continue
        dtype = schema[col]
        found = _conversion(
            pl.col(col), dtype, kind, (formats or {}).get(col, ()), zone_of(formats)
        )
        if found is None:
            expected, hint = _EXPECTED[kind]
            if kind == TIMESTAMP and dtype.is_integer():  # epoch s / ms / us (GA4: us)
                hint = ("an epoch time? 10 digits are seconds, 13 milliseconds, 16 "
                        f"microseconds (GA4); convert it: {epoch_recipe('us')}")
            raise _error(
                SchemaError, f"expected {expected}, found {dtype}", spec, source, col, hint=hint
            )
        expr, parsed = found
        if expr is not None:
            exprs.append(expr)
        if parsed:
            checks.append((col, kind))
    return exprs, checks


def _conversion(
    c: pl.Expr, dtype: pl.DataType, kind: str, formats: Sequence[str] = (), zone: str | None = None
) -> tuple[pl.Expr | None, bool] | None:
    """How a column of ``dtype`` becomes ``kind``: the expression (None when it already is)
    and whether it parses text (its values are then checked); None when it cannot. Text
    dates try ``formats`` (strftime) first, then ISO 8601."""
    if kind == STRING:
        if dtype == pl.String:
            return None, False
        if (
            dtype.is_numeric()
            or dtype in (pl.Boolean, pl.Categorical, pl.Null)
            or isinstance(dtype, pl.Enum)
        ):
            return c.cast(pl.String), False
    elif kind == FLOAT:
        if dtype == pl.Float64:
            return None, False
        if dtype == pl.String:
            return c.str.strip_chars().cast(pl.Float64, strict=False), True
        if dtype.is_numeric() or dtype in (pl.Null, pl.Boolean):
            return c.cast(pl.Float64), False
    elif kind == TIMESTAMP:
        return timestamp_conversion(c, dtype, formats, zone)
    elif kind == DATE:
        if dtype == pl.Date:
            return None, False
        if isinstance(dtype, pl.Datetime):
            return c.dt.date(), False
        if dtype == pl.String:
            return parse_date(c, formats), True
    return None


def _normalise_types(
    frame: pl.DataFrame,
    spec: TableSpec,
    source: Source,
    formats: Mapping[str, Sequence[str]] | None = None,
    money: dict[str, tuple[int, str]] | None = None,  # filled: the values read as money
) -> pl.DataFrame:
    exprs, checks = _conversions(frame.schema, spec, source, formats)
    if not exprs:
        return frame
    converted = frame.with_columns(exprs)
    for col, kind in checks:
        if kind == FLOAT:  # '$7,880.74'; '4.744' in a ';' file; a decimal comma (option)
            converted = read_number(frame, converted, ROW, col, spec.name, source, money, formats)
        check_parsed(
            frame.get_column(col),
            converted.get_column(col),
            converted.get_column(ROW),
            kind=kind,
            table=spec.name,
            source=source,
            column=col,
            max_rows=_MAX_ROWS_SHOWN,
            formats=(formats or {}).get(col, ()),
            zone=zone_of(formats),
        )
    return converted


#: what to write in an empty required cell, where there is an obvious answer
_EMPTY_HINTS = {("spend", "amount"): "a month without spend: write 0"}


def _check_not_null(frame: pl.DataFrame, spec: TableSpec, source: Source) -> None:
    for col in spec.not_null:
        if col in frame.columns and frame.get_column(col).null_count():
            raise _error(
                NullValueError,
                f"{frame.get_column(col).null_count():,} empty value(s) in a required column",
                spec, source, col,
                rows=_rows_where(frame, pl.col(col).is_null()),
                hint=_EMPTY_HINTS.get((spec.name, col)),
            )  # fmt: skip
