"""The CRM campaign-influence export (``campaign_influence.parquet``) in its two layouts.

- **long** (:data:`CAMPAIGN_INFLUENCE_SCHEMA`, :func:`campaign_influence`): one row per
  opportunity, model and campaign, the shape a CRM imports (Salesforce's Customizable
  Campaign Influence: OpportunityId, CampaignId, ModelId, Influence %).
- **wide** (:func:`campaign_influence_wide`): one row per opportunity and campaign, the
  columns naming them (:data:`INFLUENCE_KEY_SCHEMA`), then ``credit_share:<model>`` per model
  in the run's order. ``influence_percent`` (= 100 x share) and ``revenue_share`` (= share x
  ``opportunity_amount``) are left out: each is one product of a column it holds. With 13
  models it holds 13x fewer rows than the long layout (477k against 6.2M at 10M touches)
  and the text columns once instead of once per model.

Both come from one :class:`InfluenceCodes` (the campaigns' credit summed per opportunity and
campaign for every model, on integer codes), so they hold the same numbers: the long layout's
``credit_share`` of (opportunity, model, campaign) is the wide one's ``credit_share:<model>``
on the row of (opportunity, campaign), bit for bit. :func:`long_influence` and
:func:`wide_influence` turn a table of one layout into the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import polars as pl

from attribution.engine._campaign_credit import CampaignRows

__all__ = [
    "CAMPAIGN_INFLUENCE_SCHEMA",
    "INFLUENCE_KEY_SCHEMA",
    "SHARE_PREFIX",
    "InfluenceCodes",
    "campaign_influence",
    "campaign_influence_wide",
    "empty_wide_influence",
    "influence_codes",
    "long_influence",
    "share_column",
    "wide_influence",
]

#: ``campaign_influence.parquet``: per opportunity (``crm_opportunity`` false: the
#: conversion's id, it had no ``opportunity_id``), model, campaign and its channel.
CAMPAIGN_INFLUENCE_SCHEMA = pl.Schema(
    {
        "opportunity_id": pl.String(),
        "crm_opportunity": pl.Boolean(),
        "model": pl.String(),
        "campaign_id": pl.String(),
        "channel": pl.String(),
        "credit_share": pl.Float64(),
        "influence_percent": pl.Float64(),
        "revenue_share": pl.Float64(),
        "opportunity_amount": pl.Float64(),
        "conversions": pl.Int64(),
    }
)
#: The wide layout's columns before its ``credit_share:<model>`` columns.
INFLUENCE_KEY_SCHEMA = pl.Schema(
    {
        "opportunity_id": pl.String(),
        "crm_opportunity": pl.Boolean(),
        "campaign_id": pl.String(),
        "channel": pl.String(),
        "opportunity_amount": pl.Float64(),
        "conversions": pl.Int64(),
    }
)
#: The wide layout's share column of model ``label`` is ``credit_share:<label>``.
SHARE_PREFIX: Final = "credit_share:"


def share_column(label: str) -> str:
    """The wide layout's column of model ``label``'s credit share.

    >>> share_column("markov(order=1)")
    'credit_share:markov(order=1)'
    """
    return SHARE_PREFIX + label


def empty_wide_influence(labels: Sequence[str]) -> pl.DataFrame:
    """A wide influence table without rows, with the share columns of ``labels``."""
    return pl.DataFrame(
        schema={**INFLUENCE_KEY_SCHEMA, **{share_column(m): pl.Float64() for m in labels}}
    )


def _labels(wide: pl.DataFrame) -> list[str]:
    return [c[len(SHARE_PREFIX) :] for c in wide.columns if c.startswith(SHARE_PREFIX)]


def _long_order(opp_of_key: np.ndarray, n_model: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row of the long layout, its key (a row of the wide layout) and model: an
    opportunity's keys are a run, and its long rows that run once per model. The
    opportunities whose runs have one length are laid out together by broadcasting (a loop
    over the distinct lengths, at most the number of campaigns)."""
    n_key = len(opp_of_key)
    key = np.empty(n_key * n_model, np.int64)
    model = np.empty(n_key * n_model, np.uint32)
    if n_key == 0 or n_model == 0:
        return key, model
    starts = np.flatnonzero(np.concatenate([[True], opp_of_key[1:] != opp_of_key[:-1]]))
    runs = np.diff(np.append(starts, n_key))
    models = np.arange(n_model, dtype=np.uint32)
    for length in np.unique(runs).tolist():
        first = starts[runs == length]
        within = np.arange(length)
        to = (
            (first * n_model)[:, None, None]
            + (models.astype(np.int64) * length)[None, :, None]
            + within[None, None, :]
        )
        key[to] = (first[:, None] + within[None, :])[:, None, :]
        model[to] = models[None, :, None]
    return key, model


