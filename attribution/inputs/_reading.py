"""Reading real exports: missing values, timestamps in the user's formats, errors located in
the user's file.

These are the pieces every reader of user files shares (the table loader of
:mod:`attribution.inputs._schema` and the CRM importers):

- :func:`blank_as_null`: a quoted empty string (``""``), a cell of whitespace only
  (spaces, tabs, NBSP) or a null token (:data:`NULL_TOKENS`: ``null``, ``N/A``, ``NaN``...)
  is a missing value, as an empty cell is.
- :func:`parse_timestamp` / :func:`parse_date`: text to UTC datetimes / dates, trying the
  user's strftime patterns in order (``--timestamp-format``, ``[formats]``), then ISO 8601;
  a date also accepts a month (``2025-01`` = 1 January 2025).
- :func:`check_parsed`: the values a parse could not read, as a :class:`SchemaError` naming
  the table, the file, the user's column beside ours and the file lines.
- :func:`locate`: an :class:`InputError` about a table, given the user's column name and the
  source's own line numbering (1-based file lines for CSV / NDJSON).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any, Final

import polars as pl

from attribution.exceptions import InputError, SchemaError
from attribution.inputs._read_errors import number_hint
from attribution.inputs._sources import Source
from attribution.inputs._timestamp_hints import FIRST_YEAR, timestamp_hint
from attribution.inputs._total_rows import is_total
from attribution.inputs._warehouse_stamps import WAREHOUSE_FORMS

#: The US formats of CRM exports (Salesforce Data Loader, HubSpot UI): "2/21/2025 1:19 PM",
#: "2/21/2025". Never guessed: give them with ``--timestamp-format`` or ``[formats]``.
US_TIMESTAMP_FORMATS = ("%m/%d/%Y %I:%M %p", "%m/%d/%Y %H:%M", "%m/%d/%Y")



#: The time of day a **date alone** stands for where it is a deal's close or a conversion:
#: the *end* of that day (23:59:59.999999 UTC), so a deal closed on a date comes after that
#: day's touches and after an opportunity created the same day. The one rule for ``attribution
#: import`` (close dates), scoring requests (the library's and the service's) and the
#: small-journey scorer; other timestamps sent as a date are that day's midnight.
END_OF_DAY: Final = time(23, 59, 59, 999_999)
#: :data:`END_OF_DAY` as the time from that day's midnight.
END_OF_DAY_OFFSET: Final = datetime.combine(datetime.min, END_OF_DAY) - datetime.min
assert END_OF_DAY_OFFSET < timedelta(days=1)



#: Text that stands for a missing value in exports (BI tools, Excel, pandas' ``astype(str)``):
#: a cell that is exactly one of these is missing, as an empty cell is. ``NA`` is not one
#: (North America, a region).
NULL_TOKENS = (
    "null", "NULL", "Null", "none", "None", "NONE", "nan", "NaN", "NAN", "n/a", "N/A", "#N/A", "-",
)  # fmt: skip


#: Free-text columns, where a null token is an answer: the survey coder reads ``N/A`` or
#: ``-`` as a don't-know answer (coded ``other``), and ``None`` may mean "none of these".
FREE_TEXT = frozenset({"response"})


#: Characters a cell may hold and still be blank: Unicode's White_Space (what ``str.strip``
#: and Polars' ``strip_chars()`` remove: spaces, tabs, NBSP, ...) and the invisible format
#: characters an editor or a copy from a web page leaves: zero-width space, non-joiner and
#: joiner, word joiner, and a byte-order mark inside the text. A channel, id, stage or
#: campaign of only these is missing, never a name nobody can see.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"
BLANK_CHARS = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000" + INVISIBLE
)


def is_blank(value: str) -> bool:
    """True when ``value`` holds nothing but :data:`BLANK_CHARS` (the rule of
    :func:`blank_as_null`, for one Python string: scoring requests)."""
    return not value.strip(BLANK_CHARS)


def blank_as_null(expr: pl.Expr, *, tokens: bool = True) -> pl.Expr:
    """``expr`` (text) with empty and blank values (:data:`BLANK_CHARS` only: whitespace,
    NBSP, zero-width characters) and, unless ``tokens=False`` (free text), the
    :data:`NULL_TOKENS` as null, padded or not (`` N/A `` is ``N/A``)."""
    stripped = expr.str.strip_chars(BLANK_CHARS)
    missing = stripped.str.len_bytes() == 0
    if tokens:
        missing = missing | stripped.is_in(NULL_TOKENS)
    return pl.when(missing).then(None).otherwise(expr)


def token_free(low: object, high: object) -> bool:
    """True when text values bounded by ``low`` and ``high`` cannot be a :data:`NULL_TOKENS`
    value, padded on the right or not (every token sorts outside the bounds, and ``low`` does
    not start with one: ids such as ``C0001``-``C9999``)."""
    return (
        isinstance(low, str)
        and isinstance(high, str)
        and all(
            (token < low and not low.startswith(token)) or token > high for token in NULL_TOKENS
        )
    )


def blanks_as_null(frame: pl.LazyFrame, columns: Sequence[str] | None = None) -> pl.LazyFrame:
    """Every text column of ``frame`` (or those of ``columns`` that are text) with blank
    values as null; other columns untouched. Lazy: it fuses into the read."""
    schema = frame.collect_schema()
    names = [c for c in (schema.names() if columns is None else columns) if c in schema]
    text = [c for c in names if schema[c] == pl.String]
    if not text:
        return frame
    return frame.with_columns(
        blank_as_null(pl.col(c), tokens=c not in FREE_TEXT).alias(c) for c in text
    )


#: Every ASCII whitespace character sorts below ``"!"`` and every other Unicode White_Space
#: character at or above U+0085 (NEL): a text column whose values all lie in between
#: (``"!" <= min`` and ``max < "\u0085"``, in code point order, which is UTF-8's byte order)
#: holds no blank value, since a blank is ``""`` or starts with a whitespace character.
_LOWEST_NON_BLANK, _FIRST_NON_ASCII_SPACE = "!", "\u0085"


def blank_free(low: object, high: object) -> bool:
    """True when text values bounded by ``low`` and ``high`` (a column's min and max, or
    bounds of them such as Parquet statistics) cannot hold a blank value."""
    return (
        isinstance(low, str)
        and isinstance(high, str)
        and low >= _LOWEST_NON_BLANK
        and high < _FIRST_NON_ASCII_SPACE
    )


def aligned_row_index(frame: pl.DataFrame, row: str) -> pl.DataFrame:
    """``frame`` with its ``row`` column (the row numbers 0, 1, ...) cut into the same chunks
    as the other columns when those share one layout. Collected from a frame in memory, the
    row index came out in other chunks than the data (12 against 13 at 1M touches), and
    every later step that selects columns together (the campaign key of the validate stage,
    gathers) realigned them by copying: 0.7 s of CPU at 10M touches, which a file's read,
    aligned already, never paid. Rebuilding the index costs one pass over a column of
    integers."""
    index = frame.get_column(row)
    layouts = {
        tuple(chunk.len() for chunk in frame.get_column(c).get_chunks())
        for c in frame.columns
        if c != row
    }
    if len(layouts) != 1:
        return frame
    (lengths,) = layouts
    if tuple(chunk.len() for chunk in index.get_chunks()) == lengths or len(lengths) < 2:
        return frame
    ends = list(itertools.accumulate(lengths))
    pieces = [
        pl.int_range(end - length, end, dtype=pl.Int64, eager=True)
        for end, length in zip(ends, lengths, strict=True)
    ]
    return frame.with_columns(pl.concat(pieces, rechunk=False).alias(row))


def parquet_column_statistics(path: Path, columns: Sequence[str]) -> Iterator[tuple[str, Any]]:
    """``(column, statistics)`` of every row group's chunk of each of ``columns`` (file
    names) in the Parquet file's footer (about 2 ms for a 10M-row file); the statistics are
    None where a chunk has none. Nothing when the footer cannot be read."""
    import pyarrow.parquet as pq

    try:
        meta = pq.read_metadata(path)
    except (OSError, ValueError):  # pragma: no cover - the scan read this file already
        return
    wanted = set(columns)
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        for i in range(group.num_columns):
            chunk = group.column(i)
            if chunk.path_in_schema in wanted:
                yield chunk.path_in_schema, chunk.statistics


def parquet_text_bounds(path: Path, columns: Sequence[str]) -> dict[str, tuple[str, str]]:
    """The bounds of each of ``columns`` (file names) that the Parquet file's statistics
    give in every row group (:func:`parquet_column_statistics`). Columns without statistics
    in some row group, or not text, are left out. Only byte-array statistics are read as
    values: pyarrow boxes a timestamp's as a datetime through pandas, whose import (0.3-0.5
    s, where pandas is installed) the load stage then paid."""
    bounds: dict[str, tuple[str, str]] = {}
    missing: set[str] = set()
    for name, stats in parquet_column_statistics(path, columns):
        if name in missing:
            continue
        low = high = None
        if stats is not None and stats.has_min_max and stats.physical_type == "BYTE_ARRAY":
            low, high = stats.min, stats.max
        if not isinstance(low, str) or not isinstance(high, str):
            missing.add(name)
            bounds.pop(name, None)
            continue
        if name in bounds:
            low, high = min(bounds[name][0], low), max(bounds[name][1], high)
        bounds[name] = (low, high)
    return bounds


def text_bounds(
    frame: pl.DataFrame,
    columns: Sequence[str],
    known: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, tuple[Any, Any]]:
    """Bounds of those of ``columns`` that are text: ``known`` ones (say, by Parquet
    statistics), else the column's min and max (one pass of string comparisons)."""
    text = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    bounds: dict[str, tuple[Any, Any]] = {c: b for c, b in (known or {}).items() if c in text}
    unsure = [c for c in text if c not in bounds]
    if unsure and frame.height:
        ends = frame.select(
            *(pl.col(c).min().alias(f"{i}_min") for i, c in enumerate(unsure)),
            *(pl.col(c).max().alias(f"{i}_max") for i, c in enumerate(unsure)),
        ).row(0)
        bounds.update({c: (ends[i], ends[len(unsure) + i]) for i, c in enumerate(unsure)})
    return bounds


