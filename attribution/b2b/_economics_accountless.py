"""Touches without an account in an account-level run's economics.

At account level a touch with no ``account_id`` (its own, or its contact's in the contacts
table) reaches no journey (``touches_dropped.missing_account_id``), so it can never help a
segment win a customer. Splitting a channel's spend across segments by every touch of the
log put their share of the spend in ``unknown``, which then read "spend, no customers:
BREACH" (new-user report 4, defect 3). Here they are left out of the split's weights: the
channel's spend follows its touches that can reach a journey (the segments still add up to
the channel's spend), and the touches left out and the spend they stood for are counted in
``economics.json`` (``parameters.touches_without_account``) and stated by the summary,
never judged against the guardrail.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution._reporting_currency import money_text

__all__ = ["accountless_finding", "accountless_lines", "drop_accountless"]


def drop_accountless(exposure: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``exposure`` (:func:`attribution.b2b._economics_slices.touch_exposure`) without the
    rows of touches without an account, and those touches per channel with the channel's
    share of them (``touches``, ``share``)."""
    per_channel = exposure.group_by("channel").agg(
        pl.col("touches").filter(pl.col("account_id").is_null()).sum().alias("touches"),
        (
            pl.col("touches").filter(pl.col("account_id").is_null()).sum()
            / pl.col("touches").sum()
        ).alias("share"),
    )
    return exposure.filter(pl.col("account_id").is_not_null()), per_channel.filter(
        pl.col("touches") > 0
    )


def accountless_finding(accountless: pl.DataFrame, table: pl.DataFrame) -> dict[str, Any] | None:
    """``parameters.touches_without_account``: the touches left out and the part of each
    channel's spend they stood for (its spend x their share of its touches), from the
    economics' ``all`` rows ``table`` (spend is the same under every model); None when every
    touch has an account."""
    if not accountless.height:
        return None
    spend = table.select("channel", "spend").unique("channel")
    rows = (
        accountless.join(spend, on="channel", how="left")
        .with_columns((pl.col("spend").fill_null(0.0) * pl.col("share")).alias("spend"))
        .sort("spend", "channel", descending=[True, False])
    )
    return {
        "touches": int(rows.get_column("touches").sum()),
        "spend": float(rows.get_column("spend").sum()),
        "by_channel": rows.select("channel", pl.col("touches").cast(pl.Int64), "spend").to_dicts(),
        "method": "at account level a touch without an account reaches no journey: it is "
        "left out of the weights that split a channel's spend across segments, so the "
        "channel's spend follows its touches that can reach a journey; not judged against "
        "the guardrail",
    }


def accountless_lines(p: dict[str, Any]) -> list[str]:
    """The summary's line for ``p["touches_without_account"]`` (none without it)."""
    found = p.get("touches_without_account")
    if not found:
        return []
    top = ", ".join(
        f"{r['channel']} {r['touches']:,.0f} ({money_text(r['spend'])})"
        for r in found["by_channel"][:3]
    )
    return [
        f"Touches without an account: {found['touches']:,} (their channels' spend share "
        f"{money_text(found['spend'])}; {top}"
        f"{', ...' if len(found['by_channel']) > 3 else ''}) reach "
        "no account-level journey, so no segment: the spend split across segments follows "
        "each channel's other touches (not a breach of any segment)."
    ]
