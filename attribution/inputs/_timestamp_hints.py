"""The hint of a timestamp that could not be read, derived from the value shown: its order
(a US month-first date, a day-first one, or either), its separator (``/``, ``.``, ``-``),
its year's digits (``%y`` for ``25``) and its time of day (``%I:%M %p`` for ``10:19 PM``,
``%H:%M`` for ``17:49``), so the pattern it offers reads that value. One copy for ``run``
(:func:`attribution.inputs._reading.check_parsed`) and ``import`` (its own list of patterns
tried as the hint's start)."""

from __future__ import annotations

import re

from attribution.inputs._read_errors import zone_name_hint

__all__ = ["FIRST_YEAR", "ISO_HINT", "SLASH_DATE", "epoch_hint", "epoch_recipe", "timestamp_hint"]

#: what a run reads: ISO 8601, or the patterns given
ISO_HINT = (
    "timestamps must be ISO 8601 (2025-03-01, 2025-03-01T09:30:00, 2025-03-01T09:30:00+02:00) "
    "or match a strftime pattern given with --timestamp-format or [formats] in the config"
)
#: The earliest year a ``%Y`` (or ISO 8601) date may name: chrono's ``%Y`` reads one to four
#: digits, so ``3/5/25`` under ``%m/%d/%Y`` (Excel's short date, re-saved) would be year 25.
#: A date of a year before this is unreadable instead, and its error hints at ``%y``.
FIRST_YEAR = 1000
#: ``d/m/y`` or ``m/d/y`` (with ``/``, ``.`` or ``-``), the first two numbers captured
SLASH_DATE = r"^\s*(\d{1,2})([/.-])(\d{1,2})[/.-]\d{2,4}"
#: the same with a two-digit year (Excel's short date format: ``3/5/25 7:41 AM``)
_SHORT_YEAR = r"^\s*\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(\D|$)"
#: a time of day after the date, its pattern: seconds or not, a 12-hour clock or not
_TIMES = (
    (r"\d:\d\d:\d\d\s*[AaPp]\.?[Mm]\.?\s*$", " %I:%M:%S %p"),
    (r"\d:\d\d\s*[AaPp]\.?[Mm]\.?\s*$", " %I:%M %p"),
    (r"\d:\d\d:\d\d\s*$", " %H:%M:%S"),
    (r"\d:\d\d\s*$", " %H:%M"),
)


def _time_of_day(value: str) -> str | None:
    """The pattern of ``value``'s time of day (with its leading space), None without one."""
    return next((pattern for form, pattern in _TIMES if re.search(form, value)), None)


#: the digits of an epoch time (up to 2286) and its unit: GA4 / BigQuery event_timestamp
#: is microseconds, JavaScript and most APIs milliseconds, Unix tools seconds
_EPOCH_UNITS = {10: ("seconds", "s"), 13: ("milliseconds", "ms"), 16: ("microseconds", "us"),
                19: ("nanoseconds", "ns")}  # fmt: skip


def epoch_hint(value: object) -> str | None:
    """What to do with an epoch time (``1750441601532619``: 16 digits, microseconds, as GA4
    / BigQuery export ``event_timestamp``); None when ``value`` is not one.

    >>> print(epoch_hint("1750441601532619"))  # doctest: +ELLIPSIS
    this looks like an epoch time in microseconds (16 digits, 2025-06-20T17:46:41Z...
    """
    from datetime import UTC, datetime

    text = str(value).strip()
    if not re.fullmatch(r"\d+", text) or len(text) not in _EPOCH_UNITS:
        return None
    name, unit = _EPOCH_UNITS[len(text)]
    size = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    try:
        when = datetime.fromtimestamp(int(text) / size, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):  # pragma: no cover - bounded by the digits
        return None
    return (
        f"this looks like an epoch time in {name} ({len(text)} digits, {when}"
        + ("; GA4 / BigQuery export event_timestamp so" if unit == "us" else "")
        + f"): a run reads ISO 8601, so convert the column first: {epoch_recipe(unit)}"
    )


def epoch_recipe(unit: str) -> str:
    """How to turn an epoch column of ``unit`` (s, ms, us, ns) into a run's timestamps."""
    return (
        f"pl.from_epoch('your_column', time_unit='{unit}') in Polars, "
        f"pd.to_datetime(df['your_column'], unit='{unit}', utc=True) in pandas"
        + (", FORMAT_TIMESTAMP('%FT%TZ', TIMESTAMP_MICROS(event_timestamp)) in BigQuery"
           if unit == "us" else "")  # fmt: skip
    )


