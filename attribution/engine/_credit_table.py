"""The run's touch credit as one table: a row per journey touch and one credit column per
model (the **wide** layout), and the long layout (a row per touch and model) built from it.

Every model credits the same journey touches, so the long layout repeats the six columns
naming a touch (:data:`~attribution.journeys._journeys.TOUCH_KEY_COLUMNS`) once per model:
with 13 models at 10M touches that is 11.5M rows, 3.9 s of CPU to write and 175 MB on disk,
against 0.47 s and 27 MB for the wide table (886k rows). The in-memory executors keep the
wide table (:attr:`AttributionResult.touch_credit_wide`) and build the long one only when it
is asked for; ``RunOptions.touch_credit_layout`` says which one ``touch_credit.parquet``
holds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Final

import polars as pl

from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.engine._stages import Fitted, channel_credit_from_touches, concat
from attribution.journeys._journeys import TOUCH_KEY_COLUMNS
from attribution.models._registry import ModelRun

if TYPE_CHECKING:
    pass

__all__ = [
    "CREDIT_PREFIX",
    "credit_column",
    "credit_table",
    "long_touch_credit",
    "rule_channel_credit",
    "wide_channel_credit",
    "wide_from_long",
    "wide_of_parts",
]

#: The wide table's credit column of model ``label`` is ``credit:<label>``.
CREDIT_PREFIX: Final = "credit:"
_KEYS = (*TOUCH_KEY_COLUMNS, "conversion_value")
_KEY_SCHEMA = pl.Schema(
    {**{c: TOUCH_CREDIT_SCHEMA[c] for c in TOUCH_KEY_COLUMNS}, "conversion_value": pl.Float64()}
)


def credit_column(label: str) -> str:
    """The wide table's column holding model ``label``'s credit.

    >>> credit_column("markov(order=1)")
    'credit:markov(order=1)'
    """
    return CREDIT_PREFIX + label


def empty_table(labels: Sequence[str]) -> pl.DataFrame:
    """A wide table without rows, with the credit columns of ``labels``."""
    return pl.DataFrame(
        schema={**_KEY_SCHEMA, **{credit_column(label): pl.Float64() for label in labels}}
    )


def credit_table(
    journey_touches: pl.DataFrame,
    runs: Sequence[ModelRun],
    rules: Mapping[int, pl.Series],
    fitted: Fitted,
) -> pl.DataFrame | None:
    """The wide table: the journey touches' key columns and ``conversion_value``, then each
    model's credit in the run's order (rule-based ones from ``rules``: a credit series per
    run index, in the journeys' row order; data-driven ones from ``fitted.touch_credit``).

    None when a data-driven model's touch credit is not row for row over the journey
    touches (same height, same touch and conversion ids in the same order): the caller then
    keeps the long layout as it was built.
    """
    keys = journey_touches.select(_KEYS).cast(_KEY_SCHEMA)
    columns: list[pl.Series] = []
    for i, run in enumerate(runs):
        if i in rules:
            credit = rules[i]
        else:
            part = fitted.touch_credit.get(i)
            if part is None or not _aligned(part, keys):
                return None
            credit = part.get_column("credit")
        if credit.len() != keys.height:
            return None
        columns.append(credit.cast(pl.Float64).alias(credit_column(run.label)))
    return keys.with_columns(columns) if columns else empty_table([])


def _aligned(part: pl.DataFrame, keys: pl.DataFrame) -> bool:
    return part.height == keys.height and all(
        part.get_column(c).equals(keys.get_column(c)) for c in ("conversion_id", "touch_id")
    )


def labels_of(table: pl.DataFrame) -> list[str]:
    """The model labels of a wide table, in column order."""
    return [c[len(CREDIT_PREFIX) :] for c in table.columns if c.startswith(CREDIT_PREFIX)]


def long_touch_credit(table: pl.DataFrame, labels: Sequence[str] | None = None) -> pl.DataFrame:
    """The long layout (:data:`TOUCH_CREDIT_SCHEMA`) of a wide table: model after model (in
    ``labels`` order, default the table's), each over the journey touches in their order;
    ``value`` = credit x the conversion's value, as the models compute it."""
    labels = labels_of(table) if labels is None else list(labels)
    parts = [
        table.select(
            *TOUCH_KEY_COLUMNS,
            pl.lit(label).alias("model"),
            pl.col(credit_column(label)).alias("credit"),
            (pl.col(credit_column(label)) * pl.col("conversion_value")).alias("value"),
        )
        for label in labels
    ]
    return concat(parts, TOUCH_CREDIT_SCHEMA)


def rule_channel_credit(table: pl.DataFrame, labels: Sequence[str]) -> dict[str, pl.DataFrame]:
    """Channel credit of the models ``labels`` from the wide table, one group-by for all of
    them (instead of one per model over its long rows): label -> ``channel_credit`` rows."""
    if not labels:
        return {}
    value = pl.col("conversion_value")
    sums = table.group_by("channel").agg(
        *(pl.col(credit_column(m)).sum().alias(f"c{i}") for i, m in enumerate(labels)),
        *((pl.col(credit_column(m)) * value).sum().alias(f"v{i}") for i, m in enumerate(labels)),
    )
    return {
        label: channel_credit_from_touches(
            sums.select(
                pl.lit(label).alias("model"),
                "channel",
                pl.col(f"c{i}").alias("credit"),
                pl.col(f"v{i}").alias("value"),
            )
        )
        for i, label in enumerate(labels)
    }


def wide_channel_credit(
    table: pl.DataFrame, runs: Sequence[ModelRun], fitted: Fitted
) -> pl.DataFrame:
    """The run's channel credit, model by model in the run's order: rule-based models summed
    from the wide table, data-driven ones as fitted."""
    rules = rule_channel_credit(
        table, [run.label for i, run in enumerate(runs) if i not in fitted.estimators]
    )
    return concat(
        [
            fitted.channel_credit[i] if i in fitted.estimators else rules[run.label]
            for i, run in enumerate(runs)
        ],
        CHANNEL_CREDIT_SCHEMA,
    )


def wide_from_long(touch_credit: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """The wide table of long touch credit (``conversions``: ``conversion_id`` and ``value``,
    each journey's conversion value): for executors that hold only the long layout."""
    labels = touch_credit.get_column("model").unique(maintain_order=True).to_list()
    if touch_credit.height == 0:
        return empty_table(labels)
    n = touch_credit.height // len(labels)
    if n * len(labels) == touch_credit.height:  # model after model, as the executors give it
        blocks = [touch_credit.slice(i * n, n) for i in range(len(labels))]
        if all(
            block.get_column("model").n_unique() == 1 and block.item(0, "model") == label
            for block, label in zip(blocks, labels, strict=True)
        ) and all(_aligned(block, blocks[0]) for block in blocks[1:]):
            return wide_of_parts(blocks, labels, conversions)
    return _pivot(touch_credit, labels, conversions)


def _pivot(
    touch_credit: pl.DataFrame, labels: Sequence[str], conversions: pl.DataFrame
) -> pl.DataFrame:
    wide = touch_credit.pivot(
        on="model", index=list(TOUCH_KEY_COLUMNS), values="credit", aggregate_function=None
    ).rename({label: credit_column(label) for label in labels})
    values = conversions.select(
        "conversion_id", pl.col("value").fill_null(0.0).cast(pl.Float64).alias("conversion_value")
    )
    wide = wide.join(values, on="conversion_id", how="left", maintain_order="left")
    return wide.select(*_KEYS, *(credit_column(label) for label in labels)).cast(
        empty_table(labels).schema
    )


def wide_of_parts(
    parts: Sequence[pl.DataFrame], labels: Sequence[str], conversions: pl.DataFrame
) -> pl.DataFrame:
    """The wide table of long touch credit given model by model (``parts``, one frame per
    model of ``labels``, each over the same journey touches, as a partition writes them);
    ``conversions`` as for :func:`wide_from_long`."""
    if not parts:
        return empty_table(labels)
    first = parts[0]
    if not all(_aligned(part, first) for part in parts[1:]):
        return _pivot(concat(list(parts), TOUCH_CREDIT_SCHEMA), labels, conversions)
    values = conversions.select(
        "conversion_id", pl.col("value").fill_null(0.0).cast(pl.Float64).alias("conversion_value")
    )
    wide = first.select(TOUCH_KEY_COLUMNS).with_columns(
        part.get_column("credit").alias(credit_column(label))
        for part, label in zip(parts, labels, strict=True)
    )
    wide = wide.join(values, on="conversion_id", how="left", maintain_order="left")
    return wide.select(*_KEYS, *(credit_column(label) for label in labels)).cast(
        empty_table(labels).schema
    )
