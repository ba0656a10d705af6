"""Reading one CRM export: every cell as text, blanks as missing, 1-based file lines, the
user's own column names found from a list of aliases, and dates, numbers and booleans parsed
with errors that name the file, the column and the lines.

Everything the importers read goes through :func:`read_export` and the ``*_of`` expressions
below, so the CSV reading and the timestamp parsing sit in one place.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.exceptions import ColumnNotFoundError, InputError, SchemaError, did_you_mean
from attribution.importers._amount_hints import amount_hint
from attribution.importers._date_checks import YEARS, YEARS_HINT, dst_gap, refuse_doubled_cr
from attribution.inputs._money import (
    DOT_IS_DECIMAL,
    DOT_THOUSANDS_LOOK,
    comma_decimal,
    dot_decimal,
    money_text,
    sign_mix,
)
from attribution.inputs._read_errors import (
    check_text_file,
    csv_separator,
    header_as_written,
    read_failure,
)
from attribution.inputs._reading import (  # _with_format: one pattern, the shared semantics
    END_OF_DAY,
    END_OF_DAY_OFFSET,
    NAIVE_ZONE,
    US_TIMESTAMP_FORMATS,
    _with_format,
    blank_as_null,
    parse_timestamp,
)
from attribution.inputs._schema import UTC_DATETIME
from attribution.inputs._timestamp_hints import SLASH_DATE, timestamp_hint

if TYPE_CHECKING:
    from attribution.importers._result import ImportReport

#: The 1-based line of the file on which a row starts (the header is line 1).
LINE = "_line"
_MAX_LINES_SHOWN = 5

#: Timestamp patterns tried in order before ISO 8601: the shared US patterns of CRM exports
#: (Salesforce Data Loader and reports, HubSpot UI: ``2/21/2025 1:19 PM``) and their variants
#: with seconds.
DEFAULT_TIMESTAMP_FORMATS: tuple[str, ...] = (
    *US_TIMESTAMP_FORMATS,
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %H:%M:%S",
)

_TRUE = ["true", "t", "yes", "y", "1"]
_FALSE = ["false", "f", "no", "n", "0"]


@dataclass(frozen=True)
class Export:
    """One export file as read: text columns (blanks are null) and ``_line``."""

    label: str  # what the file is, e.g. "deals"
    path: Path
    frame: pl.DataFrame
    #: its ``a/b/yyyy`` date columns read month-first: column -> (dates, dates whose
    #: second number is above 12, so month-first for sure, an example); see
    #: :func:`ambiguous_dates_note`
    dates: dict[str, tuple[int, int, str]] = field(default_factory=dict, compare=False)
    #: date columns: column -> (values without a zone, with one, an example of each); see
    #: :func:`attribution.importers._zones.naive_zone_note`
    zones: dict[str, tuple[int, int, Any, Any]] = field(default_factory=dict, compare=False)
    #: rows whose every cell was empty (a blank line, ``,,,``): left out of ``frame`` and
    #: counted (:func:`drop_blank_rows`), never read as records without an id
    blank_rows: int = field(default=0, compare=False)
    #: headers written more than once (after the BOM and surrounding spaces are removed):
    #: header -> its 1-based column positions; the copies after the first are in ``frame``
    #: as ``"<header> (column <n>)"``, and reading such a column is an error
    #: (:func:`find_column`)
    duplicated: dict[str, list[int]] = field(default_factory=dict, compare=False)
    #: the cell separator: ``;`` for an unambiguous semicolon file (noted in the report)
    separator: str = field(default=",", compare=False)

    @property
    def name(self) -> str:
        return str(self.path)

    def column(self, aliases: Sequence[str], *, required: bool = True) -> str | None:
        """The file's column for one of ``aliases`` (exact, then case/space-insensitive)."""
        return find_column(self, aliases, required=required)

    def require(self, aliases: Sequence[str]) -> str:
        """The file's column for one of ``aliases``; missing: an error naming the file and
        the names looked for, with a did-you-mean."""
        found = find_column(self, aliases)
        assert found is not None  # find_column raises when required
        return found

    def require_either(
        self, found: Mapping[str, str | None], why: str = "", *, hint: str | None = None
    ) -> None:
        """``found`` maps fields to the file's columns for them (``None``: not in the file);
        when none is there, an error "needs A or B<why>" naming the first field."""
        if all(column is None for column in found.values()):
            raise ColumnNotFoundError(
                f"needs {' or '.join(found)}{why}",
                table=self.label,
                source=self.name,
                column=next(iter(found)),
                hint=hint,
            )

    def lines(self, mask: pl.Expr) -> list[int]:
        """The first file lines (1-based) of the rows where ``mask`` holds."""
        return self.frame.filter(mask).get_column(LINE).head(_MAX_LINES_SHOWN).to_list()


