"""Which touches join which conversion: the lookback window, the contact scope and the
non-converting paths (see :mod:`attribution.journeys._journeys` for the definitions)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import polars as pl

from attribution._runs import run_end
from attribution.journeys._order import ENTITY, ENTITY_ID
from attribution.typing import ContactScope

__all__ = ["PATH_ENTITY", "assign", "null_paths", "scope_contacts"]


def _window(lookback: timedelta | str) -> timedelta | pl.Expr:
    """The lookback as a comparison takes it: one duration, or the column of each touch's."""
    return pl.col(lookback) if isinstance(lookback, str) else lookback


#: The column of :func:`null_paths` with each touch's entity id (``entity=True``).
PATH_ENTITY = "_path_entity"


def null_paths(
    assigned: pl.DataFrame,
    lookback: timedelta | str,
    carry: Sequence[str] = (),
    *,
    entity: bool = False,
) -> pl.DataFrame:
    """One non-converting path per entity: its unassigned touches within one lookback before
    the last of them (touches cut from a too-long converting journey, ``_too_long``, are not
    among them). ``lookback``: one window, or the column of ``assigned`` holding each
    touch's (its entity's) window. ``carry``: columns of ``assigned`` kept beside;
    ``entity``: also the entity id (:data:`PATH_ENTITY`), for the account bootstrap.

    ``path_id`` is an integer per path (entities in hash order) and ``channel`` the ``Enum``
    codes of :func:`channel_codes`, carried through the entity sort in ``_ch``.
    """
    # Rows are in (entity, time) order, so per-entity windows are runs: the last time of a
    # run is read at its end and carried back, with no hash grouping. One lazy query, so the
    # 9M-row intermediate frames are not all materialised.
    ids = pl.col(ENTITY_ID)
    last_time = pl.when(run_end(ids)).then(pl.col("timestamp")).backward_fill()
    per_touch = [lookback] if isinstance(lookback, str) else []
    return (
        assigned.lazy()
        .filter(~pl.col("_in_journey") & ~pl.col("_outside_scope") & ~pl.col("_too_long"))
        .select(ENTITY_ID, "timestamp", "_ch", *carry, *per_touch)
        .filter(pl.col("timestamp") >= last_time - _window(lookback))
        .select(
            ids.rle_id().alias("path_id").set_sorted(),
            pl.col("_ch").alias("channel"),
            *carry,
            *([ids.alias(PATH_ENTITY)] if entity else []),
        )
        .collect()
    )


def scope_contacts(
    conv: pl.DataFrame,
    stages: pl.DataFrame,
    key: str,
    scope: ContactScope,
    conversion_stage: str,
) -> pl.DataFrame:
    """``conversion_id``, ``contact_id``: the contacts in each conversion's scope.

    Conversions absent from the result have an empty scope and fall back to account scope.
    """
    empty = pl.DataFrame(schema={"conversion_id": pl.String, "contact_id": pl.String})
    if "contact_id" not in stages.columns:
        return empty
    with_contact = stages.filter(pl.col("contact_id").is_not_null())
    if scope == "opportunity_roles":
        on_opportunity = (
            with_contact.filter(pl.col("opportunity_id").is_not_null())
            .select("opportunity_id", "contact_id")
            .unique()
        )
        pairs = conv.filter(pl.col("opportunity_id").is_not_null()).join(
            on_opportunity, on="opportunity_id", how="inner"
        )
    else:  # primary: the contact(s) on the event(s) that were deduplicated into the conversion
        events = with_contact.filter(
            (pl.col("stage") == conversion_stage) & pl.col(key).is_not_null()
        ).select(
            pl.col(key).alias(ENTITY),
            "timestamp",
            "opportunity_id",
            pl.col("value").alias("_value_raw"),
            "contact_id",
        )
        pairs = conv.join(
            events,
            on=[ENTITY, "timestamp", "opportunity_id", "_value_raw"],
            how="inner",
            nulls_equal=True,
        )
    return pairs.select("conversion_id", "contact_id").unique().sort("conversion_id", "contact_id")


