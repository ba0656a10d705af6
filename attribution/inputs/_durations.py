"""Durations as users write them: ``"90d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"45s"``,
seconds, or a ``timedelta``."""

from __future__ import annotations

from datetime import timedelta

from attribution.exceptions import InputError
from attribution.typing import Duration

__all__ = ["parse_duration"]


def parse_duration(value: Duration, *, name: str = "lookback") -> timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"45s"``, seconds, or a ``timedelta``.

    A bare number is seconds. The error names the option (``name``).

    Examples
    --------
    >>> from attribution.inputs._durations import parse_duration
    >>> parse_duration("90d").days, parse_duration("12h").total_seconds()
    (90, 43200.0)
    """
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        text = str(value).strip().lower()
        units = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
        unit = text[-1:] if text[-1:] in units else ""
        number = text[:-1] if unit else text
        try:
            result = timedelta(seconds=float(number) * units.get(unit, 1))
        except (ValueError, OverflowError):  # not a number; nan, inf or beyond timedelta
            raise InputError(
                f"'{name}' must be a duration like '90d', '12h', '30m', '2w' or seconds; "
                f"got {value!r}"
            ) from None
    else:
        raise InputError(f"'{name}' must be a duration like '90d'; got {value!r}")
    if result <= timedelta(0):
        raise InputError(f"'{name}' must be positive; got {value!r}")
    return result
