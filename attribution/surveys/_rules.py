"""The survey rules file: ordered regex rules from free text to channel, the comparison
groups, and the normalisation every answer goes through before it is matched.

Shipped defaults in ``attribution/data/survey_rules.toml`` (:func:`default_survey_rules_path`);
patterns are Rust regex syntax (Polars runs them), matched case-insensitively, first match wins.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import polars as pl

from attribution.exceptions import ConfigError
from attribution.inputs._toml import read_toml

__all__ = [
    "OTHER",
    "SurveyRule",
    "SurveyRules",
    "default_survey_rules_path",
    "load_survey_rules",
    "normalise_answer",
    "rule_channel",
    "rule_number_expr",
]

#: The channel of an answer that names none ("don't remember", blank, unmatched).
OTHER = "other"

_EDGE_PUNCT = r"^[\s\.,;:!\?\-\"'\*]+|[\s\.,;:!\?\-\"'\*]+$"


@dataclass(frozen=True)
class SurveyRule:
    """One rule: answers matching ``pattern`` (case-insensitive regex) are coded ``channel``."""

    channel: str
    pattern: str


@dataclass(frozen=True)
class SurveyRules:
    """An ordered rules file and its comparison groups.

    Attributes
    ----------
    rules : tuple of SurveyRule
        Tried in order; the first match wins.
    groups : dict of str to tuple of str
        Group name -> channels compared as one (``search`` = ``google_ads`` + ``organic_search``
        by default), because a buyer cannot tell them apart.
    source : str
        The file the rules came from.
    """

    rules: tuple[SurveyRule, ...]
    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    source: str = "<memory>"

    @property
    def channels(self) -> set[str]:
        """Every channel name the rules and groups know (the pick-list vocabulary)."""
        out = {r.channel for r in self.rules} | set(self.groups) | {OTHER}
        for members in self.groups.values():
            out.update(members)
        return out

    def compare_map(self) -> dict[str, str]:
        """Channel -> the channel it is compared as (its group, or itself when absent)."""
        return {m: name for name, members in self.groups.items() for m in members}


def default_survey_rules_path() -> Path:
    """Path of the shipped survey rules file (copy it to make your own)."""
    return Path(str(resources.files("attribution") / "data" / "survey_rules.toml"))


def load_survey_rules(path: str | Path | None = None) -> SurveyRules:
    """Read an ordered survey rules file (TOML: ``[groups]`` and ``[[rule]]`` tables).

    Examples
    --------
    >>> from attribution.surveys import load_survey_rules
    >>> rules = load_survey_rules()
    >>> rules.groups["search"]
    ('google_ads', 'organic_search')
    """
    path = Path(path) if path is not None else default_survey_rules_path()
    data = read_toml(path, "survey rules")
    unknown_top = set(data) - {"rule", "groups"}
    if unknown_top:
        raise ConfigError(
            f"survey rules '{path}': unknown section(s) {sorted(unknown_top)}; "
            "expected [groups] and [[rule]] tables"
        )
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list) or not raw_rules:
        raise ConfigError(f"survey rules '{path}' holds no [[rule]] tables")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = f"survey rules '{path}', rule {i + 1}"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: not a [[rule]] table")
        unknown = set(raw) - {"channel", "pattern"}
        if unknown or not {"channel", "pattern"} <= set(raw):
            raise ConfigError(
                f"{where}: needs 'channel' and 'pattern' "
                f"(unknown keys: {sorted(unknown) or 'none'})"
            )
        for key in ("channel", "pattern"):
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise ConfigError(f"{where}: '{key}' must be non-empty text, got {raw[key]!r}")
        try:  # compiled by the engine that runs it: Rust regex syntax, not Python's
            pl.select(pl.lit("").str.contains(f"(?i){raw['pattern']}"))
        except pl.exceptions.PolarsError as exc:
            raise ConfigError(f"{where}: bad pattern: {exc}") from exc
        rules.append(SurveyRule(raw["channel"].strip(), raw["pattern"]))
    raw_groups = data.get("groups", {})
    if not isinstance(raw_groups, dict):
        raise ConfigError(f"survey rules '{path}': [groups] must be a table of name = [channels]")
    groups: dict[str, tuple[str, ...]] = {}
    seen: dict[str, str] = {}
    for name, members in raw_groups.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise ConfigError(
                f"survey rules '{path}': group '{name}' must be a list of channel names"
            )
        for m in members:
            if m in seen:
                raise ConfigError(
                    f"survey rules '{path}': channel '{m}' is in groups '{seen[m]}' and '{name}'"
                )
            seen[m] = name
        groups[name] = tuple(members)
    return SurveyRules(tuple(rules), groups, str(path))


def normalise_answer(expr: pl.Expr) -> pl.Expr:
    """Lower-case, unify apostrophes, collapse spaces, strip surrounding punctuation."""
    return (
        expr.str.to_lowercase()
        .str.replace_all("[\u2018\u2019\u00b4`]", "'")
        .str.replace_all(r"\s+", " ")
        .str.replace_all(_EDGE_PUNCT, "")
    )


def rule_number_expr(rules: SurveyRules, text: pl.Expr) -> pl.Expr:
    """1-based number of the first rule matching ``text``; null when none does."""
    chain: Any = None
    for i, rule in enumerate(rules.rules, start=1):
        cond = text.str.contains(f"(?i){rule.pattern}")
        chain = pl.when(cond).then(pl.lit(i)) if chain is None else chain.when(cond).then(pl.lit(i))
    number: pl.Expr = chain.otherwise(pl.lit(None, dtype=pl.Int32)).cast(pl.Int32)
    return number


def rule_channel(rules: SurveyRules, number: pl.Expr) -> pl.Expr:
    """The channel of 1-based rule ``number`` (null stays null)."""
    mapping = {i: r.channel for i, r in enumerate(rules.rules, start=1)}
    return number.replace_strict(mapping, default=None, return_dtype=pl.String)
