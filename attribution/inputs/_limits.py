"""The limits of an input cell, the same for every reader (files, frames, queries, the
service's batch runs) and for the service's scoring requests: one set of constants.

- **numbers** (deal values, spend amounts, costs, counts): at most :data:`MAX_AMOUNT`
  (1e15) in absolute value. A typo'd amount (an id pasted into Amount, ``1e308`` from a
  broken formula) would otherwise overflow sums of credit to ``inf`` and ``NaN``.
- **ids** (``touch_id``, ``contact_id``, ``account_id``, ``opportunity_id``): at most
  :data:`MAX_ID_CHARS` characters; **names** (``channel``, ``stage``, ``touch_type``,
  ``role``): at most :data:`MAX_NAME_CHARS`; a path table's ``path`` at most
  :data:`MAX_PATH_CHARS`; any other text cell (campaigns, UTM fields, survey answers,
  segments...) at most :data:`MAX_TEXT_CHARS`. An unclosed quote in a CSV file swallows the
  rest of the file into one cell; a 200 MB channel name cost minutes and gigabytes before
  this bound.

The checks run on the loaded columns with one aggregate each (``max`` of the byte lengths,
``max`` of the absolute values: no per-row work in Python); the lines are looked up only
when a limit is broken.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING

import polars as pl
import pyarrow as pa

from attribution.exceptions import InputError

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = [
    "END_DATE",
    "FIRST_DATE",
    "ID_COLUMNS",
    "MAX_AMOUNT",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PATH_CHARS",
    "MAX_TEXT_CHARS",
    "NAME_COLUMNS",
    "check_dates",
    "check_lengths",
    "check_limits",
    "check_numbers",
    "CUT_TEXT",
    "max_chars",
    "truncate_text",
]

#: The largest number (in absolute value) an input cell may hold: deal values, spend, costs.
MAX_AMOUNT = 1e15
#: The longest id (characters): ``touch_id``, ``contact_id``, ``account_id``, ``opportunity_id``.
MAX_ID_CHARS = 256
#: The longest name (characters): ``channel``, ``stage``, ``touch_type``, ``role``.
MAX_NAME_CHARS = 128
#: The longest path of a path table (characters): about 70,000 touches of 13-character names.
MAX_PATH_CHARS = 1_000_000
#: The longest other text cell (characters): campaigns, UTM fields, survey answers, segments.
MAX_TEXT_CHARS = 4_096

#: Dates must lie in [FIRST_DATE, END_DATE): a placeholder (``0001-01-01``, ``9999-12-31``)
#: or a misread year is an error, not a series of weeks spanning centuries.
FIRST_DATE = date(1900, 1, 1)
END_DATE = date(2100, 1, 1)

#: Text columns cut to their limit and counted instead of refused, by table: a survey's
#: free-text answer (a buyer's pasted e-mail is an answer, and must not stop a run).
CUT_TEXT: Mapping[str, tuple[str, ...]] = {"surveys": ("response",)}

ID_COLUMNS = frozenset({"touch_id", "contact_id", "account_id", "opportunity_id"})
NAME_COLUMNS = frozenset({"channel", "stage", "touch_type", "role"})
_MAX_ROWS_SHOWN = 5


def max_chars(column: str) -> int:
    """The longest value (characters) of our column ``column``.

    >>> max_chars("contact_id"), max_chars("channel"), max_chars("campaign")
    (256, 128, 4096)
    """
    if column in ID_COLUMNS:
        return MAX_ID_CHARS
    if column in NAME_COLUMNS:
        return MAX_NAME_CHARS
    if column == "path":
        return MAX_PATH_CHARS
    return MAX_TEXT_CHARS


def check_numbers(
    frame: pl.DataFrame, columns: Sequence[str], table: str, source: Source, row: str
) -> None:
    """An :class:`InputError` naming the file, the column and its lines when a number of
    ``columns`` (Float64 columns of ``frame``) is above :data:`MAX_AMOUNT` in absolute value
    or infinite (NaN is left to the table's own checks). One ``max`` per column."""
    numeric = [c for c in columns if c in frame.columns and frame.schema[c] == pl.Float64]
    if not numeric or frame.height == 0:
        return
    big = frame.select(
        (pl.col(c).abs().filter(pl.col(c).is_not_nan()).max() > MAX_AMOUNT).alias(c)
        for c in numeric
    ).row(0)
    for column, over in zip(numeric, big, strict=True):
        if not over:
            continue
        bad = (pl.col(column).abs() > MAX_AMOUNT) & pl.col(column).is_not_nan()
        offending = frame.filter(bad)
        example = offending.get_column(column).head(3).to_list()
        raise InputError(
            f"{offending.height:,} value(s) above 1e15 in absolute value (the "
            f"largest number an input may hold), e.g. {example}",
            table=table,
            source=source.name,
            column=column,
            rows=offending.get_column(row).head(_MAX_ROWS_SHOWN).to_list(),
            numbering=source.numbering,
            hint="a typo'd or pasted amount (an id in an amount column, a broken formula); "
            "amounts are in currency units, at most 1,000,000,000,000,000",
        )


def check_lengths(
    frame: pl.DataFrame, columns: Sequence[str], table: str, source: Source, row: str
) -> None:
    """An :class:`InputError` naming the file, the column and its lines when a text value of
    ``columns`` is longer than :func:`max_chars` allows. One ``max`` of the byte lengths per
    column (a byte count bounds the characters); characters are counted only on the rows
    over the limit in bytes."""
    text = [c for c in columns if c in frame.columns and frame.schema[c] == pl.String]
    text = [c for c in text if _longest_bound(frame.get_column(c)) > max_chars(c)]
    if not text or frame.height == 0:
        return
    longest = frame.select(pl.col(c).str.len_bytes().max() for c in text).row(0)
    for column, size in zip(text, longest, strict=True):
        limit = max_chars(column)
        if size is None or size <= limit:
            continue
        offending = frame.filter(pl.col(column).str.len_bytes() > limit).filter(
            pl.col(column).str.len_chars() > limit
        )
        if offending.height == 0:
            continue
        chars = offending.get_column(column).str.len_chars()
        most = int(chars.max() or 0)  # type: ignore[arg-type]
        start = str(offending.get_column(column).item(int(chars.arg_max() or 0)))[:40]
        kind = "ids" if column in ID_COLUMNS else "names" if column in NAME_COLUMNS else "cells"
        raise InputError(
            f"{offending.height:,} value(s) longer than {limit:,} characters (the longest "
            f"{most:,} characters, starting {start!r}); {column} {kind} are at "
            f"most {limit:,}",
            table=table,
            source=source.name,
            column=column,
            rows=offending.get_column(row).head(_MAX_ROWS_SHOWN).to_list(),
            numbering=source.numbering,
            hint="a quote left open in a CSV file takes the rest of the file into one cell; "
            "else shorten the values",
        )


def truncate_text(
    frame: pl.DataFrame, columns: Sequence[str], source: Source, row: str
) -> tuple[pl.DataFrame, dict[str, dict[str, object]]]:
    """``frame`` with the text of ``columns`` longer than :func:`max_chars` cut to it, and
    per column cut: ``values`` (how many), ``longest`` (characters before the cut) and
    ``lines`` (the first five, numbered as the source's errors number them). For the
    columns where a long value is the user's text, not a broken file (a survey answer with a
    pasted e-mail): :data:`CUT_TEXT`. Free when no value can be that long (the
    buffers' bound, as :func:`check_lengths`)."""
    cut: dict[str, dict[str, object]] = {}
    for column in columns:
        if column not in frame.columns or frame.schema[column] != pl.String:
            continue
        limit = max_chars(column)
        if _longest_bound(frame.get_column(column)) <= limit:
            continue
        chars = pl.col(column).str.len_chars()
        over = frame.filter(chars > limit)
        if over.height == 0:
            continue
        rows = over.get_column(row).head(_MAX_ROWS_SHOWN).to_list()
        origin = source.numbering[1] if source.numbering else 0
        lines_of = getattr(source.numbering, "lines_of", None)
        cut[column] = {
            "values": over.height,
            "longest": int(over.select(chars.max()).item()),
            "limit": limit,
            "lines": lines_of(rows) if lines_of else [r + origin for r in rows],
            "numbering": source.numbering[0] if source.numbering else "rows, 0-based",
        }
        frame = frame.with_columns(pl.col(column).str.slice(0, limit))
    return frame, cut


#: A string view holds a value of up to 12 bytes in the view itself.
_INLINE_BYTES = 12


def _longest_bound(series: pl.Series) -> float:
    """An upper bound of the byte length of ``series``' values, from its buffers alone (no
    pass over the values): Polars keeps text as Arrow string views, where a value of up to
    12 bytes is inline and a longer one lies in one data buffer, so no value is longer than
    the largest data buffer. Free, and conclusive for the columns of a Parquet file, whose
    repeated names share small dictionary buffers (ids of up to 12 characters have none);
    infinite when the buffers cannot be seen."""
    longest = _INLINE_BYTES
    try:
        for chunk in series.get_chunks():
            array = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
            if not pa.types.is_string_view(array.type):
                return math.inf
            sizes = [b.size for b in array.buffers()[2:] if b is not None]
            longest = max([longest, *sizes])
    except (pl.exceptions.PolarsError, pa.ArrowException):  # pragma: no cover - defensive
        return math.inf
    return longest


def check_dates(
    frame: pl.DataFrame, columns: Sequence[str], table: str, source: Source, row: str
) -> None:
    """An :class:`InputError` naming the file, the column and its lines when a timestamp or
    date of ``columns`` is before :data:`FIRST_DATE` or from :data:`END_DATE` on: a
    placeholder (``0001-01-01``, ``9999-12-31`` for "never") or a year misread, which
    would otherwise stretch every weekly and monthly series over centuries. One ``min`` and
    one ``max`` per column."""
    dated = [
        c for c in columns if c in frame.columns
        and (frame.schema[c] == pl.Date or isinstance(frame.schema[c], pl.Datetime))
    ]  # fmt: skip
    if not dated or frame.height == 0:
        return
    ends = frame.select(
        *(pl.col(c).min().dt.year().alias(f"{i}_min") for i, c in enumerate(dated)),
        *(pl.col(c).max().dt.year().alias(f"{i}_max") for i, c in enumerate(dated)),
    ).row(0)
    for i, column in enumerate(dated):
        low, high = ends[i], ends[len(dated) + i]
        if low is None or (low >= FIRST_DATE.year and high < END_DATE.year):
            continue
        year = pl.col(column).dt.year()
        offending = frame.filter((year < FIRST_DATE.year) | (year >= END_DATE.year))
        example = [str(v) for v in offending.get_column(column).head(3).to_list()]
        raise InputError(
            f"{offending.height} date(s) before {FIRST_DATE.year} or from {END_DATE.year} on, "
            f"e.g. {', '.join(example)}",
            table=table,
            source=source.name,
            column=column,
            rows=offending.get_column(row).head(_MAX_ROWS_SHOWN).to_list(),
            numbering=source.numbering,
            hint=f"dates are between {FIRST_DATE.year} and {END_DATE.year - 1}: a placeholder "
            "(0001-01-01, 9999-12-31 for 'never') or a misread year; leave the cell blank "
            "where there is no date",
        )


def check_limits(
    frame: pl.DataFrame,
    kinds: Mapping[str, str],
    table: str,
    source: Source,
    row: str,
) -> tuple[pl.DataFrame, dict[str, dict[str, object]]]:
    """Every limit on ``frame``'s columns by their kind in the table's spec (``kinds``: ours
    -> ``float`` / ``string`` / ``timestamp`` / ``date``): numbers, text lengths, dates. The
    table's :data:`CUT_TEXT` columns are cut to their limit first (:func:`truncate_text`);
    returns the frame and what was cut."""
    frame, truncated = truncate_text(frame, CUT_TEXT.get(table, ()), source, row)
    check_numbers(frame, [c for c, k in kinds.items() if k == "float"], table, source, row)
    check_lengths(frame, [c for c, k in kinds.items() if k == "string"], table, source, row)
    check_dates(frame, [c for c, k in kinds.items() if k in ("timestamp", "date")], table,
                source, row)
    return frame, truncated
