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

import tomllib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from attribution.exceptions import ConfigError, InputError, ModelParameterError, NotFittedError
from attribution.inputs._schema import ROW, STRING, SURVEYS, TableSpec, load
from attribution.inputs._sources import TableLike

OTHER = "other"
CodingMode = Literal["rules_first", "classifier_only"]
CodedBy = Literal["pick_list", "rule", "classifier", "blank", "unmatched"]
MODES: tuple[str, ...] = ("rules_first", "classifier_only")

#: A labelled set of answers: free text and its true channel.
LABELS = TableSpec(
    "survey_labels",
    {"response": STRING, "channel": STRING},
    required=("response", "channel"),
    not_null=("channel",),
)

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
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read survey rules '{path}': {exc}") from exc
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


def _rule_channel(rules: SurveyRules, number: pl.Expr) -> pl.Expr:
    mapping = {i: r.channel for i, r in enumerate(rules.rules, start=1)}
    return number.replace_strict(mapping, default=None, return_dtype=pl.String)


# --------------------------------------------------------------------------------------------
# classifier
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Constraint:
    kind: type
    low: float
    high: float
    text: str


_CONSTRAINTS: dict[str, _Constraint] = {
    "C": _Constraint(float, 1e-6, 1e6, "a float in [1e-06, 1e+06]"),
    "cv": _Constraint(int, 2, 20, "an int in [2, 20]"),
    "seed": _Constraint(int, 0, 2**32 - 1, "an int in [0, 2**32 - 1]"),
    "min_proba": _Constraint(float, 0.0, 1.0, "a float in [0, 1]"),
}


