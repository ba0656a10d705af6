"""The rows an incremental night reads (:mod:`attribution.engine._incremental`): each
input's rows since its cutoff (``watermark - late_window``) that were not read before, checked
against the state (inputs are taken to only grow), and numbered as a full run numbers them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import polars as pl

from attribution.engine._deltas import unseen
from attribution.engine._generations import EMPTY_TIME, State
from attribution.engine._history import rows_since
from attribution.engine._incremental_read import Read, described, read_after
from attribution.engine._old_rows import check_file
from attribution.engine._together import together
from attribution.inputs._database import SqlTable
from attribution.inputs._schema import ROW, STAGES, TOUCHES
from attribution.options import RunOptions
from attribution.typing import TableLike

__all__ = ["TABLES", "cutoff", "number_rows", "read_from", "read_night"]

TABLES = {"touches": TOUCHES, "stages": STAGES}


def read_night(
    state: State, name: str, data: TableLike, options: RunOptions
) -> tuple[Read, str | None]:
    """One input's rows since its cutoff, those not read before among them (``fresh``), and
    why the night cannot build on the state (None: it can): old rows changed, deleted or
    added late (:mod:`attribution.engine._old_rows`), other columns."""
    seen = state.meta["inputs"][name]
    mark_at = cutoff(seen, options)
    since = read_from(seen, mark_at, data)
    # the input's rows since the cutoff; the history's rows since then (all it holds less
    # those after: one pass over its timestamps, whose rows the new ones are then checked
    # against); the file's old rows checked: side by side
    read, recent, (changed, mark) = together(
        lambda: read_after(
            data, TABLES[name], options, since, seen.get("positions"), seen, mark_at=mark_at
        ),
        lambda: rows_since(state.history(name), since),
        lambda: check_file(data, seen.get("old_rows")),
    )
    read.described = described(data, read.table.frame)
    known = int(seen["rows"]) - (0 if recent is None else recent.height)
    if read.before != known:
        return read, (
            f"the input holds {read.before:,} rows before {since.isoformat()} where {known:,} "
            "were read (rows arrived later than the late window, or old rows were deleted)"
        )
    if list(read.table.frame.columns) != seen["columns"]:
        return read, "the input's columns differ from those read before"
    read.mark = mark if read.mark is None else read.mark
    if (changed or read.changed) is not None:
        grow = "an old row was changed or deleted (inputs are taken to only grow)"
        checked = (seen.get("old_rows") or {}).get("before")
        if read.changed is not None and checked not in (None, since.isoformat()):
            # another --late-window: rows added before the checked bound, later than the old
            # window, change its checksum without changing the count before the new bound
            grow = (
                f"the late window changed since the state's last night (its rows then started "
                f"at {checked}, now at {since.isoformat()}): rows arrived later than the "
                "window the state was built with, or an old row was changed or deleted"
            )
        return read, f"{changed or read.changed}: {grow}"
    frame = read.table.frame
    recent = frame.clear() if recent is None else recent
    # the history keeps text for categoricals
    read.fresh = unseen(frame, recent.select(list(frame.schema)).cast(frame.schema))
    if frame.height - read.fresh.height != recent.height:  # a row read before is gone
        missing = recent.height - (frame.height - read.fresh.height)
        return read, (
            f"{missing:,} row(s) read before, dated at or after {since.isoformat()}, are no "
            "longer in the input as read: an old row was changed or deleted (inputs are taken "
            "to only grow)"
        )
    return read, None


def read_from(seen: Mapping[str, Any], nominal: datetime, data: TableLike) -> datetime:
    """Where a night reads an input's rows from: its cutoff (``nominal``), or for a query the
    bound its old rows were summed below the night before, when that is earlier (new-user
    report 17, S4). The rows between the two were read the night before (the late window
    then) and are summed by neither checksum: read again, each must be among the rows read
    as it was read (the multiset check of the rows inside the window), so an edit there is
    seen; a row added there late is read as the window's are. Without it an edit of a row
    dated between two nights' cutoffs (one watermark advance, aged late_window to
    late_window + a day for a nightly job) was never seen, and the next night's checksum took
    it as read."""
    stored = seen.get("old_rows") or {}
    if stored.get("kind") != "sql" or not isinstance(data, SqlTable):
        return nominal
    return min(nominal, datetime.fromisoformat(stored["before"]))


def cutoff(seen: Mapping[str, Any], options: RunOptions) -> datetime:
    """Where an input's new rows start: its watermark less the late window."""
    watermark = datetime.fromisoformat(seen["watermark"])
    return max(watermark - options.late, EMPTY_TIME) if watermark > EMPTY_TIME else watermark


def number_rows(
    fresh: pl.DataFrame, read: Read, seen: Mapping[str, Any]
) -> tuple[pl.DataFrame, tuple[int, int | None]]:
    """The night's new rows with their global row numbers, and the input's next row number
    and source positions after them (for ``state.json``). A full run numbers a source's rows
    by position, blank rows included: so when the source's positions are known (a file or
    frame; not a query the database filters) and every new row lies past those read before
    (rows appended), a new row's number is the next number plus its distance past them --
    the blank rows read before (trailing ones too) and between new rows leave the full run's
    gaps. Otherwise (rows inserted among old ones, or no positions) the new rows are
    numbered in turn after every number read."""
    offset = int(seen.get("next_row", seen["rows"]))
    start = seen.get("positions")
    local = fresh.get_column(ROW)
    position = local if read.positions is None else read.positions.gather(local)
    appended = not position.len() or bool((position >= int(start or 0)).all())
    if read.total is not None and start is not None and appended:
        numbers = position - int(start) + offset
        after = (offset + read.total - int(start), read.total)
        return fresh.with_columns(numbers.alias(ROW)), after
    turns = pl.int_range(pl.len(), dtype=pl.Int64) + offset
    return fresh.with_columns(turns.alias(ROW)), (offset + fresh.height, read.total)
