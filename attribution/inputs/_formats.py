"""Timestamp formats as users give them (``--timestamp-format``, ``[formats]`` in a config,
``RunOptions(timestamp_formats=...)``): checked once, then looked up per table column."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from attribution.exceptions import InputError, did_you_mean
from attribution.inputs._numbers import DECIMAL_COMMA_KEY
from attribution.inputs._reading import TIMEZONE_KEY
from attribution.inputs._schema import DATE, SPECS, TIMESTAMP

__all__ = [
    "DECIMAL_COMMA_KEY",
    "TIMEZONE_KEY",
    "check_timestamp_formats",
    "check_timezone",
    "config_formats_hint",
    "formats_for",
]

#: every (table, column) that holds a timestamp or a date
_TIME_COLUMNS = {
    (table, column)
    for table, spec in SPECS.items()
    for column, kind in spec.columns.items()
    if kind in (TIMESTAMP, DATE)
}
_KEYS = sorted({"*"} | {c for _, c in _TIME_COLUMNS} | {f"{t}.{c}" for t, c in _TIME_COLUMNS})


def _patterns(key: str, value: object) -> tuple[str, ...]:
    patterns = [value] if isinstance(value, str) else value
    if (
        not isinstance(patterns, Sequence)
        or not patterns
        or not all(isinstance(p, str) and "%" in p for p in patterns)
    ):
        raise InputError(
            f"timestamp formats for '{key}' must be strftime patterns like '%m/%d/%Y %I:%M %p'"
            f" (one or a list); got {value!r}"
        )
    return tuple(patterns)


def check_timestamp_formats(
    value: Sequence[str] | Mapping[str, str | Sequence[str]] | None,
) -> dict[str, tuple[str, ...]]:
    """``value`` as ``{key: patterns}`` with keys ``*``, a column (``timestamp``) or a table's
    column (``stages.timestamp``); an InputError names a bad key or pattern."""
    if value is None:
        return {}
    if isinstance(value, str) or not isinstance(value, Mapping):
        return {"*": _patterns("*", value)}
    out: dict[str, tuple[str, ...]] = {}
    for key, patterns in value.items():
        if key == TIMEZONE_KEY:
            zones = [patterns] if isinstance(patterns, str) else list(patterns)
            out[key] = tuple(z for z in zones if check_timezone(z) is not None)
            continue
        if key == DECIMAL_COMMA_KEY:  # RunOptions.decimal_comma, travelling with them
            out[key] = ("true",) if patterns else ()
            continue
        if key not in _KEYS:
            raise InputError(
                f"timestamp formats: '{key}' is not a timestamp or date column; "
                + did_you_mean(str(key), _KEYS)
            )
        out[key] = _patterns(key, patterns)
    return out


def formats_for(
    table: str, formats: Mapping[str, Sequence[str]] | None
) -> dict[str, tuple[str, ...]]:
    """Our timestamp / date columns of ``table`` -> their patterns (most specific key wins;
    ``events`` also reads the ``touches`` and ``stages`` keys)."""
    if not formats:
        return {}
    tables = (table, "touches", "stages") if table == "events" else (table,)
    out: dict[str, tuple[str, ...]] = {}
    for key in (TIMEZONE_KEY, DECIMAL_COMMA_KEY):  # every table's: the zone, the comma
        if formats.get(key):
            out[key] = tuple(formats[key])
    for t, column in sorted(_TIME_COLUMNS):
        if t != table:
            continue
        for key in [*(f"{name}.{column}" for name in tables), column, "*"]:
            if key in formats:
                out[column] = tuple(formats[key])
                break
    return out


def resolve_formats(
    value: Sequence[str] | Mapping[str, str | Sequence[str]] | None, table: str
) -> dict[str, tuple[str, ...]]:
    """``timestamp_formats`` as the user gives them (a list or a mapping, see
    :class:`attribution.RunOptions`) -> our columns of ``table`` -> patterns."""
    return formats_for(table, check_timestamp_formats(value))


def check_timezone(value: object) -> str | None:
    """``value`` (``timezone``: the zone naive timestamps are read in) checked: None, or an
    IANA time zone name (``America/New_York``, ``Europe/Berlin``, ``UTC``); an InputError
    with a did-you-mean otherwise."""
    if value is None:
        return None
    import zoneinfo

    if isinstance(value, str) and value.strip() and value == value.strip():
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
        else:
            return value
    names = sorted(zoneinfo.available_timezones())
    spelled = str(value).strip().replace(" ", "_")
    near = [n for n in names if n.lower() == spelled.lower()]
    raise InputError(
        f"timezone must be an IANA time zone name such as 'America/New_York' or "
        f"'Europe/Berlin'; got {value!r}; "
        + (f"did you mean {near[0]!r}?" if near else did_you_mean(str(value), names))
    )



_SUGGESTED = re.compile(r"'([^']*%[^']*)'")  # the patterns after 'try --timestamp-format'


def config_formats_hint(exc: Exception) -> Exception:
    """``exc`` (an error of a run given a config, ``-c``) with its hint naming the config key
    of its column beside the ``--timestamp-format`` patterns it suggests: the flag covers
    every timestamp and date column, ``[formats] timestamp`` only the tables' ``timestamp``
    columns, so a spend ``month`` needs ``[formats.spend] month``. Other errors as they
    are."""
    if not isinstance(exc, InputError) or not exc.hint or not exc.table or not exc.column:
        return exc
    at = exc.hint.find("--timestamp-format '")
    patterns = list(dict.fromkeys(_SUGGESTED.findall(exc.hint[at:]))) if at >= 0 else []
    if not patterns:
        return exc
    column = exc.column
    key = "[formats] timestamp" if column == "timestamp" else f"[formats.{exc.table}] {column}"
    value = ", ".join(f'"{p}"' for p in patterns)
    said = f"; in the config: {key} = [{value}]" + (
        "" if column == "timestamp" else " ([formats] timestamp covers the timestamp columns only)"
    )
    return exc.replace(hint=exc.hint + said)