def assign(
    work: pl.DataFrame,
    conv: pl.DataFrame,
    scope: pl.DataFrame | None,
    lookback: timedelta | str,
) -> pl.DataFrame:
    """Each touch's conversion (``_conv_row``: its row in ``conv``, null for a touch in no
    journey) and the flags ``_in_journey`` and ``_outside_scope`` (in an account-scope
    window, but in no journey under the scope). ``lookback``: one window, or the column of
    ``work`` holding each touch's (its entity's, so its conversion's) window. A row number
    rather than the id: 10M u32 cost less than 10M strings (mostly null).

    Without a narrowed scope only the touches of converting entities (a tenth of the
    benchmark log's) go through the as-of join: 0.16-0.19 s of CPU instead of 0.30-0.35 s
    at 10M touches."""
    conv = conv.with_row_index("_conv_row")
    # earliest conversion at or after each touch; conversions sharing a time: the first one.
    # With ``by``, the as-of join needs each entity's rows sorted by time, which ``work`` is
    # (entity, time order), and it keeps the left row order.
    targets = (
        conv.filter(pl.col("_first_at_time"))
        .select(ENTITY_ID, pl.col("timestamp").alias("_T"), "_conv_row")
        .sort("_T")
    )
    in_window = pl.col("_conv_row").is_not_null() & (
        pl.col("timestamp") >= pl.col("_T") - _window(lookback)
    )
    if scope is None:
        per_touch = [lookback] if isinstance(lookback, str) else []
        converting = pl.col(ENTITY_ID).is_in(targets.get_column(ENTITY_ID).unique().implode())
        candidates = (
            work.lazy()
            .with_row_index("_pos")
            .filter(converting)
            .select("_pos", ENTITY_ID, "timestamp", *per_touch)
            .collect()
        )
        joined = _next_at_or_after(candidates, targets, "_T", ENTITY_ID).filter(in_window)
        conv_row = (
            pl.Series("_conv_row", [], pl.get_index_type())
            .extend_constant(None, work.height)
            .scatter(joined.get_column("_pos"), joined.get_column("_conv_row"))
        )
        return work.with_columns(
            conv_row,
            conv_row.is_not_null().alias("_in_journey"),
            pl.lit(False).alias("_outside_scope"),
        )
    assigned = _next_at_or_after(work, targets, "_T", ENTITY_ID)
    assigned = assigned.with_columns(in_window.alias("_in_account_window")).drop(
        "_conv_row", "_T"
    )
    first_k = pl.col("_k") == pl.col("_k").min()
    fallback = (
        conv.join(scope.select("conversion_id").unique(), on="conversion_id", how="anti")
        .filter(first_k.over(ENTITY_ID, "timestamp"))
        .select(ENTITY_ID, pl.col("timestamp").alias("_fb_T"), "_conv_row", "_k")
        .rename({"_conv_row": "_fb_conv", "_k": "_fb_k"})
        .sort("_fb_T")
    )
    scoped = (
        conv.join(scope, on="conversion_id", how="inner")
        .filter(first_k.over(ENTITY_ID, "contact_id", "timestamp"))
        .select(ENTITY_ID, "contact_id", pl.col("timestamp").alias("_sc_T"), "_conv_row", "_k")
        .rename({"_conv_row": "_sc_conv", "_k": "_sc_k"})
        .sort("_sc_T")
    )
    both = _next_at_or_after(assigned, fallback, "_fb_T", ENTITY_ID)
    both = _next_at_or_after(both, scoped, "_sc_T", [ENTITY_ID, "contact_id"])
    # the earlier of the two candidates; at the same time, the conversion counted first
    sc_first = pl.col("_sc_T").is_not_null() & (
        pl.col("_fb_T").is_null()
        | (pl.col("_sc_T") < pl.col("_fb_T"))
        | ((pl.col("_sc_T") == pl.col("_fb_T")) & (pl.col("_sc_k") < pl.col("_fb_k")))
    )
    return (
        both.with_columns(
            pl.when(sc_first).then("_sc_conv").otherwise("_fb_conv").alias("_conv_row"),
            pl.when(sc_first).then("_sc_T").otherwise("_fb_T").alias("_T"),
        )
        .with_columns(in_window.alias("_in_journey"))
        .with_columns(
            (pl.col("_in_account_window") & ~pl.col("_in_journey")).alias("_outside_scope")
        )
        .drop("_fb_T", "_fb_conv", "_fb_k", "_sc_T", "_sc_conv", "_sc_k", "_in_account_window")
    )


def _next_at_or_after(
    touches: pl.DataFrame, targets: pl.DataFrame, time: str, by: str | list[str]
) -> pl.DataFrame:
    """Each touch with the columns of the first of ``targets`` (sorted by ``time``) at or
    after its ``timestamp`` within the same ``by`` group (nulls when none). The touches must
    be sorted by time within each group, as the work table of (entity, time) order is; their
    row order is kept."""
    return touches.join_asof(
        targets,
        left_on="timestamp",
        right_on=time,
        by=by,
        strategy="forward",
        check_sortedness=False,
    )
