"""Campaign-level credit in the engine: the unit a run credits (``RunOptions.key``, made in
the journeys stage by :func:`key_units`) and campaign credit as an aggregate of the touch
credit every executor has already computed (:func:`conversion_campaigns`, additive
:func:`campaign_sums`, :func:`campaign_credit_from_sums`; on Spark :func:`campaign_pass` and
:func:`reduce_campaign_sums`). No model runs again for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl
import pyarrow as pa

from attribution.engine._result import (
    CAMPAIGN_CREDIT_SCHEMA,
    CAMPAIGN_SUMS_SCHEMA,
    CONVERSION_CAMPAIGNS_SCHEMA,
)
from attribution.exceptions import ColumnNotFoundError, InputError
from attribution.inputs._campaigns import (
    TOUCH_CHANNEL,
    campaign_series,
    check_campaigns,
    check_key,
    unit_expr,
)
from attribution.inputs._schema import ROW, Table
from attribution.journeys._journeys import journey_touch_id

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

    from attribution.engine._stages import Part
    from attribution.options import RunOptions

__all__ = [
    "CAMPAIGN_SUMS_ARROW",
    "campaign_credit_from_sums",
    "campaign_pass",
    "CampaignRows",
    "conversion_campaigns",
    "conversion_campaigns_wide",
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
    Also returns each touch's ``touch_id`` (as the journeys give it), ``channel`` and
    ``campaign`` as written (:func:`journey_campaigns` spells the journey touches' only) when
    the touches carry a campaign column, else None."""
    has_campaign = "campaign" in touch_frame.columns
    by_touch = None
    if has_campaign:
        touch_id = journey_touch_id(touch_frame)
        by_touch = touch_frame.select(touch_id.alias("touch_id"), "channel", "campaign", ROW)
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
    kept = pl.col("channel").alias(TOUCH_CHANNEL)  # the models' channel parameters name it
    return touch_frame.with_columns(kept, unit.alias("channel")), by_touch


def journey_campaigns(
    by_touch: pl.DataFrame | None,
    journey_touches: pl.DataFrame,
    rows: pl.Series | None = None,
) -> pl.DataFrame | None:
    """``Part.campaigns``: each journey touch's ``conversion_id``, ``touch_id``, ``channel``
    and ``campaign``, in the journeys' order (touch credit is on them; :func:`key_units`
    gave every touch's), or None without campaigns: what :func:`conversion_campaigns` groups
    touch credit by. ``rows``: the journey touches' source rows (``Journeys.rows``): their
    touches are then found by a binary search in ``by_touch``'s rows, which come in source
    order (0.9M searches, where a join hashed the 12M touch ids of a 10M-touch log)."""
    if by_touch is None:
        return None
    ids = journey_touches.select("conversion_id", "touch_id")
    columns = ["channel", "campaign"]
    found = _by_row(by_touch.get_column(ROW), rows) if rows is not None else None
    if found is not None and found.len() == ids.height:
        mine = by_touch.select(columns).gather(found)
        mine = mine.with_columns(campaign_series(mine.get_column("campaign")))
        return ids.with_columns(mine.get_columns())
    # the few journey touches' rows first (a hash of 92k ids probed by 1M touches), then
    # joined in the journeys' order: 3x less work than a left join on the whole log
    mine = by_touch.select("touch_id", *columns).join(
        ids.select("touch_id"), on="touch_id", how="semi"
    )
    joined = ids.join(mine, on="touch_id", how="left", maintain_order="left")
    return joined.with_columns(campaign_series(joined.get_column("campaign")))


def _by_row(source_rows: pl.Series, wanted: pl.Series) -> pl.Series | None:
    """The positions in ``source_rows`` (ascending) of ``wanted``, or None when they are
    not sorted or one is missing."""
    n = source_rows.len()
    if n and wanted.len() and wanted.min() >= 0 and wanted.max() < n:  # type: ignore[operator]
        # no row dropped before (most logs): a row's position is its number, as the gather
        # checks (0.02 s where the search took 0.4 s for 0.7M of 10M rows)
        at = wanted.cast(pl.get_index_type())
        if source_rows.gather(at).equals(wanted.rename(ROW)):
            return at
    if not source_rows.is_sorted():
        return None
    at = source_rows.search_sorted(wanted).clip(0, max(source_rows.len() - 1, 0))
    if source_rows.is_empty() or not source_rows.gather(at).equals(wanted.rename(ROW)):
        return None
    return at


