"""Self-reported surveys: coding free text into channels, benchmarking models against them.

Coding "How did you hear about us?" answers (``_coding``: the pick-list first, then the rules
file of ``_rules`` and/or the :class:`SurveyClassifier` of ``_classifier``); the benchmark
(``_benchmark``: :func:`compare_surveys`), built from joining answers to conversions
(``_join``), distances and the bootstrap (``_metrics``), per-conversion scores and the
leaderboard (``_scores``), the dark funnel and the hybrid (``_dark_funnel``), truth scoring
(``_truth``) and the result with its files (``_result``).
"""

from attribution.surveys._benchmark import (
    JOIN_KEYS,
    METRICS,
    SurveyBenchmark,
    bootstrap_means,
    compare_surveys,
    jensen_shannon,
    join_answers,
    score_against_truth,
    spearman,
    total_variation,
)
from attribution.surveys._classifier import SurveyClassifier
from attribution.surveys._coding import CodedAnswers, code_answers, labels_from_surveys
from attribution.surveys._rules import (
    SurveyRule,
    SurveyRules,
    default_survey_rules_path,
    load_survey_rules,
    normalise_answer,
)

__all__ = [
    "JOIN_KEYS",
    "METRICS",
    "CodedAnswers",
    "SurveyBenchmark",
    "SurveyClassifier",
    "SurveyRule",
    "SurveyRules",
    "bootstrap_means",
    "code_answers",
    "compare_surveys",
    "default_survey_rules_path",
    "jensen_shannon",
    "join_answers",
    "labels_from_surveys",
    "load_survey_rules",
    "normalise_answer",
    "score_against_truth",
    "spearman",
    "total_variation",
]