def frame_blanks_as_null(
    frame: pl.DataFrame,
    columns: Sequence[str],
    known: Mapping[str, tuple[str, str]] | None = None,
    spaceless: Collection[str] = (),
) -> pl.DataFrame:
    """:func:`blanks_as_null` on a collected ``frame``, for those of ``columns`` that are
    text, where it may change something (null tokens: not in :data:`FREE_TEXT`). Each
    column's bounds (:func:`text_bounds`: ``known``, else its min and max, one pass of
    string comparisons: 0.7 s of CPU for 5 columns of 10M values, where stripping every
    value to test it took 1.0 s) show whether it may hold a blank or a value with leading
    whitespace (:func:`blank_free`) or a null token (:func:`token_free`); a token is then
    looked for exactly (``is_in``: 35 ms for 12M values), with a value ending in a space
    (``ends_with``: 50 ms; a token padded on the right, ``N/A ``), and the replacement made
    only in the columns that hold one or may hold a blank. ``spaceless``: columns known to
    hold no whitespace (the control check's byte scan), where no value ends in a space."""
    text = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    if not text or frame.height == 0:
        return frame
    bounds = text_bounds(frame, text, known)
    blank = [c for c in text if not blank_free(*bounds[c])]
    maybe = [
        c for c in text if c not in blank and c not in FREE_TEXT and not token_free(*bounds[c])
    ]
    if maybe:
        found = frame.select(
            (
                pl.col(c).is_in(NULL_TOKENS)
                if c in spaceless
                else pl.col(c).is_in(NULL_TOKENS) | pl.col(c).str.ends_with(" ")
            ).any()
            for c in maybe
        ).row(0)
        blank += [c for c, hit in zip(maybe, found, strict=True) if hit]
    if not blank:
        return frame
    return frame.with_columns(
        blank_as_null(pl.col(c), tokens=c not in FREE_TEXT).alias(c) for c in blank
    )