class CampaignRows:
    """Touch credit summed by model, conversion and campaign (within its channel), on integer
    codes: what campaign credit and the campaign influence export aggregate.

    ``codes``: ``_model``, ``_conv``, ``_pair``, ``credit``, ``value`` (one row per key);
    ``models``, ``conversions`` and ``pairs`` name the codes (``model``; ``conversion_id``;
    ``channel`` and ``campaign``, coded in the order of the campaign names). Text is gathered
    once, for the outputs: a join and a group-by on text per model took 7x longer.

    ``wide`` (when built from the wide touch credit): the same sums with one row per
    (conversion, pair), ``_conv`` and ``_pair`` ascending, and ``c<i>`` / ``v<i>`` the credit
    and value of model ``i`` (every model has every row). Campaign credit and the influence
    rows are then aggregated from it directly (13x fewer rows with 13 models); ``codes`` is
    built from it only when read."""

    def __init__(
        self,
        codes: pl.DataFrame | None,
        models: pl.DataFrame,
        conversions: pl.DataFrame,
        pairs: pl.DataFrame,
        *,
        wide: pl.DataFrame | None = None,
    ) -> None:
        assert codes is not None or wide is not None
        self._codes, self.models, self.conversions, self.pairs = codes, models, conversions, pairs
        self.wide = wide

    @property
    def codes(self) -> pl.DataFrame:
        if self._codes is None:
            assert self.wide is not None
            self._codes = _long_codes(self.wide, self.models.height)
        return self._codes

    @classmethod
    def empty(cls) -> CampaignRows:
        return cls.of(pl.DataFrame(schema=CONVERSION_CAMPAIGNS_SCHEMA))

    @classmethod
    def of(cls, frame: pl.DataFrame) -> CampaignRows:
        """From text rows: ``conversion_id``, ``model``, ``channel``, ``campaign``,
        ``credit``, ``value`` (summed by key)."""
        models = _codes(frame.select("model").unique(maintain_order=True), "_model")
        conversions = _codes(frame.select("conversion_id").unique().sort("conversion_id"), "_conv")
        pairs = _pairs(frame)
        codes = (
            frame.join(models, on="model")
            .join(conversions, on="conversion_id")
            .join(pairs, on=["channel", "campaign"])
            .group_by("_model", "_conv", "_pair")
            .agg(pl.col("credit").sum(), pl.col("value").sum())
        )
        return cls(codes, models, conversions, pairs)

    @classmethod
    def concat(cls, parts: Sequence[CampaignRows]) -> CampaignRows:
        """The rows of several partitions (their codes renumbered) as one."""
        if not parts:
            return cls.empty()
        models = _codes(
            pl.concat([p.models.select("model") for p in parts]).unique(maintain_order=True),
            "_model",
        )
        pairs = _pairs(pl.concat([p.pairs.select("channel", "campaign") for p in parts]))
        codes, conversions, offset = [], [], 0
        for part in parts:
            model_map = part.models.join(models.rename({"_model": "_m"}), on="model")
            pair_map = part.pairs.join(pairs.rename({"_pair": "_p"}), on=["channel", "campaign"])
            codes.append(
                part.codes.join(model_map.select("_model", "_m"), on="_model")
                .join(pair_map.select("_pair", "_p"), on="_pair")
                .select(
                    pl.col("_m").alias("_model"),
                    pl.col("_conv") + offset,
                    pl.col("_p").alias("_pair"),
                    "credit",
                    "value",
                )
            )
            conversions.append(part.conversions.with_columns(pl.col("_conv") + offset))
            offset += part.conversions.height
        return cls(pl.concat(codes), models, pl.concat(conversions), pairs)

    def sums(self) -> pl.DataFrame:
        """Summed by model, channel and campaign (an additive partial, as
        :data:`CAMPAIGN_SUMS_SCHEMA`)."""
        if self.wide is not None:
            return self._wide_sums(self.wide)
        return (
            self.codes.group_by("_model", "_pair")
            .agg(pl.col("credit").sum(), pl.col("value").sum())
            .join(self.models, on="_model")
            .join(self.pairs, on="_pair")
            .select(list(CAMPAIGN_SUMS_SCHEMA))
            .cast(CAMPAIGN_SUMS_SCHEMA)
        )

    def _wide_sums(self, wide: pl.DataFrame) -> pl.DataFrame:
        n_model = self.models.height
        per_pair = wide.group_by("_pair").agg(
            *(pl.col(f"{kind}{i}").sum() for i in range(n_model) for kind in "cv")
        )
        return (
            pl.concat(
                [
                    per_pair.select(
                        pl.lit(i, _INDEX).alias("_model"),
                        "_pair",
                        pl.col(f"c{i}").alias("credit"),
                        pl.col(f"v{i}").alias("value"),
                    )
                    for i in range(n_model)
                ]
            )
            .join(self.models, on="_model")
            .join(self.pairs, on="_pair")
            .select(list(CAMPAIGN_SUMS_SCHEMA))
            .cast(CAMPAIGN_SUMS_SCHEMA)
        )

    def frame(self) -> pl.DataFrame:
        """As text rows (:data:`CONVERSION_CAMPAIGNS_SCHEMA`)."""
        return (
            self.codes.join(self.models, on="_model")
            .join(self.conversions, on="_conv")
            .join(self.pairs, on="_pair")
            .select(list(CONVERSION_CAMPAIGNS_SCHEMA))
            .cast(CONVERSION_CAMPAIGNS_SCHEMA)
        )


