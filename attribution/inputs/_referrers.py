"""A touch's channel from its referrer, when nothing else gives one.

A product-led company's page views (Segment's ``pages``, GA4's ``page_view``) carry UTM tags
only when a campaign link was followed; a visit from a Google result, a LinkedIn post or a G2
review has no tag but a referrer. Derived from ``utm_source`` / ``utm_medium`` alone, all of
them were ``direct`` (new-user report: 3,424 touches, G2's reviews credited with no
customer). *Decision* (README, "Channel taxonomy"):

- the touches' ``referrer`` column (ours, or the one column named like one:
  :data:`REFERRER_NAMES`, ``context_page_referrer``, ``page_referrer``, ...) is read when
  the channel is derived (no ``channel`` column); a touch with neither ``utm_source`` nor
  ``utm_medium`` (blank) and a referrer whose host has a dot takes the channel of the first
  ``[[referrer]]`` rule of the channel rules file whose ``host`` pattern matches the host
  (lower case, no scheme, user, port, path or leading ``www.``); a host no rule matches is
  ``[referrers] other`` (``referral``);
- a host of the user's own site stays as the UTM rules give it (``direct``): one of the site
  of the touch's own page URL (a ``page_url`` column: :data:`PAGE_URL_NAMES`; a site is a
  host's last two labels, three under ``co.uk`` and the like: ``docs.acme.com`` and
  ``app.acme.com`` are one; compared row by row, so a partition decides as the whole file
  does), or a host under ``[referrers] own_hosts``;
- counted (``touches_channel_from_referrer``: channel -> touches, ``touches_referrer_own_site``)
  and said (:func:`referrer_note`).

Vectorised: the hosts are read and classified on the distinct referrers (and page URLs), then
mapped back to the rows (:meth:`polars.Expr.replace_strict`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import polars as pl

from attribution.exceptions import ConfigError

__all__ = [
    "PAGE_URL",
    "PAGE_URL_NAMES",
    "REFERRER",
    "REFERRER_NAMES",
    "ReferrerRules",
    "channels_from_referrers",
    "check_pattern",
    "host_channels",
    "load_referrer_rules",
    "referrer_columns",
    "referrer_note",
    "add_unread",
    "unread_columns",
    "unread_note",
]

REFERRER: Final = "referrer"
PAGE_URL: Final = "page_url"
#: Headers read as ``referrer`` without a mapping (compared folded: lower case, without
#: spaces, ``_``, ``-``, ``.`` or ``$``), in this order of preference.
REFERRER_NAMES: Final = ("referrer", "referer", "page_referrer", "document_referrer",
                         "context_page_referrer", "referring_url", "referrer_url",
                         "http_referer", "http_referrer")  # fmt: skip
#: ... and as ``page_url`` (the page the touch was on: its host is the user's own site).
PAGE_URL_NAMES: Final = ("page_url", "url", "page_location", "context_page_url",
                         "document_location", "document_url")  # fmt: skip
#: The tables with a touch's columns.
_TABLES: Final = ("touches", "events")
#: The counts' keys (the manifest's reconciliation).
FROM_REFERRER: Final = "touches_channel_from_referrer"
OWN_SITE: Final = "touches_referrer_own_site"


def _fold(name: str) -> str:
    return re.sub(r"[\s_\-.$]+", "", name.casefold())


def referrer_columns(
    table: str, available: Sequence[str], names: Mapping[str, str]
) -> dict[str, str]:
    """The user's columns read as ``referrer`` and ``page_url`` without a mapping (ours ->
    theirs): in a touch table with neither column (named so or mapped), the first header
    that folds to one of :data:`REFERRER_NAMES` (:data:`PAGE_URL_NAMES`)."""
    if table not in _TABLES:
        return {}
    mapped = set(names.values())
    folded = {_fold(c): c for c in reversed(available) if c not in mapped}  # the first wins
    out: dict[str, str] = {}
    for ours, aliases in ((REFERRER, REFERRER_NAMES), (PAGE_URL, PAGE_URL_NAMES)):
        if ours in available or ours in names:
            continue
        found = next((folded[_fold(a)] for a in aliases if _fold(a) in folded), None)
        if found is not None and found not in out.values():
            out[ours] = found
    return out


def unread_columns(
    spec: Any, available: Sequence[str], names: Mapping[str, str]
) -> tuple[str, ...]:
    """The user's columns of a touch table (``spec``: touches, events) that the run does not
    read (``available``: after the mapping; ``names``: ours -> theirs): those outside the
    input contract (an ``email`` column aside, which a survey join may read), and the
    ``referrer`` and ``page_url`` beside a ``channel`` column (a channel given is kept)."""
    if spec.name not in _TABLES:
        return ()
    out = [c for c in available if c not in spec.columns and _fold(c) != "email"
           and c != names.get("email")]  # fmt: skip
    if "channel" in available:
        out += [names.get(c, c) for c in (REFERRER, PAGE_URL) if c in available]
    return tuple(out)


def add_unread(inputs: Mapping[str, Any], sources: Mapping[str, Any]) -> None:
    """The manifest's ``inputs.<table>.columns_not_read`` of ``sources`` (table ->
    :class:`~attribution.inputs._sources.Source`) where a run describes its inputs itself
    (a ``--state`` night)."""
    for name, source in sources.items():
        if isinstance(entry := inputs.get(name), dict) and source.unread:
            entry["columns_not_read"] = list(source.unread)


def unread_note(table: str, source: str, unread: Sequence[str]) -> str:
    """The NOTE of a touch table's columns the run does not read (:func:`unread_columns`)."""
    shown = ", ".join(f"'{c}'" for c in unread[:12])
    more = f" and {len(unread) - 12:,} more" if len(unread) > 12 else ""
    return (
        f"NOTE: {table} '{source}': {len(unread):,} column(s) not read by the run: "
        f"{shown}{more} (a run reads the columns of the input contract, README \"Input "
        "formats\"; map yours to one in [columns." + table + "]; a referrer gives the channel "
        "of a touch without UTM tags only when there is no channel column)"
    )


