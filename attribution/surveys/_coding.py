"""Coding "How did you hear about us?" answers to channels.

Two coders, applied in a fixed order of precedence per answer:

1. the **pick-list** value (``channel`` column of the surveys table), when it names a channel:
   the buyer coded the answer themselves. A pick-list value of ``other`` does not hide a free
   text that names a channel ("other" + "ChatGPT suggested you" is coded ``ai_assistant``);
2. the **free text** (``response``), coded by ordered regex rules from a TOML file
   (:func:`load_survey_rules`, shipped defaults in ``attribution/data/survey_rules.toml``)
   and/or by a :class:`SurveyClassifier` (TF-IDF + logistic regression) trained on a labelled
   CSV. ``mode="rules_first"`` codes with the rules and sends only the answers no rule matched
   to the classifier; ``mode="classifier_only"`` ignores the rules.

Whatever is left is ``other``, and :func:`code_answers` says why (blank, unmatched, or an
explicit "don't remember"), so the coverage (share coded, share ``other``) is always known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from attribution.exceptions import ConfigError, InputError
from attribution.inputs._schema import ROW, SURVEYS, load
from attribution.inputs._sources import TableLike
from attribution.surveys._emails import SURVEYS_WITH_EMAIL
from attribution.surveys._named import channels_named
from attribution.surveys._rules import (
    OTHER,
    SurveyRules,
    load_survey_rules,
    normalise_answer,
    rule_channel,
    rule_number_expr,
)

if TYPE_CHECKING:
    from attribution.surveys._classifier import SurveyClassifier

__all__ = [
    "MODES",
    "CodedAnswers",
    "CodedBy",
    "CodingMode",
    "code_answers",
    "coverage",
    "labels_from_surveys",
]

CodingMode = Literal["rules_first", "classifier_only"]
CodedBy = Literal["pick_list", "rule", "classifier", "blank", "unmatched"]
MODES: tuple[str, ...] = ("rules_first", "classifier_only")


@dataclass(frozen=True)
class CodedAnswers:
    """Answers with their channel, and the coverage of the coding."""

    frame: pl.DataFrame
    coverage: dict[str, Any]


def code_answers(
    surveys: TableLike,
    *,
    rules: SurveyRules | str | Path | None = None,
    classifier: SurveyClassifier | None = None,
    mode: CodingMode = "rules_first",
    known_channels: Sequence[str] = (),
    columns: Mapping[str, str] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
    min_proba: float | None = None,
) -> CodedAnswers:
    """Code each survey answer to a channel.

    Parameters
    ----------
    surveys
        The surveys table (``response`` and/or pick-list ``channel``, plus keys).
    rules
        A :class:`SurveyRules`, a rules file, or ``None`` for the shipped defaults.
    classifier
        A fitted :class:`SurveyClassifier`; ``None`` codes with the rules only.
    mode
        ``"rules_first"``: rules, then the classifier for answers no rule matched.
        ``"classifier_only"``: the classifier alone codes the free text.
    known_channels
        Extra channel names a pick-list value may hold as is (e.g. the touch log's channels).
        Other pick-list labels ("Search engine") are coded with the rules.
    columns
        Our column name -> the surveys table's (``[columns.surveys]``).
    formats
        Our timestamp column -> strftime patterns (``[formats]``, as ``load`` takes them).
    min_proba
        The classifier's probability floor (default: the classifier's own, 0.5 unless set):
        an answer it codes less surely stays ``other`` (``unmatched``), counted in the
        coverage as ``below_min_proba``.

    Returns
    -------
    CodedAnswers
        ``frame``: the surveys columns, ``pick_list`` (the original ``channel``), ``answer``
        (normalised text), ``channel`` (coded), ``coded_by`` (``pick_list`` / ``rule`` /
        ``classifier`` / ``blank`` / ``unmatched``), ``rule`` (1-based rule number),
        ``classifier_channel`` and ``classifier_proba`` (the classifier's top channel and its
        probability for the answers sent to it, coded or left below the floor; null for the
        others) and ``channels_named`` (every channel the answer names, its own first:
        :mod:`attribution.surveys._named`). ``coverage``: counts and shares coded /
        ``other``, ``several_channels`` (answers naming more than one).

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.surveys import code_answers
    >>> s = pl.DataFrame({"contact_id": ["c1", "c2", "c3"],
    ...                   "response": ["Heard you on a podcst", "no idea", "asdf"]})
    >>> code_answers(s).frame.get_column("channel").to_list()
    ['podcast', 'other', 'other']
    """
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {list(MODES)}; got {mode!r}")
    if mode == "classifier_only" and classifier is None:
        raise ConfigError("mode='classifier_only' needs a fitted SurveyClassifier")
    if classifier is not None:
        classifier._check_fitted()
    floor = classifier.min_proba if classifier is not None and min_proba is None else min_proba
    if floor is not None and (
        not isinstance(floor, int | float) or isinstance(floor, bool) or not 0 <= floor <= 1
    ):
        raise ConfigError(f"survey_min_proba must be a number in [0, 1]; got {floor!r}")
    rule_set = rules if isinstance(rules, SurveyRules) else load_survey_rules(rules)
    table = load(surveys, SURVEYS_WITH_EMAIL, columns=columns, formats=formats)
    frame = table.frame
    if "channel" in frame.columns:
        frame = frame.rename({"channel": "pick_list"})
    for col in ("response", "pick_list"):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(col))

    known = sorted(rule_set.channels | set(known_channels))
    pick = pl.col("pick_list").str.strip_chars().str.to_lowercase().str.replace_all(r"[\s\-]+", "_")
    pick_text = normalise_answer(pl.col("pick_list"))
    frame = frame.with_columns(
        normalise_answer(pl.col("response")).fill_null("").alias("answer"),
        pl.when(pick.is_in(known))
        .then(pick)
        .when(pick_text.fill_null("") != "")
        .then(rule_channel(rule_set, rule_number_expr(rule_set, pick_text)))
        .alias("_pick"),
    )
    if mode == "rules_first":
        # blank answers are not coded by rules: they are counted as blank
        frame = frame.with_columns(
            pl.when(pl.col("answer") != "")
            .then(rule_number_expr(rule_set, pl.col("answer")))
            .alias("rule")
        )
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int32).alias("rule"))
    frame = frame.with_columns(rule_channel(rule_set, pl.col("rule")).alias("_text_rule"))

    clf_channel = pl.lit(None, dtype=pl.String)
    if classifier is not None:
        # only the answers the rules left uncoded (all of them in classifier_only mode)
        needs = (pl.col("answer") != "") & pl.col("_text_rule").is_null()
        todo = frame.filter(needs)
        guess, proba = classifier.predict_proba(todo.get_column("answer"), min_proba=0.0)
        frame = frame.join(
            todo.select(
                ROW,
                pl.Series("classifier_channel", guess, dtype=pl.String),
                pl.Series("classifier_proba", proba, dtype=pl.Float64),
            ),
            on=ROW,
            how="left",
        )
        # under the floor the guess stays a guess: the answer is unmatched, counted
        clf_channel = pl.when(pl.col("classifier_proba") >= floor).then(
            pl.col("classifier_channel")
        )
    else:
        frame = frame.with_columns(
            pl.lit(None, dtype=pl.String).alias("classifier_channel"),
            pl.lit(None, dtype=pl.Float64).alias("classifier_proba"),
        )
    text_channel = pl.coalesce(pl.col("_text_rule"), clf_channel)
    text_by = (
        pl.when(pl.col("_text_rule").is_not_null())
        .then(pl.lit("rule"))
        .otherwise(pl.lit("classifier"))
    )
    specific_pick = pl.col("_pick").is_not_null() & (pl.col("_pick") != OTHER)
    use_text = text_channel.is_not_null() & ((text_channel != OTHER) | pl.col("_pick").is_null())
    frame = frame.with_columns(
        pl.when(specific_pick)
        .then(pl.col("_pick"))
        .when(use_text)
        .then(text_channel)
        .otherwise(pl.lit(OTHER))
        .alias("channel"),
        pl.when(specific_pick)
        .then(pl.lit("pick_list"))
        .when(use_text)
        .then(text_by)
        .when(pl.col("_pick") == OTHER)
        .then(pl.lit("pick_list"))
        .when(pl.col("answer") == "")
        .then(pl.lit("blank"))
        .otherwise(pl.lit("unmatched"))
        .alias("coded_by"),
    ).with_columns(pl.when(pl.col("coded_by") == "rule").then(pl.col("rule")).alias("rule"))
    keys = [
        c for c in ("contact_id", "account_id", "opportunity_id", "email", "timestamp")
        if c in frame.columns
    ]
    coded = frame.select(
        ROW, *keys, "response", "pick_list", "answer", "channel", "coded_by", "rule",
        "classifier_channel", "classifier_proba",
    ).sort(ROW)  # fmt: skip
    coded = coded.with_columns(channels_named(coded, rule_set))
    cover = coverage(coded, rule_set, classifier, mode, floor)
    cover["truncated"] = dict(table.truncated.get("response") or {}) or None
    return CodedAnswers(coded, cover)


def coverage(
    coded: pl.DataFrame,
    rules: SurveyRules,
    classifier: SurveyClassifier | None,
    mode: str,
    min_proba: float | None = None,
) -> dict[str, Any]:
    """Share of answers coded to a channel and share left ``other``, with the reasons
    (``below_min_proba``: the unmatched answers the classifier scored under its floor)."""
    n = coded.height
    is_other = pl.col("channel") == OTHER
    stats = coded.select(
        is_other.sum().alias("other"),
        (is_other & pl.col("coded_by").is_in(["rule", "pick_list", "classifier"]))
        .sum()
        .alias("dont_know"),
        (pl.col("coded_by") == "blank").sum().alias("blank"),
        (pl.col("coded_by") == "unmatched").sum().alias("unmatched"),
        (
            (pl.col("coded_by") == "unmatched")
            & pl.col("classifier_proba").is_not_null()
            & pl.col("classifier_channel").is_not_null()
        )
        .sum()
        .alias("below_min_proba"),
        (pl.col("channels_named").list.len() > 1).sum().alias("several_channels"),
        *[
            ((pl.col("coded_by") == s) & ~is_other).sum().alias(s)
            for s in ("pick_list", "rule", "classifier")
        ],
    ).row(0, named=True)
    other = int(stats["other"])
    share = (lambda k: round(k / n, 4)) if n else (lambda k: 0.0)
    return {
        "answers": n,
        "coded": n - other,
        "coded_share": share(n - other),
        "other": other,
        "other_share": share(other),
        "other_reasons": {k: int(stats[k]) for k in ("dont_know", "blank", "unmatched")},
        "coded_by": {k: int(stats[k]) for k in ("pick_list", "rule", "classifier")},
        "mode": mode if classifier is not None else "rules_only",
        "rules": rules.source,
        "classifier": classifier.describe() if classifier is not None else None,
        "min_proba": float(min_proba) if classifier is not None and min_proba is not None
        else None,
        "below_min_proba": int(stats["below_min_proba"]),
        "several_channels": int(stats["several_channels"]),
    }


def labels_from_surveys(surveys: TableLike) -> pl.DataFrame:
    """A labelled set from your own answers: rows holding both free text and a pick-list value.

    Each distinct (normalised text, channel) pair is kept once, with its first spelling, so
    case and punctuation variants do not inflate the cross-validated accuracy.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.surveys import labels_from_surveys
    >>> s = pl.DataFrame({"contact_id": ["a", "b", "c"], "response": ["G2", "g2.", None],
    ...                   "channel": ["g2_capterra", "g2_capterra", "podcast"]})
    >>> labels_from_surveys(s).rows()
    [('G2', 'g2_capterra')]
    """
    frame = load(surveys, SURVEYS).frame
    if not {"response", "channel"} <= set(frame.columns):
        raise InputError(
            "a labelled set needs both 'response' and the pick-list 'channel'",
            table="surveys",
            column="response" if "response" not in frame.columns else "channel",
        )
    return (
        frame.with_columns(normalise_answer(pl.col("response")).alias("_text"))
        .filter(pl.col("channel").is_not_null() & (pl.col("_text").fill_null("") != ""))
        .sort(ROW)
        .unique(subset=["_text", "channel"], keep="first", maintain_order=True)
        .select("response", "channel")
    )