def drop_blank_rows(
    frame: pl.DataFrame, lazy: pl.LazyFrame, unloaded: Sequence[str], row: str
) -> tuple[pl.DataFrame, int]:
    """``frame`` without its blank rows (every column of the table empty: a trailing empty
    line of a CSV, a row of separators only) and their number. Free when some loaded column
    has no null (``null_count`` is kept with the column); the unloaded columns are read for
    the candidate rows only (``row``: the column of 0-based source rows)."""
    content = [c for c in frame.columns if c != row]
    if not content or frame.height == 0 or min(frame[c].null_count() for c in content) == 0:
        return frame, 0
    rows = frame.filter(pl.all_horizontal(pl.col(c).is_null() for c in content)).get_column(row)
    if rows.len() and unloaded:
        extra = (
            lazy.select(unloaded)
            .with_row_index(row)
            .filter(pl.col(row).is_in(rows.cast(pl.get_index_type()).implode()))
            .filter(pl.all_horizontal(pl.col(c).is_null() for c in unloaded))
            .collect()
        )
        rows = extra.get_column(row).cast(pl.Int64)
    if not rows.len():
        return frame, 0
    return frame.filter(~pl.col(row).is_in(rows.implode())), rows.len()


def drop_duplicate_rows(frame: pl.DataFrame, row: str) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """``frame`` without the rows equal to an earlier one in every column but ``row`` (the
    source row numbers), and those rows (None when there are none)."""
    content = [c for c in frame.columns if c != row]
    if frame.height < 2 or not frame.select(content).is_duplicated().any():
        return frame, None
    kept = frame.unique(subset=content, keep="first", maintain_order=True)
    return kept, frame.join(kept.select(row), on=row, how="anti")