@dataclass(frozen=True)
class ReferrerRules:
    """``[[referrer]]`` rules (channel, host pattern) in order, the hosts of the user's own
    site and the channel of any other host."""

    rules: tuple[tuple[str, str], ...]
    own_hosts: tuple[str, ...] = ()
    other: str = "referral"


def load_referrer_rules(path: str | Path | None = None) -> ReferrerRules:
    """The referrer rules of the channel rules file at ``path`` (default: the shipped one);
    a file without ``[[referrer]]`` rules takes the shipped file's (its own ``[referrers]``
    kept)."""
    from attribution.inputs._taxonomy import default_rules_path

    chosen = Path(path) if path is not None else default_rules_path()
    return _load(str(chosen), str(default_rules_path()))


def check_pattern(pattern: str, where: str) -> None:
    """A rule's regular expression, compiled by the engine that runs it (Rust regex syntax,
    not Python's, case-insensitive): a :class:`ConfigError` ``{where} pattern: ...`` when
    it does not compile."""
    try:
        pl.select(pl.lit("").str.contains(f"(?i){pattern}"))
    except pl.exceptions.PolarsError as exc:
        raise ConfigError(f"{where} pattern: {exc}") from exc


@cache
def _load(path: str, default: str) -> ReferrerRules:
    from attribution.inputs._toml import read_toml

    data = read_toml(path, "channel rules")
    raw = data.get("referrer")
    if raw is None and path != default:
        raw = read_toml(default, "channel rules").get("referrer")
    settings = data.get("referrers", {})
    if not isinstance(raw, list) or not isinstance(settings, dict):
        raise ConfigError(f"channel rules '{path}': [[referrer]] and [referrers] are tables")
    unknown = set(settings) - {"own_hosts", "other"}
    if unknown:
        raise ConfigError(f"channel rules '{path}': unknown key(s) in [referrers]: "
                          f"{sorted(unknown)} (own_hosts, other)")  # fmt: skip
    rules = []
    for i, rule in enumerate(raw):
        if (not isinstance(rule, dict) or set(rule) != {"channel", "host"}
                or not all(isinstance(v, str) and v for v in rule.values())):  # fmt: skip
            raise ConfigError(f"channel rules '{path}', referrer rule {i + 1}: needs 'channel' "
                              "and 'host' (a regular expression), both text")  # fmt: skip
        check_pattern(rule["host"], f"channel rules '{path}', referrer rule {i + 1}: bad host")
        rules.append((rule["channel"], rule["host"]))
    own = settings.get("own_hosts", [])
    other = settings.get("other", "referral")
    if not isinstance(own, list) or not all(isinstance(h, str) and h.strip() for h in own):
        raise ConfigError(f"channel rules '{path}': [referrers] own_hosts is a list of hosts")
    if not isinstance(other, str) or not other.strip():
        raise ConfigError(f"channel rules '{path}': [referrers] other is a channel name")
    hosts = tuple(_host_of(h) or h.strip().lower() for h in own)
    return ReferrerRules(tuple(rules), hosts, other.strip())


def _host_of(url: str) -> str | None:
    return pl.select(host_expr(pl.lit(url, pl.String))).item()  # type: ignore[no-any-return]


def host_expr(url: pl.Expr) -> pl.Expr:
    """The host of a URL (or of a bare host): lower case, without scheme, user, port, path,
    query or a leading ``www.``; null without a dot (``$direct``, ``(none)``)."""
    host = (
        url.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.\-]*://", "")
        .str.replace(r"^[^/?#@]*@", "")
        .str.replace(r"[/?#:].*$", "")
        .str.replace(r"^www\d*\.", "")
        .str.strip_chars(".")
    )
    return pl.when(host.str.contains(".", literal=True)).then(host)


def _channel_of(host: pl.Expr, rules: ReferrerRules) -> pl.Expr:
    chain: Any = None
    for channel, pattern in rules.rules:
        cond = host.str.contains(f"(?i){pattern}")
        chain = (pl.when(cond) if chain is None else chain.when(cond)).then(pl.lit(channel))
    return pl.lit(rules.other) if chain is None else chain.otherwise(pl.lit(rules.other))


