"""Scoring models against known incremental shares (``truth.json`` of the synthetic data)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from attribution.engine._result import AttributionResult
from attribution.exceptions import ConfigError
from attribution.inputs._toml import read_json
from attribution.surveys._metrics import spearman
from attribution.surveys._scores import result_models

__all__ = ["read_truth", "score_against_truth"]


def read_truth(truth: str | Path | Mapping[str, Any]) -> dict[str, float]:
    if isinstance(truth, str | Path):
        data = read_json(truth, "truth")
        where = str(truth)
    else:
        data, where = dict(truth), "<memory>"
    shares = data.get("incremental_share") if isinstance(data, dict) else None
    if (
        not isinstance(shares, dict)
        or not shares
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in shares.values())
    ):
        raise ConfigError(
            f"truth '{where}' needs 'incremental_share': a mapping of channel -> share "
            "(as in sample_data/truth.json)"
        )
    return {str(k): float(v) for k, v in shares.items()}


def score_against_truth(
    result: AttributionResult, truth: str | Path | Mapping[str, Any]
) -> pl.DataFrame:
    """Score each model's channel shares against the true incremental shares.

    Uses ``result.channel_credit`` (the shares a model reports) and
    ``truth["incremental_share"]``, over the union of their channels (a share missing on
    one side is 0).

    Returns
    -------
    pl.DataFrame
        ``model``, ``truth_mae`` (mean absolute error of the shares), ``truth_max_error``
        (largest absolute error), ``truth_spearman`` (rank correlation) and ``channels``.

    Examples
    --------
    The synthetic world knows each channel's true incremental share; rule-based models miss
    it by several points per channel:

    >>> import polars as pl, attribution
    >>> from attribution.datasets import synthesize
    >>> world = synthesize(20_000, seed=1)
    >>> res = attribution.attribute(world.touches, world.stages, models=["first_touch", "linear"])
    >>> scores = attribution.score_against_truth(res, world.truth)
    >>> scores.select("model", "channels", pl.col("truth_mae").round(3)).rows()
    [('first_touch', 13, 0.053), ('linear', 13, 0.075)]
    """
    shares = read_truth(truth)
    truth_frame = pl.DataFrame(
        {"channel": list(shares), "truth": list(shares.values())},
        schema={"channel": pl.String, "truth": pl.Float64},
    )
    models = result_models(result) if result.touch_credit.height else []
    models += [
        m
        for m in result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
        if m not in models
    ]
    rows = []
    for model in models:  # one pass per model
        model_shares = result.channel_credit.filter(pl.col("model") == model).select(
            "channel", "share"
        )
        both = truth_frame.join(model_shares, on="channel", how="full", coalesce=True).with_columns(
            pl.col("truth", "share").fill_null(0.0)
        )
        t, s = both.get_column("truth").to_numpy(), both.get_column("share").to_numpy()
        err = np.abs(s - t)
        rows.append(
            {
                "model": model,
                "truth_mae": float(err.mean()),
                "truth_max_error": float(err.max()),
                "truth_spearman": spearman(s, t),
                "channels": both.height,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "model": pl.String,
            "truth_mae": pl.Float64,
            "truth_max_error": pl.Float64,
            "truth_spearman": pl.Float64,
            "channels": pl.Int64,
        },
    )