def read_export(
    path: str | Path,
    label: str,
    *,
    keep_blank_rows: bool = False,
    free_text: Sequence[str] = (),
    allow_empty: bool = False,
    skip_lines: int = 0,
    separator: str | None = None,
) -> Export:
    """Read a CSV export as text.

    Every cell is text; surrounding whitespace (NBSP included) is trimmed, and empty cells,
    quoted empty strings (``""``), whitespace-only cells and the null tokens (``N/A``,
    ``null``, padded or not) are missing (null), except that a column named in
    ``free_text`` (compared as :func:`find_column` does: the self-reported answer) keeps
    its tokens: the survey coder reads ``N/A`` as a don't-know answer. ``_line`` is
    the line the row starts on (quoted cells spanning lines are counted). Rows whose every
    cell is missing are left out and counted (:func:`drop_blank_rows`) unless
    ``keep_blank_rows`` (a reader that looks at them first, then drops them). A file with
    a header and no rows is an error unless ``allow_empty`` (a HubSpot portal without
    deals). ``skip_lines``: the lines above the header (a report's title lines,
    :func:`attribution.inputs._preamble.title_lines`), counted in ``_line``; ``separator``:
    the cells' (default: a tab in a ``.tsv``, else :func:`csv_separator`'s).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", table=label, source=str(path))
    if path.suffix.lower() in (".xlsx", ".xls"):
        raise InputError(
            "spreadsheets are not read",
            table=label,
            source=str(path),
            hint="export the records as CSV (HubSpot: Export > File format CSV)",
        )
    tsv = path.suffix.lower() == ".tsv"
    check_text_file(path, label)  # UTF-16, CR-only line ends: one line, no NUL printed
    refuse_doubled_cr(path, label)  # '\r\r\n': said, not Polars' message cut at the '\r'
    separator = separator or csv_separator(path, "tsv" if tsv else "csv")  # ';' from Excel
    try:  # UTF-8 only: a byte that is not is an error naming its line, never a U+FFFD stored
        raw = pl.read_csv(path, infer_schema=False, separator=separator, skip_lines=skip_lines)
    except OSError as exc:
        raise InputError(
            f"cannot read the file: {exc.strerror or exc}", table=label, source=str(path)
        ) from None
    except pl.exceptions.PolarsError as exc:
        raise read_failure(path, "tsv" if tsv else "csv", label, exc, separator) from None
    if raw.width == 0:
        raise InputError("the file is empty", table=label, source=str(path))
    raw, duplicated = _headers(raw)
    text = raw.columns
    answers = {c for c in text if c in free_text or _fold(c) in {_fold(f) for f in free_text}}
    # a row's first line: 2 + its index + the newlines inside the cells of the rows before it
    newlines = pl.sum_horizontal(
        [pl.col(c).str.count_matches("\n", literal=True).fill_null(0) for c in text]
    )
    frame = raw.select(
        (
            pl.int_range(pl.len(), dtype=pl.Int64)
            + 2
            + skip_lines
            + newlines.cum_sum().shift(1, fill_value=0).cast(pl.Int64)
        ).alias(LINE),
        *[blank_as_null(pl.col(c), tokens=c not in answers).str.strip_chars().alias(c)
          for c in text],
    )
    export = Export(label, path, frame, duplicated=duplicated, separator=separator)
    if frame.height == 0 and not allow_empty:
        raise InputError("the file has a header but no rows", table=label, source=str(path))
    refuse_rounded_ids(export)
    return export if keep_blank_rows else drop_blank_rows(export)


#: A header naming record ids: ``Record ID``, ``Associated Contact IDs``, ``ContactId``, ``Id``
_ID_HEADER = r"(?i:\bids?$|\bid\b|_ids?$|^vid$)|[a-z](Id|ID|Ids|IDs)$|^(Id|ID)$"
#: An id Excel wrote in scientific notation (``1.23457E+10``): rounded, its digits lost
_ROUNDED = r"(^|;)\s*\d(\.\d+)?[eE][+-]?\d+\s*(;|$)"


def refuse_rounded_ids(export: Export) -> None:
    """An id column holding a number in scientific notation (``4.5678E+10``: Excel opened
    the export and saved it, rounding every long id to 6 significant digits, so different
    records now share an id) is an error naming the file, the column and the lines."""
    for column in export.frame.columns:
        if column == LINE or not re.search(_ID_HEADER, column):
            continue
        _refuse(
            export,
            column,
            pl.col(column).str.contains(_ROUNDED),
            "{n} id(s) written in scientific notation, e.g. {example}, rounded by Excel (records "
            "that differ now share an id),",
            "export the file again without opening it in Excel, or format the id columns as "
            "Text before saving",
        )


def drop_blank_rows(export: Export) -> Export:
    """``export`` without its rows whose every cell is missing, counted in ``blank_rows``
    (the import report's drop "blank row (every cell empty)"); a file of blank rows only is
    an error, as one with a header only."""
    cells = [c for c in export.frame.columns if c != LINE]
    blank = pl.all_horizontal(pl.col(c).is_null() for c in cells)
    kept = export.frame.filter(~blank)
    if kept.height == export.frame.height:
        return export
    if kept.height == 0:
        raise InputError(
            f"the file has a header but no rows (only {export.frame.height:,} blank row(s))",
            table=export.label,
            source=export.name,
        )
    dropped = export.blank_rows + export.frame.height - kept.height
    return replace(export, frame=kept, blank_rows=dropped)


def _headers(raw: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, list[int]]]:
    """``raw`` with its headers as written (the BOM and surrounding spaces removed), its
    unnamed columns left out (an empty header cell: Excel leaves them after a deleted
    column; nothing can name them), and each header written more than once kept once under
    its name, its later copies as ``"<header> (column <n>)"``; returns the headers written
    more than once with their 1-based positions. (Polars names a repeated header
    ``<header>_duplicated_<n>``, and keeps the doubled quotes of a quoted header as
    written, so a doubled quote in a header is read as one quote.)"""
    # Polars keeps a quoted header's doubled quotes: 'Date entered ""Lead (...)""'
    written = [header_as_written(c.lstrip("\ufeff").strip()) for c in raw.columns]
    plain = set(written)
    for i, name in enumerate(written):
        base = re.sub(r"_duplicated_\d+$", "", name)
        if base != name and base in plain:
            written[i] = base
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(written):
        positions.setdefault(name, []).append(i + 1)
    names: dict[str, str] = {}
    for i, (column, name) in enumerate(zip(raw.columns, written, strict=True)):
        if name:
            names[column] = name if positions[name][0] == i + 1 else f"{name} (column {i + 1})"
    duplicated = {n: p for n, p in positions.items() if n and len(p) > 1}
    return raw.select(list(names)).rename(names), duplicated


def _fold(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def find_column(export: Export, aliases: Sequence[str], *, required: bool = True) -> str | None:
    """The export's column for the first alias present: exact name first, then ignoring
    case, spaces and punctuation (``Campaign.Type`` = ``Campaign Type`` = ``campaign_type``)."""
    columns = [c for c in export.frame.columns if c != LINE]
    for alias in aliases:
        if alias in columns:
            return _unique(export, alias)
    folded = {_fold(c): c for c in reversed(columns)}
    for alias in aliases:
        if _fold(alias) in folded:
            return _unique(export, folded[_fold(alias)])
    if required:
        raise ColumnNotFoundError(
            f"no column for {aliases[0]!r} (looked for {', '.join(map(repr, aliases))})",
            table=export.label,
            source=export.name,
            column=aliases[0],
            hint=did_you_mean(aliases[0], columns),
        )
    return None


def _unique(export: Export, column: str) -> str:
    """``column``, unless the file writes that header more than once: then which copy to
    read is the user's call, an error naming the file, the header and its positions."""
    if column in export.duplicated:
        shown = ", ".join(map(str, export.duplicated[column]))
        raise SchemaError(
            f"the header {column!r} is written {len(export.duplicated[column])} times "
            f"(columns {shown}): which one to read is ambiguous",
            table=export.label,
            source=export.name,
            column=column,
            hint="rename or delete the other copies, e.g. 'Amount (company currency)'",
        )
    return column


def _refuse(
    export: Export,
    column: str,
    mask: pl.Expr,
    what: str,
    hint: str | Callable[[Any], str],
    ours: str | None = None,
) -> None:
    """Raise a :class:`SchemaError` naming the file, ``column`` and the first file lines of
    the rows where ``mask`` holds (``what`` says what is wrong: "{n} ... {example}"; a
    callable ``hint`` is given the example, so the hint fits the value shown)."""
    count = export.frame.select(mask.fill_null(False).sum()).item()
    if count:
        example = export.frame.filter(mask).get_column(column).head(1).item()
        raise SchemaError(
            what.format(n=count, example=repr(example))
            + f" at file line(s) {', '.join(map(str, export.lines(mask)))}",
            table=export.label,
            source=export.name,
            column=ours or column,
            their_column=column,
            hint=hint(example) if callable(hint) else hint,
        )


def _bad(
    export: Export,
    column: str,
    parsed: pl.Expr,
    what: str,
    hint: str | Callable[[Any], str],
    ours: str | None,
) -> None:
    mask = pl.col(column).is_not_null() & parsed.is_null()
    text = "{n} value(s) cannot be read as " + what + ", e.g. {example},"
    _refuse(export, column, mask, text, hint, ours)


#: ISO 8601 forms of CRM exports, tried as single patterns before the shared parser's full
#: ISO 8601 set (HubSpot UI ``2025-02-21 13:19``, API ``2025-02-21T13:19:00.000Z``)
_ISO_FAST = ("%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%.fZ", "%Y-%m-%d")


def _epoch_ms(text: pl.Expr) -> pl.Expr:
    return pl.when(text.str.contains(r"^\d{13}$")).then(
        pl.from_epoch(text.cast(pl.Int64, strict=False), time_unit="ms").dt.replace_time_zone("UTC")
    )


def _parse_series(raw: pl.Series, formats: Sequence[str], zone: str | None = None) -> pl.Series:
    """Each step reads only the values no earlier step read: the patterns one at a time, then
    the shared parser's ISO 8601 set, then epoch milliseconds. The same result as trying them
    all on every value (the first that reads a value wins), at the cost of about one parse
    when a column has one format (1M dates: 0.3 s instead of 7 s)."""
    text = raw.str.strip_chars()
    out = pl.Series(raw.name, [], dtype=UTC_DATETIME).extend_constant(None, raw.len())
    todo = text.is_not_null() & (text.str.len_bytes() > 0)
    steps = [
        *[lambda e, f=fmt: _with_format(e, f, zone) for fmt in (*formats, *_ISO_FAST)],
        lambda e: parse_timestamp(e, (), zone),
        _epoch_ms,
    ]
    for step in steps:
        rows = todo.arg_true()
        if rows.len() == 0:
            break
        parsed = pl.select(step(pl.lit(text.gather(rows))).cast(UTC_DATETIME)).to_series()
        read = parsed.is_not_null()
        out.scatter(rows.filter(read), parsed.filter(read))
        todo.scatter(rows.filter(read), False)
    return out


def timestamp_expr(column: str, formats: Sequence[str] = DEFAULT_TIMESTAMP_FORMATS) -> pl.Expr:
    """Text -> UTC datetime: each strftime pattern in order, then ISO 8601 (the shared parser
    of :mod:`attribution.inputs._reading`), then epoch milliseconds (13 digits, as HubSpot's
    API writes them). Naive values are taken as UTC, or read in ``import --timezone``'s zone
    (:data:`~attribution.inputs._reading.NAIVE_ZONE`); a value nothing reads is null."""
    zone = NAIVE_ZONE.get()
    return pl.col(column).map_batches(
        lambda s: _parse_series(s, tuple(formats), zone), return_dtype=UTC_DATETIME
    )


def parse_timestamps(
    export: Export,
    column: str,
    formats: Sequence[str] = DEFAULT_TIMESTAMP_FORMATS,
    ours: str | None = None,
) -> pl.Expr:
    """``timestamp_expr`` after checking every non-blank value parses (else a
    :class:`SchemaError` naming the file, the column and the lines)."""
    from attribution.importers._zones import count_zones

    expr = timestamp_expr(column, formats)
    tried = "tried " + ", ".join(formats) + " and ISO 8601; give yours with --timestamp-format"
    read = pl.lit(export.frame.select(expr).to_series())  # parsed once for both checks
    gap = partial(dst_gap, formats=(*formats, *_ISO_FAST), zone=NAIVE_ZONE.get())
    _bad(export, column, read, "a date/time", lambda ex: gap(ex) or timestamp_hint(ex, tried),
         ours)  # fmt: skip
    year = read.dt.year()
    _refuse(export, column, (year < YEARS[0]) | (year >= YEARS[1]), "{n} date(s) before "
            f"{YEARS[0]} or from {YEARS[1]} on, e.g. {{example}},", YEARS_HINT, ours)  # fmt: skip
    _note_ambiguous_dates(export, column, formats)
    count_zones(export, column)
    return expr


def parse_close_dates(
    export: Export,
    column: str,
    formats: Sequence[str] = DEFAULT_TIMESTAMP_FORMATS,
    ours: str | None = None,
) -> pl.Expr:
    """:func:`parse_timestamps` of a deal's close date, where a date without a time of day
    (``3/6/2025``, ``2025-03-06``: Salesforce's ``CloseDate`` is a date, and HubSpot deal
    exports often show one) is the **end** of that day
    (:data:`~attribution.inputs.END_OF_DAY`), not its midnight: a deal created and won the
    same day closes after its creation and after that day's touches, which midnight would
    put before it and leave out of its journey."""
    parsed = parse_timestamps(export, column, formats, ours)
    end = parsed + END_OF_DAY_OFFSET
    return pl.when(date_only(column)).then(end).otherwise(parsed)


def date_only(column: str) -> pl.Expr:
    """A date without a time of day (no ``h:mm``, not 13-digit epoch milliseconds)."""
    text = pl.col(column)
    return ~text.str.contains(r"\d:\d\d") & ~text.str.contains(r"^\d{13}$")


def count_close_dates(
    report: ImportReport,
    export: Export,
    column: str,
    frame: pl.DataFrame,
    closed: str,
    created: str,
    outcome: str,
) -> None:
    """The import report's counts of a deal file's close dates: those without a time of day,
    read as the end of their day (``close_dates_end_of_day``), and the won / lost deals
    that still close before their own create date (``deals_closed_before_created``: their
    conversion precedes their opportunity event), each with a note."""
    end_of_day = export.frame.select((pl.col(column).is_not_null() & date_only(column)).sum())
    n = int(end_of_day.item())
    report.counts["close_dates_end_of_day"] = report.counts.get("close_dates_end_of_day", 0) + n
    if n:
        report.notes.append(
            f"{export.label}: {n:,} close date(s) in '{column}' have no time of day: read as "
            f"the end of that day ({END_OF_DAY.isoformat()} {NAIVE_ZONE.get() or 'UTC'}), so "
            "a deal won the day it was created closes after it and after that day's touches"
        )
    early = frame.filter(pl.col(outcome).is_not_null() & (pl.col(closed) < pl.col(created))).height
    report.counts["deals_closed_before_created"] = early
    if early:
        report.notes.append(
            f"{export.label}: {early:,} won / lost deal(s) close before their own create date "
            f"('{column}' before the create date): their conversion comes before their "
            "opportunity event"
        )


def _note_ambiguous_dates(export: Export, column: str, formats: Sequence[str]) -> None:
    """Count the ``a/b/yyyy`` dates of ``column`` a month-first pattern read, and those
    whose second number is above 12 (month-first for sure), for
    :func:`ambiguous_dates_note`."""
    if not any(f.startswith("%m") for f in formats):
        return
    groups = pl.col(column).str.extract_groups(SLASH_DATE)
    n, sure = export.frame.select(
        groups.struct.field("1").is_not_null().sum().alias("n"),
        (groups.struct.field("3").cast(pl.Int64) > 12).sum().alias("sure"),
    ).row(0)
    if n:
        example = export.frame.filter(pl.col(column).str.contains(SLASH_DATE))
        export.dates[column] = (n, sure, str(example.get_column(column).item(0)))


def ambiguous_dates_note(exports: Sequence[Export]) -> str | None:
    """A note when the import read ``a/b/yyyy`` dates month-first (the US default of CRM
    exports) and none of them had a second number above 12 to show that order: day-first
    dates (05/01 for 5 January) would have been read as well, and wrongly (May 1). A
    day-first date with a day above 12 is an error already (no month 13)."""
    found = [(e.label, c, *v) for e in exports for c, v in e.dates.items()]
    if not found or any(sure for *_, sure, _ in found):
        return None
    total = sum(n for _, _, n, _, _ in found)
    label, column, _, _, example = found[0]
    return (
        f"{total:,} date(s) in {len(found)} column(s) (e.g. {label} '{column}': {example!r}) "
        "were read month-first, as US CRM exports write them; no date in the import has a "
        "second number above 12 to confirm that order: if this export writes day/month, "
        "import again with --timestamp-format '%d/%m/%Y %H:%M' --timestamp-format '%d/%m/%Y'"
    )


def parse_amounts(
    export: Export,
    column: str | None,
    ours: str | None = "value",
    *,
    decimal_comma: bool = False,
) -> pl.Expr:
    """Text -> Float64; a value that is not an amount, or a negative one, is an error naming
    the file, the column and the lines. No column: null amounts.

    Default: a decimal point, with ``,`` (or a space) between groups of exactly three digits
    (``24,000.00``, ``$1,500.50``, ``12 000``). ``decimal_comma`` (``--decimal-comma``): a
    decimal comma, with ``.`` (or a space) between groups of three (``24.000,00``, ``1,5``,
    ``12 000,00``). Anything else (``1,5`` or ``24.000,00`` by default, ``1,500.50`` with a
    decimal comma) is an error whose hint names the other form, never a misread amount; a
    value such as ``1.234`` (one or more ``.ddd`` groups) is an error by default unless
    another amount of the column has a decimal point (``.50``) or comma groups.
    """
    if column is None:
        return pl.lit(None, pl.Float64)
    # a sign, then ``$`` and spaces around it: ``-$500``, ``$ 24,000``
    # the forms: attribution.inputs._money, one reading (codes: importers/_currency.py's)
    text = money_text(pl.col(column), codes=False)
    if decimal_comma:
        valid, number = comma_decimal(text)
        hint = (
            "with --decimal-comma amounts are written 24.000,00 / 1,5 / 12 000,00 (dots or "
            "spaces between groups of three digits); values such as 24,000.00 need the import "
            "without --decimal-comma"
        )
    else:
        valid, number = dot_decimal(text)
        if export.separator == ";":  # Excel in a comma-decimal locale: '1,500' is 1.5 there
            valid = valid & ~text.str.contains(",", literal=True)
        hint = (
            "amounts are written 25000, 25000.50 or 25,000.50 (commas only between groups of "
            "three digits); an export with decimal commas (24.000,00, 1,5; any comma in a "
            "';'-separated file) needs --decimal-comma (decimal_comma=True)"
        )
    expr = pl.when(valid).then(number.cast(pl.Float64, strict=False))
    _bad(export, column, expr, "an amount", lambda ex: amount_hint(ex, hint), ours)
    main, other = sign_mix(export.frame.get_column(column), codes=False)  # '£' beside '$
    _refuse(
        export, column, pl.lit(other),
        "{n} amount(s) written with another currency sign (e.g. {example}) than the "
        f"column's other amounts ('{main}'), which summed as one currency would be wrong,",
        "write the amounts of one currency only, or give each its currency in the "
        "export's currency column (and --currency-rates to convert them)",
        ours,
    )  # fmt: skip
    if not decimal_comma:
        decided = export.frame.select(text.str.contains(DOT_IS_DECIMAL).any()).item()
        if not decided:
            _refuse(
                export,
                column,
                text.str.contains(DOT_THOUSANDS_LOOK),
                "{n} amount(s) such as {example} read either way (a decimal point or a "
                "thousands separator) and no other amount of the column tells which,",
                "give --decimal-comma (decimal_comma=True) if the dots separate thousands "
                "(1.234 = 1234); if they are decimal points, write the amounts with two "
                "decimals (1.23) or without the dot",
                ours,
            )
    _refuse(
        export,
        column,
        expr < 0,
        "{n} negative amount(s), e.g. {example},",
        "deal amounts must be >= 0 (a refund is not a negative deal)",
        ours,
    )
    return expr


def parse_booleans(export: Export, column: str, ours: str | None = None) -> pl.Expr:
    """Text -> Boolean (true/false, yes/no, 1/0, any case); anything else is an error."""
    low = pl.col(column).str.to_lowercase()
    expr = pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False)
    _bad(export, column, expr, "true/false", "use true / false", ours)
    return expr


def split_ids(column: str) -> pl.Expr:
    """``;``-separated ids (HubSpot association columns) -> a list of trimmed, non-empty ids."""
    return (
        pl.col(column)
        .str.split(";")
        .list.eval(pl.element().str.strip_chars().replace("", None).drop_nulls())
        .fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