@dataclass
class InfluenceCodes:
    """The influence of a run on integer codes: ``credit[m, k]`` is model ``m``'s credit of
    key ``k``, the (opportunity ``opp[k]``, campaign pair ``pair[k]``) keys in the order of
    the rows (by opportunity, then campaign). ``opportunities`` (by opportunity code):
    ``opportunity_id``, ``crm_opportunity``, ``opportunity_amount``, ``conversions``;
    ``pairs`` (by pair code): ``channel``, ``campaign``; ``models``: the labels in run
    order. :meth:`long` and :meth:`wide` lay them out."""

    opportunities: pl.DataFrame
    pairs: pl.DataFrame
    models: list[str]
    opp: np.ndarray
    pair: np.ndarray
    credit: np.ndarray

    def _keys(self) -> tuple[pl.DataFrame, pl.Series]:
        per = self.opportunities.select(pl.all().gather(pl.Series(self.opp)))
        pair = pl.Series(self.pair)
        keys = pl.DataFrame(
            {
                "opportunity_id": per.get_column("opportunity_id"),
                "crm_opportunity": per.get_column("crm_opportunity"),
                "campaign_id": self.pairs.get_column("campaign").gather(pair),
                "channel": self.pairs.get_column("channel").gather(pair),
                "opportunity_amount": per.get_column("opportunity_amount"),
                "conversions": per.get_column("conversions"),
            }
        )
        return keys, per.get_column("conversions")

    def wide(self) -> pl.DataFrame:
        """The wide layout: a row per key, a ``credit_share:<model>`` column per model."""
        if len(self.opp) == 0:
            return empty_wide_influence(self.models)
        keys, conversions = self._keys()
        shares = [
            (pl.Series(self.credit[m]) / conversions).alias(share_column(label))
            for m, label in enumerate(self.models)
        ]
        return keys.with_columns(shares).cast(empty_wide_influence(self.models).schema)

    def long(self) -> pl.DataFrame:
        """The long layout (:data:`CAMPAIGN_INFLUENCE_SCHEMA`): rows by opportunity, model
        (in the run's order) and campaign."""
        if len(self.opp) == 0:
            return pl.DataFrame(schema=CAMPAIGN_INFLUENCE_SCHEMA)
        key, model = _long_order(self.opp, len(self.models))
        opp = pl.Series(self.opp[key])
        pair = pl.Series(self.pair[key])
        per = self.opportunities.select(pl.all().gather(opp))
        share = pl.Series(self.credit[model, key]) / per.get_column("conversions")
        return pl.DataFrame(
            {
                "opportunity_id": per.get_column("opportunity_id"),
                "crm_opportunity": per.get_column("crm_opportunity"),
                "model": pl.Series(self.models, dtype=pl.String).gather(pl.Series(model)),
                "campaign_id": self.pairs.get_column("campaign").gather(pair),
                "channel": self.pairs.get_column("channel").gather(pair),
                "credit_share": share,
                "influence_percent": share * 100.0,
                "revenue_share": share * per.get_column("opportunity_amount"),
                "opportunity_amount": per.get_column("opportunity_amount"),
                "conversions": per.get_column("conversions"),
            }
        ).cast(CAMPAIGN_INFLUENCE_SCHEMA)