class SurveyClassifier:
    """TF-IDF (word 1-2 grams + character 2-5 grams) and logistic regression over answers.

    Character n-grams make it robust to the typos buyers type (``linkdin``, ``podcst``).
    ``fit`` trains on a labelled table (``response``, ``channel``) and reports its accuracy
    by seeded, stratified k-fold cross-validation; ``predict`` / ``transform`` code new
    answers. Predictions below ``min_proba`` are left uncoded (``None``).

    Parameters
    ----------
    C
        Inverse regularisation strength of the logistic regression.
    cv
        Folds of the seeded stratified cross-validation (at most the largest channel's count).
        A channel with fewer answers than folds is absent from some test folds.
    seed
        Seeds the fold shuffling, so the reported accuracy is reproducible.
    min_proba
        Leave an answer uncoded when the top class probability is below this.

    Attributes
    ----------
    classes_ : list of str
    cv_accuracy_ : float
        Mean accuracy over the folds. ``cv_scores_`` holds each fold's.
    n_labelled_, n_splits_ : int
    pipeline_ : sklearn.pipeline.Pipeline
        The fitted TF-IDF + logistic regression.

    Set by :meth:`fit`; :meth:`predict`, :meth:`predict_proba`, :meth:`transform` and
    :meth:`describe` raise :class:`~attribution.exceptions.NotFittedError` before it.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution import SurveyClassifier
    >>> labels = pl.DataFrame({"response": ["linkedin ad", "saw you on linkedin",
    ...     "linkdin", "a podcast", "podcst", "heard you on a podcast"],
    ...     "channel": ["linkedin"] * 3 + ["podcast"] * 3})
    >>> clf = SurveyClassifier(cv=3).fit(labels)
    >>> clf.predict(["LinkedIn post", "some podcast"])
    ['linkedin', 'podcast']
    """

    def __init__(
        self,
        *,
        C: float = 10.0,  # noqa: N803 - scikit-learn's name for it
        cv: int = 5,
        seed: int = 0,
        min_proba: float = 0.0,
    ) -> None:
        self.C = C
        self.cv = cv
        self.seed = seed
        self.min_proba = min_proba

    # fitted attributes, set by fit
    pipeline_: Any
    classes_: list[str]
    cv_scores_: list[float]
    cv_accuracy_: float
    n_splits_: int
    n_labelled_: int

    def _validate_params(self) -> None:
        for name, rule in _CONSTRAINTS.items():
            value = getattr(self, name)
            kinds = (int, float) if rule.kind is float else (int,)
            ok = isinstance(value, kinds) and not isinstance(value, bool)
            ok = ok and rule.low <= value <= rule.high
            if not ok:
                raise ModelParameterError(
                    f"The '{name}' parameter of SurveyClassifier must be {rule.text}. "
                    f"Got {value!r} instead."
                )

    def _pipeline(self) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import FeatureUnion, Pipeline

        features = FeatureUnion(
            [
                ("words", TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True)),
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True),
                ),
            ]
        )
        model = LogisticRegression(C=float(self.C), solver="newton-cg", max_iter=1000)
        return Pipeline([("tfidf", features), ("logreg", model)])

    def fit(self, labelled: TableLike) -> SurveyClassifier:
        """Train on a labelled table (``response``, ``channel``); cross-validate; return self."""
        from sklearn.model_selection import StratifiedKFold, cross_val_score

        self._validate_params()
        table = load(labelled, LABELS)
        frame = table.frame.with_columns(
            normalise_answer(pl.col("response")).alias("_text"),
            pl.col("channel").str.strip_chars(),
        ).filter(pl.col("_text").fill_null("") != "")
        if frame.height == 0:
            raise InputError(
                "no labelled answers with text",
                table=LABELS.name,
                source=table.source.name,
                column="response",
            )
        counts = frame.get_column("channel").value_counts()
        if counts.height < 2:
            raise InputError(
                "the labelled set needs at least two channels",
                table=LABELS.name,
                source=table.source.name,
                column="channel",
            )
        rare = counts.filter(pl.col("count") < 2).get_column("channel").sort().to_list()
        if rare:
            raise InputError(
                f"{len(rare)} channel(s) have a single labelled answer: {rare[:10]}",
                table=LABELS.name,
                source=table.source.name,
                column="channel",
                hint="cross-validation needs two or more answers per channel; add examples "
                "or drop those rows",
            )
        texts = frame.get_column("_text").to_list()
        labels = frame.get_column("channel").to_numpy()
        n_splits = min(self.cv, int(counts.get_column("count").max()))  # type: ignore[arg-type]
        folds = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=self.seed)
        # Tiny problems: BLAS threads cost far more than they save (seconds instead of ms).
        with threadpool_limits(limits=1), warnings.catch_warnings():
            # a channel with fewer answers than folds is simply absent from some test folds
            warnings.filterwarnings(
                "ignore", message="The least populated class", category=UserWarning
            )
            scores = cross_val_score(self._pipeline(), texts, labels, cv=folds, scoring="accuracy")
            self.pipeline_ = self._pipeline().fit(texts, labels)
        self.classes_ = [str(c) for c in self.pipeline_.classes_]
        self.cv_scores_ = [float(s) for s in scores]
        self.cv_accuracy_ = float(np.mean(scores))
        self.n_splits_ = n_splits
        self.n_labelled_ = frame.height
        return self

    def _check_fitted(self) -> None:
        # vars, not hasattr: a subclass's properties must not count as fitted state
        if "pipeline_" not in vars(self):
            raise NotFittedError(
                "This SurveyClassifier is not fitted yet; call fit(labelled) first."
            )

    def predict_proba(
        self, texts: Sequence[str | None] | pl.Series
    ) -> tuple[list[str | None], np.ndarray]:
        """Predicted channel and its probability for each text (``None`` for blank text)."""
        self._check_fitted()
        series = pl.Series("t", list(texts), dtype=pl.String)
        norm = pl.select(normalise_answer(pl.lit(series))).to_series().fill_null("")
        keep = (norm != "").to_numpy()
        out = np.full(len(series), None, dtype=object)
        proba = np.zeros(len(series))
        if keep.any():
            with threadpool_limits(limits=1):
                p = self.pipeline_.predict_proba(norm.filter(pl.Series(keep)).to_list())
            best = p.argmax(axis=1)
            proba[keep] = p[np.arange(len(best)), best]
            out[keep] = np.asarray(self.classes_, dtype=object)[best]
            out[proba < self.min_proba] = None
        return out.tolist(), proba

    def predict(self, texts: Sequence[str | None] | pl.Series) -> list[str | None]:
        """Predicted channel of each text; ``None`` for blank text or below ``min_proba``."""
        return self.predict_proba(texts)[0]

    def transform(self, surveys: pl.DataFrame) -> pl.DataFrame:
        """Add ``classifier_channel`` and ``classifier_proba`` for the ``response`` column."""
        self._check_fitted()
        channels, proba = self.predict_proba(surveys.get_column("response"))
        return surveys.with_columns(
            pl.Series("classifier_channel", channels, dtype=pl.String),
            pl.Series("classifier_proba", proba, dtype=pl.Float64),
        )

    def describe(self) -> dict[str, Any]:
        """Parameters and cross-validation results, for reports and manifests."""
        self._check_fitted()
        return {
            "model": "tfidf(word 1-2 + char_wb 2-5) + logistic_regression",
            "C": self.C,
            "seed": self.seed,
            "min_proba": self.min_proba,
            "n_labelled": self.n_labelled_,
            "n_splits": self.n_splits_,
            "cv_accuracy": round(self.cv_accuracy_, 4),
            "cv_scores": [round(s, 4) for s in self.cv_scores_],
            "classes": self.classes_,
        }


