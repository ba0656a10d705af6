"""The alerts scored against anomalies injected on purpose (``truth.json``'s ``anomalies``).

An injected anomaly counts as **found** when an alert of its family and channel (the same
channel, or both overall) fires within ``tolerance_weeks`` of it: in some week from
``tolerance_weeks`` before its first week to its last week (``weeks`` long; a two-week
anomaly: a week either side of its first week; a spend table given by month changes whole
months, and an alert in the second month of a two-month change is timely for that month),
counting every week of an alert that stays out of range (its ``weeks``: one alert covers
two changes back to back). ``found_at_start`` is the stricter reading: an alert that starts
within ``tolerance_weeks`` of its first week; ``found_metric`` asks for the same metric as
well. Alerts that match no anomaly by
family, channel and week are **unmatched**; on a world without injected anomalies every
alert is a false alert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

__all__ = ["AlertScore", "score_alerts"]

_INJECTED = pl.Schema(
    {
        "family": pl.String(),
        "metric": pl.String(),
        "channel": pl.String(),
        "week": pl.Date(),
        "size": pl.Float64(),
        "kind": pl.String(),
        "weeks": pl.Int64(),
    }
)


@dataclass(frozen=True)
class AlertScore:
    """What :func:`score_alerts` returns.

    Attributes
    ----------
    anomalies : pl.DataFrame
        One row per injected anomaly: ``family``, ``metric``, ``channel``, ``week``,
        ``size``, ``kind``, ``weeks``, ``found``, ``found_at_start``, ``found_metric`` and
        ``alert`` (the first matching alert's message).
    unmatched : pl.DataFrame
        The alerts that match no anomaly.
    """

    anomalies: pl.DataFrame
    unmatched: pl.DataFrame

    @property
    def recall(self) -> float | None:
        """Share of the anomalies found (``None`` without anomalies)."""
        n = self.anomalies.height
        return float(self.anomalies.get_column("found").mean()) if n else None  # type: ignore[arg-type]


def score_alerts(
    alerts: pl.DataFrame,
    anomalies: Sequence[Mapping[str, Any]],
    *,
    tolerance_weeks: int = 1,
) -> AlertScore:
    """Score ``alerts`` (the ``alerts.parquet`` table) against injected ``anomalies`` (the
    ``anomalies`` list of ``truth.json``: ``family``, ``metric``, ``channel`` (null:
    overall), ``week`` (ISO date of its Monday), ``size``, ``kind``, ``weeks`` (optional,
    default 1)).

    Examples
    --------
    >>> import polars as pl
    >>> from datetime import date
    >>> from attribution import score_alerts
    >>> alerts = pl.DataFrame({"week": [date(2025, 6, 9)], "family": ["pipeline"],
    ...     "metric": ["mql_volume"], "channel": [None], "message": ["MQL volume fell 40%"]})
    >>> truth = [{"family": "pipeline", "metric": "mql_volume", "channel": None,
    ...     "week": "2025-06-02", "size": -0.4, "kind": "drop"}]
    >>> score_alerts(alerts, truth).recall
    1.0
    """
    rows = [
        {
            **{k: a.get(k) for k in _INJECTED.names()},
            "week": date.fromisoformat(str(a["week"])),
            "size": float(a["size"]),
            "weeks": int(a.get("weeks") or 1),
        }
        for a in anomalies
    ]
    injected = pl.DataFrame(rows, schema=_INJECTED).with_row_index("_a")
    lasted = pl.col("weeks") if "weeks" in alerts.columns else pl.lit(1)
    fired = alerts.select(
        "week", "family", "metric", pl.col("channel").cast(pl.String), "message",
        lasted.cast(pl.Int64).alias("lasted"),
    ).with_row_index("_r")  # fmt: skip
    days = 7 * tolerance_weeks
    late = (pl.col("week_alert") - pl.col("week")).dt.total_days()
    last = 7 * pl.max_horizontal(pl.lit(tolerance_weeks), pl.col("weeks") - 1)
    # the alert fires (from its first week through its last) somewhere in the window
    fires = (late <= last) & (late + 7 * (pl.col("lasted") - 1) >= -days)
    pairs = (
        injected.join(fired, on="family", suffix="_alert")
        .filter(pl.col("channel").eq_missing(pl.col("channel_alert")) & fires)
        .sort("_a", "week_alert")
    )
    found = pairs.group_by("_a").agg(
        pl.lit(True).alias("found"),
        (late.abs() <= days).any().alias("found_at_start"),
        (pl.col("metric") == pl.col("metric_alert")).any().alias("found_metric"),
        pl.col("message").first().alias("alert"),
    )
    table = (
        injected.join(found, on="_a", how="left")
        .with_columns(pl.col("found", "found_at_start", "found_metric").fill_null(False))
        .sort("_a")
        .drop("_a")
    )
    unmatched = fired.filter(~pl.col("_r").is_in(pairs.get_column("_r").implode())).drop("_r")
    return AlertScore(table, unmatched)
