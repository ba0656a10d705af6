"""Funnel stage rates: one row per entity with its first time at each step, the step rows
(entered, advanced, days in stage), their rates overall, by channel and by cohort, and the
weakest step (the rules are in :mod:`attribution.b2b._funnel`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution.exceptions import ModelParameterError

__all__ = ["FUNNEL_SCHEMA", "days", "entities", "stage_rates", "step_rows", "weakest_step"]

FUNNEL_SCHEMA = pl.Schema(
    {
        "dimension": pl.String(),
        "group": pl.String(),
        "from_stage": pl.String(),
        "to_stage": pl.String(),
        "entered": pl.Int64(),
        "advanced": pl.Int64(),
        "rate": pl.Float64(),
        "median_days_in_stage": pl.Float64(),
        "p75_days_in_stage": pl.Float64(),
    }
)


_DAY_US = 86_400_000_000.0


def days(delta: pl.Expr) -> pl.Expr:
    """A duration expression in (fractional) days."""
    return delta.dt.total_microseconds().cast(pl.Float64) / _DAY_US


def entities(frame: pl.DataFrame, key: str, steps: list[str], lost: str) -> pl.DataFrame:
    """One row per entity: first time at each step, depth reached, cohort, won value."""
    depth = {s: i for i, s in enumerate(steps)} | {lost: len(steps) - 2}
    value = pl.col("value") if "value" in frame.columns else pl.lit(None, pl.Float64)
    return (
        frame.with_columns(pl.col("stage").replace_strict(depth, default=-1).alias("_depth"))
        .group_by(key)
        .agg(
            *[
                pl.col("timestamp").filter(pl.col("stage") == s).min().alias(f"{s}_at")
                for s in steps
            ],
            pl.col("_depth").max().alias("depth"),
            (pl.col("stage") == lost).any().alias("lost"),
            value.filter(pl.col("stage") == steps[-1]).max().alias("won_value"),
            pl.col("timestamp").min().alias("_first_at"),
            pl.col("timestamp").filter(pl.col("stage") == lost).min().alias("_lost_at"),
        )
        .with_columns(pl.col("_first_at").dt.strftime("%Y-%m").alias("cohort"))
        .sort(key)
    )


def step_rows(wide: pl.DataFrame, steps: list[str]) -> pl.DataFrame:
    """Long form: one row per entity and step it entered, with advanced and days in stage."""
    extra = [c for c in ("channel", "cohort") if c in wide.columns]
    parts = []
    for i, (a, b) in enumerate(zip(steps, steps[1:], strict=False)):
        advanced = pl.col("depth") >= i + 1
        parts.append(
            wide.filter(pl.col("depth") >= i).select(
                *extra,
                pl.lit(i).alias("step"),
                pl.lit(a).alias("from_stage"),
                pl.lit(b).alias("to_stage"),
                pl.lit(1).alias("entered"),
                advanced.cast(pl.Int64).alias("advanced"),
                pl.when(advanced)
                .then(days(pl.col(f"{b}_at") - pl.col(f"{a}_at")))
                .otherwise(None)
                .alias("days"),
            )
        )
    return pl.concat(parts)


def stage_rates(long: pl.DataFrame, *, by_channel: bool) -> pl.DataFrame:
    """Entered, advanced, rate and days in stage per step, overall (``all``), by channel
    (when ``by_channel``) and by cohort, in that order (:data:`FUNNEL_SCHEMA`)."""
    groups: list[tuple[str, pl.Expr]] = [
        ("all", pl.lit("all")),
        ("cohort", pl.col("cohort")),
    ]
    if by_channel:
        groups.insert(1, ("channel", pl.col("channel")))
    parts = [
        long.with_columns(pl.lit(dim).alias("dimension"), expr.cast(pl.String).alias("group"))
        .group_by("dimension", "group", "step", "from_stage", "to_stage")
        .agg(
            pl.col("entered").sum().cast(pl.Int64),
            pl.col("advanced").sum().cast(pl.Int64),
            pl.col("days").median().alias("median_days_in_stage"),
            pl.col("days").quantile(0.75, "linear").alias("p75_days_in_stage"),
        )
        for dim, expr in groups
    ]
    return (
        pl.concat(parts)
        .with_columns(
            pl.when(pl.col("entered") > 0)
            .then(pl.col("advanced") / pl.col("entered"))
            .otherwise(None)
            .alias("rate")
        )
        .sort(
            pl.col("dimension").replace_strict({"all": 0, "channel": 1, "cohort": 2}),
            "group",
            "step",
        )
        .select(*FUNNEL_SCHEMA.names())
    )


def weakest_step(
    rates: pl.DataFrame, steps: list[str], benchmarks: Mapping[str, float] | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``rates`` with ``benchmark`` and ``gap_to_benchmark`` on the ``all`` rows, and the
    weakest step: lowest rate / benchmark with benchmarks, else the lowest rate."""
    names = {f"{a}->{b}": a for a, b in zip(steps, steps[1:], strict=False)}
    bench: dict[str, float] = {}
    for k, v in (benchmarks or {}).items():
        step = names.get(k, k)
        if step not in steps[:-1]:
            raise ModelParameterError(
                f"The 'benchmarks' parameter of funnel has an unknown step {k!r}; use one of "
                f"{list(names)}."
            )
        if not 0 < float(v) <= 1:
            raise ModelParameterError(
                f"The 'benchmarks' parameter of funnel must hold rates in (0, 1]. Got {k}={v!r}."
            )
        bench[step] = float(v)
    is_all = pl.col("dimension") == "all"
    rates = rates.with_columns(
        pl.when(is_all)
        .then(pl.col("from_stage").replace_strict(bench, default=None, return_dtype=pl.Float64))
        .alias("benchmark")
    ).with_columns((pl.col("rate") / pl.col("benchmark") - 1).alias("gap_to_benchmark"))
    overall = rates.filter(is_all & pl.col("rate").is_not_null())
    if overall.height == 0:
        return rates, {}
    if bench:
        judged = overall.filter(pl.col("benchmark").is_not_null()).sort(
            "gap_to_benchmark", maintain_order=True
        )
        against = "the given benchmarks (lowest rate / benchmark): " + ", ".join(
            f"{k}->{steps[steps.index(k) + 1]} {v:.0%}" for k, v in bench.items()
        )
    else:
        judged = overall.sort("rate", maintain_order=True)
        against = (
            "the data's own step rates, no benchmark given: the step with the lowest "
            "conversion rate, where the largest share of those entering is lost"
        )
    if judged.height == 0:
        return rates, {}
    row = judged.row(0, named=True)
    return rates, {
        "from_stage": row["from_stage"],
        "to_stage": row["to_stage"],
        "rate": row["rate"],
        "entered": row["entered"],
        "advanced": row["advanced"],
        "benchmark": row["benchmark"],
        "gap_to_benchmark": row["gap_to_benchmark"],
        "judged_against": against,
    }
