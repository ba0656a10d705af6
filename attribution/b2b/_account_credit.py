"""Account credit: per deal and model, the run's touch credit summed by channel, by contact
and by buying-committee role, in one tidy long table."""

from __future__ import annotations

from typing import Final

import polars as pl

from attribution.journeys._contacts import UNKNOWN_ROLE

__all__ = ["ACCOUNT_CREDIT_SCHEMA", "account_credit"]

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


def account_credit(
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
    no_role = pl.lit(None, pl.String)
    # (sums, dimension, key column, role); the dimension's position orders the output
    dimensions = [
        (by_channel, "channel", "channel", no_role),
        (by_contact, "contact", "contact_id", pl.col("role")),
        (by_role, "role", "role", pl.col("role")),
    ]
    parts = [
        frame.select(
            "conversion_id",
            "model",
            pl.lit(i, pl.Int8).alias("_dimension"),
            pl.lit(dimension).alias("dimension"),
            pl.col(key).alias("key"),
            role.alias("role"),
            "touches",
            "credit",
            "value",
        )
        for i, (frame, dimension, key, role) in enumerate(dimensions)
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
