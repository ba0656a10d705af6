"""The account table: every account of the run with its contacts, engaged roles against the
buying committee, touches, engagement score and tier, and its conversions (the columns are
in :mod:`attribution.b2b._accounts`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Final

import polars as pl

from attribution.b2b._committee import coverage_text, missing_roles, roles_covered
from attribution.b2b._engagement import (
    ENGAGEMENT_WINDOWS_DAYS,
    engagement_windows,
    engagement_z_expr,
    tier_expr,
)

__all__ = ["ACCOUNTS_SCHEMA", "account_table"]

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


def account_table(
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
    windows = engagement_windows(touches, reference_time, touch_weights)
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
            roles_covered(pl.col("roles_engaged"), required).alias("required_roles_covered"),
            missing_roles(pl.col("roles_engaged"), required).alias("missing_roles"),
        )
        .with_columns(
            engagement_z_expr().alias("engagement_z"),
            coverage_text(pl.col("required_roles_covered"), required).alias("coverage"),
        )
        .with_columns(tier_expr().alias("tier"))
        .sort(["engagement_score", "account_id"], descending=[True, False])
        .select(list(ACCOUNTS_SCHEMA))
        .cast(ACCOUNTS_SCHEMA)
        .collect()
    )
