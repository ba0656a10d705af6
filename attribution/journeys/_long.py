"""Journeys far longer than the run's others: counted and said, never changed.

A logged-in bot, a tracking loop or a shared inbox can give one contact thousands of touches
(new-user report 13: 3,502 touches in 40 days, 3,500 of them ``direct``) and stay under the
touch cap (:mod:`attribution.journeys._cap`, 5,000 by default). Its credit is its own
conversion's (rule-based models split that one conversion; the data-driven models see one
path among many), so the run keeps it as it is. *Decision* (README, "Journeys"): it is said,
so a person looks at it:

- a converting journey is **long** when it holds at least :data:`LONG_TOUCHES` touches
  *and* at least :data:`LONG_MULTIPLE` times the run's median journey of the others (the
  conversions with touches but fewer than :data:`LONG_TOUCHES`; of every conversion with
  touches when none is that short): far above a person's journey (the seeded benchmark
  world's longest is 66 touches, 146 at account level) and far above this run's others, so
  an account-level run of big buying committees is not flagged for its size. The median,
  not a high percentile: in a run of a few dozen deals the 99th percentile is the long
  journey itself; of the others, since in a run of two conversions (5 and 3,502 touches)
  the median of both is their mean, 1,753.5, and no journey was ever 20 times it;
- a journey cut by the cap is counted there (``journeys_too_long``), not here; a
  non-converting path is not looked at (it credits nothing);
- the reconciliation counts them (``journeys_long``) and lists the longest :data:`LISTED`
  (``journeys_long_list``: ``conversion_id``, the entity key, ``touches``, the journey's most
  frequent ``top_channel`` and its ``top_channel_touches``); the manifest's notes and the
  command line's summary say the count and the longest.

Vectorised: one ``max`` over the conversions' touch counts when no journey is that long
(every ordinary run), else a median, a filter and one group-by over the long journeys' rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import polars as pl

from attribution.journeys._cap import LISTED

__all__ = ["LONG_MULTIPLE", "LONG_TOUCHES", "long_journey_counts", "long_journey_note"]

#: A long journey holds at least this many touches ...
LONG_TOUCHES: Final = 1_000
#: ... and at least this many times the run's median journey.
LONG_MULTIPLE: Final = 20


def long_journey_counts(
    conversions: pl.DataFrame, journey: pl.DataFrame, key: str, cut: pl.Series
) -> dict[str, Any]:
    """The reconciliation's ``journeys_long`` and ``journeys_long_list`` (none when no
    journey is long): ``conversions`` with ``conversion_id``, ``key`` and ``n_touches``;
    ``journey`` the journeys' touch rows (``conversion_id``, ``channel``); ``cut`` the
    conversion ids of the journeys the cap cut (counted there)."""
    n = pl.col("n_touches")
    touches = conversions.select(
        n.max().alias("longest"),
        n.filter(n > 0).median().alias("median"),
        n.filter((n > 0) & (n < LONG_TOUCHES)).median().alias("others"),
    ).row(0, named=True)
    if (touches["longest"] or 0) < LONG_TOUCHES:
        return {}
    # the others' median: the long journeys do not raise their own yardstick (of two
    # conversions, 5 and 3,502 touches, the median of both is 1,753.5)
    median = float(touches["others"] if touches["others"] is not None else touches["median"] or 0)
    least = max(LONG_TOUCHES, LONG_MULTIPLE * median)
    long = conversions.filter(
        (pl.col("n_touches") >= least) & ~pl.col("conversion_id").is_in(cut.implode())
    )
    if not long.height:
        return {}
    listed = long.sort("n_touches", "conversion_id", descending=[True, False]).head(LISTED)
    top = (
        journey.filter(pl.col("conversion_id").is_in(listed.get_column("conversion_id").implode()))
        .group_by("conversion_id", "channel")
        .agg(pl.len().alias("top_channel_touches"))
        .sort(["top_channel_touches", "channel"], descending=[True, False])
        .unique("conversion_id", keep="first")
        .rename({"channel": "top_channel"})
    )
    rows = listed.select("conversion_id", key, pl.col("n_touches").cast(pl.Int64).alias("touches"))
    rows = rows.join(top, on="conversion_id", how="left", maintain_order="left").with_columns(
        pl.col("top_channel_touches").cast(pl.Int64)
    )
    return {"journeys_long": long.height, "journeys_long_list": rows.to_dicts()}


def long_journey_note(counts: Mapping[str, Any]) -> str | None:
    """The sentence the manifest's notes and the summary say of the long journeys (None
    without): their count and the longest, with its top channel."""
    n = counts.get("journeys_long")
    listed = counts.get("journeys_long_list") or []
    if not isinstance(n, int) or n <= 0 or not listed:  # none (or a night's delta: none)
        return None
    first = listed[0]
    entity = next((f" of {k} {first[k]}" for k in ("contact_id", "account_id")
                   if first.get(k) is not None), "")  # fmt: skip
    channel = (f", {first['top_channel_touches']:,} of them {first['top_channel']}"
               if first.get("top_channel") is not None else "")  # fmt: skip
    return (
        f"{n:,} journey(s) far longer than the run's others (at least {LONG_TOUCHES:,} "
        f"touches and {LONG_MULTIPLE} times the others' median journey; under the touch "
        f"cap): the "
        f"longest, conversion {first['conversion_id']}{entity}, has {first['touches']:,} "
        f"touches{channel}; a bot, a tracking loop or a shared login? Its credit is its own "
        "conversion's and is kept; look at it, or drop its touches "
        "(reconciliation: journeys_long_list)"
    )
