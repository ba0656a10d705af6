"""The path-table separator: ``>`` between the channels of a path.

A path table holds a path as text, its channels joined by ``>``. The rule, the same for the
tables a run stores and the tables a user gives:

- a **channel name may not contain** ``>``: a touch log or a scoring request with such a
  channel is an input error naming the table, the column and the rows (a stored path table
  would otherwise split it into two channels, and a model fitted on it would credit neither);
- a run **stores** paths joined by ``" > "`` and reads them back by splitting on exactly that
  (so a channel's own spaces survive the round trip);
- a path table **given as input** is split on ``>`` with or without spaces around it
  (``a>b``, ``a > b``), each channel trimmed, empty pieces dropped; with another separator
  (``sep``), a channel that still contains ``>`` is an error.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from attribution.exceptions import InputError

if TYPE_CHECKING:
    from attribution.inputs._schema import Table
    from attribution.options import RunOptions

__all__ = ["SEPARATOR", "STORED_SEPARATOR", "check_channels", "check_touch_channels", "split_paths"]

#: The character that separates channels in a path table.
SEPARATOR = ">"
#: How a run joins the channels of a stored path table.
STORED_SEPARATOR = " > "
_MAX_ROWS_SHOWN = 5


def split_paths(expr: pl.Expr, sep: str = SEPARATOR) -> pl.Expr:
    """A text path as ``list[str]``: split on ``sep``, channels trimmed, empty ones dropped
    (``" a>b >  c "`` -> ``["a", "b", "c"]``)."""
    return (
        expr.str.split(sep)
        .list.eval(pl.element().str.strip_chars())
        .list.eval(pl.element().filter(pl.element() != ""))
    )


def check_channels(
    names: pl.Series, frame: pl.DataFrame, *, table: str, column: str, row: str
) -> None:
    """Raise :class:`InputError` when a channel of ``names`` (the distinct channels of
    ``frame[column]``, or a list column's) contains :data:`SEPARATOR`, naming the first rows
    of ``frame`` (``row``: its column of source row numbers) that hold one."""
    bad = names.drop_nulls().filter(names.drop_nulls().str.contains(SEPARATOR, literal=True))
    if not bad.len():
        return
    values = pl.col(column)
    holds = (
        values.list.eval(pl.element().str.contains(SEPARATOR, literal=True)).list.any()
        if isinstance(frame.schema[column], pl.List)
        else values.str.contains(SEPARATOR, literal=True)
    )
    rows = frame.filter(holds).get_column(row).head(_MAX_ROWS_SHOWN).to_list()
    shown = ", ".join(repr(name) for name in bad.sort().head(3).to_list())
    raise InputError(
        f"{bad.len()} channel name(s) contain '{SEPARATOR}', the separator of path tables "
        f"(e.g. {shown})",
        table=table,
        column=column,
        rows=rows,
        hint=f"rename these channels without '{SEPARATOR}' (e.g. 'linked > in' -> "
        "'linked_in'): a stored path table would split them in two",
    )



def check_touch_channels(table: Table, options: RunOptions, *, events: bool = False) -> None:
    """The check journey building makes of a loaded touch table's channels (``events``: a
    unified event log, its touch rows), after the validate stage as the run makes it
    (duplicates, channels derived by the run's rules, its aliases): for a ``--partitions``
    run to say a ``>`` of the whole file, as in memory
    (:meth:`attribution.engine._split.Split.whole_error`)."""
    from attribution.engine._stages import prepare_touches  # the run's validate stage
    from attribution.inputs._channels import normalise_channels
    from attribution.inputs._schema import ROW
    from attribution.inputs._split_events import split_events

    if events:
        table = replace(table, frame=split_events(table.frame, table.source)[0])
    frame = normalise_channels(prepare_touches(table, options.channel_rules)[0], options.aliases)[0]
    check_channels(frame.get_column("channel").unique(), frame, table="touches",
                   column="channel", row=ROW)  # fmt: skip
