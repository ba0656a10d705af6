"""HubSpot's source categories (``Original Source`` / ``Latest Source``) -> channels, with the
ad platform its drill-down names for a paid source.

HubSpot files LinkedIn ads traffic under ``Paid Social`` with ``Original Source Drill-Down 1``
= ``LinkedIn`` (Google / Bing under ``Paid Search``). Such a touch takes the platform's name
in the shipped taxonomy (``linkedin``, ``google_ads``, ``microsoft_ads``: the channels ``import
ads`` writes the spend on and the UTM rules give), so spend meets its touches without a
``[channels]`` mapping. A drill-down naming another platform (Facebook, Instagram, Twitter /
X: no name of their own in the taxonomy, whose UTM rules file them under ``paid_social``), or
none, keeps the source's family.

A ``Referrals`` touch whose drill-down is a host (``g2.com``, ``capterra.com``) takes the
channel the channel rules' ``[[referrer]]`` host rules give it (``g2_capterra``; the run's
rules, ``--channel-rules``), as a run reads a referrer: a review site's visits are its channel,
not ``referral``; a host no rule names, or a drill-down that is no host, stays ``referral``.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from attribution.importers._read import Export
from attribution.importers._result import ImportReport
from attribution.importers._shared import folded, record_mapping, snake
from attribution.inputs._referrers import host_channels, load_referrer_rules

#: HubSpot's source categories (Original / Latest Source, folded) -> channels
SOURCES = {
    "organicsearch": "organic_search",
    "paidsearch": "google_ads",
    "emailmarketing": "email",
    "socialmedia": "organic_social",
    "organicsocial": "organic_social",
    "paidsocial": "paid_social",
    "referrals": "referral",
    "directtraffic": "direct",
    "othercampaigns": "other_campaigns",
    "offlinesources": "offline",
    "offline": "offline",
    "aireferrals": "ai_referral",
}
#: the paid categories (folded: UI labels and API values alike) whose drill-down is read
PAID = ("paidsocial", "paidsearch")
#: an ad platform in a drill-down value (folded, matched anywhere: ``linkedin.com``) -> the
#: shipped taxonomy's channel for it (attribution/data/channel_rules.toml), first match wins
PLATFORMS = (
    ("linkedin|lnkd", "linkedin"),
    ("google|adwords", "google_ads"),
    ("bing|microsoft|msn", "microsoft_ads"),
)
#: the drill-down 1 column of each source kind (UI labels, API names)
DRILL_DOWN = {
    "original_source": [
        "Original Source Drill-Down 1",
        "Original Traffic Source Drill-Down 1",
        "hs_analytics_source_data_1",
    ],
    "latest_source": [
        "Latest Source Drill-Down 1",
        "Latest Traffic Source Drill-Down 1",
        "hs_latest_source_data_1",
    ],
}
#: the report's key for the touches whose channel is the platform their drill-down names
FROM_DRILL_DOWN = "touches_channel_from_drill_down"
#: ... and for the Referrals touches whose channel is their drill-down host's
FROM_REFERRAL_HOST = "touches_channel_from_referral_host"
#: the Referrals category (folded), whose drill-down is the referring host
REFERRALS = "referrals"


def drill_down_column(con: Export, kind: str) -> str | None:
    """The contacts export's drill-down 1 column for ``kind`` (``original_source`` /
    ``latest_source``), None when it has none."""
    return con.column(DRILL_DOWN[kind], required=False)


def platform_expr(drill: pl.Expr) -> pl.Expr:
    """The taxonomy channel of the ad platform ``drill`` names, null when it names none."""
    value = folded(drill)
    out = pl.lit(None, pl.String)
    for pattern, channel in reversed(PLATFORMS):
        out = pl.when(value.str.contains(pattern)).then(pl.lit(channel)).otherwise(out)
    return out


def source_channels(
    touches: pl.DataFrame,
    report: ImportReport,
    columns: list[str],
    channel_rules: str | Path | None = None,
) -> pl.DataFrame:
    """``touches`` (``_source``, ``_drill``: the source value and its drill-down 1) with
    ``channel``: the platform a paid source's drill-down names, else the source's family.
    Reported: the source -> family mapping, the (source, drill-down) pairs that took a
    platform (``value_mappings``), their count (``counts.touches_channel_from_drill_down``)
    and a note naming ``columns`` (the drill-down columns read) and the paid drill-down
    values that kept the family; a Referrals drill-down host's channel by the ``[[referrer]]``
    rules of ``channel_rules`` (the shipped file by default): :func:`referral_hosts`."""
    source = pl.col("_source")
    family = (
        folded(source)
        .replace_strict(SOURCES, default=None, return_dtype=pl.String)
        .fill_null(snake(source))
    )
    paid = folded(source).is_in(PAID)
    platform = pl.when(paid).then(platform_expr(pl.col("_drill")))
    touches = touches.with_columns(family.alias("_family"), platform.alias("_platform"))
    record_mapping(report, "channel (HubSpot source)", touches, "_source", "_family")
    touches = referral_hosts(touches, report, columns, channel_rules)
    took = touches.filter(pl.col("_platform").is_not_null())
    report.counts[FROM_DRILL_DOWN] = took.height
    if took.height:
        pairs = (
            took.group_by("_source", "_drill", "_platform")
            .len()
            .sort("len", "_source", "_drill", descending=[True, False, False])
        )
        report.mapped(
            "channel (HubSpot paid source + drill-down 1)",
            {f"{s} / {d}": p for s, d, p, _ in pairs.iter_rows()},
        )
        shown = ", ".join(f"{s} + {d} -> {p} ({n:,})" for s, d, p, n in pairs.head(4).iter_rows())
        shown += _more(pairs)
        kept = (
            touches.filter(paid & pl.col("_platform").is_null() & pl.col("_drill").is_not_null())
            .get_column("_drill")
            .unique(maintain_order=True)
        )
        others = (
            f"; other drill-downs keep the source's channel ({', '.join(map(repr, kept.head(3)))})"
            if kept.len()
            else ""
        )
        report.notes.append(
            f"contacts: {took.height:,} touch(es) of a paid source take the ad platform named "
            f"in {' / '.join(map(repr, columns))} as their channel: {shown}{others}; so they "
            "meet `import ads`' spend on that platform without a [channels] mapping"
        )
    return touches.with_columns(
        pl.coalesce("_platform", "_referred", "_family").alias("channel")
    ).drop("_family", "_platform", "_referred", "_drill")


def referral_hosts(
    touches: pl.DataFrame, report: ImportReport, columns: list[str], rules: str | Path | None
) -> pl.DataFrame:
    """``touches`` with ``_referred``: a Referrals touch's channel by the host its drill-down
    names (``g2.com`` -> ``g2_capterra``), null elsewhere; counted, mapped and said where a
    host takes a channel other than ``referral``."""
    referred = folded(pl.col("_source")) == REFERRALS
    values = touches.filter(referred).get_column("_drill")
    hosts = host_channels(values, load_referrer_rules(rules)) if values.len() else {}
    channel = pl.when(referred).then(pl.col("_drill").replace_strict(
        list(hosts), list(hosts.values()), default=None, return_dtype=pl.String))  # fmt: skip
    touches = touches.with_columns(channel.alias("_referred"))
    took = touches.filter(pl.col("_referred").is_not_null() & (pl.col("_referred") != "referral"))
    report.counts[FROM_REFERRAL_HOST] = took.height
    if took.height:
        pairs = took.group_by("_drill", "_referred").len().sort(
            "len", "_drill", descending=[True, False])  # fmt: skip
        report.mapped("channel (HubSpot Referrals + drill-down host)",
                      {d: c for d, c, _ in pairs.iter_rows()})  # fmt: skip
        shown = ", ".join(f"{d} -> {c} ({n:,})" for d, c, n in pairs.head(4).iter_rows())
        shown += _more(pairs)
        report.notes.append(
            f"contacts: {took.height:,} Referrals touch(es) take the channel of the host in "
            f"{' / '.join(map(repr, columns))} by the channel rules' [[referrer]] host rules "
            f"(as a run reads a referrer): {shown}; other hosts stay 'referral'"
        )
    return touches


def _more(pairs: pl.DataFrame, shown: int = 4) -> str:
    """``, and N more pair(s) (M)`` for the pairs after the first ``shown`` (their touches
    in ``len``), so the pairs a note lists add up to its count (new-user report 22, M4)."""
    rest = pairs.slice(shown)
    if rest.height == 0:
        return ""
    return (
        f", and {rest.height:,} more pair(s) ({rest.get_column('len').sum():,}; all in "
        "import_report.json value_mappings)"
    )
