"""Campaign-level credit in the engine: the unit a run credits (``RunOptions.key``, made in
the journeys stage by :func:`key_units`) and campaign credit as an aggregate of the touch
credit every executor has already computed (:func:`conversion_campaigns`, additive
:func:`campaign_sums`, :func:`campaign_credit_from_sums`; on Spark :func:`campaign_pass` and
:func:`reduce_campaign_sums`). No model runs again for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl
import pyarrow as pa

from attribution.engine._result import (
    CAMPAIGN_CREDIT_SCHEMA,
    CAMPAIGN_SUMS_SCHEMA,
    CONVERSION_CAMPAIGNS_SCHEMA,
)
from attribution.exceptions import ColumnNotFoundError, InputError
from attribution.inputs._campaigns import campaign_values, check_campaigns, check_key, unit_expr
from attribution.inputs._schema import ROW, Table

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from attribution.engine._stages import Part
    from attribution.options import RunOptions

__all__ = [
    "CAMPAIGN_SUMS_ARROW",
    "campaign_credit_from_sums",
    "campaign_pass",
    "campaign_sums",
    "conversion_campaigns",
    "journey_campaigns",
    "key_units",
    "reduce_campaign_sums",
    "spark_campaign_sums",
]

#: The campaign pass's output: touch credit summed by model, channel and campaign per task.
CAMPAIGN_SUMS_ARROW = pa.schema(
    [
        ("model", pa.string()),
        ("channel", pa.string()),
        ("campaign", pa.string()),
        ("credit", pa.float64()),
        ("value", pa.float64()),
    ]
)


def key_units(
    touch_frame: pl.DataFrame, key: str, touch_table: Table
) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The journeys stage's unit: under ``key`` ``campaign`` or ``channel/campaign`` the
    touches' ``channel`` becomes the unit (:func:`~attribution.inputs._campaigns.unit_expr`).
    Also returns each touch's channel and campaign (``touch_id`` as the journeys give it,
    ``channel``, ``campaign`` with ``(none)`` when missing) when the touches carry a campaign
    column, else None."""
    has_campaign = "campaign" in touch_frame.columns
    by_touch = None
    if has_campaign:
        touch_id = (
            pl.coalesce("touch_id", pl.lit("row-") + pl.col(ROW).cast(pl.String))
            if "touch_id" in touch_frame.columns
            else pl.lit("row-") + pl.col(ROW).cast(pl.String)
        )
        by_touch = touch_frame.select(
            touch_id.alias("touch_id"), "channel", campaign_values(pl.col("campaign"))
        )
    if key == "channel":
        return touch_frame, by_touch
    try:
        if not has_campaign:
            raise ColumnNotFoundError(
                f"key={key!r} credits campaigns, and the touches have no campaign column",
                table="touches",
                column="campaign",
                hint='map your campaign column ([columns.touches] campaign = "..."), or run '
                "with key='channel'",
            )
        check_campaigns(touch_frame, table="touches", row=ROW)
    except InputError as exc:
        raise touch_table.error(exc) from None
    unit = unit_expr(check_key(key), pl.col("channel"), pl.col("campaign"))
    return touch_frame.with_columns(unit.alias("channel")), by_touch


def journey_campaigns(
    by_touch: pl.DataFrame | None, journey_touches: pl.DataFrame
) -> pl.DataFrame | None:
    """``Part.campaigns``: the journey touches' ``touch_id``, ``channel`` and ``campaign``
    (touch credit is on them; :func:`key_units` gave every touch's), or None without
    campaigns: what :func:`conversion_campaigns` groups touch credit by."""
    if by_touch is None:
        return None
    return by_touch.join(journey_touches.select("touch_id"), on="touch_id", how="semi")


def conversion_campaigns(
    touch_credit: pl.DataFrame, campaigns: pl.DataFrame | None
) -> pl.DataFrame:
    """Touch credit summed by conversion, model, channel and campaign (``touch_credit``
    joined to the touches' channel and campaign by ``touch_id``): what campaign credit and the
    campaign influence export aggregate. Empty when the touches carry no campaign."""
    if campaigns is None or touch_credit.height == 0:
        return pl.DataFrame(schema=CONVERSION_CAMPAIGNS_SCHEMA)
    return (
        touch_credit.select("conversion_id", "touch_id", "model", "credit", "value")
        .join(campaigns, on="touch_id", how="left")
        .group_by("conversion_id", "model", "channel", "campaign")
        .agg(pl.col("credit").sum(), pl.col("value").sum())
        .select(list(CONVERSION_CAMPAIGNS_SCHEMA))
        .cast(CONVERSION_CAMPAIGNS_SCHEMA)
    )