UTC_MICROS = pl.Datetime("us", "UTC")



def _early_years_as_null(parsed: pl.Series) -> pl.Series:
    return parsed.zip_with(parsed.dt.year() >= FIRST_YEAR, parsed.clear(parsed.len()))


def _four_digit_year(parsed: pl.Expr) -> pl.Expr:
    """``parsed`` with the dates before :data:`FIRST_YEAR` as null. On the parsed series (a
    ``when``/``then`` naming ``parsed`` twice would parse the text twice: 2x the cost)."""
    return parsed.map_batches(_early_years_as_null, is_elementwise=True)


#: The key under which a run's ``timezone`` (``--timezone``) travels with the timestamp
#: formats, from :class:`attribution.RunOptions` to every reader of a timestamp column.
TIMEZONE_KEY = "@timezone"


#: The zone ``attribution import --timezone`` reads naive CRM dates in (None: UTC): set
#: around an import by :func:`naive_zone`, read by the importers when they build their
#: timestamp expressions (in the caller's thread, not in Polars' workers).
NAIVE_ZONE: ContextVar[str | None] = ContextVar("attribution_naive_zone", default=None)


@contextmanager
def naive_zone(zone: str | None) -> Iterator[None]:
    """Within the block, the importers read naive timestamps in ``zone``."""
    token = NAIVE_ZONE.set(zone)
    try:
        yield
    finally:
        NAIVE_ZONE.reset(token)


def zone_of(formats: Mapping[str, Sequence[str]] | None) -> str | None:
    """The zone naive timestamps are read in (:data:`TIMEZONE_KEY` of ``formats``), None
    for UTC."""
    zones = (formats or {}).get(TIMEZONE_KEY) or ()
    return zones[0] if zones else None


def naive_in(parsed: pl.Expr, zone: str | None = None) -> pl.Expr:
    """Naive datetimes ``parsed`` as UTC: read in ``zone`` (an IANA name, ``--timezone``)
    and converted, or taken as UTC without one. A local time a daylight-saving change skips
    (02:30 on the spring-forward night) does not exist: null, so an error names its line;
    one it repeats (the autumn night's 01:30) is read as the first of the two."""
    if zone is None:
        return parsed.dt.replace_time_zone("UTC")
    return parsed.dt.replace_time_zone(
        zone, ambiguous="earliest", non_existent="null"
    ).dt.convert_time_zone("UTC")


def _iso_forms(text: pl.Expr, zone: str | None = None) -> pl.Expr:
    iso = text.str.replace(r"Z$", "+00:00").str.replace(" ", "T", literal=True)
    return pl.coalesce(
        iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_zone="UTC"),
        naive_in(iso.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f", strict=False), zone),
        iso.str.to_datetime("%Y-%m-%dT%H:%M%z", strict=False, time_zone="UTC"),
        naive_in(iso.str.to_datetime("%Y-%m-%dT%H:%M", strict=False), zone),
        naive_in(iso.str.to_datetime("%Y-%m-%d", strict=False), zone),
    ).dt.cast_time_unit("us")


