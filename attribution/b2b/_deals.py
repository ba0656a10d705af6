"""Deals (the run's conversions): buying-committee coverage, sourced and influencing
channels, pipeline and revenue per deal, and the sourced vs influenced pipeline by channel
(the rules are in :mod:`attribution.b2b._accounts`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import polars as pl

from attribution.b2b._committee import coverage_text, roles_covered
from attribution.journeys._contacts import UNKNOWN_ROLE

__all__ = [
    "NOTES",
    "NO_SOURCE",
    "NO_TOUCH",
    "PIPELINE_SCHEMA",
    "committee_line",
    "deal_scope",
    "deal_table",
    "pipeline_table",
]

NO_TOUCH: Final = "(no touches)"

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
    "crm_sourced": "the CRM's own lead source of the deal (lead_source on its stage events, "
    "e.g. Opportunity.LeadSource); one per deal, sums to 100%; CRM values, not channels",
}
#: the CRM source of a deal whose stage events carry none (when others do)
NO_SOURCE: Final = "(not set)"
_MEASURE_ORDER = {"sourced": 0, "crm_sourced": 1, "influenced": 2}


def deal_table(
    journey_touches: pl.DataFrame,
    conversions: pl.DataFrame,
    stages: pl.DataFrame,
    milestones: Mapping[str, Sequence[str]],
    conversion_stage: str,
    required: tuple[str, ...],
) -> pl.DataFrame:
    """Per conversion: committee coverage, sourced / influencing channels, pipeline, revenue."""
    for col, dtype in (
        ("opportunity_id", pl.String),
        ("value", pl.Float64),
        ("lead_source", pl.String),
    ):
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
    crm_source = (
        stages.filter(pl.col("opportunity_id").is_not_null() & pl.col("lead_source").is_not_null())
        .group_by("opportunity_id")
        .agg(pl.col("lead_source").sort_by("timestamp", "lead_source").first().alias("crm_source"))
    )
    deals = (
        conversions.select(
            "conversion_id", "opportunity_id", "timestamp", "value", "opportunity_at"
        )
        .join(crm_source, on="opportunity_id", how="left")
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
        .join(_named_contacts(stages, conversion_stage), on="opportunity_id", how="left")
        .with_columns(
            pl.col("contacts_in_journey").fill_null(0).cast(pl.UInt32),
            pl.when(pl.col("opportunity_id").is_not_null())
            .then(pl.col("deal_contacts").fill_null(0))
            .cast(pl.UInt32)
            .alias("deal_contacts"),
            pl.col("roles_in_journey").fill_null(empty_list),
            pl.col("influencing_channels").fill_null(empty_list),
        )
        .with_columns(
            roles_covered(pl.col("roles_in_journey"), required).alias("required_roles_covered")
        )
        .select(
            "conversion_id",
            "contacts_in_journey",
            "deal_contacts",
            "roles_in_journey",
            "required_roles_covered",
            coverage_text(pl.col("required_roles_covered"), required).alias("coverage"),
            "sourced_channel",
            "crm_source",
            "opportunity_created_at",
            "influencing_channels",
            pl.coalesce("_opp", "value").alias("pipeline_value"),
            (pl.col("value") if converts_on_won else pl.col("_won").fill_null(0.0)).alias(
                "revenue"
            ),
        )
        .sort("conversion_id")
    )


def _named_contacts(stages: pl.DataFrame, conversion_stage: str) -> pl.DataFrame:
    """Per ``opportunity_id``: the contacts named on its own conversion-stage events
    (``deal_contacts``): an import's contact roles (Salesforce OpportunityContactRole,
    HubSpot's deal contacts), one event per contact on the deal."""
    contact = pl.col("contact_id") if "contact_id" in stages.columns else pl.lit(None, pl.String)
    return (
        stages.filter(
            (pl.col("stage") == conversion_stage) & pl.col("opportunity_id").is_not_null()
        )
        .group_by("opportunity_id")
        .agg(contact.drop_nulls().n_unique().alias("deal_contacts"))
    )


def committee_line(conversions: pl.DataFrame) -> str | None:
    """The buying committee of the run's deals in one line: how many contacts each deal
    names on its own conversion events (``deal_contacts``; mean, median and max over the
    deals naming any) and how many deals name none; None without deal ids.

    >>> line = committee_line(pl.DataFrame({"deal_contacts": [3, 2, 7, 0, None]}))
    >>> line.split(" named")[0]
    'buying committee: 4.0 contacts per deal (median 3, max 7)'
    >>> line.split("; ")[1]
    '1 of 4 deals name none'
    """
    if "deal_contacts" not in conversions.columns:
        return None
    sizes = conversions.get_column("deal_contacts").drop_nulls()
    named = sizes.filter(sizes > 0).cast(pl.Float64)
    if not named.len():
        return None
    mean, median, most = named.to_frame("n").select(
        pl.col("n").mean().alias("mean"), pl.col("n").median().alias("median"), pl.col("n").max()
    ).row(0)
    none = sizes.len() - named.len()
    return (
        f"buying committee: {mean:.1f} contacts per deal (median {median:g}, max {most:g}) "
        "named on the deal itself (an import's contact roles), of the "
        f"{named.len():,} deals naming any; {none:,} of {sizes.len():,} deals name none"
    )


def deal_scope(conversion_stage: str, milestones: Mapping[str, str | Sequence[str]]) -> str:
    """Which deals ``pipeline.parquet`` covers: the run's conversions, so with the default
    conversion stage the closed-won deals only (README, Account level: one meaning per word;
    every opportunity's created pipeline is the economics' and the funnel's)."""

    def stages(role: str) -> list[str]:
        found = milestones.get(role) or ()
        return [found] if isinstance(found, str) else list(found)

    if conversion_stage in stages("closed_won"):
        return "closed-won deals only"
    if conversion_stage in stages("opportunity"):
        return "every opportunity (open, lost and won)"
    return f"the deals that reached {conversion_stage!r}"


def pipeline_table(deals: pl.DataFrame, scope: str | None = None) -> pl.DataFrame:
    """Sourced and influenced deals, pipeline and revenue by channel (one row per measure x
    channel); ``scope`` (:func:`deal_scope`) leads each row's ``note``."""
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
    measures = [sourced, influenced]
    if "crm_source" in deals.columns and deals.get_column("crm_source").is_not_null().any():
        measures.append(
            deals.select(
                pl.lit("crm_sourced").alias("measure"),
                pl.col("crm_source").fill_null(NO_SOURCE).alias("channel"),
                "pipeline_value",
                "revenue",
            )
        )
    return (
        pl.concat(measures)
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
            (pl.col("measure") != "influenced").alias("sums_to_total"),
            pl.col("measure")
            .replace_strict(
                {k: f"{scope}: {v}" if scope else v for k, v in NOTES.items()},
                return_dtype=pl.String,
            )
            .alias("note"),
        )
        .sort(
            [pl.col("measure").replace_strict(_MEASURE_ORDER), "pipeline", "deals", "channel"],
            descending=[False, True, True, False],
        )
        .select(list(PIPELINE_SCHEMA))
        .cast(PIPELINE_SCHEMA)
    )
