"""Weekly alerts a CRO can act on: pipeline and channel anomalies, overall and per channel.

Metrics (weeks start on Monday, UTC; only weeks wholly inside the stage events' span):

- **pipeline** family, overall and per sourced channel (the channel of the entity's first
  touch): ``<lead>_volume`` and ``<mql>_volume`` (entities reaching the first two steps in
  the week; drop and spike), each step rate but the last, ``<a>_to_<b>`` (of the week's
  entrants to ``a``, the share reaching ``b`` within the step's horizon; drop only;
  ``mql_to_sql`` is lead quality, MQL -> SQL acceptance), ``win_rate`` (won / closed of the
  opportunities closed in the week; drop and spike) and ``sales_cycle_days`` (mean days
  from opportunity to close of the deals closed in the week, on the log scale; spike =
  slowdown). A channel's performance decline shows as its own pipeline alerts.
- **channel** family: ``touches`` (touches delivered per channel; drop, a channel going
  silent is a drop to 0), ``spend`` (cost spike), ``cost_per_<lead>`` and
  ``cost_per_<mql>`` (the channel's spend / the entities it sourced; spike), per channel
  and overall.

Statistics (:mod:`attribution.b2b._alerts_stats`): each week, and the last two weeks
pooled, against the ``trailing_weeks`` weeks before them (one week of guard): their median
on the log scale for volumes and amounts (``trend``: a Theil-Sen trend carried forward; a
channel's spend against the median move of the other channels' spend), beta-binomial for
rates; counts scored by their Poisson deviance. A spend table by month is tested against
``spend_trailing_weeks`` (their robust mean, against the robust mean move of the other
channels), its spread pooled with the other channels' and learnt without the weeks beyond
two spreads, at the monthly threshold
(:func:`attribution.b2b._alerts_weekly.monthly_threshold`), without the two-week pooling.
A week alerts when ``|z| >=`` its series' threshold *and* the change is at least
``min_change`` (relative) or ``min_points`` (rates) *and* there is volume enough
(``min_volume`` expected per week for counts, ``min_entrants`` entrants for a rate,
``min_deals`` closed deals for the sales cycle, ``min_spend`` expected spend). A step
rate's week is **provisional** until its horizon (the ``horizon_quantile`` of the funnel's
own time in that stage, at most ``max_horizon_days``) has passed by the end of the data;
provisional weeks never alert and never enter a baseline. Consecutive alerting weeks of one
metric, channel and kind are one alert, dated by its first week (``weeks`` says how long it
lasted).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from attribution._reporting_currency import money_text
from attribution.b2b._alerts_series import (
    ALL,
    as_read_for_alerts,
    full_weeks,
    horizons,
    weekly_frames,
)
from attribution.b2b._alerts_settings import AlertSettings, Spec, metric_specs
from attribution.b2b._alerts_weekly import (
    cost_series,
    count_series,
    mean_series,
    rate_series,
    settling,
    time_to_outcome,
)

__all__ = ["ALERTS_SCHEMA", "SERIES_SCHEMA", "AlertSettings", "Alerts", "detect_alerts"]

ALERTS_SCHEMA = pl.Schema(
    {
        "week": pl.Date(),
        "metric": pl.String(),
        "family": pl.String(),
        "channel": pl.String(),
        "kind": pl.String(),
        "value": pl.Float64(),
        "expected": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "score": pl.Float64(),
        "severity": pl.String(),
        "provisional": pl.Boolean(),
        "weeks": pl.Int64(),
        "window_weeks": pl.Int64(),
        "entrants": pl.Float64(),
        "message": pl.String(),
    }
)
SERIES_SCHEMA = pl.Schema(
    {
        "week": pl.Date(),
        "metric": pl.String(),
        "family": pl.String(),
        "channel": pl.String(),
        "value": pl.Float64(),
        "entrants": pl.Float64(),
        "expected": pl.Float64(),
        "low": pl.Float64(),
        "high": pl.Float64(),
        "score": pl.Float64(),
        "provisional": pl.Boolean(),
        "alert": pl.Boolean(),
    }
)
_SEVERITY_STEPS = (2.0, 4.0)  # z above the threshold for medium, high


@dataclass
class Alerts:
    """What :func:`detect_alerts` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per alert (:data:`ALERTS_SCHEMA`): ``week`` (Monday of its first week),
        ``metric``, ``family``, ``channel`` (null: overall), ``kind`` (drop / spike),
        ``value``, ``expected``, ``low`` / ``high`` (the expected range at the threshold),
        ``score`` (z), ``severity`` (low / medium / high), ``provisional`` (always false:
        provisional weeks never alert), ``weeks`` (consecutive weeks out of range),
        ``window_weeks`` (1, or 2 when the two weeks pooled alerted), ``entrants`` (a
        rate's entrants), ``message``.
    series : pl.DataFrame
        Every metric, channel and week tested (:data:`SERIES_SCHEMA`).
    settings : AlertSettings
    horizons : dict
        Per step, the days a step rate waits for an advance.
    settle_days : int
        The settling period of counts at the data's edges, in days.
    """

    table: pl.DataFrame
    series: pl.DataFrame
    settings: AlertSettings
    horizons: dict[str, int] = field(default_factory=dict)
    settle_days: int = 0
    #: how the spend was read when it is not as given: ``by_month`` lists the channels of a
    #: table by date whose spend is by month (one date a month) beside channels by day;
    #: ``dated_by_month``: every channel is, and the table was read as one by month
    spend_read: dict[str, Any] = field(default_factory=dict)

    def parameters(self) -> dict[str, Any]:
        """The settings and horizons, JSON-ready."""
        out = {**asdict(self.settings), "mute": list(self.settings.mute)}
        return out | {"rate_horizon_days": self.horizons, "settle_days_used": self.settle_days,
                      "spend_read": self.spend_read}  # fmt: skip

    def spend_note(self) -> str:
        """``; ...`` for the alert rule's short line: the spend read otherwise than given
        (new-user report 16, M2); empty when it was read as given."""
        if self.spend_read.get("dated_by_month"):
            return "; spend dated once a month: read and tested by month"
        monthly = self.spend_read.get("by_month") or []
        if not monthly:
            return ""
        return (
            f"; spend of {len(monthly)} channel(s) by month beside daily rows (one date a "
            f"month: {', '.join(monthly)}): spread over its days, its spend tested by month "
            "against its own months, its weekly cost tests left out"
        )


def detect_alerts(
    wide: pl.DataFrame,
    steps: Sequence[str],
    span: tuple[datetime | None, datetime | None],
    *,
    touches: pl.DataFrame | None = None,
    spend: pl.DataFrame | None = None,
    settings: AlertSettings | Mapping[str, Any] | None = None,
) -> Alerts:
    """The weekly alerts of the funnel entities ``wide`` (one row per entity with
    ``<step>_at`` times, ``_lost_at`` and, for per-channel series, ``channel``), the touch
    log ``touches`` (``timestamp``, ``channel``) and ``spend`` (``channel``, ``month`` or
    ``date``, ``amount``) over the full weeks of ``span``."""
    cfg = AlertSettings.of(settings)
    steps = list(steps)
    specs = metric_specs(steps)
    start, end = span
    empty = Alerts(pl.DataFrame(schema=ALERTS_SCHEMA), pl.DataFrame(schema=SERIES_SCHEMA), cfg)
    if start is None or end is None or wide.height == 0:
        return empty
    first, last = full_weeks(start, end)
    if last < first:
        return empty
    weeks = pl.date_range(first, last, "1w", eager=True).alias("week")
    horizon = horizons(wide, steps, cfg.horizon_quantile, cfg.max_horizon_days)
    frames = weekly_frames(wide, steps, horizon, touches)
    settle = (
        cfg.settle_days
        if cfg.settle_days is not None
        else time_to_outcome(wide, steps, horizon, cfg)
    )
    edges = settling(weeks, start, end, settle)
    parts = [
        count_series(frames["count"], weeks, cfg, edges),
        rate_series(frames["rate"], weeks, cfg, horizon, end),
        mean_series(frames["mean"], weeks, cfg, edges),
    ]
    spend_read: dict[str, Any] = {}
    if spend is not None and spend.height:
        parts.extend(cost_series(spend, frames["count"], steps, weeks, cfg, edges))
        read, monthly = as_read_for_alerts(spend)
        spend_read = {"by_month": monthly, "dated_by_month": "date" not in read.columns
                      and "date" in spend.columns}  # fmt: skip
    series = (
        pl.concat([p for p in parts if p.height], how="diagonal_relaxed")
        .with_columns(
            pl.col("metric").replace_strict({m: s.family for m, s in specs.items()}).alias("family")
        )
        .pipe(_directions, specs, cfg)
    )
    table = _episodes(series, specs, cfg)
    out = (
        series.with_columns(
            pl.when(pl.col("channel") != ALL).then(pl.col("channel")).alias("channel"),
            pl.col("kind").is_not_null().alias("alert"),
        )
        .select(*SERIES_SCHEMA.names())
        .sort("metric", pl.col("channel").is_not_null(), "channel", "week")
    )
    return Alerts(table, out, cfg, horizon, settle, spend_read)


# --- alerts ----------------------------------------------------------------------------------
def _directions(series: pl.DataFrame, specs: dict[str, Spec], cfg: AlertSettings) -> pl.DataFrame:
    """``kind`` (drop / spike / null) and ``window`` (1 or 2) of each (series, week)."""
    rate = pl.col("stat") == "rate"
    min_effect = pl.when(rate).then(pl.lit(cfg.min_points)).otherwise(pl.lit(cfg.min_change))
    thr = pl.col("threshold")
    may_drop = pl.col("metric").is_in([m for m, s in specs.items() if "drop" in s.directions])
    may_spike = pl.col("metric").is_in([m for m, s in specs.items() if "spike" in s.directions])
    muted = pl.col("metric").is_in([m for m in cfg.mute if ":" not in m])
    for entry in (m for m in cfg.mute if ":" in m):
        metric, channel = entry.split(":", 1)
        muted = muted | (
            (pl.col("channel") == channel.strip().lower())
            & (pl.lit(metric.strip() == "*") | (pl.col("metric") == metric.strip()))
        )

    def fires(suffix: str, sign: int) -> pl.Expr:
        z, change = pl.col(f"score{suffix}"), pl.col(f"change{suffix}")
        return (
            (z * sign >= thr)
            & (change * sign >= min_effect)
            & (pl.col(f"volume_ok{suffix}") > 0)
            & ~pl.col("provisional")
        ).fill_null(False)

    drop = may_drop & (fires("", -1) | fires("2", -1))
    spike = may_spike & (fires("", 1) | fires("2", 1))
    single = (may_drop & fires("", -1)) | (may_spike & fires("", 1))
    return series.with_columns(
        pl.when(muted).then(None).when(drop).then(pl.lit("drop")).when(spike)
        .then(pl.lit("spike")).alias("kind"),
        pl.when(single).then(1).otherwise(2).alias("window"),
    )  # fmt: skip


def _episodes(series: pl.DataFrame, specs: dict[str, Spec], cfg: AlertSettings) -> pl.DataFrame:
    """One alert per run of consecutive weeks with the same metric, channel and kind."""
    two = pl.col("window") == 2

    def pick(name: str) -> pl.Expr:
        return pl.when(two).then(pl.col(f"{name}2")).otherwise(pl.col(name)).alias(name)

    ordered = series.sort("metric", "channel", "week").with_columns(
        (pl.col("kind").ne_missing(pl.col("kind").shift(1)).cum_sum())
        .over("metric", "channel")
        .alias("_run")
    )
    runs = (
        ordered.filter(pl.col("kind").is_not_null())
        .with_columns(pl.len().over("metric", "channel", "_run").alias("weeks"))
        .filter(pl.col("week") == pl.col("week").min().over("metric", "channel", "_run"))
        .with_columns(
            *(pick(n) for n in ("value", "expected", "low", "high", "score", "change")),
            pl.when(two & (pl.col("stat") == "rate"))
            .then(pl.col("entrants2"))
            .otherwise(pl.col("entrants"))
            .alias("entrants")
            if "entrants2" in series.columns
            else pl.col("entrants"),
        )  # fmt: skip
    )
    if runs.height == 0:
        return pl.DataFrame(schema=ALERTS_SCHEMA)
    thr = pl.col("threshold")
    silent = (pl.col("stat") == "count") & (pl.col("value") == 0) & (pl.col("kind") == "drop")
    severity = (
        pl.when(silent | (pl.col("score").abs() >= thr + _SEVERITY_STEPS[1]))
        .then(pl.lit("high"))
        .when(pl.col("score").abs() >= thr + _SEVERITY_STEPS[0])
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )
    rows = runs.with_columns(
        severity.alias("severity"),
        pl.col("window").cast(pl.Int64).alias("window_weeks"),
        pl.col("weeks").cast(pl.Int64),
        pl.when(pl.col("channel") != ALL).then(pl.col("channel")).alias("channel"),
    )
    messages = [_message(r, specs) for r in rows.iter_rows(named=True)]  # one line per alert
    return (
        rows.with_columns(pl.Series("message", messages, dtype=pl.String))
        .select(*ALERTS_SCHEMA.names())
        .sort("week", "family", "metric", "channel", nulls_last=False)
    )


def _fmt(value: float | None, stat: str, metric: str) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if stat == "rate":
        return f"{value:.1%}"
    if metric == "spend" or metric.startswith("cost_per_"):
        return money_text(value) if value >= 10 else money_text(value, 2)
    if stat == "mean":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _message(r: dict[str, Any], specs: dict[str, Spec]) -> str:
    """One line: what moved, by how much, when, against what range."""
    spec = specs[r["metric"]]
    where = f" from {r['channel']}" if r["channel"] is not None else ""
    if spec.family == "channel" and r["channel"] is not None:
        where = f" of {r['channel']}"
    when = (f"in the two weeks to the week of {r['week']}" if r["window_weeks"] == 2
            else f"in the week of {r['week']}")  # fmt: skip
    stat, metric = r["stat"], r["metric"]
    verb = "fell" if r["kind"] == "drop" else "rose"
    if stat == "rate":
        size = f"{abs(r['change']) * 100:.1f} points"
        of = f" of {r['entrants']:,.0f}" if r.get("entrants") is not None else ""
        seen = f"{_fmt(r['value'], stat, metric)}{of}"
    else:
        size = f"{abs(r['change']):.0%}"
        seen = _fmt(r["value"], stat, metric) + (" a week" if r["window_weeks"] == 2 else "")
    if stat == "count" and r["value"] == 0:
        head = f"{spec.label}{where} went silent {when}: 0"
    else:
        head = f"{spec.label}{where} {verb} {size} {when}: {seen}"
    line = (
        f"{head} vs {_fmt(r['expected'], stat, metric)} expected "
        f"({_fmt(r['low'], stat, metric)} to {_fmt(r['high'], stat, metric)}), z {r['score']:+.1f}"
    )
    if r["weeks"] > 1:
        line += f"; out of range {r['weeks']} weeks running"
    return line
