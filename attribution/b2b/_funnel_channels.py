"""The funnel's sourced channel per entity: the channel of its first touch, whether that
touch was a marketing touch (not a sales touch type, no owner team), and when its first
marketing touch was (the rules are in :mod:`attribution.b2b._funnel`). A touch log without
a ``channel`` column takes its channels from its UTM columns (and referrers) by the run's
channel rules (``--channel-rules``, :attr:`attribution.RunOptions.channel_rules`), as the
run's journeys do, so the funnel's channels are the run's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from attribution.b2b._funnel_unit import account_keyed
from attribution.b2b._sla_targets import DEFAULT_SALES_TOUCH_TYPES
from attribution.exceptions import InputError
from attribution.inputs._channels import check_channel_aliases, normalise_channels
from attribution.inputs._schema import ROW, TOUCHES, load
from attribution.inputs._taxonomy import derive_touch_channels
from attribution.journeys._journeys import journey_touch_id
from attribution.typing import TableLike

__all__ = ["NO_TOUCH", "RulesPath", "sourced_channels"]

NO_TOUCH = "(no touch)"
#: A channel rules file (``None``: the shipped one)
RulesPath = str | Path | None


def sourced_channels(
    touches: TableLike | None,
    key: str,
    columns: Mapping[str, str] | None,
    formats: Mapping[str, Sequence[str]] | None = None,
    channel_aliases: Mapping[str, str | Sequence[str]] | None = None,
    sales_touch_types: Sequence[str] = DEFAULT_SALES_TOUCH_TYPES,
    contacts: pl.DataFrame | None = None,
    channel_rules: RulesPath = None,
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """Per entity: the channel of its first touch, when it was, whether it was a marketing
    touch (not a sales touch type), and its first marketing touch; and the touches'
    ``timestamp`` and ``channel``. ``contacts``: an account-level funnel's contacts table,
    a touch's account where it names none (:func:`attribution.b2b._funnel_unit.account_keyed`);
    ``channel_rules``: the run's rules file, for touches without a ``channel`` column."""
    if touches is None:
        return None, None
    frame = load(touches, TOUCHES, columns=columns, formats=formats).frame
    if contacts is not None:
        frame = account_keyed(frame, contacts, "touches")
    if key not in frame.columns:
        raise InputError(
            f"the stages are keyed by '{key}', which the touches do not have",
            table="touches",
            column=key,
        )
    if "channel" not in frame.columns:  # the run's rules, as its journeys derive them
        frame, _ = derive_touch_channels(frame, channel_rules)
    frame = normalise_channels(frame, check_channel_aliases(channel_aliases))[0]
    # a sales touch: one of the sales touch types, or made by a sales team (owner_team)
    sales = [t.strip().lower() for t in sales_touch_types]
    by_sales = pl.lit(False)
    if "touch_type" in frame.columns:
        kind = pl.col("touch_type").str.strip_chars().str.to_lowercase()
        by_sales = by_sales | kind.is_in(sales).fill_null(False)
    if "owner_team" in frame.columns:
        by_sales = by_sales | (
            pl.col("owner_team").str.strip_chars().str.len_chars() > 0
        ).fill_null(False)
    marketing = ~by_sales
    # a tie in time is broken as the journeys break it (touch_id, a touch without one
    # taking 'row-<its row>', then the row): the credit's first touch and the funnel's
    # sourced channel are one touch, whatever order a re-sync returns the rows in
    order = ("timestamp", journey_touch_id(frame), ROW)
    sourced = (
        frame.filter(pl.col(key).is_not_null())
        .with_columns(marketing.alias("_marketing"))
        .group_by(key)
        .agg(
            pl.col("channel").sort_by(*order).first(),
            pl.col("timestamp").min().alias("_first_touch_at"),
            pl.col("_marketing").sort_by(*order).first().alias("_first_is_marketing"),
            pl.col("timestamp").filter(pl.col("_marketing")).min().alias("_first_marketing_at"),
        )
        .with_columns(pl.col("channel").fill_null(NO_TOUCH))
    )
    return sourced, frame.select("timestamp", pl.col("channel").fill_null(NO_TOUCH))
