"""What each model credits on the compared conversions, set against the answers.

Per conversion and model: top-1 agreement (a tie of ``t`` channels for the top scores
``1 / t``) and the credit on the reported channel; per model: its channel shares against the
answers' (TVD, JSD, Spearman); and the leaderboard, ranked by agreement with percentile
bootstrap CIs over the conversions (the same resamples for every model) and ``p_best``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import polars as pl

from attribution.engine._result import AttributionResult
from attribution.surveys._metrics import bootstrap_means, jensen_shannon, spearman, total_variation
from attribution.surveys._rules import OTHER

__all__ = [
    "TIE",
    "compare_shares",
    "conversion_credit",
    "leaderboard_table",
    "per_conversion_scores",
    "result_models",
]

#: Credits within this of a conversion's top credit are tied for the top.
TIE = 1e-9


def result_models(result: AttributionResult) -> list[str]:
    labels = [m["label"] for m in result.manifest.get("models", []) if "label" in m]
    present = set(result.touch_credit.get_column("model").unique().to_list())
    ordered = [m for m in labels if m in present]
    return ordered + sorted(present - set(ordered))


def conversion_credit(
    touch_credit: pl.DataFrame, group_of: Mapping[str, str], conv_ids: pl.Series
) -> pl.DataFrame:
    """Credit per model, conversion and compared channel, with the top channel(s) marked."""
    return (
        touch_credit.filter(pl.col("conversion_id").is_in(conv_ids.implode()))
        .with_columns(pl.col("channel").replace(group_of).alias("compare_channel"))
        .filter(pl.col("compare_channel") != OTHER)
        .group_by("model", "conversion_id", "compare_channel")
        .agg(pl.col("credit").sum())
        .with_columns(pl.col("credit").max().over("model", "conversion_id").alias("_max"))
        .with_columns(
            ((pl.col("credit") >= pl.col("_max") - TIE) & (pl.col("_max") > 0)).alias("is_top")
        )
        .with_columns(pl.col("is_top").sum().over("model", "conversion_id").alias("n_top"))
        .drop("_max")
    )


def per_conversion_scores(
    compared: pl.DataFrame, credit: pl.DataFrame, models: Sequence[str], conv_ids: pl.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Conversions x models matrices of top-1 agreement and credit on the reported channel."""
    n, m = conv_ids.len(), len(models)
    if n == 0 or m == 0:
        return np.zeros((n, m)), np.zeros((n, m))
    scored = (
        compared.join(pl.DataFrame({"model": list(models)}), how="cross")
        .join(credit, on=["model", "conversion_id", "compare_channel"], how="left")
        .group_by("model", "conversion_id")
        .agg(
            (
                pl.col("w")
                * pl.col("is_top").fill_null(False).cast(pl.Float64)
                / pl.col("n_top").fill_null(1).cast(pl.Float64)
            )
            .sum()
            .alias("top1"),
            (pl.col("w") * pl.col("credit").fill_null(0.0)).sum().alias("credit"),
        )
    )
    index = pl.DataFrame({"conversion_id": conv_ids, "_i": np.arange(n)})
    model_index = pl.DataFrame({"model": list(models), "_j": np.arange(m)})
    cells = scored.join(index, on="conversion_id").join(model_index, on="model")
    i, j = cells.get_column("_i").to_numpy(), cells.get_column("_j").to_numpy()
    top1, mean_credit = np.zeros((n, m)), np.zeros((n, m))
    top1[i, j] = cells.get_column("top1").to_numpy()
    mean_credit[i, j] = cells.get_column("credit").to_numpy()
    return top1, mean_credit


