"""The per-journey touch cap (``RunOptions.max_touches_per_journey``).

A journey longer than the cap keeps its **last** ``cap`` touches: for a converting journey the
touches closest to the conversion, for a non-converting path its most recent ones (ties in
time broken as positions are: ``touch_id``, then input row). The touches dropped are counted
as ``touches_dropped.journey_too_long``; the journeys cut are counted as
``journeys_too_long`` and the longest :data:`LISTED` of them listed in
``journeys_too_long_list`` (``conversion_id``, null for a non-converting path; the entity key;
``touches`` before the cut), longest first.

The cap bounds what one journey can cost and weigh: a bot or a tracking loop that fires
thousands of touches would otherwise dominate the path statistics of the data-driven models
(and a fitted path over 50,000 positions is what made the counterfactual model run out of
memory before it was linear). Everything is vectorised: one group-by over the journeys' rows
to find the long ones, a window over those only when there are some.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

from attribution._runs import position_in_run, run_end, run_start
from attribution.exceptions import InputError

__all__ = [
    "DEFAULT_MAX_TOUCHES_PER_JOURNEY",
    "LISTED",
    "cap_converting",
    "cap_null_paths",
    "check_max_touches",
    "cut_journey_note",
    "too_long_counts",
    "too_long_journeys",
]

#: Touches kept per journey when the run sets none: far above a person's journey (55 a day
#: over 90 days, or 100 contacts of an account with 50 each; the seeded 1M-touch benchmark
#: world's longest journey has 66 touches, 146 at account level), low enough that one
#: journey cannot outweigh the real ones in the path statistics.
DEFAULT_MAX_TOUCHES_PER_JOURNEY = 5_000
#: The longest journeys cut, listed in the reconciliation (all of them are counted).
LISTED = 20


def check_max_touches(value: Any) -> int | None:
    """``value`` as a cap: a whole number of at least 1, or ``None`` for no cap. Text as a
    command line or config file writes it is read too: digits, or ``"none"``."""
    if isinstance(value, str):
        text = value.strip().lower().replace("_", "").replace(",", "")
        if text == "none":
            return None
        value = int(text) if text.isdigit() else value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(
            "max_touches_per_journey must be a whole number of at least 1, or None "
            f"(\"none\") for no cap; got {value!r}"
        )
    return value


def cap_converting(assigned: pl.DataFrame, cap: int | None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Drop the excess touches of converting journeys longer than ``cap``.

    ``assigned`` is the work table in (entity, time, touch_id, row) order with ``_conv_row``
    and ``_in_journey``. Returns it with ``_in_journey`` false and ``_too_long`` true for the
    touches cut, and the journeys cut: ``_conv_row`` and ``touches`` (their length before).
    """
    in_journey = pl.col("_in_journey")
    empty = pl.DataFrame(schema={"_conv_row": pl.UInt32, "touches": pl.UInt32})
    if cap is None or assigned.height <= cap:
        return assigned.with_columns(pl.lit(False).alias("_too_long")), empty
    long = (
        assigned.lazy()
        .filter(in_journey)
        .group_by("_conv_row")
        .agg(pl.len().cast(pl.UInt32).alias("touches"))
        .filter(pl.col("touches") > cap)
        .collect()
    )
    if not long.height:
        return assigned.with_columns(pl.lit(False).alias("_too_long")), empty
    member = in_journey & pl.col("_conv_row").is_in(long.get_column("_conv_row").implode())
    # rows of one journey are in time order: count them from the end
    from_end = pl.int_range(pl.len(), 0, -1).over(pl.when(member).then(pl.col("_conv_row")))
    too_long = member & (from_end > cap)
    out = (
        assigned.lazy()
        .with_columns(too_long.alias("_too_long"))
        .with_columns((in_journey & ~pl.col("_too_long")).alias("_in_journey"))
        .collect()
    )
    return out, long


