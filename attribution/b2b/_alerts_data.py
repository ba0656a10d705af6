"""Alerts about the run's own inputs, beside the weekly ones: the economics' warnings that
the inputs do not meet (spend of part of the conversions' months, most conversions
without touches, subscriptions or accounts keyed by other ids, no deal values; see
:mod:`attribution.b2b._economics_window` and :mod:`attribution.b2b._economics_joins`).

Each is one row of :data:`attribution.b2b._alerts.ALERTS_SCHEMA`: ``family`` ``data``,
``metric`` the finding (``spend_coverage``, ``conversions_without_touches``,
``subscriptions_match``, ``accounts_match``, ``deal_values``), ``kind`` ``mismatch``,
``severity`` ``high`` (every figure of the economics depends on it; won deals at $0 by
their share of the credited customers: under 5% ``low``, under 20% ``medium``: new-user
report 22, M8, one $0 deal of 83 moved CAC 1.2% and was a high alert), ``week`` the last
week of the weekly series, the ``message`` the economics' warning; no statistic (``score``
and the expected range are null).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution.b2b._alerts import ALERTS_SCHEMA
from attribution.b2b._economics_joins import join_items
from attribution.b2b._economics_window import coverage_lines

__all__ = ["with_data_alerts"]


def with_data_alerts(
    alerts: pl.DataFrame, parameters: Mapping[str, Any], weekly: pl.DataFrame
) -> pl.DataFrame:
    """``alerts`` with one ``data`` alert per input warning of the economics ``parameters``
    (module docstring), first; ``weekly`` (its ``week``) dates them."""
    items = [("spend_coverage", t) for t in coverage_lines(parameters.get("spend_coverage"))]
    items += join_items(dict(parameters))
    if not items:
        return alerts
    week = weekly.get_column("week").max() if "week" in weekly.columns else None
    rows = pl.DataFrame(
        {
            "week": [week] * len(items),
            "metric": [m for m, _ in items],
            "family": ["data"] * len(items),
            "kind": ["mismatch"] * len(items),
            "severity": [_severity(m, parameters) for m, _ in items],
            "provisional": [False] * len(items),
            "weeks": [1] * len(items),
            "window_weeks": [1] * len(items),
            "message": [t.removeprefix("WARNING: ") for _, t in items],
        },
        schema_overrides={"week": pl.Date},
    )
    return pl.concat([rows, alerts], how="diagonal_relaxed").select(ALERTS_SCHEMA.names())


def _severity(metric: str, parameters: Mapping[str, Any]) -> str:
    """``high``, but won deals at $0 by their share of the credited customers."""
    if metric == "deal_values_missing":
        share = float((parameters.get("customers_at_zero_value") or {}).get("share") or 1.0)
        return "low" if share < 0.05 else "medium" if share < 0.20 else "high"
    return "high"
