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

from attribution.b2b._economics_slices import ALL
from attribution.inputs._campaigns import NO_CAMPAIGN

__all__ = ["draws_reconciled", "reconciled_to_channels", "touches_reconciled"]

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


def touches_reconciled(
    touch_credit: pl.DataFrame, channel_credit: pl.DataFrame
) -> tuple[pl.DataFrame, list[str]]:
    """Touch credit whose sums per model and credited unit are the model's
    ``channel_credit``, and the models rescaled: what the unit economics sum below the
    channel (segments, metros, regions, months, the conversions a partial spend period
    keeps).

    The same split as :func:`reconciled_to_channels`, on touches instead of campaigns: a
    rule-based or counterfactual model's rows are returned as they are; under Markov and
    Shapley each unit's channel credit (conversions, value) is split over its touches in
    proportion to their touch credit (value to their value, or to their credit where the
    unit's touches carry none). Any grouping of the rows (a segment, a month) then holds
    the unit's channel credit split in proportion to its touch credit there, and the groups
    sum to the channel credit. A conversion's rescaled credit no longer sums to 1: these
    rows are for sums per channel, never for a journey's split (``result.touch_credit``).
    """
    if touch_credit.height == 0 or channel_credit.height == 0:
        return touch_credit, []
    return _reconciled(touch_credit, channel_credit, pl.col("channel"), "credit", "value", {})


def draws_reconciled(credit: pl.DataFrame) -> pl.DataFrame:
    """The bootstrap draws' credit (``draw``, ``model``, ``segment``, ``channel``,
    ``customers``, ``revenue``; :attr:`attribution.engine._bootstrap.Bootstrap.credit`) with
    each draw's segment rows summing per model and channel to the draw's ``all`` row, as
    :func:`touches_reconciled` makes the point estimate's: a data-driven model's ``all`` row
    is its refit's channel credit, its segment rows the refit's split of each path, which
    under Markov and Shapley do not sum to it. Rule-based rows (their ``all`` row is the
    segments' sum) are returned as they are."""
    parts = pl.col("segment") != ALL
    if credit.height == 0 or credit.filter(parts).height == 0:
        return credit
    totals = credit.filter(~parts).select(
        "draw", "model", "channel", pl.col("customers").alias("conversions"),
        pl.col("revenue").alias("value"),
    )  # fmt: skip
    segments, rescaled = _reconciled(credit.filter(parts), totals, pl.col("channel"),
                                     "customers", "revenue", {}, by=("draw", "model"))  # fmt: skip
    return pl.concat([credit.filter(~parts), segments]) if rescaled else credit


def _reconciled(
    frame: pl.DataFrame,
    channel_credit: pl.DataFrame,
    unit: pl.Expr,
    credit_col: str,
    value_col: str,
    shares: dict[str, list[str]],
    by: tuple[str, ...] = ("model",),
) -> tuple[pl.DataFrame, list[str]]:
    """``frame`` with ``credit_col`` / ``value_col`` split per model (per ``by``: the model
    and, for the bootstrap's draws, the draw) and unit from the channel credit where they do
    not sum to it, and ``shares`` recomputed over their groups; the models rescaled.

    Each row takes its unit's credit in proportion to its own credit; its unit's value in
    proportion to its own value, or, where the unit's rows have no value (all their
    conversions without one, while Markov's value removal effect still gives the channel
    value), in proportion to its credit; and where the unit's rows have no credit either,
    in equal parts. So each unit sums to its channel credit, and no share is NaN or
    infinite."""
    keys = [*by, "_unit"]
    totals = channel_credit.select(
        *by,
        pl.col("channel").alias("_unit"),
        pl.col("conversions").alias("_unit_credit"),
        pl.col("value").alias("_unit_value"),
    )
    sums = (
        frame.group_by(*by, unit.alias("_unit"))
        .agg(
            pl.col(credit_col).sum().alias("_sum_credit"),
            pl.col(value_col).sum().alias("_sum_value"),
        )
        .join(totals, on=keys, how="left")
    )

    def off(column: str) -> pl.Expr:
        total = pl.col(f"_unit_{column}")
        gap = (pl.col(f"_sum_{column}") - total).abs()
        return gap > _RECONCILE_TOLERANCE * pl.max_horizontal(total.abs(), pl.lit(1.0))

    found = sums.group_by(*by).agg(
        (off("credit") | off("value")).any().alias("off"),
        pl.col("_unit_credit").is_null().any().alias("unmatched"),
    )
    # a unit missing from channel_credit (a result made by hand): that model kept as it is
    groups = found.filter(pl.col("off") & ~pl.col("unmatched")).select(
        *by, pl.lit(True).alias("_scaled")
    )
    if groups.height == 0:
        return frame, []
    models = set(groups.get_column("model"))
    scaled = pl.col("_scaled").fill_null(False)
    joined = (
        frame.with_columns(unit.alias("_unit"))
        .join(
            sums.select(*keys, "_sum_credit", "_sum_value", "_unit_credit", "_unit_value"),
            on=keys,
            how="left",
            maintain_order="left",
        )
        .join(groups, on=list(by), how="left", maintain_order="left")
    )
    rows = pl.len().over(*keys)
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
