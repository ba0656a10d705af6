"""The reference engine of the scorer: the journeys sent run through the batch pipeline.

The journeys become a touch log keyed by journey (as the account) and CRM stage events (the
conversion, its own stage and the milestones sent); the rule-based models run through
:func:`attribute` and the data-driven ones allocate over :func:`build_journeys`, exactly as a
batch run would. :class:`~attribution.engine._scoring.JourneyScorer` holds its fast engine to
this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import polars as pl

from attribution.engine._campaign_credit import key_units
from attribution.engine._journey_request import CONVERSION_STAGE, MILESTONES, SEP
from attribution.engine._memory import attribute
from attribution.engine._result import TOUCH_CREDIT_SCHEMA
from attribution.engine._scoring_unseen import allocate_seen
from attribution.engine._stages import touch_credit_columns
from attribution.inputs._campaigns import Key
from attribution.inputs._dedupe import deduplicate_touches
from attribution.inputs._schema import STAGES, TOUCHES, load
from attribution.journeys._conversions import DEFAULT_MILESTONES
from attribution.journeys._journeys import build_journeys
from attribution.models._estimator import PathModel
from attribution.typing import ModelLike

__all__ = ["reference_touch_credit"]


def reference_touch_credit(
    touches: pl.DataFrame,
    conversions: pl.DataFrame,
    rule_requests: Sequence[ModelLike],
    estimators: Mapping[str, PathModel],
    *,
    key: Key = "channel",
    milestones: Mapping[str, Sequence[str]] | None = None,
    role_multipliers: Mapping[str, float] | None = None,
) -> pl.DataFrame:
    """Touch credit of the request's ``touches`` and ``conversions`` (the frames of
    :func:`~attribution.engine._journey_request.frames`, touches dropped already) under the
    rule-based models requested and the fitted ``estimators`` (by label), in the scorer's
    columns (the ids sent, ``account_id`` null), not yet in model order. ``milestones``:
    the scorer's run's (role -> stage names); ``role_multipliers``: its buying-committee
    weighting, each touch's ``role`` (a column of ``touches``) being its contact's."""
    milestones = milestones or DEFAULT_MILESTONES
    # a touch log keyed by journey (as account) with prefixed touch ids, so that the same
    # touch_id sent in two journeys stays two touches; and the CRM stage events. With role
    # multipliers each touch is a contact of its own (a role is sent per touch), whose role
    # a contacts table gives, as an account-level run reads it
    own = pl.col("conversion_id") + SEP + pl.col("touch_id")
    log = touches.select(
        own.alias("touch_id"),
        own.alias("contact_id") if role_multipliers is not None else pl.col("contact_id"),
        pl.col("conversion_id").alias("account_id"),
        "channel",
        "timestamp",
        *(["campaign"] if key != "channel" else []),
    )
    events = [
        conversions.select(pl.col("conversion_id").alias("account_id"),
                           pl.lit(CONVERSION_STAGE).alias("stage"), "timestamp", "value"),
        conversions.select(pl.col("conversion_id").alias("account_id"), "stage", "timestamp",
                           pl.lit(None, pl.Float64).alias("value")),
    ]
    events += [
        conversions.filter(pl.col(f"{m}_sent").is_not_null()).select(
            pl.col("conversion_id").alias("account_id"), pl.lit(milestones[m][0]).alias("stage"),
            pl.col(f"{m}_sent").alias("timestamp"), pl.lit(None, pl.Float64).alias("value"))
        for m in MILESTONES
    ]
    stages = pl.concat(events)
    span = touches.join(conversions.select("conversion_id", pl.col("timestamp").alias("_T")),
                        on="conversion_id").select((pl.col("_T") - pl.col("timestamp")).max())
    widest = span.item() if touches.height else None
    lookback = max(widest or timedelta(0), timedelta(0)) + timedelta(seconds=1)
    # no touch cap: the scorer credits every touch sent (the fast engine does; a request's
    # size is bounded by the service's budget instead)
    options: dict[str, Any] = {"level": "account", "conversion_stage": CONVERSION_STAGE,
                               "lookback": lookback, "max_touches_per_journey": None,
                               "key": key, "allow_empty": True,  # journeys without touches
                               "milestones": dict(milestones)}
    parts: list[pl.DataFrame] = []
    if rule_requests:
        contacts = None
        if role_multipliers is not None:
            options["role_multipliers"] = dict(role_multipliers)
            contacts = touches.select(own.alias("contact_id"),
                                      pl.col("conversion_id").alias("account_id"), "role")
        credit = attribute(log, stages, models=list(rule_requests), contacts=contacts,
                           **options).touch_credit
        if role_multipliers is not None:  # each touch's own contact_id back
            credit = credit.drop("contact_id").join(
                touches.select(own.alias("touch_id"), "contact_id"), on="touch_id",
                how="left", maintain_order="left").select(list(TOUCH_CREDIT_SCHEMA))
        parts.append(credit)
    if estimators:
        touch_table = load(log, TOUCHES)
        deduped, _ = deduplicate_touches(touch_table)
        deduped, _ = key_units(deduped, key, touch_table)
        journeys = build_journeys(deduped, load(stages, STAGES).frame,
                                  level="account", conversion_stage=CONVERSION_STAGE,
                                  lookback=lookback, max_touches_per_journey=None,
                                  milestones=milestones)
        for label, estimator in estimators.items():
            allocated = allocate_seen(estimator, journeys.touches)
            parts.append(touch_credit_columns(allocated, label))
    return (
        pl.concat([p.cast(TOUCH_CREDIT_SCHEMA) for p in parts])
        .with_columns(
            pl.col("conversion_id").str.strip_suffix("#1"),
            pl.lit(None, pl.String).alias("account_id"),
        )
        .with_columns(  # strip the "<conversion_id><SEP>" prefix
            pl.col("touch_id").str.slice(pl.col("conversion_id").str.len_chars() + 1)
        )
    )