def _second_read(pair: pl.Series, zone: str | None = None) -> pl.Series:
    """The ISO 8601 reading of ``pair`` (a struct of the text and its first reading), with
    the values the first reading left null read again in :data:`WAREHOUSE_FORMS`: only
    those, so a column of ordinary ISO text pays no second pass (a regex over 10M values
    costs about 0.7 s of CPU)."""
    text, parsed = pair.struct.unnest().get_columns()
    unread = parsed.is_null() & text.is_not_null()
    if not unread.any():
        return parsed
    where = unread.arg_true()
    fixed = pl.select(pl.lit(text.gather(where)).alias("t")).lazy()
    for pattern, replacement in WAREHOUSE_FORMS:
        fixed = fixed.with_columns(pl.col("t").str.replace(pattern, replacement))
    again = fixed.select(_iso_forms(pl.col("t"), zone)).collect().to_series()
    return parsed.scatter(where, again)


def _iso_timestamp(text: pl.Expr, zone: str | None = None) -> pl.Expr:
    # the struct takes its first field's name: the column's own, kept by the result
    pair = pl.struct(text, _iso_forms(text, zone).alias("_attribution_iso"))
    return _four_digit_year(
        pair.map_batches(
            functools.partial(_second_read, zone=zone), return_dtype=UTC_MICROS, is_elementwise=True
        )
    )


def _with_format(text: pl.Expr, fmt: str, zone: str | None = None) -> pl.Expr:
    """One strftime pattern: aware results converted to UTC, naive ones read in ``zone``
    (:func:`naive_in`; UTC without one). A pattern ending in a literal ``Z`` is UTC. A
    ``%Y`` that read fewer than four digits (a year before :data:`FIRST_YEAR`) reads
    nothing."""
    if fmt.endswith("Z") and not fmt.endswith("%Z"):
        zone = None  # '...%SZ': the Z says UTC
    if "%z" in fmt or "%Z" in fmt:
        parsed = text.str.to_datetime(fmt, strict=False, time_zone="UTC")
    elif any(f"%{c}" in fmt for c in "HIMSTRcrX"):  # a time part
        parsed = naive_in(text.str.to_datetime(fmt, strict=False), zone)
    else:
        parsed = naive_in(text.str.to_date(fmt, strict=False).cast(pl.Datetime("us")), zone)
    return _four_digit_year(parsed) if "%Y" in fmt or "%F" in fmt else parsed


def parse_timestamp(
    expr: pl.Expr, formats: Sequence[str] = (), zone: str | None = None
) -> pl.Expr:
    """Text -> UTC datetime (µs): each of ``formats`` (strftime) in order, then ISO 8601.

    Aware values are converted to UTC, naive ones read in ``zone`` (an IANA name:
    ``--timezone``) or, without one, taken as UTC. Blank text gives null; text no pattern
    reads gives null too (see :func:`check_parsed`).

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.inputs import parse_timestamp
    >>> s = pl.Series(["2/21/2025 1:19 PM", "2025-02-22T08:00:00Z", " "])
    >>> parsed = parse_timestamp(pl.lit(s), ["%m/%d/%Y %I:%M %p"])
    >>> pl.select(parsed.dt.to_string("%Y-%m-%d %H:%M")).to_series().to_list()
    ['2025-02-21 13:19', '2025-02-22 08:00', None]
    """
    text = expr.str.strip_chars()
    tried = [_with_format(text, fmt, zone).dt.cast_time_unit("us") for fmt in formats]
    return pl.coalesce(*tried, _iso_timestamp(text, zone).dt.cast_time_unit("us"))


def timestamp_conversion(
    c: pl.Expr, dtype: pl.DataType, formats: Sequence[str] = (), zone: str | None = None
) -> tuple[pl.Expr | None, bool] | None:
    """How a column of ``dtype`` becomes a UTC timestamp (the loader's ``_conversion``): the
    expression (None when it is one already) and whether its values need checking (text,
    or naive values read in ``zone``, where a skipped hour reads nothing); None when it
    cannot."""
    if isinstance(dtype, pl.Datetime):
        if dtype == UTC_MICROS:
            return None, False
        if dtype.time_zone is None:
            return naive_in(c.dt.cast_time_unit("us"), zone), zone is not None
        return c.dt.convert_time_zone("UTC").dt.cast_time_unit("us"), False
    if dtype == pl.Date:
        return naive_in(c.cast(pl.Datetime("us")), zone), zone is not None
    if dtype == pl.String:
        return parse_timestamp(c, formats, zone), True
    if dtype == pl.Null:
        return c.cast(UTC_MICROS), False
    return None


