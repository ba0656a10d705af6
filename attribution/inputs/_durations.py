"""Durations as users write them: ``"90d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"45s"``, or a
``timedelta``. A number without a unit is an error: ``--lookback 90`` most likely means 90
days, and reading it as 90 seconds would silently leave every journey empty. A capital
``M`` is an error too: ``"3M"`` is 3 months in ISO 8601 (``P3M``) and pandas, and units are
otherwise read in any case, so it would be 3 minutes."""

from __future__ import annotations

from datetime import timedelta

from attribution.exceptions import InputError
from attribution.typing import Duration

__all__ = ["parse_duration"]

_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
#: the longest duration (Python's ``timedelta.max``, in whole days)
_MAX_DAYS = timedelta.max.days


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def parse_duration(
    value: Duration, *, name: str = "lookback", allow_zero: bool = False
) -> timedelta:
    """``"90d"``, ``"12h"``, ``"30m"``, ``"2w"``, ``"45s"`` (a number and a unit), or a
    ``timedelta``. The error names the option (``name``); ``allow_zero``: ``"0s"`` too.

    Examples
    --------
    >>> from attribution.inputs._durations import parse_duration
    >>> parse_duration("90d").days, parse_duration("12h").total_seconds()
    (90, 43200.0)
    """
    usage = f"'{name}' must be a duration like '90d', '12h', '30m', '2w' or '45s'"
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, int | float | str) and not isinstance(value, bool):
        raw = str(value).strip()
        if raw.endswith("M") and _number(raw[:-1]) is not None:
            # ISO 8601 P3M and pandas 'M' are months, our 'm' minutes: neither is guessed
            number, amount = raw[:-1].strip(), _number(raw[:-1]) or 0.0
            months = f"'{round(amount * 30):d}d' for about {number} months" if (
                0 < amount < 1e6) else "a number of days ('90d') for months"
            raise InputError(
                f"'{name}': 'M' is ambiguous (months or minutes?); got {value!r}: write "
                f"{months}, or '{number}m' for minutes"
            )
        text = raw.lower()
        unit = text[-1:] if text[-1:] in _UNITS else ""
        number = text[:-1] if unit else text
        try:
            amount = float(number)
        except ValueError:  # not a number
            raise InputError(f"{usage}; got {value!r}") from None
        if unit and amount < 0:
            raise InputError(f"'{name}' must be positive; got {value!r}")
        try:
            result = timedelta(seconds=amount * _UNITS[unit]) if unit else timedelta(0)
        except ValueError:  # nan
            raise InputError(f"{usage}; got {value!r}") from None
        except OverflowError:  # inf, or beyond what a duration holds
            raise InputError(f"'{name}' is too long: at most {_MAX_DAYS:,} days "
                             f"('{_MAX_DAYS}d'); got {value!r}") from None
        if not unit:
            days = f" (for {number} days write '{number}d')" if 0 < amount < 1e6 else ""
            raise InputError(f"{usage}: a number needs a unit; got {value!r}{days}")
    else:
        raise InputError(f"{usage}; got {value!r}")
    if result < timedelta(0) or (result == timedelta(0) and not allow_zero):
        raise InputError(f"'{name}' must be positive; got {value!r}")
    return result
