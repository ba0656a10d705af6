"""Channel taxonomy: derive ``channel`` from ``utm_source`` / ``utm_medium`` with ordered rules."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from attribution.exceptions import ConfigError
from attribution.inputs._referrers import (
    REFERRER,
    ReferrerRules,
    channels_from_referrers,
    check_pattern,
    load_referrer_rules,
)
from attribution.inputs._toml import read_toml

OTHER = "other"


@dataclass(frozen=True)
class ChannelRule:
    """One rule: every given pattern must match (case-insensitive regex)."""

    channel: str
    source: str | None = None
    medium: str | None = None


def default_rules_path() -> Path:
    """Path of the shipped rules file (copy it to make your own)."""
    return Path(str(resources.files("attribution") / "data" / "channel_rules.toml"))


def load_rules(path: str | Path | None = None) -> list[ChannelRule]:
    """Read an ordered rules file (TOML, ``[[rule]]`` tables with channel/source/medium)."""
    path = Path(path) if path is not None else default_rules_path()
    data = read_toml(path, "channel rules")
    rules = []
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise ConfigError(f"channel rules '{path}': rules are [[rule]] tables")
    for i, raw in enumerate(raw_rules):
        if not isinstance(raw, dict):
            raise ConfigError(f"channel rules '{path}', rule {i + 1}: not a [[rule]] table")
        unknown = set(raw) - {"channel", "source", "medium"}
        if "channel" not in raw or unknown or not ({"source", "medium"} & set(raw)):
            raise ConfigError(
                f"channel rules '{path}', rule {i + 1}: needs 'channel' and at least one of "
                f"'source' / 'medium' (unknown keys: {sorted(unknown) or 'none'})"
            )
        for key, value in raw.items():
            if not isinstance(value, str):
                raise ConfigError(
                    f"channel rules '{path}', rule {i + 1}: '{key}' must be text, got {value!r}"
                )
        for key in ("source", "medium"):
            if key in raw:
                check_pattern(raw[key], f"channel rules '{path}', rule {i + 1}: bad {key}")
        rules.append(ChannelRule(raw["channel"], raw.get("source"), raw.get("medium")))
    if not rules:
        raise ConfigError(f"channel rules '{path}' holds no [[rule]] tables")
    return rules


def channel_expr(rules: list[ChannelRule], columns: set[str]) -> pl.Expr:
    """An expression giving the channel of each row: the first matching rule, else ``other``."""

    def field(name: str) -> pl.Expr:
        if name in columns:
            return pl.col(name).fill_null("").str.strip_chars()
        return pl.lit("")

    chain: Any = None
    for rule in rules:
        cond = pl.lit(True)
        if rule.source is not None:
            cond = cond & field("utm_source").str.contains(f"(?i){rule.source}")
        if rule.medium is not None:
            cond = cond & field("utm_medium").str.contains(f"(?i){rule.medium}")
        chain = (
            pl.when(cond).then(pl.lit(rule.channel))
            if chain is None
            else chain.when(cond).then(pl.lit(rule.channel))
        )
    expr = chain.otherwise(pl.lit(OTHER)) if chain is not None else pl.lit(OTHER)
    return expr.alias("channel")


def derive_channels(
    touches: pl.DataFrame, rules: list[ChannelRule], referrers: ReferrerRules | None = None
) -> tuple[pl.DataFrame, int]:
    """Add ``channel`` from the UTM columns (and a touch without them from its ``referrer``:
    ``referrers``, default the shipped rules); return the frame and the count mapped to
    ``other``."""
    out, other, _ = derive_channels_counted(touches, rules, referrers)
    return out, other


def derive_touch_channels(
    touches: pl.DataFrame, path: str | Path | None = None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``channel`` derived by the rules file at ``path`` (default: the shipped one): the
    frame and the counts of the reconciliation, ``touches_channel_other`` and, with a
    referrer column, ``touches_channel_from_referrer`` and ``touches_referrer_own_site``."""
    out, other, counts = derive_channels_counted(
        touches, load_rules(path), load_referrer_rules(path) if REFERRER in touches.columns
        else None)  # fmt: skip
    return out, {"touches_channel_other": other, **counts}


def derive_channels_counted(
    touches: pl.DataFrame, rules: list[ChannelRule], referrers: ReferrerRules | None = None
) -> tuple[pl.DataFrame, int, dict[str, Any]]:
    """:func:`derive_channels`, with the counts of the channels taken from the referrers
    (:func:`attribution.inputs._referrers.channels_from_referrers`)."""
    out = touches.with_columns(channel_expr(rules, set(touches.columns)))
    if REFERRER in out.columns and referrers is None:
        referrers = load_referrer_rules()
    out, counts = channels_from_referrers(out, referrers or ReferrerRules(()))
    return out, int((out.get_column("channel") == OTHER).sum()), counts
