"""Won deals the economics count as new customers that may not be: an entity's second or
later won deal (a renewal, an upsell, another deal of a customer).

*Decision* (README, "Which conversions are customers"): counted, and said, as won deals at
$0 are. A conversion is the entity's ``k``-th won deal in time (``conversion_id`` =
``<entity>#<k>``, :func:`attribution.journeys._conversions.find_conversions`, over all the
run's data), so one with ``k >= 2`` is a repeat win: CAC counts it as a customer (spend /
credited customers), which new-user report 22 found lowered google_ads' CAC from $7,244 to
$3,087 when 26 renewal deals of customers who came back through Google Ads were in the
export (exit 0, nothing said). The economics' parameters (``customers_repeat_wins``) and a
note before the economics table give their count, their credit per channel under the
decision model, and the blended CAC with and without them, and say how to leave them out
(filter the deals export on its pipeline).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import polars as pl

from attribution.b2b._shared import money

__all__ = ["blended_without", "repeat_wins", "repeat_wins_line"]

#: Channels named in the note, by repeat-win credit.
LISTED: Final = 4


def blended_without(blended: pl.DataFrame | None, model: str | None, n: int) -> dict[str, Any]:
    """The blended CAC and loaded CAC of ``model`` (the decision model; else the first) with
    and without ``n`` of its credited customers: each credited conversion is one customer,
    shared out among channels, so leaving ``n`` out takes exactly ``n`` off the blended
    customers; the spend stays. {} without blended rows."""
    rows = (
        blended.filter(pl.col("segment") == "all", pl.col("customers") > 0)
        if blended is not None and blended.height
        else None
    )
    if rows is None or not rows.height:
        return {}
    chosen = rows.filter(pl.col("model") == model) if model is not None else rows.clear()
    r = (chosen if chosen.height else rows).row(0, named=True)
    customers, cost = float(r["customers"]), float(r["spend"])
    loaded = cost + float(r["non_media_cost"] or 0.0)
    kept = customers - n
    return {
        "model": r["model"],
        "blended_customers": customers,
        "blended_cac": cost / customers,
        "blended_cac_without": cost / kept if kept > 0 else None,
        "blended_loaded_cac": loaded / customers,
        "blended_loaded_cac_without": loaded / kept if kept > 0 else None,
    }


def repeat_wins(conversions: pl.DataFrame, touch_credit: pl.DataFrame,
                blended: pl.DataFrame | None = None, model: str | None = None,
                channels: pl.DataFrame | None = None) -> dict[str, Any] | None:
    """How many of the credited customers (the conversions with touches) are their entity's
    second or later won deal, their credit per channel under ``model`` (the decision model;
    else the first; with the economics' ``channels`` rows, each channel's CAC with and
    without them) and the blended CAC with and without them; None when none are."""
    if not conversions.height or "conversion_id" not in conversions.columns:
        return None
    credited = (conversions.filter(pl.col("n_touches") > 0)
                if "n_touches" in conversions.columns else conversions)
    nth = pl.col("conversion_id").str.extract(r"#(\d+)$", 1).cast(pl.Int64, strict=False)
    repeats = credited.filter(nth > 1)
    if not repeats.height:
        return None
    found: dict[str, Any] = {"customers": credited.height, "repeat": repeats.height,
                             "share": repeats.height / credited.height,
                             **blended_without(blended, model, repeats.height)}
    chosen = found.get("model") or model
    if chosen is not None and touch_credit.height:
        by_channel = (
            touch_credit.filter(pl.col("model") == chosen)
            .join(repeats.select("conversion_id"), on="conversion_id", how="semi")
            .group_by("channel").agg(pl.col("credit").sum().alias("customers"))
            .sort("customers", "channel", descending=[True, False])
        )
        if channels is not None and channels.height:
            spent = channels.filter(pl.col("model") == chosen, pl.col("segment") == "all")
            by_channel = by_channel.join(
                spent.select("channel", "spend", pl.col("customers").alias("_all")),
                on="channel", how="left", maintain_order="left",
            ).with_columns(
                pl.when(pl.col("_all") > 0).then(pl.col("spend") / pl.col("_all"))
                .alias("cac"),
                pl.when(pl.col("_all") - pl.col("customers") > 1e-9)
                .then(pl.col("spend") / (pl.col("_all") - pl.col("customers")))
                .alias("cac_without"),
            ).drop("_all")
        found["by_channel"] = by_channel.to_dicts()
    return found


def repeat_wins_line(r: Mapping[str, Any]) -> str:
    """The note of :func:`repeat_wins`' finding ``r``."""
    cac = ""
    if r.get("blended_cac_without") is not None:
        cac = (f" Blended CAC under {r['model']}: {money(r['blended_cac'])} with them "
               f"({r['blended_customers']:,.0f} customers), {money(r['blended_cac_without'])} "
               f"without them ({r['blended_customers'] - r['repeat']:,.0f}).")
    channels = r.get("by_channel") or []
    credit = ""
    if channels:
        credit = (" Their credit: " + ", ".join(f"{c['channel']} {c['customers']:,.1f}"
                                                + _channel_cac(c) for c in channels[:LISTED])
                  + (", and more" if len(channels) > LISTED else "") + ".")
    return (
        f"NOTE: {r['repeat']:,} of {r['customers']:,} credited customers ({r['share']:.0%}) "
        "are an account's or contact's second or later won deal (a renewal, an upsell or "
        "another deal of a customer): CAC counts each as a new customer." + cac + credit
        + " If they are not acquisitions, leave their won rows out of the stages (e.g. keep "
        "the deals export's new-business pipeline only)."
    )


def _channel_cac(c: Mapping[str, Any]) -> str:
    if not c.get("spend") or c.get("cac") is None:
        return ""
    without = money(c["cac_without"]) if c.get("cac_without") is not None else "none left"
    return f" (CAC {money(c['cac'])} with them, {without} without)"
