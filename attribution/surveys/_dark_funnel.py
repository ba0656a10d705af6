"""What the survey sees that the touch log does not: the dark-funnel rate of each reported
channel, and the hybrid that moves a conversion's credit to the dark channel its answer names.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from attribution.surveys._rules import OTHER

__all__ = ["dark_funnel_table", "hybrid_table"]


def dark_funnel_table(
    joined: pl.DataFrame,
    touch_credit: pl.DataFrame,
    group_of: Mapping[str, str],
    tracked: set[str],
) -> pl.DataFrame:
    """Per reported channel: answers whose journey has no touch of that channel
    (``without_touch``), and of those the answers whose conversion has no touch at all
    (``without_journey``: an anonymous or unmatched visitor, not an untracked channel)."""
    journeys = (
        touch_credit.select(
            "conversion_id", pl.col("channel").replace(group_of).alias("compare_channel")
        )
        .unique()
        .with_columns(pl.lit(True).alias("_touched"))
    )
    touched = touch_credit.select(pl.col("conversion_id").unique()).get_column("conversion_id")
    answers = (
        joined.filter(pl.col("compare_channel") != OTHER)
        .join(journeys, on=["conversion_id", "compare_channel"], how="left")
        .with_columns(
            pl.col("_touched").fill_null(False),
            (~pl.col("conversion_id").is_in(touched.implode())).alias("_no_journey"),
        )
    )
    per = (
        answers.group_by("compare_channel")
        .agg(
            pl.len().alias("answers"),
            (~pl.col("_touched")).sum().alias("without_touch"),
            pl.col("_no_journey").sum().alias("without_journey"),
        )
        .rename({"compare_channel": "channel"})
        .with_columns(pl.col("channel").is_in(sorted(tracked)).alias("tracked"))
    )
    total = answers.select(
        pl.lit("(all)").alias("channel"),
        pl.len().alias("answers"),
        (~pl.col("_touched")).sum().alias("without_touch"),
        pl.col("_no_journey").sum().alias("without_journey"),
        pl.lit(None, dtype=pl.Boolean).alias("tracked"),
    )
    per = per.sort(["tracked", "answers", "channel"], descending=[False, True, False])
    out = pl.concat([per.select(total.columns), total], how="vertical_relaxed")
    return out.with_columns(
        pl.col("answers").cast(pl.Int64),
        pl.col("without_touch").cast(pl.Int64),
        pl.col("without_journey").cast(pl.Int64),
        (pl.col("without_touch") / pl.col("answers")).alias("dark_funnel_rate"),
    ).select("channel", "tracked", "answers", "without_touch", "without_journey",
             "dark_funnel_rate")  # fmt: skip


def hybrid_table(
    joined: pl.DataFrame, touch_credit: pl.DataFrame, tracked: set[str], move: float
) -> pl.DataFrame:
    """Model credit with SRA-only channels added (see the module docstring for the rule)."""
    # per conversion, the share of its credit each dark channel takes (1/k per answer)
    dark = (
        joined.with_columns((pl.lit(move) / pl.len().over("conversion_id")).alias("w"))
        .filter(~pl.col("tracked") & (pl.col("compare_channel") != OTHER))
        .group_by("conversion_id", "compare_channel")
        .agg(pl.col("w").sum())
        .rename({"compare_channel": "channel"})
    )
    moved_share = dark.group_by("conversion_id").agg(pl.col("w").sum().alias("moved"))
    per_conv = touch_credit.group_by("model", "conversion_id").agg(
        pl.col("credit").sum().alias("total")
    )
    kept = (
        touch_credit.group_by("model", "conversion_id", "channel")
        .agg(pl.col("credit").sum())
        .join(moved_share, on="conversion_id", how="left")
        .with_columns((pl.col("credit") * (1 - pl.col("moved").fill_null(0.0))).alias("hyb"))
        .group_by("model", "channel")
        .agg(
            pl.col("credit").sum().alias("model_credit"), pl.col("hyb").sum().alias("hybrid_credit")
        )
    )
    added = (
        per_conv.join(dark, on="conversion_id", how="inner")
        .group_by("model", "channel")
        .agg((pl.col("total") * pl.col("w")).sum().alias("hybrid_credit"))
        .with_columns(pl.lit(0.0).alias("model_credit"))
    )
    out = pl.concat(
        [
            kept.select("model", "channel", "model_credit", "hybrid_credit"),
            added.select("model", "channel", "model_credit", "hybrid_credit"),
        ]
    )
    out = out.group_by("model", "channel").agg(pl.col("model_credit", "hybrid_credit").sum())
    return (
        out.with_columns(
            pl.col("channel").is_in(dark.get_column("channel").unique().implode()).alias("dark"),
            (pl.col("model_credit") / pl.col("model_credit").sum().over("model"))
            .fill_nan(0.0)
            .alias("model_share"),
            (pl.col("hybrid_credit") / pl.col("hybrid_credit").sum().over("model"))
            .fill_nan(0.0)
            .alias("hybrid_share"),
        )
        .select(
            "model",
            "channel",
            "dark",
            "model_credit",
            "hybrid_credit",
            "model_share",
            "hybrid_share",
        )
        .sort(["model", "hybrid_credit", "channel"], descending=[False, True, False])
    )
