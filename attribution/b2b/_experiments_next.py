"""What to test next: channels ranked by the value of a lift test, with the size an account
holdout needs to settle what the models disagree on.

Per channel (``experiments_next.parquet``):

- ``spend``: the channel's spend in the run's spend table;
- ``disagreement``: how far the models of the run are apart on its credit,
  ``(max - min) / mean`` of the conversions each model credits it (0 when they agree);
- ``interval_width``: the decision model's 90% bootstrap interval of its share, relative to
  the share, ``(ci_high - ci_low) / share`` (null without the bootstrap, and then 1 in the
  value);
- ``value = spend x disagreement x interval_width``: the dollars whose efficiency the run
  cannot tell; channels are ranked by it (``rank`` 1 first). Unpaid channels have value 0.
- the sample size: an account holdout compares the conversion rate of the journeys that keep
  the channel, ``p1 = conversions / journeys`` of the run, with the rate without it,
  ``p2 = p1 - (max - min) / journeys`` (the gap between the highest and the lowest model's
  credit). A two-sided two-proportion z-test at alpha 5% with power 80% needs, per arm,
  ``n = (1.96 sqrt(2 pbar (1 - pbar)) + 0.8416 sqrt(p1 (1 - p1) + p2 (1 - p2)))^2 /
  (p1 - p2)^2`` with ``pbar = (p1 + p2) / 2`` (``holdout_per_arm``); ``journeys`` is the run's
  converting and non-converting journeys (accounts at ``--level account``, contacts
  otherwise) over the run's period, and ``fits_in_run`` says whether two arms of that size
  fit in it (``2 n <= journeys``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import polars as pl

from attribution.b2b._shared import money, num
from attribution.engine._result import AttributionResult

__all__ = ["ALPHA", "POWER", "experiments_next", "holdout_size", "next_lines"]

ALPHA: Final = 0.05
POWER: Final = 0.80
_Z_ALPHA: Final = 1.959963984540054  # two-sided 5%
_Z_POWER: Final = 0.8416212335729143  # 80%


def holdout_size(p1: pl.Expr | float, p2: pl.Expr | float) -> pl.Expr:
    """Journeys per arm a two-sided two-proportion z-test (alpha 5%, power 80%) needs to tell
    the rates ``p1`` and ``p2`` apart (null when they are equal).

    >>> round(pl.select(holdout_size(0.10, 0.05)).item())
    434
    """
    a, b = pl.lit(p1) if isinstance(p1, float) else p1, pl.lit(p2) if isinstance(p2, float) else p2
    pbar = (a + b) / 2
    top = _Z_ALPHA * (2 * pbar * (1 - pbar)).sqrt() + _Z_POWER * (a * (1 - a) + b * (1 - b)).sqrt()
    return pl.when(a != b).then(top**2 / (a - b) ** 2)


def experiments_next(
    result: AttributionResult,
    spend: Mapping[str, float] | pl.DataFrame,
    *,
    models: Sequence[str] | None = None,
    tested: Sequence[str] = (),
    decision_model: str | None = None,
) -> pl.DataFrame:
    """The channels ranked by the value of a test (see the module docstring).

    ``spend``: per channel (a mapping, or a frame with ``channel`` and ``spend``);
    ``tested``: the channels the experiments table already tests (``tested`` column).
    """
    cc = result.channel_credit
    if models is not None:
        cc = cc.filter(pl.col("model").is_in(list(models)))
    if isinstance(spend, pl.DataFrame):
        spend_frame = spend.select("channel", pl.col("spend").cast(pl.Float64))
    else:
        spend_frame = pl.DataFrame(
            {"channel": list(spend), "spend": [float(v) for v in spend.values()]},
            schema={"channel": pl.String, "spend": pl.Float64},
        )
    spend_frame = spend_frame.group_by("channel").agg(pl.col("spend").sum())
    decision = decision_model or result.manifest.get("decision_model")
    if decision not in cc.get_column("model").to_list():
        decision = cc.get_column("model").first()
    spread = cc.group_by("channel").agg(
        pl.col("conversions").min().alias("min_conversions"),
        pl.col("conversions").max().alias("max_conversions"),
        pl.col("conversions").mean().alias("mean_conversions"),
        pl.col("model").get(pl.col("conversions").arg_min()).alias("lowest_model"),
        pl.col("model").get(pl.col("conversions").arg_max()).alias("highest_model"),
    )
    has_ci = "ci_low" in cc.columns and "ci_high" in cc.columns
    width = cc.filter(pl.col("model") == decision).select(
        "channel",
        pl.col("share").alias("decision_share"),
        (
            ((pl.col("ci_high") - pl.col("ci_low")) / pl.col("share"))
            if has_ci
            else pl.lit(None, pl.Float64)
        ).alias("interval_width"),
    )
    paths = result.paths
    journeys = float(paths.get_column("conversions").sum()) + float(paths.get_column("nulls").sum())
    total = float(cc.filter(pl.col("model") == decision).get_column("conversions").sum())
    p1 = total / journeys if journeys > 0 else float("nan")
    frame = (
        spread.join(width, on="channel", how="left")
        .join(spend_frame, on="channel", how="full", coalesce=True)
        .with_columns(pl.col("spend").fill_null(0.0))
        .with_columns(
            pl.when((pl.col("mean_conversions") > 0).fill_null(False))
            .then(
                (pl.col("max_conversions") - pl.col("min_conversions")) / pl.col("mean_conversions")
            )
            .otherwise(0.0)
            .alias("disagreement"),
            pl.col("interval_width").fill_nan(None),
        )
        .with_columns(
            (
                pl.col("spend") * pl.col("disagreement") * pl.col("interval_width").fill_null(1.0)
            ).alias("value"),
            pl.col("channel").is_in(list(tested)).alias("tested"),
            pl.lit(journeys).alias("journeys"),
            pl.lit(p1).alias("p_with"),
            (pl.lit(p1) - (pl.col("max_conversions") - pl.col("min_conversions")) / journeys)
            .clip(lower_bound=0.0)
            .alias("p_without"),
        )
    )
    frame = frame.with_columns(
        holdout_size(pl.col("p_with"), pl.col("p_without"))
        .fill_nan(None)
        .ceil()
        .cast(pl.Int64)
        .alias("holdout_per_arm")
    ).with_columns(
        (pl.col("holdout_per_arm") * 2 <= pl.col("journeys")).fill_null(False).alias("fits_in_run")
    )
    ranked = frame.sort("value", "disagreement", "channel", descending=[True, True, False])
    return (
        ranked.with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
        .select(
            "rank",
            "channel",
            "value",
            "spend",
            "disagreement",
            "interval_width",
            "min_conversions",
            "max_conversions",
            "lowest_model",
            "highest_model",
            "decision_share",
            "p_with",
            "p_without",
            "holdout_per_arm",
            "journeys",
            "fits_in_run",
            "tested",
        )
    )


def next_lines(frame: pl.DataFrame, notes: Mapping[str, Any], top: int = 5) -> list[str]:
    """The summary lines of what to test next: the ``top`` channels with a value."""
    shown = frame.filter(pl.col("value") > 0).head(top)
    if not shown.height:
        return ["What to test next: no paid channel on which the models disagree"]
    unit = "accounts" if notes.get("level") == "account" else "journeys"
    lines = [
        "What to test next (value = spend x model disagreement x interval width; account "
        f"holdout per arm for 80% power at alpha 5%, in {unit}):"
    ]
    for r in shown.iter_rows(named=True):
        size = r["holdout_per_arm"]
        if size is None:
            fits = "no gap to detect"
        elif r["fits_in_run"]:
            fits = f"{2 * size / r['journeys']:.0%} of the run's {unit}"
        else:
            fits = (
                f"{2 * size / r['journeys']:.1f}x the run's {unit}: not detectable at this volume"
            )
        lines.append(
            f"  {r['rank']}. {r['channel']:<22} value {money(r['value'])}  spend "
            f"{money(r['spend'])}  models {num(r['min_conversions'], ',.1f')}"
            f"-{num(r['max_conversions'], ',.1f')} ({r['lowest_model']}..{r['highest_model']})"
            f"  holdout {num(size, ',')} per arm ({fits})" + ("  [tested]" if r["tested"] else "")
        )
    return lines