def host_channels(values: pl.Series, rules: ReferrerRules) -> dict[str, str]:
    """Of ``values`` (distinct texts: a CRM's referral drill-down, ``g2.com``), those that
    name a host (a dot) -> the channel of the first ``[[referrer]]`` rule matching it (any
    other host: ``rules.other``); a value naming no host is left out."""
    frame = pl.DataFrame({"value": values.drop_nulls().unique().cast(pl.String)})
    hosts = frame.with_columns(host_expr(pl.col("value")).alias("host")).drop_nulls("host")
    found = hosts.with_columns(_channel_of(pl.col("host"), rules).alias("channel"))
    return dict(found.select("value", "channel").iter_rows())


def _under(host: pl.Expr, site: pl.Expr) -> pl.Expr:
    """``host`` is ``site`` or a host under it."""
    return (host == site) | host.str.ends_with(pl.lit(".") + site)


#: A host's site: its last two labels, or three under a country's second level (``co.uk``,
#: ``com.au``): ``docs.acme.com`` and ``app.acme.com`` are one site, ``acme.co.uk`` another.
_SITE = r"([^.]+\.(?:(?:co|com|net|org|gov|edu|ac|ne|or|go|gob|nic)\.[a-z]{2}|[^.]+))$"


def _hosts(frame: pl.DataFrame, column: str, mask: pl.Expr) -> pl.Expr:
    """``column``'s host per row (null outside ``mask``), read on its distinct values."""
    distinct = frame.filter(mask).select(pl.col(column).unique().drop_nulls())
    hosts = distinct.with_columns(host_expr(pl.col(column)).alias("host"))
    return pl.col(column).replace_strict(
        hosts.get_column(column), hosts.get_column("host"), default=None, return_dtype=pl.String
    )


def channels_from_referrers(
    frame: pl.DataFrame, rules: ReferrerRules
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``frame`` (its ``channel`` derived from the UTM columns) with the channel of the
    touches without ``utm_source`` and ``utm_medium`` taken from their ``referrer``'s host,
    and the counts (none without a referrer column): ``touches_channel_from_referrer``
    (channel -> touches) and ``touches_referrer_own_site``. The ``referrer`` and ``page_url``
    columns are dropped (read)."""
    if REFERRER not in frame.columns:
        return frame.drop(PAGE_URL, strict=False), {}

    def blank(column: str) -> pl.Expr:
        if column not in frame.columns:
            return pl.lit(True)
        return pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")

    untagged = blank("utm_source") & blank("utm_medium") & pl.col(REFERRER).is_not_null()
    host = _hosts(frame, REFERRER, untagged)
    own = pl.lit(False)
    for site in rules.own_hosts:
        own = own | _under(host, pl.lit(site))
    if PAGE_URL in frame.columns:  # the touch's own page: the same site (docs.a.com, a.com)
        page = _hosts(frame, PAGE_URL, untagged & pl.col(PAGE_URL).is_not_null())
        own = own | (host.str.extract(_SITE) == page.str.extract(_SITE)).fill_null(False)
    own = own.fill_null(False)
    found = frame.select(
        pl.when(untagged & host.is_not_null())
        .then(pl.when(own).then(pl.lit(None, pl.String)).otherwise(_channel_of(host, rules)))
        .alias("from_referrer"),
        (untagged & host.is_not_null() & own).alias("own"),
    )
    taken = found.get_column("from_referrer")
    counts = (
        found.lazy().drop_nulls("from_referrer").group_by("from_referrer").len()
        .sort("from_referrer").collect()
    )  # fmt: skip
    out = frame.drop(REFERRER, PAGE_URL, strict=False)
    if taken.null_count() < taken.len():
        out = out.with_columns(pl.coalesce(taken, pl.col("channel")).alias("channel"))
    return out, {
        FROM_REFERRER: {str(c): int(n) for c, n in counts.iter_rows()},
        OWN_SITE: int(found.get_column("own").sum()),
    }


def referrer_note(counts: Mapping[str, Any]) -> str | None:
    """The sentence of the manifest's notes and the run's summary: the touches that took
    their channel from their referrer, per channel (None when none did)."""
    taken = counts.get(FROM_REFERRER) or {}
    total = sum(taken.values()) if isinstance(taken, Mapping) else 0
    if not total:
        return None
    own = counts.get(OWN_SITE) or 0
    per = ", ".join(f"{c} {n:,}" for c, n in sorted(taken.items(), key=lambda x: (-x[1], x[0])))
    stayed = f"; {own:,} referred by your own site stayed direct" if own else ""
    return (
        f"{total:,} touch(es) without a channel, utm_source or utm_medium took their channel "
        f"from their referrer's host ({per}){stayed}: the [[referrer]] rules of the channel "
        "rules file (reconciliation: touches_channel_from_referrer)"
    )
