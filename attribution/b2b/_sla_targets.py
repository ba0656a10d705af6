"""The settings of the sales and marketing SLAs (``[sla]`` of a config file), their defaults
and where each default comes from, checked once (:func:`check_sla_settings`).

A small module of its own: the config reader checks ``[sla]`` with it (naming the file),
without importing the SLA computation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from attribution.exceptions import InputError, did_you_mean

__all__ = [
    "DEFAULT_SALES_TOUCH_TYPES",
    "SLA_DEFAULTS",
    "SLA_SOURCES",
    "check_sla_settings",
    "normalise_touch_type",
]

#: The touch types that are sales touches (``touch_type`` of the touches table, compared
#: trimmed and lower-cased).
DEFAULT_SALES_TOUCH_TYPES: tuple[str, ...] = ("sales_call", "sales_email", "meeting")

#: Every ``[sla]`` setting with its default.
SLA_DEFAULTS: Mapping[str, Any] = {
    "sales_touch_types": DEFAULT_SALES_TOUCH_TYPES,
    "speed_to_lead_hours": 24.0,
    "follow_up_touches": 3,
    "follow_up_days": 7.0,
    "sql_acceptance_rate": 0.15,
    "sql_acceptance_days": 30.0,
    "mql_to_sql_days": 14.0,
    "sql_to_opportunity_days": 14.0,
}

#: Where each default comes from (written to ``sla.json`` and the README).
SLA_SOURCES: Mapping[str, str] = {
    "sales_touch_types": "the sales activities a CRM logs against a lead: calls, emails, meetings",
    "speed_to_lead_hours": "one business day, the usual marketing-to-sales SLA commitment; "
    "the published research is harsher (Oldroyd, McElheran & Elkington, 'The Short Life of "
    "Online Sales Leads', HBR 2011: firms that tried to reach a lead within an hour were "
    "nearly 7x as likely to qualify it as those that waited longer; the average first "
    "response was 42 hours), so set 1 to hold sales to that",
    "follow_up_touches": "the project's default: a first-week cadence of three sales "
    "attempts; no published figure is encoded, set your own playbook's",
    "follow_up_days": "the project's default (the first week after the MQL); see follow_up_touches",
    "sql_acceptance_rate": "the low end of the published MQL -> SQL range, 15-25% (the "
    "shipped B2B funnel ranges)",
    "sql_acceptance_days": "the funnel's 30-day window for weekly step rates, so the two agree",
    "mql_to_sql_days": "the project's default: two hand-offs of two weeks each fit in a "
    "month, inside the shortest published sales cycle (SMB, 1-3 months)",
    "sql_to_opportunity_days": "as mql_to_sql_days",
}

_INTEGERS = {"follow_up_touches"}
_RATES = {"sql_acceptance_rate"}


def normalise_touch_type(text: str) -> str:
    """A touch type as the SLAs compare it: trimmed, lower case."""
    return text.strip().lower()


def check_sla_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """``settings`` (``[sla]`` keys, any subset) checked and completed with the defaults.

    Durations are positive numbers of hours or days (as the key says), ``follow_up_touches``
    a whole number of at least 1, ``sql_acceptance_rate`` a share in (0, 1] and
    ``sales_touch_types`` a non-empty list of names. A bad value is an InputError naming
    the key.
    """
    given = dict(settings or {})
    for key in given:
        if key not in SLA_DEFAULTS:
            raise InputError(
                f"unknown SLA setting '{key}'; {did_you_mean(key, list(SLA_DEFAULTS))}"
            )
    out = {**SLA_DEFAULTS, **given}
    types = out["sales_touch_types"]
    if isinstance(types, str):
        types = [types]
    if (
        not isinstance(types, Sequence)
        or not types
        or not all(isinstance(t, str) and t.strip() for t in types)
    ):
        raise InputError(
            f"sales_touch_types must be a non-empty list of touch type names; got {types!r}"
        )
    out["sales_touch_types"] = tuple(dict.fromkeys(normalise_touch_type(t) for t in types))
    for key, value in out.items():
        if key == "sales_touch_types":
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if key in _INTEGERS:
            if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
                raise InputError(f"{key} must be a whole number of at least 1; got {value!r}")
        elif key in _RATES:
            if not (number and 0 < value <= 1):
                raise InputError(f"{key} must be a share in (0, 1], e.g. 0.15; got {value!r}")
            out[key] = float(value)
        else:
            if not (number and 0 < value < float("inf")):
                raise InputError(f"{key} must be a number > 0; got {value!r}")
            out[key] = float(value)
    return out
