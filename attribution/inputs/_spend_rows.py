"""Spend rows that are not spend: the total row a BI tool or an ad platform appends.

A spend export often ends with a ``Total`` (``Grand total``, ``Sum``) row under the channel
column, the sum of the rows above it. Read as a channel, it doubles the blended spend and
CAC while the run only says that spend channel 'total' matches no touch channel. Such a
channel is an error naming the file, the user's column and the lines: remove the row.
"""

from __future__ import annotations

import polars as pl

from attribution.exceptions import InputError
from attribution.inputs._sources import Source

__all__ = ["TOTAL_NAMES", "refuse_total_rows"]

#: Channel names (trimmed, lower case) that stand for the sum of the other rows.
TOTAL_NAMES = ("total", "totals", "grand total", "subtotal", "sub total", "sum", "overall")
_SHOWN = 5


def refuse_total_rows(frame: pl.DataFrame, table: str, source: Source, row: str) -> None:
    """An :class:`InputError` when a row of the spend ``table`` has a total for its channel
    (:data:`TOTAL_NAMES`); on the distinct channels (a spend table has a few dozen)."""
    if table != "spend" or "channel" not in frame.columns or frame.schema["channel"] != pl.String:
        return
    folded = pl.col("channel").str.strip_chars().str.to_lowercase()
    names = frame.select(pl.col("channel").unique()).filter(folded.is_in(TOTAL_NAMES))
    if names.height == 0:
        return
    bad = frame.filter(pl.col("channel").is_in(names.get_column("channel").implode()))
    raise InputError(
        f"{bad.height} row(s) with the channel {names.get_column('channel').item(0)!r} look "
        "like the export's total row: read as a channel, it would double the blended spend "
        "and CAC",
        table="spend",
        source=source.name,
        column="channel",
        rows=bad.get_column(row).head(_SHOWN).to_list(),
        numbering=source.numbering,
        hint="remove the total row(s) from the spend file (a channel really named so: "
        "rename it)",
    )