def influence_codes(rows: CampaignRows | pl.DataFrame, conversions: pl.DataFrame) -> InfluenceCodes:
    """The influence of per-conversion campaign credit on codes (see :func:`campaign_influence`
    for what ``rows`` and ``conversions`` are, and how an opportunity's conversions share it).
    Every model has every (opportunity, campaign) key of the rows, 0 where it credits none."""
    coded = rows if isinstance(rows, CampaignRows) else CampaignRows.of(rows)
    models = coded.models.sort("_model").get_column("model").to_list()
    n_model, n_pair = len(models), coded.pairs.height
    pairs = coded.pairs.sort("_pair").select("channel", "campaign")
    if (coded.wide if coded.wide is not None else coded.codes).height == 0:
        nothing = np.empty(0, np.uint64)
        return InfluenceCodes(
            pl.DataFrame(), pairs, models, nothing, nothing, np.empty((n_model, 0))
        )
    opportunity = (
        pl.col("opportunity_id") if "opportunity_id" in conversions.columns else pl.lit(None)
    ).cast(pl.String)
    # the credited conversions (every model credits each of them) with their opportunity
    conv = coded.conversions.join(
        conversions.select(
            "conversion_id",
            pl.coalesce(opportunity, pl.col("conversion_id")).alias("opportunity_id"),
            opportunity.is_not_null().alias("crm_opportunity"),
            pl.col("value").fill_null(0.0).alias("amount"),
        ),
        on="conversion_id",
        how="left",
    ).with_columns(  # (a credited conversion is always among them: this only keeps rows whole)
        pl.coalesce("opportunity_id", "conversion_id").alias("opportunity_id"),
        pl.col("crm_opportunity").fill_null(False),
        pl.col("amount").fill_null(0.0),
    )
    names = conv.select("opportunity_id").unique().sort("opportunity_id").with_row_index("_opp")
    conv = conv.join(names, on="opportunity_id").sort("_conv")
    opportunities = (
        conv.group_by("_opp")
        .agg(
            pl.len().cast(pl.Int64).alias("conversions"),
            pl.col("crm_opportunity").first(),
            pl.col("amount").max().alias("opportunity_amount"),
        )
        .sort("_opp")
        .join(names, on="_opp")
        .select("opportunity_id", "crm_opportunity", "opportunity_amount", "conversions")
    )
    opp_of_conv = conv.get_column("_opp").to_numpy().astype(np.uint64)  # by _conv, 0..n-1
    # one integer key per (opportunity, campaign), numbered in that order by NumPy's unique,
    # every model's credit summed per key by bincount (a group-by and a sort on text took
    # 0.7 s at 150k rows)
    if coded.wide is not None:
        wide = coded.wide
        key = opp_of_conv[wide.get_column("_conv").to_numpy()] * n_pair + wide.get_column(
            "_pair"
        ).to_numpy().astype(np.uint64)
        keys, row_of = np.unique(key, return_inverse=True)
        row_of = row_of.ravel()
        credit = np.stack(
            [
                np.bincount(row_of, wide.get_column(f"c{m}").to_numpy(), len(keys))
                for m in range(n_model)
            ]
        )
    else:
        codes = coded.codes
        key = opp_of_conv[codes.get_column("_conv").to_numpy()] * n_pair + codes.get_column(
            "_pair"
        ).to_numpy().astype(np.uint64)
        keys, row_of = np.unique(key, return_inverse=True)
        at = codes.get_column("_model").to_numpy().astype(np.int64) * len(keys) + row_of.ravel()
        credit = np.bincount(
            at, codes.get_column("credit").to_numpy(), n_model * len(keys)
        ).reshape(n_model, len(keys))
    opp = keys // n_pair
    return InfluenceCodes(opportunities, pairs, models, opp, keys - opp * n_pair, credit)


def campaign_influence(
    rows: CampaignRows | pl.DataFrame, conversions: pl.DataFrame
) -> pl.DataFrame:
    """The campaign influence export from per-conversion campaign credit (the long layout).

    ``rows``: touch credit summed by conversion, model, channel and campaign (a
    :class:`~attribution.engine._campaign_credit.CampaignRows`, or a frame of
    ``conversion_id``, ``model``, ``channel``, ``campaign``, ``credit``, ``value``);
    ``conversions``: the run's conversions (``conversion_id``, ``value``, ``opportunity_id``
    when the stages had one). An opportunity is the conversion's ``opportunity_id``, else the
    conversion itself (``crm_opportunity`` false). Several conversions of one opportunity (at
    contact level each contact on the deal converts) share it: ``credit_share`` = the
    campaign's credit over those conversions / their number, so it sums to 1 per opportunity
    and model; ``opportunity_amount`` = the largest value among them (each carries the deal
    amount) and ``revenue_share`` = ``credit_share`` x that amount, so revenue shares sum to
    the amount. Rows come by opportunity, model (as run) and campaign.
    """
    return influence_codes(rows, conversions).long()


