"""Account-level outputs of a run (b2b.md, "Account-level attribution").

Computed by :func:`attribute` when ``level="account"`` and stored on the result:

``accounts`` (``accounts.parquet``), one row per account
    Every account seen in the contacts table, the touches or the stage events.
    ``contacts`` (known contacts), ``contacts_engaged`` (contacts with at least one touch in
    the input), ``roles_engaged`` (their buying-committee roles, ``unknown`` left out) against
    the ``required_roles`` (``required_roles_covered``, ``coverage`` as ``"3 of 4"``,
    ``missing_roles``); ``touches`` and ``last_touch_at``; the engagement score and tier (below);
    the run's conversions of the account (``conversions``, ``conversions_attributed``,
    ``conversion_value``, ``opportunity_ids``).

``account_credit`` (``account_credit.parquet``), tidy long form
    Per account, conversion (opportunity) and model, the credit and value summed by
    ``dimension`` = ``channel``, ``contact`` or ``role``; ``key`` is the channel, the contact
    id or the role. Within one (conversion, model, dimension) the credit sums to 1. For the
    data-driven models this is their per-touch split (models.md), whose channel sums differ
    from their standard channel totals in ``channel_credit``.

``pipeline`` (``pipeline.parquet``), sourced vs influenced by channel
    Over the run's conversions (deals): ``sourced`` = the channel of the journey's first touch
    (``(no touches)`` for a deal without touches), one channel per deal, so it sums to 100%;
    ``influenced`` = every channel with a journey touch at or before the opportunity was
    created, each counted with the full deal value, so it does **not** sum to 100%
    (``sums_to_total`` and ``note`` say so on every row). The creation time
    (``opportunity_created_at``) is the first opportunity-milestone event with the deal's
    ``opportunity_id``, else the account's ``opportunity`` milestone of the journey, else the
    conversion time. ``pipeline`` is the opportunity amount (value on the opportunity event of
    the same ``opportunity_id``, else the conversion's value); ``revenue`` the won amount (the
    conversion's value when the run converts on a closed-won stage, else the closed-won event
    of the same ``opportunity_id``, else 0). Run with ``conversion_stage="opportunity"`` for
    all created pipeline, open and lost deals included; with ``closed_won`` (default) it
    covers won deals. The CRM lead-source field of b2b.md is not read yet (the stages table
    has no such column).

Per-deal columns added to ``conversions``: ``contacts_in_journey``, ``roles_in_journey``,
``required_roles_covered``, ``coverage``, ``sourced_channel``, ``opportunity_created_at``,
``influencing_channels``, ``pipeline_value``, ``revenue``.

**Engagement.** The reference time ``R`` is the latest timestamp in the data (touches and
stage events), so a rerun on the same data gives the same scores. A touch of age
``a = R - t`` weighs ``w(touch_type) * 2 ** (-a / 30 days)`` (:data:`DEFAULT_TOUCH_WEIGHTS`;
1 without ``touch_type``); ``engagement_30d`` / ``_60d`` / ``_90d`` sum it over the touches of
the last 30 / 60 / 90 days and ``engagement_score`` is the 90-day sum. ``engagement_z`` is
the z-score of ``log1p(engagement_score)`` over the run's accounts (population standard
deviation; 0 when all are equal): scores are counts with a long tail, and on raw scores every
account without a recent touch would sit near the mean. Tier: ``hot`` when z >= 1, ``cold``
when z <= -0.5 or the score is 0, ``warm`` otherwise.

Everything is group-bys and joins over the input and the run's frames; no per-account Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import polars as pl

from attribution.exceptions import InputError
from attribution.journeys._journeys import (
    UNKNOWN_ROLE,
    _attach_accounts,
    contact_roles,
    normalise_role,
)

__all__ = [
    "COLD_Z",
    "DEFAULT_REQUIRED_ROLES",
    "DEFAULT_TOUCH_WEIGHTS",
    "ENGAGEMENT_HALF_LIFE",
    "HOT_Z",
    "AccountOutputs",
    "account_outputs",
    "check_required_roles",
    "engagement_z_expr",
    "tier_expr",
]

#: The roles a deal's buying committee needs (coverage is counted against them).
DEFAULT_REQUIRED_ROLES: Final = ("decision_maker", "champion", "finance", "user")
#: Engagement weight of a touch by ``touch_type``; other or missing types weigh 1.
DEFAULT_TOUCH_WEIGHTS: Final[Mapping[str, float]] = {
    "meeting": 3.0,
    "attend": 2.0,
    "form_fill": 2.0,
    "referral": 2.0,
    "click": 1.0,
    "visit": 1.0,
    "mail": 1.0,
    "open": 0.5,
    "view": 0.5,
}
ENGAGEMENT_HALF_LIFE: Final = timedelta(days=30)
ENGAGEMENT_WINDOWS_DAYS: Final = (30, 60, 90)
HOT_Z: Final = 1.0
COLD_Z: Final = -0.5


def engagement_z_expr() -> pl.Expr:
    """z of log1p(engagement score) over the accounts of the frame (0 when all are equal)."""
    x = pl.col("engagement_score").log1p()
    std = x.std(ddof=0)
    return pl.when(std > 0).then((x - x.mean()) / std).otherwise(0.0)


def tier_expr() -> pl.Expr:
    """hot: z >= HOT_Z; cold: z <= COLD_Z or score 0; warm otherwise (needs engagement_z)."""
    return (
        pl.when((pl.col("engagement_score") <= 0) | (pl.col("engagement_z") <= COLD_Z))
        .then(pl.lit("cold"))
        .when(pl.col("engagement_z") >= HOT_Z)
        .then(pl.lit("hot"))
        .otherwise(pl.lit("warm"))
    )


NO_TOUCH: Final = "(no touches)"

ACCOUNTS_SCHEMA: Final = pl.Schema(
    {
        "account_id": pl.String(),
        "contacts": pl.UInt32(),
        "contacts_engaged": pl.UInt32(),
        "roles_engaged": pl.List(pl.String()),
        "required_roles_covered": pl.UInt32(),
        "coverage": pl.String(),
        "missing_roles": pl.List(pl.String()),
        "touches": pl.UInt32(),
        "last_touch_at": pl.Datetime("us", "UTC"),
        "engagement_30d": pl.Float64(),
        "engagement_60d": pl.Float64(),
        "engagement_90d": pl.Float64(),
        "engagement_score": pl.Float64(),
        "engagement_z": pl.Float64(),
        "tier": pl.String(),
        "conversions": pl.UInt32(),
        "conversions_attributed": pl.UInt32(),
        "conversion_value": pl.Float64(),
        "opportunity_ids": pl.List(pl.String()),
    }
)
ACCOUNT_CREDIT_SCHEMA: Final = pl.Schema(
    {
        "account_id": pl.String(),
        "conversion_id": pl.String(),
        "opportunity_id": pl.String(),
        "model": pl.String(),
        "dimension": pl.String(),
        "key": pl.String(),
        "role": pl.String(),
        "touches": pl.UInt32(),
        "credit": pl.Float64(),
        "value": pl.Float64(),
    }
)
PIPELINE_SCHEMA: Final = pl.Schema(
    {
        "measure": pl.String(),
        "channel": pl.String(),
        "deals": pl.UInt32(),
        "pipeline": pl.Float64(),
        "revenue": pl.Float64(),
        "deal_share": pl.Float64(),
        "pipeline_share": pl.Float64(),
        "revenue_share": pl.Float64(),
        "sums_to_total": pl.Boolean(),
        "note": pl.String(),
    }
)
NOTES: Final = {
    "sourced": "channel of the deal's first journey touch; one channel per deal, sums to 100%",
    "influenced": "every channel touching before the opportunity was created, each with the "
    "full deal value; does NOT sum to 100%",
}


@dataclass(frozen=True)
class AccountOutputs:
    """What :func:`account_outputs` returns (see the module docstring for the columns)."""

    accounts: pl.DataFrame
    account_credit: pl.DataFrame
    pipeline: pl.DataFrame
    deals: pl.DataFrame
    reference_time: datetime | None


def check_required_roles(required_roles: Sequence[str]) -> tuple[str, ...]:
    """Normalise (as contact roles are) and de-duplicate; at least one role."""
    if isinstance(required_roles, str):
        required_roles = [required_roles]
    roles = pl.Series("role", [str(r) for r in required_roles], dtype=pl.String)
    out = tuple(
        dict.fromkeys(roles.to_frame().select(normalise_role(pl.col("role")).alias("role"))["role"])
    )
    if not out or UNKNOWN_ROLE in out:
        raise InputError(
            "required_roles must name at least one role, and not 'unknown' or a blank one; "
            f"got {list(required_roles)!r}"
        )
    return out


def account_outputs(
    *,
    touches: pl.DataFrame,
    stages: pl.DataFrame,
    contacts: pl.DataFrame | None,
    journey_touches: pl.DataFrame,
    conversions: pl.DataFrame,
    touch_credit: pl.DataFrame,
    milestones: Mapping[str, Sequence[str]],
    conversion_stage: str,
    required_roles: Sequence[str] = DEFAULT_REQUIRED_ROLES,
    reference_time: datetime | None = None,
    touch_weights: Mapping[str, float] = DEFAULT_TOUCH_WEIGHTS,
) -> AccountOutputs:
    """Build the account view, per-deal credit and sourced vs influenced pipeline.

    ``touches`` / ``stages`` / ``contacts`` are the validated inputs of the run (stage names
    already mapped); ``journey_touches`` and ``conversions`` come from the account-level
    journeys and ``touch_credit`` is the run's, every model.
    """
    required = check_required_roles(required_roles)
    roles = contact_roles(contacts)
    stages = _attach_accounts(stages, contacts, "stages")
    if reference_time is None:
        latest = pl.concat([f.select("timestamp") for f in (touches, stages)]).get_column(
            "timestamp"
        )
        reference_time = latest.max() if latest.len() else None  # type: ignore[assignment]
    deals = _deals(journey_touches, conversions, stages, milestones, conversion_stage, required)
    return AccountOutputs(
        accounts=_accounts(
            touches, stages, contacts, conversions, roles, required, reference_time, touch_weights
        ),
        account_credit=_account_credit(touch_credit, conversions, roles),
        pipeline=_pipeline(conversions.join(deals, on="conversion_id", how="left")),
        deals=deals,
        reference_time=reference_time,
    )


def _covered(roles: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    return pl.sum_horizontal([roles.list.contains(r).cast(pl.UInt32) for r in required])


def _coverage(covered: pl.Expr, required: tuple[str, ...]) -> pl.Expr:
    return covered.cast(pl.String) + pl.lit(f" of {len(required)}")


def _deals(
    journey_touches: pl.DataFrame,
    conversions: pl.DataFrame,
    stages: pl.DataFrame,
    milestones: Mapping[str, Sequence[str]],
    conversion_stage: str,
    required: tuple[str, ...],
) -> pl.DataFrame:
    """Per conversion: committee coverage, sourced / influencing channels, pipeline, revenue."""
    for col, dtype in (("opportunity_id", pl.String), ("value", pl.Float64)):
        if col not in stages.columns:
            stages = stages.with_columns(pl.lit(None, dtype).alias(col))
    role = pl.col("role") if "role" in journey_touches.columns else pl.lit(UNKNOWN_ROLE)

    def stage_names(role_name: str) -> list[str]:
        names = milestones.get(role_name, ())
        return [names] if isinstance(names, str) else list(names)

    def by_opportunity(role_name: str, prefix: str) -> pl.DataFrame:
        return (
            stages.filter(
                pl.col("stage").is_in(stage_names(role_name))
                & pl.col("opportunity_id").is_not_null()
            )
            .group_by("opportunity_id")
            .agg(
                pl.col("timestamp").min().alias(f"{prefix}_at"),
                pl.col("value").sort_by("timestamp", "value").drop_nulls().first().alias(prefix),
            )
        )

    # the deal's own opportunity event when the data links it (two deals of one account must
    # not share a creation time), else the account's opportunity milestone, else T
    own = pl.col("_opp_at")
    created = pl.coalesce(
        pl.when(own <= pl.col("timestamp")).then(own), "opportunity_at", "timestamp"
    ).alias("opportunity_created_at")
    deals = (
        conversions.select(
            "conversion_id", "opportunity_id", "timestamp", "value", "opportunity_at"
        )
        .join(by_opportunity("opportunity", "_opp"), on="opportunity_id", how="left")
        .join(by_opportunity("closed_won", "_won"), on="opportunity_id", how="left")
        .with_columns(created)
    )
    per_deal = (
        journey_touches.join(
            deals.select("conversion_id", "opportunity_created_at"), on="conversion_id", how="left"
        )
        .group_by("conversion_id")
        .agg(
            pl.col("contact_id").drop_nulls().n_unique().alias("contacts_in_journey"),
            role.filter(role != UNKNOWN_ROLE).unique().sort().alias("roles_in_journey"),
            pl.col("channel").sort_by("position").first().alias("sourced_channel"),
            pl.col("channel")
            .filter(pl.col("timestamp") <= pl.col("opportunity_created_at"))
            .unique()
            .sort()
            .alias("influencing_channels"),
        )
    )
    converts_on_won = conversion_stage in stage_names("closed_won")
    empty_list = pl.lit([], dtype=pl.List(pl.String))
    return (
        deals.join(per_deal, on="conversion_id", how="left")
        .with_columns(
            pl.col("contacts_in_journey").fill_null(0).cast(pl.UInt32),
            pl.col("roles_in_journey").fill_null(empty_list),
            pl.col("influencing_channels").fill_null(empty_list),
        )
        .with_columns(
            _covered(pl.col("roles_in_journey"), required).alias("required_roles_covered")
        )
        .select(
            "conversion_id",
            "contacts_in_journey",
            "roles_in_journey",
            "required_roles_covered",
            _coverage(pl.col("required_roles_covered"), required).alias("coverage"),
            "sourced_channel",
            "opportunity_created_at",
            "influencing_channels",
            pl.coalesce("_opp", "value").alias("pipeline_value"),
            (pl.col("value") if converts_on_won else pl.col("_won").fill_null(0.0)).alias(
                "revenue"
            ),
        )
        .sort("conversion_id")
    )


def _pipeline(deals: pl.DataFrame) -> pl.DataFrame:
    """Sourced and influenced deals, pipeline and revenue by channel (one row per measure x
    channel)."""
    totals = deals.select(
        pl.len().alias("n"), pl.col("pipeline_value").sum().alias("p"), pl.col("revenue").sum()
    ).row(0)
    n, p, r = (float(x or 0) for x in totals)

    def share(col: str, total: float) -> pl.Expr:
        return pl.col(col) / total if total > 0 else pl.lit(0.0)

    sourced = deals.select(
        pl.lit("sourced").alias("measure"),
        pl.col("sourced_channel").fill_null(NO_TOUCH).alias("channel"),
        "pipeline_value",
        "revenue",
    )
    influenced = (
        deals.select(
            pl.lit("influenced").alias("measure"),
            pl.col("influencing_channels").alias("channel"),
            "pipeline_value",
            "revenue",
        )
        .explode("channel")
        .filter(pl.col("channel").is_not_null())
    )
    return (
        pl.concat([sourced, influenced])
        .group_by("measure", "channel")
        .agg(
            pl.len().alias("deals"),
            pl.col("pipeline_value").sum().alias("pipeline"),
            pl.col("revenue").sum(),
        )
        .with_columns(
            share("deals", n).alias("deal_share"),
            share("pipeline", p).alias("pipeline_share"),
            share("revenue", r).alias("revenue_share"),
            (pl.col("measure") == "sourced").alias("sums_to_total"),
            pl.col("measure").replace_strict(NOTES, return_dtype=pl.String).alias("note"),
        )
        .sort(
            [pl.col("measure") == "influenced", "pipeline", "deals", "channel"],
            descending=[False, True, True, False],
        )
        .select(list(PIPELINE_SCHEMA))
        .cast(PIPELINE_SCHEMA)
    )


def _account_credit(
    touch_credit: pl.DataFrame, conversions: pl.DataFrame, roles: pl.DataFrame
) -> pl.DataFrame:
    """Sums of the (touches x models) table, labels joined onto the sums.

    Order: conversion, model (run order), dimension, then first appearance in the journey.
    ``touch_credit`` is in a deterministic order, so order-keeping group-bys and a stable sort
    on integer keys give a deterministic table without sorting millions of strings.
    """
    sums = [pl.len().alias("touches"), pl.col("credit").sum(), pl.col("value").sum()]
    by_channel = touch_credit.group_by(
        "conversion_id", "model", "channel", maintain_order=True
    ).agg(*sums)
    by_contact = (
        touch_credit.group_by("conversion_id", "model", "contact_id", maintain_order=True)
        .agg(*sums)
        .join(roles, on="contact_id", how="left", maintain_order="left")
        .with_columns(pl.col("role").fill_null(UNKNOWN_ROLE))
    )
    by_role = by_contact.group_by("conversion_id", "model", "role", maintain_order=True).agg(
        pl.col("touches").sum(), pl.col("credit").sum(), pl.col("value").sum()
    )
    tail = ["touches", "credit", "value"]
    parts = [
        by_channel.select(
            "conversion_id",
            "model",
            pl.lit(0, pl.Int8).alias("_dimension"),
            pl.lit("channel").alias("dimension"),
            pl.col("channel").alias("key"),
            pl.lit(None, pl.String).alias("role"),
            *tail,
        ),
        by_contact.select(
            "conversion_id",
            "model",
            pl.lit(1, pl.Int8).alias("_dimension"),
            pl.lit("contact").alias("dimension"),
            pl.col("contact_id").alias("key"),
            "role",
            *tail,
        ),
        by_role.select(
            "conversion_id",
            "model",
            pl.lit(2, pl.Int8).alias("_dimension"),
            pl.lit("role").alias("dimension"),
            pl.col("role").alias("key"),
            "role",
            *tail,
        ),
    ]
    models = touch_credit.get_column("model").unique(maintain_order=True).to_list()
    labels = conversions.select(
        "conversion_id",
        "account_id",
        "opportunity_id",
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_conversion"),  # conversions are sorted
    )
    return (
        pl.concat(parts)
        .join(labels, on="conversion_id", how="left", maintain_order="left")
        .with_columns(
            pl.col("model")
            .replace_strict(models, list(range(len(models))), return_dtype=pl.UInt32)
            .alias("_model")
        )
        .sort("_conversion", "_model", "_dimension", maintain_order=True)
        .select(list(ACCOUNT_CREDIT_SCHEMA))
        .cast(ACCOUNT_CREDIT_SCHEMA)
    )


def _engagement_weights(touches: pl.DataFrame, touch_weights: Mapping[str, float]) -> pl.Expr:
    """Weight of each touch from its ``touch_type``; the text is normalised once per distinct
    value, not once per row."""
    if "touch_type" not in touches.columns:
        return pl.lit(1.0)
    types = touches.select(pl.col("touch_type").drop_nulls().unique()).with_columns(
        pl.col("touch_type")
        .str.strip_chars()
        .str.to_lowercase()
        .replace_strict(dict(touch_weights), default=1.0, return_dtype=pl.Float64)
        .alias("w")
    )
    mapping = dict(types.iter_rows())
    return pl.col("touch_type").replace_strict(mapping, default=1.0, return_dtype=pl.Float64)


def _accounts(
    touches: pl.DataFrame,
    stages: pl.DataFrame,
    contacts: pl.DataFrame | None,
    conversions: pl.DataFrame,
    roles: pl.DataFrame,
    required: tuple[str, ...],
    reference_time: datetime | None,
    touch_weights: Mapping[str, float],
) -> pl.DataFrame:
    """A single pass over the touch log per (contact, account) as given, then everything
    else on that much smaller table."""
    scores = [f"engagement_{d}d" for d in ENGAGEMENT_WINDOWS_DAYS]
    if reference_time is not None:
        ref = pl.lit(reference_time).cast(pl.Datetime("us", "UTC"))
        age = (ref - pl.col("timestamp")).dt.total_microseconds().cast(pl.Float64) / 86_400e6
        half_life = ENGAGEMENT_HALF_LIFE.total_seconds() / 86_400
        decayed = _engagement_weights(touches, touch_weights) * (2.0 ** (-age / half_life))
        # row-wise columns summed by a plain group-by: filters inside .agg are much slower
        windows = [
            pl.when(age <= days).then(decayed).otherwise(0.0).alias(name)
            for days, name in zip(ENGAGEMENT_WINDOWS_DAYS, scores, strict=True)
        ]
    else:
        windows = [pl.lit(0.0).alias(name) for name in scores]
    ids = [
        pl.col(c) if c in touches.columns else pl.lit(None, pl.String).alias(c)
        for c in ("contact_id", "account_id")
    ]
    per_contact = (
        touches.lazy()
        .select(*ids, "timestamp", *windows)
        .group_by("contact_id", "account_id")
        .agg(
            pl.len().alias("touches"),
            pl.col("timestamp").max().alias("last_touch_at"),
            pl.col(*scores).sum(),
        )
        .collect()
    )
    if contacts is not None:  # the contact's account where the touch has none (as journeys do)
        mapping = (
            contacts.filter(pl.col("account_id").is_not_null())
            .select("contact_id", pl.col("account_id").alias("_acct"))
            .unique("contact_id")
        )
        no_account = pl.col("account_id").is_null()
        filled = (  # only the rows without an account need the lookup (usually few)
            per_contact.filter(no_account)
            .join(mapping, on="contact_id", how="left")
            .with_columns(pl.col("_acct").alias("account_id"))
            .drop("_acct")
        )
        per_contact = pl.concat([per_contact.filter(~no_account), filled])
    engaged = (
        per_contact.lazy()
        .filter(pl.col("account_id").is_not_null())
        .join(roles.lazy(), on="contact_id", how="left")
        .collect()  # the two branches below both read it
        .lazy()
    )

    def pairs(frame: pl.DataFrame | pl.LazyFrame | None) -> pl.LazyFrame:
        if frame is None:
            return pl.LazyFrame(schema={"account_id": pl.String, "contact_id": pl.String})
        names = frame.collect_schema().names()
        return (
            frame.lazy()
            .select(
                "account_id",
                pl.col("contact_id")
                if "contact_id" in names
                else pl.lit(None, pl.String).alias("contact_id"),
            )
            .filter(pl.col("account_id").is_not_null())
        )

    population = (
        pl.concat([pairs(contacts), pairs(engaged), pairs(stages)])
        .group_by("account_id")
        .agg(pl.col("contact_id").drop_nulls().n_unique().alias("contacts"))
    )
    activity = engaged.group_by("account_id").agg(
        pl.col("touches").sum(),
        pl.col("contact_id").drop_nulls().n_unique().alias("contacts_engaged"),
        pl.col("last_touch_at").max(),
        *(pl.col(name).sum() for name in scores),
        pl.col("role").drop_nulls().unique().sort().alias("roles_engaged"),
    )
    deals = (
        conversions.lazy()
        .group_by("account_id")
        .agg(
            pl.len().alias("conversions"),
            (pl.col("n_touches") > 0).sum().alias("conversions_attributed"),
            pl.col("value").sum().alias("conversion_value"),
            pl.col("opportunity_id").drop_nulls().unique().sort().alias("opportunity_ids"),
        )
    )
    empty_list = pl.lit([], dtype=pl.List(pl.String))
    missing = pl.concat_list(
        [pl.when(~pl.col("roles_engaged").list.contains(r)).then(pl.lit(r)) for r in required]
    ).list.drop_nulls()
    return (
        population.join(activity, on="account_id", how="left")
        .join(deals, on="account_id", how="left")
        .with_columns(
            pl.col("contacts", "touches", "contacts_engaged", "conversions")
            .fill_null(0)
            .cast(pl.UInt32),
            pl.col("conversions_attributed").fill_null(0).cast(pl.UInt32),
            pl.col(*scores).fill_null(0.0),
            pl.col("conversion_value").fill_null(0.0),
            pl.col("roles_engaged", "opportunity_ids").fill_null(empty_list),
        )
        .with_columns(
            pl.col(scores[-1]).alias("engagement_score"),
            _covered(pl.col("roles_engaged"), required).alias("required_roles_covered"),
            missing.alias("missing_roles"),
        )
        .with_columns(
            engagement_z_expr().alias("engagement_z"),
            _coverage(pl.col("required_roles_covered"), required).alias("coverage"),
        )
        .with_columns(tier_expr().alias("tier"))
        .sort(["engagement_score", "account_id"], descending=[True, False])
        .select(list(ACCOUNTS_SCHEMA))
        .cast(ACCOUNTS_SCHEMA)
        .collect()
    )