def _no_day(value: str, first: int, second: int) -> str | None:
    """``'32 is no day of August (it has 31)'`` when neither order of ``first`` / ``second``
    (a month-first or a day-first ``a/b/yyyy``) is a day of its month, else None."""
    import calendar

    year = re.match(r"^\s*\d{1,2}[/.-]\d{1,2}[/.-](\d{2,4})", value)
    full = int(year.group(1)) if year else 2000
    full += 2000 if full < 100 else 0
    orders = [(m, d) for m, d in ((first, second), (second, first)) if 1 <= m <= 12]
    if not orders or any(1 <= d <= calendar.monthrange(full, m)[1] for m, d in orders):
        return None
    month, day = orders[0]
    days = calendar.monthrange(full, month)[1]
    return f"{day} is no day of {calendar.month_name[month]} {full} (it has {days})"


def timestamp_hint(example: object, base: str = ISO_HINT) -> str:
    """The hint for a timestamp that could not be read, after ``base``: the US pattern when
    the value looks like a US date (``2/21/2025``), the day-first one when it can only be
    day-first (``21/02/2025``) or is written with dots (``03.05.2025``: dotted dates are
    day-first), both when it could be either (``05/01/2025``); each with the value's own
    separator, year digits and time of day (a date without one: the usual clock of its
    order, 12-hour US, 24-hour day-first, and the date alone).

    >>> "'%d/%m/%Y %H:%M'" in timestamp_hint("21/02/2025 13:05")
    True
    >>> "'%m/%d/%Y %I:%M %p'" in timestamp_hint("5/16/2025 10:19 PM")
    True
    >>> "'%d.%m.%Y %H:%M'" in timestamp_hint("03.05.2025 17:49")
    True
    >>> "'%m/%d/%y %I:%M %p'" in timestamp_hint("3/5/25 9:00 AM")
    True
    """
    value = str(example)
    if re.match(r"^\s*[+-]?0\d{3}(\D|$)", value):
        return (
            f"{base}; a year before {FIRST_YEAR} (0001-01-01: a placeholder for no date?) "
            "is not read: leave the cell blank where there is no date"
        )
    if (zone := zone_name_hint(value)) is not None:
        return f"{base}; {zone}"
    if epoch := epoch_hint(value):
        return f"{base}; {epoch}"
    parts = re.match(SLASH_DATE, value)
    if parts is None:
        return base
    first, sep, second = int(parts.group(1)), parts.group(2), int(parts.group(3))
    short = re.match(_SHORT_YEAR, value) is not None
    year = "%y" if short else "%Y"  # '%Y' reads 1 to 4 digits: 25 would be the year 25
    time = _time_of_day(value)

    def pattern(order: tuple[str, str], clock: str) -> str:
        date = f"{order[0]}{sep}{order[1]}{sep}{year}"
        return f"'{date}{time or clock}' (and '{date}' for dates without a time)"

    us = pattern(("%m", "%d"), " %I:%M %p")
    eu = pattern(("%d", "%m"), " %H:%M")
    if short:  # said first: a pattern with %Y given for it reads nothing
        base = f"{base}; this date has a two-digit year: %y reads it (25 is 2025), %Y needs four"
    if first > 12 and second > 12:  # 13/25/2025: neither number is a month
        return (
            f"{base}; {first}{sep}{second} names no month (a month is 1 to 12 in either "
            "order): the value is not a date, correct it in the export"
        )
    if (no_day := _no_day(value, first, second)) is not None:  # 8/32/2025, 2/30/2025
        return f"{base}; {no_day}: the value is not a date, correct it in the export"
    if first > 12:
        return f"{base}; this looks like a day-first date: try --timestamp-format {eu}"
    if second > 12:
        return f"{base}; this looks like a US date: try --timestamp-format {us}"
    if sep == ".":  # 03.05.2025: the dotted dates of German, Swiss, Nordic... exports
        return (
            f"{base}; this looks like a day-first date (dotted dates are written day first: "
            f"{value.split()[0]} is day {first}, month {second}): try --timestamp-format {eu}"
        )
    return (
        f"{base}; this date reads either way: give the order your export writes, "
        f"US month-first --timestamp-format {us} or day-first {eu}"
    )