# --------------------------------------------------------------------------------------------
# coding
# --------------------------------------------------------------------------------------------


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

    Returns
    -------
    CodedAnswers
        ``frame``: the surveys columns, ``pick_list`` (the original ``channel``), ``answer``
        (normalised text), ``channel`` (coded), ``coded_by`` (``pick_list`` / ``rule`` /
        ``classifier`` / ``blank`` / ``unmatched``) and ``rule`` (1-based rule number).
        ``coverage``: counts and shares coded / ``other``.

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
    rule_set = rules if isinstance(rules, SurveyRules) else load_survey_rules(rules)
    table = load(surveys, SURVEYS, columns=columns)
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
        .then(_rule_channel(rule_set, rule_number_expr(rule_set, pick_text)))
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
    frame = frame.with_columns(_rule_channel(rule_set, pl.col("rule")).alias("_text_rule"))

    clf_channel = pl.lit(None, dtype=pl.String)
    if classifier is not None:
        # only the answers the rules left uncoded (all of them in classifier_only mode)
        needs = (pl.col("answer") != "") & pl.col("_text_rule").is_null()
        todo = frame.filter(needs)
        predicted, _ = classifier.predict_proba(todo.get_column("answer"))
        frame = frame.join(
            todo.select(ROW, pl.Series("_clf", predicted, dtype=pl.String)), on=ROW, how="left"
        )
        clf_channel = pl.col("_clf")
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
        c for c in ("contact_id", "account_id", "opportunity_id", "timestamp") if c in frame.columns
    ]
    coded = frame.select(
        ROW, *keys, "response", "pick_list", "answer", "channel", "coded_by", "rule"
    ).sort(ROW)
    return CodedAnswers(coded, coverage(coded, rule_set, classifier, mode))


def coverage(
    coded: pl.DataFrame,
    rules: SurveyRules,
    classifier: SurveyClassifier | None,
    mode: str,
) -> dict[str, Any]:
    """Share of answers coded to a channel and share left ``other``, with the reasons."""
    n = coded.height
    is_other = pl.col("channel") == OTHER
    stats = coded.select(
        is_other.sum().alias("other"),
        (is_other & pl.col("coded_by").is_in(["rule", "pick_list", "classifier"]))
        .sum()
        .alias("dont_know"),
        (pl.col("coded_by") == "blank").sum().alias("blank"),
        (pl.col("coded_by") == "unmatched").sum().alias("unmatched"),
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
