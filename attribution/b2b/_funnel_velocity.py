"""Pipeline velocity: open opportunities x win rate x average deal / cycle days, overall and
by sourced channel, from the funnel's entity table."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from attribution.b2b._funnel_stages import DIMENSIONS, days

__all__ = ["pipeline_velocity"]


def pipeline_velocity(
    wide: pl.DataFrame,
    steps: list[str],
    span: tuple[datetime | None, datetime | None],
    *,
    lost_seen: bool = True,
    opportunity_seen: bool = True,
) -> pl.DataFrame:
    """Pipeline velocity overall, by sourced channel and by segment (when ``wide`` has
    them) of the deals in ``wide`` (:func:`attribution.b2b._funnel_unit.deal_table`), over
    the data's ``span`` (its first and last stage event; the rule is in
    :mod:`attribution.b2b._funnel`).
    ``lost_seen``: the data has lost events; without any, won / (won + lost) would be 100%
    by construction, so the win rate (and the velocity) is null. ``opportunity_seen``: the
    data has opportunity events; then a won deal without one (a self-serve purchase beside
    sales deals) is no closed opportunity: counted in ``won_without_opportunity``, left out
    of the win rate, the average deal and the velocity (new-user report 15, S2: 216
    self-serve wins read a sales win rate of 82.1% for 37.2%)."""
    start, end = span
    opp, won = steps[-2], steps[-1]
    opp_i = len(steps) - 2
    is_opp = pl.col("depth") >= opp_i
    opp_at = pl.col(f"{opp}_at")
    reached_won = pl.col("depth") >= opp_i + 1
    unopened = reached_won & opp_at.is_null() if opportunity_seen else pl.lit(False)
    is_won = reached_won & ~unopened
    # days each opportunity was open within the span: to its close, or to the data's end
    closed_at = pl.coalesce(pl.col(f"{won}_at"), pl.col("_lost_at"), pl.lit(end))
    open_days = days(closed_at - opp_at).clip(lower_bound=0.0).filter(opp_at.is_not_null())
    aggs = [
        is_opp.sum().cast(pl.Int64).alias("opportunities_total"),
        (open_days.sum() / pl.col("_span_days").first()).alias("opportunities"),
        is_won.sum().cast(pl.Int64).alias("won"),
        (pl.col("lost") & ~reached_won).sum().cast(pl.Int64).alias("lost"),
        unopened.sum().cast(pl.Int64).alias("won_without_opportunity"),
        pl.col("won_value").filter(is_won).mean().alias("average_deal"),
        days(pl.col(f"{won}_at") - opp_at).filter(is_won).mean().alias("cycle_days"),
    ]
    frame = wide.with_columns(days(pl.lit(end) - pl.lit(start)).alias("_span_days"))
    dims = [d for d in ("channel", "segment") if d in wide.columns]
    out = pl.concat(
        [
            frame.group_by((pl.lit("all") if d == "all" else pl.col(d)).alias("group"))
            .agg(aggs)
            .with_columns(pl.lit(d).alias("dimension"))
            for d in ("all", *dims)
        ]
    )
    closed = pl.col("won") + pl.col("lost")
    return (
        out.with_columns(
            pl.when((closed > 0) & lost_seen).then(pl.col("won") / closed).alias("win_rate"),
            pl.format(
                "{} won of {} closed deals; open ones left out{}",
                pl.col("won"),
                closed,
                pl.when(pl.col("won_without_opportunity") > 0)
                .then(
                    pl.format(
                        "; {} won without an opportunity (self-serve?) left out",
                        pl.col("won_without_opportunity"),
                    )
                )
                .otherwise(pl.lit("")),
            ).alias("win_rate_detail"),
        )
        .with_columns(
            pl.when(pl.col("cycle_days") > 0)
            .then(
                pl.col("opportunities")
                * pl.col("win_rate")
                * pl.col("average_deal")
                / pl.col("cycle_days")
            )
            .alias("velocity_per_day")
        )
        .select(
            "dimension",
            "group",
            "opportunities",
            "opportunities_total",
            "won",
            "lost",
            "won_without_opportunity",
            "win_rate",
            "win_rate_detail",
            "average_deal",
            "cycle_days",
            "velocity_per_day",
        )
        .sort(pl.col("dimension").replace_strict(DIMENSIONS), "group")
    )
