"""The weekly series the alerts test, overall and per sourced channel, as (series x week)
matrices: volumes, step rates with their counts, win rate, sales cycle, touches, spend and
cost per lead / MQL (definitions in :mod:`attribution.b2b._alerts`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import polars as pl

from attribution.b2b._funnel_stages import days

__all__ = [
    "ALL",
    "Matrix",
    "as_read_for_alerts",
    "by_month_channels",
    "daily_spend",
    "full_weeks",
    "horizons",
    "matrix",
    "spend_weekly",
    "week_of",
    "weekly_frames",
]

#: The channel value of the overall series inside the detector (``null`` in its outputs).
ALL = "\x00all"


def full_weeks(start: datetime, end: datetime) -> tuple[date, date]:
    """First and last Monday of the weeks that lie wholly inside ``[start, end]``."""
    day = start.date()
    at_midnight = start == datetime.combine(day, time(0), tzinfo=start.tzinfo)
    first = day if at_midnight and day.weekday() == 0 else day + timedelta(7 - day.weekday())
    last_day = (end - timedelta(days=7)).date()
    return first, last_day - timedelta(days=last_day.weekday())


def week_of(column: str) -> pl.Expr:
    """The Monday (UTC) of the week of the timestamp ``column``."""
    return pl.col(column).dt.date().dt.truncate("1w")


@dataclass
class Matrix:
    """Series keys (``metric``, ``channel``) and, per value name, a (series x week) array."""

    keys: pl.DataFrame
    values: dict[str, np.ndarray] = field(default_factory=dict)


def matrix(frame: pl.DataFrame, weeks: pl.Series, columns: list[str]) -> Matrix:
    """Scatter the long ``frame`` (``metric``, ``channel``, ``week``, ``columns``) into
    (series x week) arrays over ``weeks`` (missing cells are 0)."""
    keys = frame.select("metric", "channel").unique().sort("metric", "channel")
    first = weeks[0]
    indexed = (
        frame.filter(pl.col("week").is_in(weeks.implode()))
        .join(keys.with_row_index("_s"), on=["metric", "channel"])
        .with_columns(((pl.col("week") - first).dt.total_days() // 7).alias("_w"))
    )
    s = indexed.get_column("_s").to_numpy()
    w = indexed.get_column("_w").to_numpy()
    out = Matrix(keys)
    for name in columns:
        arr = np.zeros((keys.height, weeks.len()))
        arr[s, w] = indexed.get_column(name).cast(pl.Float64).fill_null(0.0).to_numpy()
        out.values[name] = arr
    return out


def _by_channel(frame: pl.DataFrame, metric: str, aggs: list[pl.Expr]) -> pl.DataFrame:
    """``aggs`` per (channel, week) and per week (channel :data:`ALL`), named ``metric``."""
    parts = [frame.group_by("week").agg(aggs).with_columns(pl.lit(ALL).alias("channel"))]
    if "channel" in frame.columns:
        parts.append(frame.group_by("channel", "week").agg(aggs))
    return pl.concat(
        [p.select("channel", "week", pl.exclude("channel", "week")) for p in parts]
    ).with_columns(pl.lit(metric).alias("metric"))


def horizons(wide: pl.DataFrame, steps: list[str], quantile: float, cap: int) -> dict[str, int]:
    """Per step ``a`` (but the last), the days within which a step rate counts an advance:
    the ``quantile`` of the funnel's own time in stage (those who advanced), in whole days,
    at least 7 and at most ``cap`` (7 when nobody advanced: no delay is known)."""
    out: dict[str, int] = {}
    for a, b in zip(steps, steps[1:], strict=False):
        q = wide.select(
            days(pl.col(f"{b}_at") - pl.col(f"{a}_at"))
            .filter(pl.col(f"{b}_at").is_not_null() & pl.col(f"{a}_at").is_not_null())
            .quantile(quantile, "higher")
        ).item()
        out[a] = int(min(max(7, math.ceil(q)) if q is not None else 7, cap))
    return out


def weekly_frames(
    wide: pl.DataFrame,
    steps: list[str],
    horizon: dict[str, int],
    touches: pl.DataFrame | None,
) -> dict[str, pl.DataFrame]:
    """The long weekly frames by kind: ``count`` (``a``), ``rate`` (``a`` of ``b``) and
    ``mean`` (``a`` mean log days, ``b`` deals, ``c`` variance)."""
    counts = []
    for metric, stage in ((f"{steps[0]}_volume", steps[0]), (f"{steps[1]}_volume", steps[1])):
        at = wide.filter(pl.col(f"{stage}_at").is_not_null()).with_columns(
            week_of(f"{stage}_at").alias("week")
        )
        counts.append(_by_channel(at, metric, [pl.len().cast(pl.Float64).alias("a")]))
    if touches is not None:
        at = touches.with_columns(week_of("timestamp").alias("week"))
        counts.append(_by_channel(at, "touches", [pl.len().cast(pl.Float64).alias("a")]))
    rates = []
    for a, b in zip(steps[:-2], steps[1:-1], strict=False):
        window = timedelta(days=horizon[a])
        cohort = wide.filter(pl.col(f"{a}_at").is_not_null()).with_columns(
            week_of(f"{a}_at").alias("week"),
            (
                pl.col(f"{b}_at").is_not_null() & (pl.col(f"{b}_at") - pl.col(f"{a}_at") <= window)
            ).alias("_adv"),
        )
        rates.append(
            _by_channel(
                cohort,
                f"{a}_to_{b}",
                [
                    pl.col("_adv").sum().cast(pl.Float64).alias("a"),
                    pl.len().cast(pl.Float64).alias("b"),
                ],
            )
        )
    opp, won = f"{steps[-2]}_at", f"{steps[-1]}_at"
    closed = (
        wide.filter(pl.col(won).is_not_null() | pl.col("_lost_at").is_not_null())
        .with_columns(
            pl.coalesce(pl.col(won), pl.col("_lost_at")).alias("_closed_at"),
            pl.col(won).is_not_null().alias("_won"),
        )
        .with_columns(week_of("_closed_at").alias("week"))
    )
    rates.append(
        _by_channel(
            closed,
            "win_rate",
            [
                pl.col("_won").sum().cast(pl.Float64).alias("a"),
                pl.len().cast(pl.Float64).alias("b"),
            ],
        )
    )
    cycle = (
        closed.with_columns(days(pl.col("_closed_at") - pl.col(opp)).alias("_d"))
        .filter(pl.col("_d") > 0)
        .with_columns(pl.col("_d").log().alias("_ld"))
    )
    means = _by_channel(
        cycle,
        "sales_cycle_days",
        [
            pl.col("_ld").mean().alias("a"),
            pl.len().cast(pl.Float64).alias("b"),
            pl.col("_ld").var().fill_null(0.0).alias("c"),
        ],
    )
    return {"count": pl.concat(counts), "rate": pl.concat(rates), "mean": means}


def by_month_channels(spend: pl.DataFrame) -> list[str]:
    """The channels of a spend table by ``date`` whose spend is by month: one date in each
    of their months (the 1st, as a monthly sheet is dated, or any one day), over two months
    or more. A hand-kept monthly sheet merged into a daily ad-platform table is such a
    channel (new-user report 16, M2): read by day, each of its months lands in the week of
    its one date, a 'spend rose' alert in every week holding a 1st."""
    if "date" not in spend.columns or spend.height == 0:
        return []
    per = spend.group_by("channel").agg(
        pl.col("date").dt.month_start().n_unique().alias("months"),
        pl.col("date").n_unique().alias("dates"),
    )
    once = per.filter((pl.col("months") >= 2) & (pl.col("dates") == pl.col("months")))
    return sorted(once.get_column("channel").to_list())


def as_read_for_alerts(spend: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """The spend table as the alerts read it, and the channels of a table by date whose
    spend is by month (:func:`by_month_channels`) beside channels by day. A table by date
    whose every channel is by month is read as a table by ``month`` (tested once a month,
    as one); otherwise such channels' months are spread evenly over their days
    (:func:`daily_spend`) and the channels listed, their own weekly tests left out."""
    monthly = by_month_channels(spend)
    if not monthly or set(monthly) < set(spend.get_column("channel").unique().to_list()):
        return spend, monthly
    return spend.with_columns(pl.col("date").dt.month_start().alias("month")).drop("date"), []


def daily_spend(spend: pl.DataFrame, by_month: list[str] | None = None) -> pl.DataFrame:
    """``day``, ``channel``, ``amount``: a spend table by ``date`` as it is (the channels
    ``by_month`` with each month's amount spread evenly over its days), one by ``month``
    with each month's amount spread evenly over its days."""
    if "date" in spend.columns:
        frame = spend.select(pl.col("date").alias("day"), "channel", "amount")
        if not by_month:
            return frame
        monthly = pl.col("channel").is_in(by_month)
        spread = daily_spend(
            frame.filter(monthly).select(pl.col("day").dt.month_start().alias("month"),
                                         "channel", "amount")  # fmt: skip
        )
        return pl.concat([frame.filter(~monthly), spread.select(frame.columns)])
    return spend.select(
        pl.date_ranges(
            pl.col("month").dt.month_start(), pl.col("month").dt.month_end(), "1d"
        ).alias("day"),
        "channel",
        (pl.col("amount") / pl.col("month").dt.days_in_month()).alias("amount"),
    ).explode("day")


def spend_weekly(
    spend: pl.DataFrame, by_month: list[str] | None = None
) -> tuple[pl.DataFrame, tuple[date, date]]:
    """Weekly spend per channel and overall (monthly amounts spread evenly over the month's
    days), and the first and last day the spend table covers."""
    daily = daily_spend(spend, by_month)
    covered = (daily.get_column("day").min(), daily.get_column("day").max())
    weekly = daily.with_columns(pl.col("day").dt.truncate("1w").alias("week"))
    frame = _by_channel(weekly, "spend", [pl.col("amount").sum().alias("a")])
    return frame, covered  # type: ignore[return-value]
