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

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from attribution.exceptions import InputError

if TYPE_CHECKING:
    from attribution.inputs._sources import Source

__all__ = [
    "ID_COLUMNS",
    "MAX_AMOUNT",
    "MAX_ID_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PATH_CHARS",
    "MAX_TEXT_CHARS",
    "NAME_COLUMNS",
    "check_numbers",
    "max_chars",
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
            f"{offending.height} value(s) above 1e15 in absolute value (the "
            f"largest number an input may hold), e.g. {example}",
            table=table,
            source=source.name,
            column=column,
            rows=offending.get_column(row).head(_MAX_ROWS_SHOWN).to_list(),
            numbering=source.numbering,
            hint="a typo'd or pasted amount (an id in an amount column, a broken formula); "
            "amounts are in currency units, at most 1,000,000,000,000,000",
        )
