"""The survey classifier: TF-IDF and logistic regression from free text to channel, learned
from a labelled set of answers (see :class:`SurveyClassifier`).

The rules file (:mod:`._rules`) and the coding of a surveys table (:mod:`._coding`) are
re-exported here for the callers that import them from this module.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from attribution.exceptions import InputError, NotFittedError
from attribution.inputs._schema import STRING, TableSpec, load
from attribution.inputs._sources import TableLike
from attribution.models._registry import Param
from attribution.surveys._coding import MODES as MODES
from attribution.surveys._coding import CodedAnswers as CodedAnswers
from attribution.surveys._coding import CodedBy as CodedBy
from attribution.surveys._coding import CodingMode as CodingMode
from attribution.surveys._coding import code_answers as code_answers
from attribution.surveys._coding import coverage as coverage
from attribution.surveys._coding import labels_from_surveys as labels_from_surveys
from attribution.surveys._rules import OTHER as OTHER
from attribution.surveys._rules import SurveyRule as SurveyRule
from attribution.surveys._rules import SurveyRules as SurveyRules
from attribution.surveys._rules import default_survey_rules_path as default_survey_rules_path
from attribution.surveys._rules import load_survey_rules as load_survey_rules
from attribution.surveys._rules import normalise_answer as normalise_answer
from attribution.surveys._rules import rule_number_expr as rule_number_expr

__all__ = ["DEFAULT_MIN_PROBA", "LABELS", "SurveyClassifier"]

#: The default probability floor: an answer is coded only when the classifier finds its top
#: channel more likely than all the others together. Below it the guess is noise: on a
#: messy export, ``#VALUE!``, ``0`` and ``por un amigo`` came out at 0.10-0.12 (18 classes)
#: and "saw an ad" LinkedIn at 0.30-0.38, while typos of a labelled answer scored 0.6-0.9.
DEFAULT_MIN_PROBA = 0.5

#: A labelled set of answers: free text and its true channel.
LABELS = TableSpec(
    "survey_labels",
    {"response": STRING, "channel": STRING},
    required=("response", "channel"),
    not_null=("channel",),
)


#: The classifier's parameters: the registry's ``Param``, so that they are checked by the
#: one mechanism every model's parameters go through (:meth:`Param.check`).
PARAMS = (
    Param("C", "float", 10.0, "inverse regularisation strength", low=1e-6, high=1e6),
    Param("cv", "int", 5, "folds of the seeded stratified cross-validation", low=2, high=20),
    Param("seed", "int", 0, "seeds the fold shuffling", low=0, high=2**32 - 1),
    Param(
        "min_proba",
        "float",
        DEFAULT_MIN_PROBA,
        "leave answers below this probability uncoded",
        0.0,
        1.0,
    ),
)


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
        Leave an answer uncoded when the top class probability is below this (default
        :data:`DEFAULT_MIN_PROBA`, 0.5; 0 codes every answer, garbage included).

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
        min_proba: float = DEFAULT_MIN_PROBA,
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
        for param in PARAMS:
            param.check(getattr(self, param.name), owner=type(self).__name__)

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
        self, texts: Sequence[str | None] | pl.Series, *, min_proba: float | None = None
    ) -> tuple[list[str | None], np.ndarray]:
        """Predicted channel and its probability for each text (``None`` for blank text, and
        below ``min_proba``: default the classifier's own; 0 gives every top channel)."""
        self._check_fitted()
        floor = self.min_proba if min_proba is None else min_proba
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
            out[proba < floor] = None
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
