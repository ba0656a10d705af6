"""Spend rows that are not spend: the total row a BI tool, an ad platform or a finance sheet
appends, and a row without its month.

- A spend export often ends with a total row under the channel column (``Total``, ``Grand
  total``, ``Summe``, ``Gesamt``, ``Total général``...: :data:`~attribution.inputs.
  _total_rows.TOTAL_NAMES`), the sum of the rows above it. Read as a channel, it doubles the
  blended spend and CAC while the run only says that spend channel 'summe' matches no touch
  channel. Such a channel is an error naming the file, the user's column and the lines:
  remove the row.
- A row whose ``month`` (or ``date``, whichever the table has; both blank where it has
  both) is blank belongs to no month: counted in the year's spend it raised a channel's CAC
  in silence. It is an error naming the file, the user's column and the lines, as a blank
  required date is in every other table (a finance sheet's total row often has no month:
  the total row's error comes first).
"""

from __future__ import annotations

import polars as pl

from attribution.exceptions import InputError, NullValueError
from attribution.inputs._sources import Source
from attribution.inputs._total_rows import TOTAL_NAMES, is_total

__all__ = ["TOTAL_NAMES", "check_spend_rows", "refuse_total_rows"]

_SHOWN = 5


def check_spend_rows(frame: pl.DataFrame, table: str, source: Source, row: str) -> None:
    """The checks of the module on a spend ``table`` (other tables pass): total rows, then
    rows without a month. ``row``: the column of 0-based source rows."""
    if table != "spend":
        return
    refuse_total_rows(frame, table, source, row)
    dates = [c for c in ("month", "date") if c in frame.columns]
    if not dates:
        return
    blank = pl.all_horizontal(pl.col(c).is_null() for c in dates)
    rows = frame.filter(blank).get_column(row)
    if rows.len():
        raise NullValueError(
            f"{rows.len():,} empty value(s) in a required column (a spend row needs its "
            f"{' or '.join(dates)})",
            table="spend",
            source=source.name,
            column=dates[0],
            rows=rows.head(_SHOWN).to_list(),
            numbering=source.numbering,
            hint="give each row its month, or delete the row (a note or a total under the "
            "table): spend of no month belongs to no period of the economics",
        )


def refuse_total_rows(frame: pl.DataFrame, table: str, source: Source, row: str) -> None:
    """An :class:`InputError` when a row of the spend ``table`` has a total for its channel
    (:func:`~attribution.inputs._total_rows.is_total`); on the distinct channels (a spend
    table has a few dozen)."""
    if table != "spend" or "channel" not in frame.columns or frame.schema["channel"] != pl.String:
        return
    channels = frame.get_column("channel").drop_nulls().unique(maintain_order=True)
    totals = [name for name in channels.to_list() if is_total(name)]
    if not totals:
        return
    bad = frame.filter(pl.col("channel").is_in(totals))
    raise InputError(
        f"{bad.height:,} row(s) with the channel {totals[0]!r} look like the export's total "
        "row: read as a channel, it would double the blended spend and CAC",
        table="spend",
        source=source.name,
        column="channel",
        rows=bad.get_column(row).head(_SHOWN).to_list(),
        numbering=source.numbering,
        hint="remove the total row(s) from the spend file (a channel really named so: "
        "rename it)",
    )