def campaign_sums(rows: pl.DataFrame) -> pl.DataFrame:
    """:func:`conversion_campaigns` rows summed by model, channel and campaign: an additive
    partial (partitions and Spark tasks sum these)."""
    return (
        rows.group_by("model", "channel", "campaign")
        .agg(pl.col("credit").sum(), pl.col("value").sum())
        .select(list(CAMPAIGN_SUMS_SCHEMA))
        .cast(CAMPAIGN_SUMS_SCHEMA)
    )


def campaign_credit_from_sums(sums: pl.DataFrame, model_order: Sequence[str]) -> pl.DataFrame:
    """Additive campaign sums (of one or many partitions) -> ``campaign_credit``: per model,
    channel and campaign the credited ``conversions``, ``value`` and ``share`` (of the
    model's conversions), and ``channel_share`` (of its channel's)."""
    if sums.height == 0:
        return pl.DataFrame(schema=CAMPAIGN_CREDIT_SCHEMA)
    order = {m: i for i, m in enumerate(model_order)}
    return (
        sums.group_by("model", "channel", "campaign")
        .agg(pl.col("credit").sum().alias("conversions"), pl.col("value").sum())
        .with_columns(
            (pl.col("conversions") / pl.col("conversions").sum().over("model"))
            .fill_nan(0.0)
            .alias("share"),
            (pl.col("conversions") / pl.col("conversions").sum().over("model", "channel"))
            .fill_nan(0.0)
            .alias("channel_share"),
        )
        .sort(
            pl.col("model").replace_strict(order, default=len(order)),
            "conversions",
            "channel",
            "campaign",
            descending=[False, True, False, False],
        )
        .select(list(CAMPAIGN_CREDIT_SCHEMA))
        .cast(CAMPAIGN_CREDIT_SCHEMA)
    )


# --- Spark: the campaign pass (it runs on the executors: it lives in the installed package) --


def campaign_pass(
    part: Part, credit: dict[int, pl.DataFrame], options: RunOptions, *, estimators: Any
) -> Iterator[pa.RecordBatch]:
    """The campaign pass: every model's touch credit (as pass 2) summed by model, channel
    and campaign (additive, reduced by Spark)."""
    from attribution.engine._stages import Fitted, concat

    fitted = Fitted(options.runs, estimators=estimators.value)
    credit.update(fitted.allocate(part.journeys.touches))
    sums = concat(
        [campaign_sums(conversion_campaigns(c, part.campaigns)) for c in credit.values()],
        CAMPAIGN_SUMS_SCHEMA,
    )
    if sums.height:
        yield from sums.to_arrow().cast(CAMPAIGN_SUMS_ARROW).to_batches()


def spark_campaign_sums(
    events: DataFrame, task: Callable[..., Any], options: RunOptions, **shared: Any
) -> DataFrame | None:
    """The campaign pass over the journey-keyed ``events`` (lazy: Spark runs it when
    collected), or None when the touches have no campaign column."""
    from functools import partial

    from pyspark.sql.pandas.types import from_arrow_schema

    if "campaign" not in events.columns:
        return None
    step = partial(task, step=campaign_pass, options=options, **shared)
    return events.mapInArrow(step, from_arrow_schema(CAMPAIGN_SUMS_ARROW))


def reduce_campaign_sums(sums: DataFrame, model_order: Sequence[str]) -> pl.DataFrame:
    """The campaign pass's partials summed by Spark, as ``campaign_credit``."""
    from pyspark.sql import functions as F

    from attribution.engine._spark import _to_polars

    reduced = _to_polars(
        sums.groupBy("model", "channel", "campaign").agg(
            F.sum("credit").alias("credit"), F.sum("value").alias("value")
        )
    ).cast(CAMPAIGN_SUMS_SCHEMA)
    return campaign_credit_from_sums(reduced, model_order)
