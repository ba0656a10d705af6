"""The calibrated credit table and its score against a synthetic world's truth (step 4 of
:mod:`attribution.b2b._calibration`: rescaling, the baseline, the intervals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl

__all__ = ["BASELINE", "Z90", "calibrated_credit", "has_intervals", "truth_scores"]

#: The row that holds what no channel explains once the tests are applied.
BASELINE: Final = "baseline"
#: The normal quantile of a two-sided 90% interval (the bootstrap's 5th-95th percentile).
Z90: Final = 1.6448536269514722


def has_intervals(cc: pl.DataFrame) -> bool:
    """Whether channel credit ``cc`` carries bootstrap intervals (``ci_low``, ``ci_high``)."""
    return (
        "ci_low" in cc.columns
        and "ci_high" in cc.columns
        and cc.get_column("ci_low").null_count() < cc.height
    )


def calibrated_credit(cc: pl.DataFrame, tests: pl.DataFrame) -> pl.DataFrame:
    """Calibrated channel credit per model with its baseline row (steps 4 of the module
    docstring)."""
    used = tests.filter(pl.col("status") == "calibrated")
    factors = used.group_by("model", "channel").agg(
        (pl.col("calibrated_window").sum() / pl.col("model_window").sum()).alias("factor"),
        ((pl.col("calibrated_se") ** 2).sum() / pl.col("model_window").sum() ** 2).alias(
            "var_factor"
        ),
    )
    has_ci = has_intervals(cc)
    base = cc.select(
        "model",
        "channel",
        pl.col("conversions").alias("uncalibrated_conversions"),
        pl.col("value").fill_null(0.0).alias("uncalibrated_value"),
        pl.col("share").alias("uncalibrated_share"),
        (pl.col("ci_low") if has_ci else pl.lit(None, pl.Float64)).alias("uncalibrated_ci_low"),
        (pl.col("ci_high") if has_ci else pl.lit(None, pl.Float64)).alias("uncalibrated_ci_high"),
    ).join(factors, on=["model", "channel"], how="left")
    tested = pl.col("factor").is_not_null()
    f = base.with_columns(
        tested.alias("tested"),
        pl.col("factor").fill_null(1.0),
    ).with_columns(
        (pl.col("uncalibrated_conversions") * pl.col("factor")).alias("x"),
        (pl.col("uncalibrated_value") * pl.col("factor")).alias("v"),
        (pl.col("uncalibrated_conversions") * pl.col("var_factor").sqrt()).alias("sd"),
    )
    # per model: the total to keep, what the tested and the untested channels hold
    by = pl.col("model")
    n = pl.col("uncalibrated_conversions").sum().over(by)
    total_v = pl.col("uncalibrated_value").sum().over(by)
    t = pl.col("x").filter(pl.col("tested")).sum().over(by)
    u = pl.col("x").filter(~pl.col("tested")).sum().over(by)
    tv = pl.col("v").filter(pl.col("tested")).sum().over(by)
    uv = pl.col("v").filter(~pl.col("tested")).sum().over(by)

    def give_way(
        total: pl.Expr, tested_sum: pl.Expr, other_sum: pl.Expr
    ) -> tuple[pl.Expr, pl.Expr]:
        """Scales of the tested and the untested channels that keep the total."""
        tested_scale = pl.when(tested_sum > total).then(total / tested_sum).otherwise(1.0)
        room = (total - tested_sum * tested_scale).clip(lower_bound=0.0)
        other_scale = (
            pl.when(tested_sum * tested_scale + other_sum > total)
            .then(pl.when(other_sum > 0).then(room / other_sum).otherwise(0.0))
            .otherwise(1.0)
        )
        return tested_scale, other_scale

    ts, us = give_way(n, t, u)
    tsv, usv = give_way(total_v, tv, uv)
    f = f.with_columns(
        pl.when("tested").then(ts).otherwise(us).alias("scale"),
        pl.when("tested").then(tsv).otherwise(usv).alias("scale_v"),
        n.alias("total"),
        total_v.alias("total_value"),
    ).with_columns(
        (pl.col("x") * pl.col("scale")).alias("conversions"),
        (pl.col("v") * pl.col("scale_v")).alias("value"),
    )
    share = pl.col("conversions") / pl.col("total")
    sd_share = pl.col("sd") * pl.col("scale") / pl.col("total")
    f = f.with_columns(
        share.fill_nan(0.0).alias("share"),
        pl.when("tested")
        .then((share - Z90 * sd_share).clip(0.0, 1.0))
        .otherwise(pl.col("uncalibrated_ci_low") * pl.col("scale"))
        .alias("ci_low"),
        pl.when("tested")
        .then((share + Z90 * sd_share).clip(0.0, 1.0))
        .otherwise((pl.col("uncalibrated_ci_high") * pl.col("scale")).clip(upper_bound=1.0))
        .alias("ci_high"),
        pl.when(pl.col("uncalibrated_conversions") > 0)
        .then(pl.col("conversions") / pl.col("uncalibrated_conversions"))
        .alias("factor"),
    )
    baseline = f.group_by("model", maintain_order=True).agg(
        pl.lit(BASELINE).alias("channel"),
        (pl.col("total").first() - pl.col("conversions").sum())
        .clip(lower_bound=0.0)
        .alias("conversions"),
        (pl.col("total_value").first() - pl.col("value").sum())
        .clip(lower_bound=0.0)
        .alias("value"),
        pl.col("total").first(),
    )
    baseline = baseline.with_columns(
        (pl.col("conversions") / pl.col("total")).fill_nan(0.0).alias("share"),
        pl.lit(None, pl.Float64).alias("ci_low"),
        pl.lit(None, pl.Float64).alias("ci_high"),
        pl.lit(0.0).alias("uncalibrated_conversions"),
        pl.lit(0.0).alias("uncalibrated_value"),
        pl.lit(0.0).alias("uncalibrated_share"),
        pl.lit(None, pl.Float64).alias("uncalibrated_ci_low"),
        pl.lit(None, pl.Float64).alias("uncalibrated_ci_high"),
        pl.lit(None, pl.Float64).alias("factor"),
        pl.lit(False).alias("tested"),
    )
    cols = [
        "model",
        "channel",
        "conversions",
        "value",
        "share",
        "ci_low",
        "ci_high",
        "uncalibrated_conversions",
        "uncalibrated_value",
        "uncalibrated_share",
        "uncalibrated_ci_low",
        "uncalibrated_ci_high",
        "factor",
        "tested",
    ]
    order = {m: i for i, m in enumerate(cc.get_column("model").unique(maintain_order=True))}
    return (
        pl.concat([f.select(cols), baseline.select(cols)])
        .with_columns(pl.col("model").replace_strict(order, return_dtype=pl.Int64).alias("_o"))
        .sort("_o", pl.col("channel") == BASELINE, "conversions", descending=[False, False, True])
        .drop("_o")
    )


def truth_scores(credit: pl.DataFrame, shares: Mapping[str, float]) -> pl.DataFrame:
    """Per model, the mean absolute error of the channel shares (uncalibrated, calibrated)
    against ``shares`` over the truth's channels (a channel the run lacks counts as 0)."""
    truth = pl.DataFrame(
        {"channel": list(shares), "true": list(shares.values())},
        schema={"channel": pl.String, "true": pl.Float64},
    )
    models = credit.select("model").unique(maintain_order=True)
    grid = models.join(truth, how="cross").join(
        credit.select("model", "channel", "share", "uncalibrated_share"),
        on=["model", "channel"],
        how="left",
    )
    scored = (
        grid.with_columns(pl.col("share", "uncalibrated_share").fill_null(0.0))
        .group_by("model", maintain_order=True)
        .agg(
            (pl.col("uncalibrated_share") - pl.col("true")).abs().mean().alias("mae_uncalibrated"),
            (pl.col("share") - pl.col("true")).abs().mean().alias("mae_calibrated"),
        )
    )
    return scored.with_columns(
        (pl.col("mae_calibrated") < pl.col("mae_uncalibrated")).alias("improved")
    )
