"""A partition's credit in a partitioned run: the rule-based models' sums by channel (an
additive partial) and the wide touch credit (a ``credit:<model>`` column per model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import polars as pl

from attribution.engine._credit_table import (
    credit_column,
    credit_table,
    empty_table,
    wide_of_parts,
)
from attribution.engine._stages import Fitted, touch_credit_columns
from attribution.models._registry import ModelRun

__all__ = ["rule_sums", "wide_table"]


def rule_sums(
    touches: pl.DataFrame, runs: Sequence[ModelRun], rules: Mapping[int, pl.Series]
) -> dict[int, pl.DataFrame]:
    """Per rule-based model, its credit and value summed by channel over one partition's
    journey touches (an additive partial, as :func:`channel_sums` of its long rows)."""
    if not rules:
        return {}
    value = pl.col("conversion_value")
    columns = {i: pl.col(credit_column(runs[i].label)) for i in rules}
    summed = touches.group_by("channel").agg(
        *(c.sum().alias(f"c{i}") for i, c in columns.items()),
        *((c * value).sum().alias(f"v{i}") for i, c in columns.items()),
    )
    return {
        i: summed.select(
            pl.lit(runs[i].label).alias("model"),
            "channel",
            pl.col(f"c{i}").alias("credit"),
            pl.col(f"v{i}").alias("value"),
        )
        for i in rules
    }


def wide_table(
    journey_touches: pl.DataFrame,
    runs: Sequence[ModelRun],
    rules: Mapping[int, pl.Series],
    fitted: Fitted,
    conversions: pl.DataFrame,
) -> pl.DataFrame:
    """One partition's wide touch credit (as the in-memory run builds it); when a model's
    credit is not row for row over the journey touches, from its long rows."""
    table = credit_table(journey_touches, runs, rules, fitted)
    labels = [run.label for run in runs]
    if table is None:
        parts = [
            fitted.touch_credit[i]
            if i in fitted.touch_credit
            else touch_credit_columns(journey_touches.with_columns(rules[i]), runs[i].label)
            for i in range(len(runs))
        ]
        table = wide_of_parts(parts, labels, conversions)
    return table.cast(empty_table(labels).schema)
