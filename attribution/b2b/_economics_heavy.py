"""Contacts far more active than the others, bounded in the spend split across segments.

A channel's spend is split across segments by its touches there (``segment_spend =
"touches"``, :mod:`attribution.b2b._economics_slices`). One contact with tens of thousands
of touches (a scanner on a customer's domain, which HubSpot associates with that company by
its e-mail domain; a logged-in bot) would carry the channel's spend to its account's segment
(new-user report 22: 30,000 form submissions of one contact sent 98.7% of Google's spend to
enterprise, enterprise loaded CAC $15,489 instead of $4,236, exit 0, nothing said).

*Decision* (README, "Unit economics"): a contact is **far more active** by the rule the
journeys use for a long journey (:mod:`attribution.journeys._long`): at least
:data:`~attribution.journeys._long.LONG_TOUCHES` touches *and* at least
:data:`~attribution.journeys._long.LONG_MULTIPLE` times the median of the other contacts'
touches. Each such contact is counted in the split as the most active of the others (its
touches on each channel scaled by that count over its own), so it weighs like the busiest
real contact; the credit is not touched (its journey is the journeys' business: cut by the
cap, or flagged as long). The economics' parameters list them
(``contacts_bounded``: count, touches, the count each is weighed as, the busiest
:data:`LISTED` with account and top channel) and the summary says it. Vectorised: one
group-by per contact, a median, a join.
"""

from __future__ import annotations

from typing import Any, Final

import polars as pl

from attribution.journeys._long import LONG_MULTIPLE, LONG_TOUCHES

__all__ = ["bound_heavy_contacts", "heavy_contacts_lines"]

#: The busiest bounded contacts listed.
LISTED: Final = 5


def bound_heavy_contacts(exposure: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, Any] | None]:
    """``exposure`` (``channel``, ``account_id``, ``contact_id``, ``touches``) with the
    touches of contacts far more active than the others scaled down to the busiest other
    contact's count, and the finding for the economics' parameters (None when none)."""
    who = pl.col("contact_id")
    people = exposure.filter(who.is_not_null()).group_by("contact_id").agg(
        pl.col("touches").sum().alias("_n"))
    n = pl.col("_n")
    stats = people.select(n.max().alias("longest"),
                          n.filter(n < LONG_TOUCHES).median().alias("others"),
                          n.median().alias("median")).row(0, named=True)
    if (stats["longest"] or 0) < LONG_TOUCHES:
        return exposure, None
    median = float(stats["others"] if stats["others"] is not None else stats["median"] or 0)
    least = max(LONG_TOUCHES, LONG_MULTIPLE * median)
    heavy = people.filter(n >= least)
    if not heavy.height:
        return exposure, None
    bound = float(people.filter(n < least).select(n.max()).item() or 1.0)
    factors = heavy.select("contact_id", (bound / n).alias("_factor"))
    bounded = exposure.join(factors, on="contact_id", how="left").with_columns(
        (pl.col("touches") * pl.col("_factor").fill_null(1.0)).alias("touches")
    ).drop("_factor")
    top = (
        exposure.join(heavy.select("contact_id"), on="contact_id", how="semi")
        .group_by("contact_id")
        .agg(pl.col("account_id").drop_nulls().first(),
             pl.col("channel").sort_by("touches", descending=True).first().alias("top_channel"),
             pl.col("touches").max().cast(pl.Int64).alias("top_channel_touches"),
             pl.col("touches").sum().cast(pl.Int64))
        .sort("touches", "contact_id", descending=[True, False])
    )
    return bounded, {
        "contacts": heavy.height,
        "touches": int(heavy.get_column("_n").sum()),
        "counted_as": bound,
        "listed": top.head(LISTED).to_dicts(),
        "method": f"a contact with at least {LONG_TOUCHES:,} touches and {LONG_MULTIPLE} "
        "times the other contacts' median is counted, in the spend split across segments, "
        "as the most active other contact (its touches on each channel scaled down); its "
        "credit is unchanged",
    }


def heavy_contacts_lines(parameters: dict[str, Any]) -> list[str]:
    """The summary's line for ``parameters["contacts_bounded"]`` (none without it)."""
    found = parameters.get("contacts_bounded")
    if not found:
        return []
    first = found["listed"][0]
    account = f", account {first['account_id']}" if first.get("account_id") else ""
    return [
        f"Contacts far more active than the others: {found['contacts']:,} "
        f"({found['touches']:,} touches; the busiest, {first['contact_id']}{account}, has "
        f"{first['touches']:,}, {first['top_channel_touches']:,} of them "
        f"{first['top_channel']}): a bot or a scanner? Each is counted as the most active "
        f"other contact ({found['counted_as']:,.0f} touches) in the spend split across "
        "segments, so it does not carry its channels' spend to its account's segment; its "
        "credit is unchanged (look at it, or drop its touches)."
    ]
