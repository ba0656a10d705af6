"""The funnel's weekly series and their alerts: leads, MQLs, windowed step rates and cost per
lead per full week, each week's robust z against the weeks before it (the rules are in
:mod:`attribution.b2b._funnel`)."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any

import polars as pl

__all__ = ["WEEKLY_SCHEMA", "alerts", "cost_per_lead", "full_weeks", "week_of", "weekly_series"]

_MAD_SCALE = 0.6745
_MEANAD_SCALE = 1.253314

WEEKLY_SCHEMA = pl.Schema(
    {
        "week": pl.Date(),
        "metric": pl.String(),
        "value": pl.Float64(),
        "baseline": pl.Float64(),
        "robust_z": pl.Float64(),
        "alert": pl.Boolean(),
    }
)


def weekly_series(
    wide: pl.DataFrame,
    steps: list[str],
    span: tuple[Any, Any],
    spend: pl.DataFrame | None,
    trailing: int,
    threshold: float,
    window_days: int,
) -> pl.DataFrame:
    """The weekly series of the entities ``wide`` over the full weeks of ``span`` (and cost
    per lead with ``spend``), with their alerts (:data:`WEEKLY_SCHEMA`)."""
    start, end = span
    if start is None or wide.height == 0:
        return pl.DataFrame(schema=WEEKLY_SCHEMA)
    first_week, last_week = full_weeks(start, end)
    if last_week < first_week:
        return pl.DataFrame(schema=WEEKLY_SCHEMA)
    weeks = pl.date_range(first_week, last_week, "1w", eager=True).alias("week")
    series: list[pl.DataFrame] = []
    for metric, stage in (("leads", steps[0]), ("mqls", steps[1])):
        counts = (
            wide.filter(pl.col(f"{stage}_at").is_not_null())
            .group_by(week_of(f"{stage}_at").alias("week"))
            .agg(pl.len().cast(pl.Float64).alias("value"))
        )
        series.append(
            weeks.to_frame()
            .join(counts, on="week", how="left")
            .select("week", pl.lit(metric).alias("metric"), pl.col("value").fill_null(0.0))
        )
    window = timedelta(days=window_days)
    for a, b in zip(steps, steps[1:], strict=False):
        rate = (
            wide.filter(pl.col(f"{a}_at").is_not_null())
            .group_by(week_of(f"{a}_at").alias("week"))
            .agg(
                (
                    pl.col(f"{b}_at").is_not_null()
                    & (pl.col(f"{b}_at") - pl.col(f"{a}_at") <= window)
                )
                .mean()
                .alias("value")
            )
        )
        complete = weeks.filter(weeks + timedelta(days=7) + window <= end.date())
        series.append(
            complete.to_frame()
            .join(rate, on="week", how="left")
            .select("week", pl.lit(f"{a}_to_{b}_{window_days}d").alias("metric"), "value")
        )
    if spend is not None:
        series.append(cost_per_lead(spend, series[0], weeks))
    values = pl.concat(series).sort("metric", "week")
    return alerts(values, trailing, threshold)


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


def cost_per_lead(spend: pl.DataFrame, leads: pl.DataFrame, weeks: pl.Series) -> pl.DataFrame:
    """Weekly spend (all channels) / the week's ``leads``, on ``weeks``."""
    date_col = "date" if "date" in spend.columns else "month"
    if date_col == "month":
        # monthly amounts spread evenly over the days of the month
        days = spend.select(
            pl.date_ranges(
                pl.col("month").dt.month_start(), pl.col("month").dt.month_end(), "1d"
            ).alias("day"),
            (pl.col("amount") / pl.col("month").dt.days_in_month()).alias("amount"),
        ).explode("day")
    else:
        days = spend.select(pl.col("date").alias("day"), "amount")
    weekly = days.group_by(pl.col("day").dt.truncate("1w").alias("week")).agg(
        pl.col("amount").sum().alias("spend")
    )
    return (
        weeks.to_frame()
        .join(weekly, on="week", how="left")
        .join(leads.select("week", pl.col("value").alias("leads")), on="week", how="left")
        .select(
            "week",
            pl.lit("cost_per_lead").alias("metric"),
            pl.when(pl.col("leads") > 0)
            .then(pl.col("spend").fill_null(0.0) / pl.col("leads"))
            .alias("value"),
        )
    )


def alerts(values: pl.DataFrame, trailing: int, threshold: float) -> pl.DataFrame:
    """Robust z of each week against the ``trailing`` weeks before it (the rule is in
    :mod:`attribution.b2b._funnel`)."""
    indexed = values.with_columns(pl.int_range(pl.len()).over("metric").alias("_i"))
    hist = pl.col("value").drop_nulls()
    baseline = indexed.rolling(
        index_column="_i", period=f"{trailing}i", offset=f"-{trailing + 1}i", group_by="metric"
    ).agg(
        hist.median().alias("baseline"),
        (hist - hist.median()).abs().median().alias("_mad"),
        (hist - hist.median()).abs().mean().alias("_meanad"),
        hist.len().alias("_n"),
    )
    diff = pl.col("value") - pl.col("baseline")
    z = (
        pl.when(pl.col("_n") < trailing)
        .then(None)
        .when(pl.col("_mad") > 0)
        .then(_MAD_SCALE * diff / pl.col("_mad"))
        .when(pl.col("_meanad") > 0)
        .then(diff / (_MEANAD_SCALE * pl.col("_meanad")))
        .when(diff == 0)
        .then(0.0)
        .otherwise(diff.sign() * math.inf)
    )
    return (
        indexed.join(baseline, on=["metric", "_i"], how="left")
        .with_columns(
            pl.when(pl.col("_n") >= trailing).then(pl.col("baseline")).alias("baseline"),
            z.alias("robust_z"),
        )
        .with_columns(
            (pl.col("value").is_not_null() & (pl.col("robust_z").abs() > threshold))
            .fill_null(False)
            .alias("alert")
        )
        .select(*WEEKLY_SCHEMA.names())
        .sort("metric", "week")
    )
