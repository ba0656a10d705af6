"""Checks of an export's dates and lines the importers add to the shared reading
(new-user report 22): a local time the daylight-saving change skips is named as such (M2:
it was hinted as a wrong format), a year outside the run's range is an error naming the
file, the column and the lines at import (M15: ``9/11/2205`` passed the import, and the run
named parquet rows), and lines ended ``\\r\\r\\n`` are said (M7: Polars' message was cut at
the carriage return)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from attribution.exceptions import InputError
from attribution.inputs._limits import END_DATE, FIRST_DATE

#: the years a date may name, as a run checks them (inputs/_limits.py)
YEARS = (FIRST_DATE.year, END_DATE.year)
YEARS_HINT = (
    f"dates are between {FIRST_DATE.year} and {END_DATE.year - 1}: a typo in the year "
    "(2205 for 2025?) or a placeholder date; correct it in the CRM and export again, or "
    "leave the cell blank where there is no date"
)


def dst_gap(value: object, formats: Sequence[str], zone: str | None) -> str | None:
    """What to say of ``value`` when one of ``formats`` reads it as a local time the
    daylight-saving change skips in ``zone`` (``3/9/2025 2:30 AM`` in America/New_York);
    None otherwise (no zone, no pattern reads it, or the time exists)."""
    if not zone:
        return None
    text = str(value).strip()
    for fmt in formats:
        try:
            naive = datetime.strptime(text, fmt)  # noqa: DTZ007 - a local time, checked below
        except ValueError:
            continue
        local = naive.replace(tzinfo=ZoneInfo(zone))
        back = local.astimezone(UTC).astimezone(ZoneInfo(zone)).replace(tzinfo=None)
        if back == naive:
            return None
        return (
            f"{text!r} reads as {naive:%Y-%m-%d %H:%M}, a local time that does not exist in "
            f"{zone}: the clocks go forward by {back - naive} that night (daylight saving "
            "time starts), so the format is right but the time is not; correct the time in "
            f"the export, or, if the export's times are not in {zone} (an API export in UTC), "
            "give their zone with --timezone"
        )
    return None


def refuse_doubled_cr(path: Path, label: str) -> None:
    """A file whose lines end ``\\r\\r\\n`` (a Windows file given Windows line ends a second
    time) is an error naming it: every line holds a stray carriage return, and the CSV
    reader's own message is cut at it."""
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16)
    except OSError:  # the reader reports it
        return
    if b"\r\r\n" in head:
        line = head[: head.index(b"\r\r\n")].count(b"\n") + 1
        raise InputError(
            f"its lines end with two carriage returns and a line feed (\\r\\r\\n, from line "
            f"{line}: a Windows file converted to Windows line ends a second time), so every "
            "line holds a stray carriage return",
            table=label,
            source=str(path),
            hint="remove the extra carriage returns: tr -d '\\r' < FILE > FILE-fixed.csv, or "
            "export the file again",
        )
