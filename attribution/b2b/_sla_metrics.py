"""The SLA items: one row per hand-off judged by each metric (an MQL for speed to lead,
follow-up and SQL acceptance, an MQL or SQL for the time in its hand-off stage), built with
sorts and as-of joins (the rules are in :mod:`attribution.b2b._sla`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import polars as pl

from attribution.b2b._sla_targets import normalise_touch_type
from attribution.inputs._schema import ROW

__all__ = [
    "COMPLIANT",
    "ITEM_SCHEMA",
    "METRICS",
    "NOT_JUDGED",
    "BREACH",
    "NOT_ACCEPTED",
    "NO_TEAM",
    "first_events",
    "follow_up",
    "hand_off",
    "sales_touches",
    "speed_to_lead",
    "sql_acceptance",
]

#: The metrics in the order of the outputs: name -> unit of ``value``.
METRICS: dict[str, str] = {
    "speed_to_lead": "hours",
    "follow_up": "sales touches",
    "sql_acceptance": "share",
    "mql_to_sql": "days",
    "sql_to_opportunity": "days",
}
#: Statuses of an item.
COMPLIANT, BREACH, NOT_JUDGED, NOT_ACCEPTED = "compliant", "breach", "not_judged", "not_accepted"
#: The team of a hand-off whose stage event and sales touches name none.
NO_TEAM = "(no team)"

ITEM_SCHEMA = pl.Schema(
    {
        "metric": pl.String(),
        "owner_team": pl.String(),
        "entity": pl.String(),
        "account_id": pl.String(),
        "started_at": pl.Datetime("us", "UTC"),
        "deadline": pl.Datetime("us", "UTC"),
        "completed_at": pl.Datetime("us", "UTC"),
        "sales_touches": pl.Int64(),
        "status": pl.String(),
        "measure": pl.Float64(),
    }
)

_HOUR_US = 3_600_000_000.0


def _hours(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds().cast(pl.Float64) / _HOUR_US


def first_events(stages: pl.DataFrame, key: str, stage: str) -> pl.DataFrame:
    """The entity's first event of ``stage``: ``key``, ``started_at``, ``account_id`` (of
    the entity's events, the first non-null) and ``stage_team`` (``owner_team`` of that
    event; ties in time by input row)."""
    team = pl.col("owner_team") if "owner_team" in stages.columns else pl.lit(None, pl.String)
    firsts = (
        stages.lazy()
        .filter(pl.col("stage") == stage)
        .sort(key, "timestamp", ROW)
        .group_by(key, maintain_order=True)
        .agg(pl.col("timestamp").first().alias("started_at"), team.first().alias("stage_team"))
    )
    if key == "account_id":
        return firsts.sort("started_at", key).collect()
    if "account_id" in stages.columns:
        accounts = (
            stages.lazy()
            .filter(pl.col("account_id").is_not_null())
            .group_by(key)
            .agg(pl.col("account_id").min().alias("_account"))
        )
        firsts = firsts.join(accounts, on=key, how="left")
    else:
        firsts = firsts.with_columns(pl.lit(None, pl.String).alias("_account"))
    return firsts.rename({"_account": "account_id"}).sort("started_at", key).collect()


def next_event(
    starts: pl.DataFrame, stages: pl.DataFrame, key: str, stage: str, name: str
) -> pl.DataFrame:
    """``starts`` with ``name``: each entity's first ``stage`` event at or after its
    ``started_at`` (null when none)."""
    events = (
        stages.filter(pl.col("stage") == stage)
        .select(key, pl.col("timestamp").alias(name))
        .sort(name)
    )
    return starts.sort("started_at").join_asof(
        events,
        left_on="started_at",
        right_on=name,
        by=key,
        strategy="forward",
        check_sortedness=False,
    )


def sales_touches(touches: pl.DataFrame, key: str, types: tuple[str, ...]) -> pl.DataFrame:
    """The sales touches, one row each: ``key``, ``ts``, ``touch_team`` and ``_n`` (1 for
    the entity's first sales touch, 2 for its second...), sorted by time."""
    team = pl.col("owner_team") if "owner_team" in touches.columns else pl.lit(None, pl.String)
    # each distinct spelling normalised once, not every row (0.08 s instead of 0.4 s at 1M)
    kinds = touches.lazy().select(pl.col("touch_type").drop_nulls().unique()).collect()
    spellings = [k for k in kinds.get_column("touch_type") if normalise_touch_type(k) in types]
    return (
        touches.lazy()
        .filter(pl.col(key).is_not_null() & pl.col("touch_type").is_in(spellings))
        .select(key, pl.col("timestamp").alias("ts"), team.alias("touch_team"), ROW)
        .sort(key, "ts", ROW)
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over(key).alias("_n"))
        .drop(ROW)
        .sort("ts")
        .collect()
    )


def with_team(starts: pl.DataFrame, sales: pl.DataFrame, key: str) -> pl.DataFrame:
    """``starts`` with ``first_touch`` (the first sales touch at or after ``started_at``)
    and ``owner_team``: the stage event's team, else that touch's, else :data:`NO_TEAM`."""
    joined = starts.sort("started_at").join_asof(
        sales.select(key, pl.col("ts").alias("first_touch"), "touch_team"),
        left_on="started_at",
        right_on="first_touch",
        by=key,
        strategy="forward",
        check_sortedness=False,
    )
    team = pl.coalesce("stage_team", "touch_team").fill_null(NO_TEAM)
    return joined.with_columns(team.alias("owner_team")).drop("stage_team", "touch_team")