def _long_codes(wide: pl.DataFrame, n_model: int) -> pl.DataFrame:
    """The ``codes`` of :attr:`CampaignRows.wide`: model after model, each its rows."""
    return pl.concat(
        [
            wide.select(
                pl.lit(i, _INDEX).alias("_model"),
                "_conv",
                "_pair",
                pl.col(f"c{i}").alias("credit"),
                pl.col(f"v{i}").alias("value"),
            )
            for i in range(n_model)
        ]
    )


def _codes(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    return frame.with_row_index(name).with_columns(pl.col(name).cast(_INDEX))


def _pairs(frame: pl.DataFrame) -> pl.DataFrame:
    """The distinct (channel, campaign) of ``frame``, coded in the order of the campaign."""
    return _codes(frame.select("channel", "campaign").unique().sort("campaign", "channel"), "_pair")


_INDEX = pl.UInt32()


def conversion_campaigns(
    touch_credit: pl.DataFrame, campaigns: pl.DataFrame | None
) -> CampaignRows:
    """Touch credit summed by model, conversion and campaign (:class:`CampaignRows`); empty
    when the touches carry no campaign.

    Touch credit comes model after model over the journey touches, each in their order (how
    every executor builds it): the codes of each journey touch's conversion and campaign are
    then given once and repeated per model. Any other layout is joined by ``touch_id``."""
    if campaigns is None or touch_credit.height == 0:
        return CampaignRows.empty()
    n = campaigns.height
    blocks = touch_credit.height // n if n else 0
    ids = campaigns.get_column("touch_id")
    credit_ids = touch_credit.get_column("touch_id")
    if not (
        blocks
        and blocks * n == touch_credit.height
        and all(credit_ids.slice(b * n, n).equals(ids) for b in range(blocks))
    ):
        return CampaignRows.of(
            touch_credit.select("conversion_id", "touch_id", "model", "credit", "value")
            .join(campaigns.drop("conversion_id"), on="touch_id", how="left")
            .group_by("conversion_id", "model", "channel", "campaign")
            .agg(pl.col("credit").sum(), pl.col("value").sum())
        )
    models = touch_credit.select(pl.col("model").gather([b * n for b in range(blocks)]))
    return _block_rows(
        campaigns,
        models,
        touch_credit.get_column("credit").to_numpy(),
        touch_credit.get_column("value").to_numpy(),
    )


def conversion_campaigns_wide(table: pl.DataFrame, campaigns: pl.DataFrame) -> CampaignRows:
    """:func:`conversion_campaigns` of the wide touch credit (a row per journey touch, a
    ``credit:<model>`` column per model: :mod:`attribution.engine._credit_table`), whose
    rows are the journey touches in the order of ``campaigns``."""
    from attribution.engine._credit_table import credit_column, labels_of, long_touch_credit

    labels = labels_of(table)
    if table.height == 0 or not labels:
        return CampaignRows.empty()
    if not table.get_column("touch_id").equals(campaigns.get_column("touch_id")):
        return conversion_campaigns(long_touch_credit(table, labels), campaigns)
    # one group-by of the wide table for every model's sums (a row per journey touch),
    # where the blocks of the long layout repeat the touches once per model
    keys, models, conversions, pairs = _touch_keys(
        campaigns, pl.DataFrame({"model": labels}, schema={"model": pl.String})
    )
    # the touches' keys numbered by a sort, every model's credit and value summed by
    # bincount (in row order): a third of a 26-column group-by's time
    groups, group_of = np.unique(keys.to_numpy(), return_inverse=True)
    group_of = group_of.ravel()
    n_groups, n_pair = len(groups), pairs.height
    value = table.get_column("conversion_value").to_numpy()
    sums: dict[str, Any] = {
        "_conv": (groups // n_pair).astype(np.uint32),
        "_pair": (groups % n_pair).astype(np.uint32),
    }
    for i, label in enumerate(labels):
        credit = table.get_column(credit_column(label)).to_numpy()
        sums[f"c{i}"] = np.bincount(group_of, credit, n_groups)
        sums[f"v{i}"] = np.bincount(group_of, credit * value, n_groups)
    rows = pl.DataFrame(sums)
    return CampaignRows(None, models, conversions, pairs, wide=rows)


def _touch_keys(
    campaigns: pl.DataFrame, model_names: pl.DataFrame
) -> tuple[pl.Series, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The (conversion, campaign) of each journey touch of ``campaigns`` as one number
    (``_key``: conversion code x pairs + pair code), and the codes of the models, the
    conversions and the (channel, campaign) pairs."""
    # journey touches come conversion by conversion: a run of one id is one conversion
    keys = campaigns.with_columns(pl.col("conversion_id").rle_id().cast(_INDEX).alias("_conv"))
    if keys.get_column("_conv").n_unique() != keys.get_column("conversion_id").n_unique():
        keys = keys.with_columns(
            (pl.col("conversion_id").rank("dense").cast(_INDEX) - 1).alias("_conv")
        )
    pairs = _pairs(keys)
    keys = keys.join(pairs, on=["channel", "campaign"], how="left", maintain_order="left")
    models = _codes(model_names, "_model")
    conversions = keys.select("_conv", "conversion_id").unique("_conv").sort("_conv")
    touch_key = (
        keys.get_column("_conv").cast(pl.UInt64) * pairs.height + keys.get_column("_pair")
    ).alias("_key")
    return touch_key, models, conversions, pairs


def _block_rows(
    campaigns: pl.DataFrame, model_names: pl.DataFrame, credit: np.ndarray, value: np.ndarray
) -> CampaignRows:
    """Campaign rows of touch credit given in blocks, one per model (``model_names``, in
    block order), each over the journey touches of ``campaigns`` in their order."""
    n, blocks = campaigns.height, model_names.height
    touch_keys, models, conversions, pairs = _touch_keys(campaigns, model_names)
    # the (conversion, campaign) of each journey touch, numbered once; every model's credit
    # is then summed per model and number with one NumPy bincount (no group-by per model)
    n_pair = pairs.height
    touch_key = touch_keys.to_numpy()
    groups, group_of = np.unique(touch_key, return_inverse=True)
    n_groups = len(groups)
    index = (np.tile(group_of, blocks) + np.repeat(np.arange(blocks) * n_groups, n)).ravel()
    size = blocks * n_groups
    codes = pl.DataFrame(
        {
            "_model": np.repeat(np.arange(blocks, dtype=np.uint32), n_groups),
            "_conv": np.tile(groups // n_pair, blocks).astype(np.uint32),
            "_pair": np.tile(groups % n_pair, blocks).astype(np.uint32),
            "credit": np.bincount(index, credit, size),
            "value": np.bincount(index, value, size),
        }
    )
    return CampaignRows(codes, models, conversions, pairs)


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
        [conversion_campaigns(c, part.campaigns).sums() for c in credit.values()],
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