def campaign_influence_wide(
    rows: CampaignRows | pl.DataFrame, conversions: pl.DataFrame
) -> pl.DataFrame:
    """:func:`campaign_influence` in the wide layout: a row per opportunity and campaign
    (in that order), a ``credit_share:<model>`` column per model."""
    return influence_codes(rows, conversions).wide()


def long_influence(wide: pl.DataFrame) -> pl.DataFrame:
    """The long layout of a wide influence table (rows by opportunity, then campaign, as
    :func:`campaign_influence_wide` gives them): the same rows :func:`campaign_influence`
    gives, in its order."""
    labels = _labels(wide)
    if wide.height == 0 or not labels:
        return pl.DataFrame(schema=CAMPAIGN_INFLUENCE_SCHEMA)
    opp = wide.get_column("opportunity_id").rle_id().to_numpy()
    key, model = _long_order(opp, len(labels))
    shares = np.stack([wide.get_column(share_column(m)).to_numpy() for m in labels])
    share = pl.Series(shares[model, key])
    rows = wide.select(INFLUENCE_KEY_SCHEMA.names()).gather(pl.Series(key))
    amount = rows.get_column("opportunity_amount")
    return (
        rows.with_columns(
            pl.Series(labels, dtype=pl.String).gather(pl.Series(model)).alias("model"),
            share.alias("credit_share"),
            (share * 100.0).alias("influence_percent"),
            (share * amount).alias("revenue_share"),
        )
        .select(CAMPAIGN_INFLUENCE_SCHEMA.names())
        .cast(CAMPAIGN_INFLUENCE_SCHEMA)
    )


def wide_influence(long: pl.DataFrame, labels: Sequence[str] | None = None) -> pl.DataFrame:
    """The wide layout of a long influence table (for what holds only the long one: an
    incremental run's answer, a result built by hand); a model without a row for a key
    gets share 0. ``labels``: the models' order (default: as they first appear)."""
    labels = (
        long.get_column("model").unique(maintain_order=True).to_list()
        if labels is None
        else list(labels)
    )
    if long.height == 0:
        return empty_wide_influence(labels)
    if (by_model := _wide_by_model(long, labels)) is not None:
        return by_model
    wide = long.with_columns((pl.lit(SHARE_PREFIX) + pl.col("model")).alias("model")).pivot(
        on="model",
        index=INFLUENCE_KEY_SCHEMA.names(),
        values="credit_share",
        aggregate_function=None,
    )
    missing = [share_column(m) for m in labels if share_column(m) not in wide.columns]
    wide = wide.with_columns(pl.lit(0.0).alias(c) for c in missing)
    return (
        wide.select(
            *INFLUENCE_KEY_SCHEMA.names(),
            *(pl.col(share_column(m)).fill_null(0.0) for m in labels),
        )
        .sort("opportunity_id", "campaign_id", "channel", maintain_order=True)
        .cast(empty_wide_influence(labels).schema)
    )


def _wide_by_model(long: pl.DataFrame, labels: Sequence[str]) -> pl.DataFrame | None:
    """:func:`wide_influence` of long rows in which every model of ``labels`` (and no other)
    has the same keys in the same order, one row each (as :func:`campaign_influence` gives
    them): each model's shares are then its rows' column, taken by position (a tenth of the
    pivot's time at 6.2M rows). None when the rows are not so."""
    names = ["opportunity_id", "campaign_id", "channel"]
    parts = long.partition_by("model", as_dict=True, maintain_order=True)
    if len(parts) != len(labels) or any((m,) not in parts for m in labels):
        return None
    first = parts[(labels[0],)]
    keys = first.select(names)
    if not keys.is_unique().all():
        return None
    if not all(parts[(m,)].select(names).equals(keys) for m in labels[1:]):
        return None
    wide = first.select(INFLUENCE_KEY_SCHEMA.names()).with_columns(
        parts[(m,)].get_column("credit_share").alias(share_column(m)) for m in labels
    )
    if not keys.equals(keys.sort(names)):
        wide = wide.sort(names, maintain_order=True)
    return wide.cast(empty_wide_influence(labels).schema)