def _items(frame: pl.DataFrame, key: str, metric: str, **columns: pl.Expr) -> pl.DataFrame:
    """``frame``'s rows as items of ``metric`` (:data:`ITEM_SCHEMA`)."""
    exprs: dict[str, Any] = {
        "metric": pl.lit(metric),
        "owner_team": pl.col("owner_team"),
        "entity": pl.col(key),
        "account_id": pl.col("account_id"),
        "started_at": pl.col("started_at"),
        "sales_touches": pl.lit(None, pl.Int64),
        **columns,
    }
    return frame.select(exprs[name].alias(name) for name in ITEM_SCHEMA.names()).cast(ITEM_SCHEMA)


def _status(done: pl.Expr, deadline: pl.Expr, as_of: datetime) -> pl.Expr:
    """Compliant when done (``done`` true) by the deadline; a breach when done after it or
    not done once it has passed; not judged while the deadline is after the as-of time."""
    return (
        pl.when(done)
        .then(pl.lit(COMPLIANT))
        .when(deadline < pl.lit(as_of))
        .then(pl.lit(BREACH))
        .otherwise(pl.lit(NOT_JUDGED))
    )


def speed_to_lead(mqls: pl.DataFrame, key: str, hours: float, as_of: datetime) -> pl.DataFrame:
    """Per MQL: hours to the first sales touch at or after it, within ``hours``."""
    deadline = pl.col("started_at") + timedelta(hours=hours)
    touched = pl.col("first_touch").is_not_null()
    return _items(
        mqls,
        key,
        "speed_to_lead",
        deadline=deadline,
        completed_at=pl.col("first_touch"),
        status=pl.when(touched & (pl.col("first_touch") > deadline))
        .then(pl.lit(BREACH))
        .otherwise(_status(touched, deadline, as_of)),
        measure=_hours(pl.col("first_touch") - pl.col("started_at")),
    )


def follow_up(
    mqls: pl.DataFrame,
    sales: pl.DataFrame,
    key: str,
    touches: int,
    days: float,
    as_of: datetime,
) -> pl.DataFrame:
    """Per MQL: the sales touches in ``[MQL, MQL + days]``; compliant with ``touches`` or
    more. ``completed_at`` is the time of the ``touches``-th sales touch after the MQL
    (late when after the window)."""
    window = timedelta(days=days)
    counts = sales.select(key, "ts", "_n")
    before = (
        mqls.sort("started_at")
        .join_asof(
            counts.rename({"_n": "_before"}),
            left_on="started_at",
            right_on="ts",
            by=key,
            strategy="backward",
            check_sortedness=False,
            allow_exact_matches=False,
        )
        .drop("ts")
        .with_columns((pl.col("started_at") + window).alias("_end"))
        .sort("_end")
        .join_asof(
            counts.rename({"_n": "_upto"}),
            left_on="_end",
            right_on="ts",
            by=key,
            strategy="backward",
            check_sortedness=False,
        )
        .drop("ts")
        .with_columns(pl.col("_before").fill_null(0), pl.col("_upto").fill_null(0))
        .with_columns((pl.col("_before") + touches).alias("_n"))
    )
    nth = counts.select(key, "_n", pl.col("ts").alias("_nth_at"))
    framed = before.join(nth, on=[key, "_n"], how="left")
    count = pl.col("_upto") - pl.col("_before")
    done = count >= touches
    status = _status(done, pl.col("_end"), as_of)
    return _items(
        framed,
        key,
        "follow_up",
        deadline=pl.col("_end"),
        completed_at=pl.col("_nth_at"),
        sales_touches=count,
        status=status,
        measure=pl.when(status != NOT_JUDGED).then(count.cast(pl.Float64)),
    )


def sql_acceptance(mqls: pl.DataFrame, key: str, days: float, as_of: datetime) -> pl.DataFrame:
    """Per MQL: accepted when it reached SQL (``sql_at``) within ``days``; not judged while
    the window is open at the as-of time."""
    deadline = pl.col("started_at") + timedelta(days=days)
    accepted = pl.col("sql_at").is_not_null() & (pl.col("sql_at") <= deadline)
    status = (
        pl.when(accepted)
        .then(pl.lit(COMPLIANT))
        .when(deadline < pl.lit(as_of))
        .then(pl.lit(NOT_ACCEPTED))
        .otherwise(pl.lit(NOT_JUDGED))
    )
    return _items(
        mqls,
        key,
        "sql_acceptance",
        deadline=deadline,
        completed_at=pl.col("sql_at"),
        status=status,
        measure=pl.lit(None, pl.Float64),
    )


def hand_off(
    starts: pl.DataFrame, key: str, metric: str, done_at: str, days: float
) -> pl.DataFrame:
    """Per entity that advanced (``done_at`` not null): days in the hand-off stage, compliant
    within ``days``; entities that have not advanced are not judged (their time in stage is
    not known yet, or they never advance)."""
    deadline = pl.col("started_at") + timedelta(days=days)
    advanced = pl.col(done_at).is_not_null()
    status = (
        pl.when(~advanced)
        .then(pl.lit(NOT_JUDGED))
        .when(pl.col(done_at) <= deadline)
        .then(pl.lit(COMPLIANT))
        .otherwise(pl.lit(BREACH))
    )
    return _items(
        starts,
        key,
        metric,
        deadline=deadline,
        completed_at=pl.col(done_at),
        status=status,
        measure=_hours(pl.col(done_at) - pl.col("started_at")) / 24.0,
    )