def compare_shares(
    compared: pl.DataFrame,
    credit: pl.DataFrame,
    models: Sequence[str],
    joined: pl.DataFrame,
    tracked: set[str],
    n_compared: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-model TVD / JSD / Spearman, and the side-by-side shares table."""
    channels = sorted(tracked)
    sra = (
        compared.group_by("compare_channel")
        .agg(pl.col("w").sum())
        .with_columns((pl.col("w") / n_compared if n_compared else pl.lit(0.0)).alias("sra"))
    )
    model_shares = (
        credit.group_by("model", "compare_channel")
        .agg(pl.col("credit").sum())
        .with_columns((pl.col("credit") / pl.col("credit").sum().over("model")).alias("share"))
    )
    grid = pl.DataFrame({"compare_channel": channels}, schema={"compare_channel": pl.String})
    p = grid.join(sra, on="compare_channel", how="left").get_column("sra").fill_null(0.0)
    p_np = p.to_numpy()
    rows = []
    wide = grid.with_columns(p.alias("sra_share"))
    for model in models:  # one pass per model, not per conversion
        q = (
            grid.join(
                model_shares.filter(pl.col("model") == model), on="compare_channel", how="left"
            )
            .get_column("share")
            .fill_null(0.0)
        )
        wide = wide.with_columns(q.alias(model))
        q_np = q.to_numpy()
        empty = n_compared == 0 or q_np.sum() == 0
        rows.append(
            {
                "model": model,
                "tvd": math.nan if empty else total_variation(p_np, q_np),
                "jsd": math.nan if empty else jensen_shannon(p_np, q_np),
                "spearman": math.nan if empty else spearman(p_np, q_np),
            }
        )
    distances = pl.DataFrame(
        rows,
        schema={"model": pl.String, "tvd": pl.Float64, "jsd": pl.Float64, "spearman": pl.Float64},
    )
    answers = (
        joined.filter(pl.col("compare_channel") != OTHER)
        .with_columns((1.0 / pl.len().over("conversion_id")).alias("w"))
        .group_by("compare_channel")
        .agg(pl.len().alias("answers"), pl.col("w").sum(), pl.col("tracked").first())
        .with_columns((pl.col("w") / pl.col("w").sum()).alias("sra_share_incl_dark"))
        .drop("w")
    )
    shares = (
        wide.join(answers, on="compare_channel", how="full", coalesce=True)
        .with_columns(
            pl.col("compare_channel").is_in(channels).alias("tracked"),
            pl.col("answers").fill_null(0).cast(pl.Int64),
            pl.col("sra_share_incl_dark").fill_null(0.0),
            *[pl.col(m).fill_null(0.0) for m in models],
        )
        .rename({"compare_channel": "channel"})
        .select("channel", "tracked", "answers", "sra_share", "sra_share_incl_dark", *models)
        .sort(["tracked", "sra_share_incl_dark", "channel"], descending=[True, True, False])
    )
    return distances, shares


def leaderboard_table(
    metrics: pl.DataFrame,
    top1: np.ndarray,
    mean_credit: np.ndarray,
    *,
    bootstrap: int,
    seed: int,
) -> pl.DataFrame:
    m = metrics.height
    if bootstrap and top1.shape[0]:
        both = bootstrap_means(np.hstack([top1, mean_credit]), resamples=bootstrap, seed=seed)
        agree, cred = both[:, :m], both[:, m:]
        lo_a, hi_a = np.percentile(agree, [2.5, 97.5], axis=0)
        lo_c, hi_c = np.percentile(cred, [2.5, 97.5], axis=0)
        # first in a draw: the best agreement, a tie broken by mean credit on the reported
        # channel (as the rank is): models that crown the same touch tie on agreement by
        # construction (new-user report 22, M17), and credit tells them apart
        best = agree >= agree.max(axis=1, keepdims=True) - TIE
        among = np.where(best, cred, -np.inf)
        best &= among >= among.max(axis=1, keepdims=True) - TIE
        p_best = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    else:
        lo_a = hi_a = lo_c = hi_c = p_best = np.full(m, np.nan)
    board = metrics.with_columns(
        pl.Series("agreement_low", lo_a, dtype=pl.Float64),
        pl.Series("agreement_high", hi_a, dtype=pl.Float64),
        pl.Series("p_best", p_best, dtype=pl.Float64),
        pl.Series("mean_credit_low", lo_c, dtype=pl.Float64),
        pl.Series("mean_credit_high", hi_c, dtype=pl.Float64),
    ).rename({"top1_agreement": "agreement", "mean_credit_reported": "mean_credit"})
    board = (
        board.sort(
            [pl.col("agreement").fill_nan(None), pl.col("mean_credit").fill_nan(None), "model"],
            descending=[True, True, False],
            nulls_last=True,
        )
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
    front = [
        "rank",
        "model",
        "conversions",
        "agreement",
        "agreement_low",
        "agreement_high",
        "p_best",
        "mean_credit",
        "mean_credit_low",
        "mean_credit_high",
    ]
    return board.select(front + [c for c in board.columns if c not in front])
