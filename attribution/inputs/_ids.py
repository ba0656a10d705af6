"""Ids as exports write them: padded with spaces, or rounded by Excel.

- **Padding**: an id cell with surrounding whitespace (`` c12 ``: Excel, a fixed-width
  export, one source system of two) is the id without it, so `` 123`` and ``123`` are one
  contact; the cells trimmed are counted per column (the reconciliation's ``ids_trimmed``).
- **Excel-rounded ids**: an id in scientific notation (``1.23457E+10``: a CSV of long
  numeric ids opened and saved in Excel keeps 6 significant digits, so records that differ
  now share an id) is an error naming the file, the user's column and the lines, as
  ``import`` refuses them.

Both cost little: the column's bounds (Parquet statistics, or the min and max the blank
check takes anyway) show whether any value may start with whitespace (or hold non-ASCII
text) and whether any may start with a digit; only then is a value stripped or matched.
A value ending in a space is looked for on the loaded column (``ends_with``: 50 ms for
10M values) unless the control check's byte scan found no whitespace byte in the column (the
usual id: then neither pass runs); a trailing tab or NBSP alone, in an ASCII column whose
values start with no whitespace, is not looked for.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import polars as pl

from attribution.exceptions import SchemaError
from attribution.inputs._reading import NULL_TOKENS, blank_free, text_bounds
from attribution.inputs._sources import Source

__all__ = ["ID_COLUMNS", "tidy_ids"]

#: The id columns of every table (ours): trimmed, and refused when Excel rounded them.
ID_COLUMNS = ("touch_id", "contact_id", "account_id", "opportunity_id")

#: An id written in scientific notation (``1.23457E+10``, ``4.5678e10``): rounded by Excel.
ROUNDED_ID = r"^\d(\.\d+)?[eE][+-]?\d+$"
ROUNDED_HINT = (
    "export the file again without opening it in Excel, or format the id columns as Text "
    "before saving"
)
_SHOWN = 5


def tidy_ids(
    frame: pl.DataFrame,
    bounds: Mapping[str, tuple[Any, Any]],
    table: str,
    source: Source,
    row: str,
    spaceless: Collection[str] = (),
) -> tuple[pl.DataFrame, dict[str, int], dict[str, tuple[Any, Any]]]:
    """``frame`` with its text id columns trimmed, the cells trimmed per column (only
    columns with some; a whitespace-only cell or a padded null token is a missing value, not
    counted here), and ``bounds`` (text columns' min and max) updated for the columns
    changed. An Excel-rounded id is a :class:`SchemaError` (``row``: the source rows).
    ``spaceless``: columns known to hold no whitespace at all (the control check's byte
    scan, :func:`~attribution.inputs._control.scan_text`), neither trimmed nor looked at."""
    bounds = dict(bounds)
    ids = [c for c in ID_COLUMNS if c in bounds and frame.height]
    suspect = [c for c in ids if not blank_free(*bounds[c]) and c not in spaceless]
    rest = [c for c in ids if c not in suspect and c not in spaceless]
    if rest:  # a value starting with whitespace is out of the bounds; one ending with a space
        ends = frame.select(pl.col(c).str.ends_with(" ").any() for c in rest).row(0)
        suspect += [c for c, hit in zip(rest, ends, strict=True) if hit]
    trimmed: dict[str, int] = {}
    if suspect:
        stripped = {c: pl.col(c).str.strip_chars() for c in suspect}
        counts = frame.select(
            ((s != pl.col(c)) & (s.str.len_bytes() > 0) & ~s.is_in(NULL_TOKENS)).sum().alias(c)
            for c, s in stripped.items()
        ).row(0, named=True)
        trimmed = {c: int(counts[c]) for c in ids if c in counts and counts[c]}
        if trimmed:  # (blank cells and padded tokens: the blank check nulls them)
            frame = frame.with_columns(stripped[c].alias(c) for c in trimmed)
            bounds.update(text_bounds(frame, list(trimmed)))
    _refuse_rounded(frame, [c for c in ids if _may_start_with_digit(*bounds[c])], table, source,
                    row)  # fmt: skip
    return frame, trimmed, bounds


def _may_start_with_digit(low: Any, high: Any) -> bool:
    """Whether a text value between ``low`` and ``high`` may start with a digit (``0``-``9``
    sort just below ``:``)."""
    return not (isinstance(low, str) and isinstance(high, str)) or (low < ":" and high >= "0")


def _refuse_rounded(
    frame: pl.DataFrame, columns: list[str], table: str, source: Source, row: str
) -> None:
    if not columns:
        return
    found = frame.select(pl.col(c).str.contains(ROUNDED_ID).sum() for c in columns).row(0)
    for column, count in zip(columns, found, strict=True):
        if count:
            bad = frame.filter(pl.col(column).str.contains(ROUNDED_ID))
            raise SchemaError(
                f"{count:,} id(s) written in scientific notation, e.g. "
                f"{bad.get_column(column).item(0)!r}, rounded by Excel (records that differ "
                "now share an id)",
                table=table,
                source=source.name,
                column=column,
                rows=bad.get_column(row).head(_SHOWN).to_list(),
                numbering=source.numbering,
                hint=ROUNDED_HINT,
            )