def cap_null_paths(
    null_touches: pl.DataFrame, with_rows: Callable[[], pl.DataFrame], cap: int | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Keep the last ``cap`` touches of each non-converting path.

    ``null_touches`` are in path and time order (``path_id`` sorted); when one path is over
    the cap (one run-length pass finds out), ``with_rows()`` gives the same rows with
    ``_idx`` (each touch's row), to name the paths' entities. Returns the kept rows and the
    paths cut: ``_idx`` of their first touch, ``touches`` (their length before) and ``cut``.
    """
    path = pl.col("path_id")
    none = pl.DataFrame(schema={"_idx": pl.UInt32, "touches": pl.UInt32, "cut": pl.UInt32})
    if cap is None or null_touches.height <= cap:
        return null_touches, none
    if null_touches.select(path.rle().struct.field("len").max()).item() <= cap:
        return null_touches, none
    start = run_start(path)
    size = pl.when(run_end(path)).then(position_in_run(start) + 1).backward_fill()
    framed = with_rows().with_columns(
        size.cast(pl.UInt32).alias("touches"), position_in_run(start).alias("_pos")
    )
    kept = framed.filter(pl.col("touches") - pl.col("_pos") <= cap)
    cut = framed.filter(start & (pl.col("touches") > cap)).select(
        pl.col("_idx").cast(pl.UInt32), "touches", (pl.col("touches") - cap).alias("cut")
    )
    return kept.drop("touches", "_pos", "_idx"), cut


def too_long_journeys(
    conversions: pl.DataFrame,
    long_converting: pl.DataFrame,
    entity_keys: pl.Series,
    long_null: pl.DataFrame,
) -> pl.DataFrame:
    """The journeys cut, converting and not: ``conversion_id`` (null for a non-converting
    path), the entity key (``entity_keys``' name) and ``touches``.

    ``conversions`` (``conversion_id`` and the key) is indexed by ``_conv_row`` of
    ``long_converting``; ``entity_keys`` (one per touch) by ``_idx`` of ``long_null``."""
    key = entity_keys.name
    rows = long_converting.get_column("_conv_row")
    converting = conversions.select("conversion_id", key).gather(rows)
    return pl.concat(
        [
            converting.with_columns(long_converting.get_column("touches")),
            pl.DataFrame(
                {
                    "conversion_id": pl.Series([None] * long_null.height, dtype=pl.String),
                    key: entity_keys.gather(long_null.get_column("_idx")),
                    "touches": long_null.get_column("touches"),
                }
            ),
        ],
        how="vertical_relaxed",
    )


def too_long_counts(entries: pl.DataFrame, key: str) -> dict[str, Any]:
    """The reconciliation's ``journeys_too_long`` count and the longest :data:`LISTED`
    journeys cut (``entries``: ``conversion_id``, ``key``, ``touches``)."""
    if not entries.height:
        return {}
    listed = (
        entries.sort("touches", "conversion_id", descending=[True, False], nulls_last=True)
        .head(LISTED)
        .select("conversion_id", key, pl.col("touches").cast(pl.Int64))
    )
    return {
        "journeys_too_long": entries.height,
        "journeys_too_long_list": listed.to_dicts(),
    }


def cut_journey_note(counts: dict[str, Any], cap: Any) -> str | None:
    """The sentence the manifest's notes and the command line's summary say of the journeys
    the cap cut (None without): their count, the touches dropped and the longest, named
    (new-user report 22: a bot contact's 30,000 form submissions on a customer's account were
    said only as ``{'journey_too_long': 20004}`` in the reconciliation line)."""
    cut = counts.get("journeys_too_long")
    if not isinstance(cut, int) or cut <= 0:
        return None
    dropped = (counts.get("touches_dropped") or {}).get("journey_too_long", 0)
    listed = counts.get("journeys_too_long_list") or []
    longest = ""
    if listed:
        first = listed[0]
        entity = next((f" of {k} {first[k]}" for k in ("contact_id", "account_id")
                       if first.get(k) is not None), "")  # fmt: skip
        what = (f"conversion {first['conversion_id']}" if first.get("conversion_id")
                is not None else "a path without a conversion")
        longest = (f"; the longest, {what}{entity}, had {first['touches']:,} touches: a bot, "
                   "a tracking loop or a shared login? Look at it, or drop its touches")
    return (f"{cut:,} journey(s) over max_touches_per_journey ({cap}) kept only their last "
            f"touches; {dropped:,} touches dropped{longest} "
            "(reconciliation: journeys_too_long_list)")