def parse_date(expr: pl.Expr, formats: Sequence[str] = ()) -> pl.Expr:
    """Text -> date: as :func:`parse_timestamp`, and a month ``2025-01`` is its first day."""
    text = expr.str.strip_chars()
    padded = text.str.replace(r"^(\d{4})-(\d)$", "${1}-0${2}")
    month = pl.when(padded.str.contains(r"^\d{4}-\d{2}$")).then(
        padded.str.to_date("%Y-%m", strict=False)
    )
    return pl.coalesce(month, parse_timestamp(text, formats).dt.date())


def locate(
    exc: InputError, source: Source | None, names: Mapping[str, str] | None = None
) -> InputError:
    """``exc`` with the source's row numbering (1-based file lines for CSV / NDJSON) and the
    user's name of its column (``names``: our column -> theirs), when it is about
    ``source``."""
    if source is None or (exc.source is not None and exc.source != source.name):
        return exc
    changes: dict[str, object] = {}
    if exc.numbering is None and source.numbering is not None:
        changes["numbering"] = source.numbering
    theirs = (names or {}).get(exc.column or "")
    if exc.their_column is None and theirs:
        changes["their_column"] = theirs
    if exc.source is None:
        changes["source"] = source.name
    return exc.replace(**changes) if changes else exc


def check_parsed(
    raw: pl.Series,
    parsed: pl.Series,
    rows: pl.Series,
    *,
    kind: str,
    table: str,
    source: Source | None,
    column: str,
    their_column: str | None = None,
    max_rows: int = 5,
    formats: Sequence[str] = (),
    zone: str | None = None,
) -> None:
    """Raise :class:`SchemaError` when a non-blank ``raw`` value gave null in ``parsed``.

    ``rows`` holds the 0-based source rows of the values; ``kind`` is ``timestamp``,
    ``date`` or ``float``; ``formats`` and ``zone`` are those the text was read with (a
    value that reads without the zone is a local time the zone skips, and said so).
    """
    if raw.dtype == pl.String:
        bad = raw.is_not_null() & (raw.str.strip_chars().str.len_bytes() > 0) & parsed.is_null()
    else:  # a naive datetime read in a zone (--timezone) where its time does not exist
        bad = raw.is_not_null() & parsed.is_null()
    if not bad.any():
        return
    example = raw.filter(bad).head(1).item()
    if kind in ("timestamp", "date") and raw.dtype != pl.String:
        hint = (
            "this local time does not exist in the --timezone zone (the hour a daylight-saving "
            "change skips): correct it, or give the value with its UTC offset"
        )
    elif kind in ("timestamp", "date") and zone is not None and pl.select(
        parse_timestamp(pl.lit(str(example)), formats).is_not_null()
    ).item():
        hint = (
            f"{str(example).strip()!r} does not exist in {zone} (the clocks skip that hour "
            "on a daylight-saving change): correct it, or give the value with its UTC offset"
        )
    elif str(example).strip().casefold() == (their_column or column).strip().casefold():
        hint = (  # a second export pasted below the first, a page header of a report
            f"the header row repeated: {str(example).strip()!r} is this column's name; delete "
            "the row (where two exports were pasted one below the other)"
        )
    elif is_total(example):  # 'Total: Account', 'Summe', 'Gesamtergebnis' (_total_rows.py)
        hint = (  # Google Ads ends a report with 'Total: Account' and 'Total: Campaigns' rows
            f"{str(example).strip()!r} looks like the export's total row (the sum of the rows "
            "above it, read as one more row it would count them twice): delete the total "
            "row(s)"
        )
    elif kind in ("timestamp", "date"):
        hint = timestamp_hint(example)
    else:
        hint = number_hint(str(example))
    raise SchemaError(
        f"{int(bad.sum()):,} value(s) cannot be read as {kind}, e.g. {example!r}",
        table=table,
        source=source.name if source else None,
        column=column,
        rows=rows.filter(bad).head(max_rows).to_list(),
        hint=hint,
        their_column=their_column,
        numbering=source.numbering if source else None,
    )
