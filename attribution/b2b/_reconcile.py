"""Campaign customers and revenue on the channel economics' customers.

Rule-based and counterfactual models credit each journey's touches and sum them to the
channel credit, so a campaign's customers (touch credit summed) add up to the channel's.
Markov and Shapley credit channels on the whole path table (removal effects, Shapley values)
and split each journey over its channels by those weights (README, "Model definitions"):
their touch credit summed by channel can be far from their channel credit (on the demo
data, Shapley's events 17.5 against 35.6). A CAC must never divide spend by such a sum, so
campaign economics rescale it per model and credited unit: each unit's channel credit
(conversions, value) is split over its campaigns in proportion to their touch credit. The
touch credit of a run and ``result.campaign_credit`` stay as the models give them (each
conversion's touch credit sums to 1).
"""

from __future__ import annotations

import polars as pl

from attribution.inputs._campaigns import NO_CAMPAIGN

__all__ = ["reconciled_to_channels"]

#: Relative difference above which a model's campaign sums per unit are not its channel
#: credit (float sums of the same credit differ by about 1e-15).
_RECONCILE_TOLERANCE = 1e-9


def _unit(key: str) -> pl.Expr:
    """The unit ``channel_credit`` names for a campaign credit row (channel, campaign)."""
    if key == "channel":
        return pl.col("channel")
    none = pl.col("channel") + pl.lit("/" + NO_CAMPAIGN)
    if key == "campaign":
        return pl.when(pl.col("campaign") == NO_CAMPAIGN).then(none).otherwise(pl.col("campaign"))
    return pl.col("channel") + pl.lit("/") + pl.col("campaign")


def reconciled_to_channels(
    credit: pl.DataFrame, channel_credit: pl.DataFrame, key: str = "channel"
) -> tuple[pl.DataFrame, list[str]]:
    """Campaign credit whose sums per credited unit (the channel under ``key="channel"``)
    are the model's ``channel_credit``, and the models rescaled.

    A rule-based or counterfactual model's touch credit sums per channel to its channel
    credit, and its rows are returned as they are. Markov and Shapley credit channels on
    the whole path table and split each journey by those channel weights, so their touch
    credit summed per channel can be far from it (README, "Model definitions"): for them
    each unit's channel credit (conversions, value) is split over its campaigns in
    proportion to the campaigns' touch credit, and ``share`` / ``channel_share`` follow. A
    CAC from these rows is then on the customers the channel economics count.
    """
    if credit.height == 0 or channel_credit.height == 0:
        return credit, []
    return _reconciled(credit, channel_credit, _unit(key), "conversions", "value",
                       {"share": ["model"], "channel_share": ["model", "channel"]})


def _reconciled(
    frame: pl.DataFrame,
    channel_credit: pl.DataFrame,
    unit: pl.Expr,
    credit_col: str,
    value_col: str,
    shares: dict[str, list[str]],
) -> tuple[pl.DataFrame, list[str]]:
    """``frame`` with ``credit_col`` / ``value_col`` split per model and unit from the
    channel credit where they do not sum to it, and ``shares`` recomputed over their
    groups; the models rescaled.

    Each row takes its unit's credit in proportion to its own credit; its unit's value in
    proportion to its own value, or, where the unit's rows have no value (all their
    conversions without one, while Markov's value removal effect still gives the channel
    value), in proportion to its credit; and where the unit's rows have no credit either,
    in equal parts. So each unit sums to its channel credit, and no share is NaN or
    infinite."""
    totals = channel_credit.select(
        "model",
        pl.col("channel").alias("_unit"),
        pl.col("conversions").alias("_unit_credit"),
        pl.col("value").alias("_unit_value"),
    )
    sums = (
        frame.group_by("model", unit.alias("_unit"))
        .agg(
            pl.col(credit_col).sum().alias("_sum_credit"),
            pl.col(value_col).sum().alias("_sum_value"),
        )
        .join(totals, on=["model", "_unit"], how="left")
    )

    def off(column: str) -> pl.Expr:
        total = pl.col(f"_unit_{column}")
        gap = (pl.col(f"_sum_{column}") - total).abs()
        return gap > _RECONCILE_TOLERANCE * pl.max_horizontal(total.abs(), pl.lit(1.0))

    found = sums.group_by("model").agg(
        (off("credit") | off("value")).any().alias("off"),
        pl.col("_unit_credit").is_null().any().alias("unmatched"),
    )
    # a unit missing from channel_credit (a result made by hand): that model kept as it is
    models = set(found.filter(pl.col("off") & ~pl.col("unmatched")).get_column("model"))
    if not models:
        return frame, []
    scaled = pl.col("model").is_in(models)
    joined = frame.with_columns(unit.alias("_unit")).join(
        sums.select("model", "_unit", "_sum_credit", "_sum_value", "_unit_credit", "_unit_value"),
        on=["model", "_unit"],
        how="left",
        maintain_order="left",
    )
    rows = pl.len().over("model", "_unit")
    credit_share = (
        pl.when(pl.col("_sum_credit") > 0)
        .then(pl.col(credit_col) / pl.col("_sum_credit"))
        .otherwise(1.0 / rows)
    )
    value_share = (
        pl.when(pl.col("_sum_value") > 0)
        .then(pl.col(value_col) / pl.col("_sum_value"))
        .otherwise(credit_share)
    )
    out = joined.with_columns(
        pl.when(scaled).then(pl.col("_unit_credit") * credit_share).otherwise(pl.col(credit_col))
        .alias(credit_col),
        pl.when(scaled).then(pl.col("_unit_value") * value_share).otherwise(pl.col(value_col))
        .alias(value_col),
    )
    if shares:
        out = out.with_columns(
            pl.when(scaled)
            .then((pl.col(credit_col) / pl.col(credit_col).sum().over(over)).fill_nan(0.0))
            .otherwise(pl.col(name))
            .alias(name)
            for name, over in shares.items()
        )
    order = [m for m in frame.get_column("model").unique(maintain_order=True) if m in models]
    return out.select(frame.columns), order
