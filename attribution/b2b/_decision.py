"""The decision model of a run: the one model whose credit the economics, the plan check, the
summary and the report decide with, chosen in the open.

In order: the model the user names (``--decision-model`` or ``[run] decision_model``; else a
plan file's ``model``), else the survey benchmark's rank 1 (the model that agrees best with
what buyers say) when surveys are given and the survey has the minimum evidence to choose
(:func:`attribution.surveys._leader.survey_doubt`: at least 30 compared conversions, no tie
at the top, ``p_best`` at least 0.5; below it the choice goes on down this list and says
why), else the lowest truth MAE when a ``truth.json`` of
synthetic data is given, else the default: ``linear`` when the run has it, else ``markov``,
else the run's first model. Linear because, without evidence on which model is right, the
decision should not lean on any: it gives every touch of a journey the same share, has no
parameter and no fit (nothing to overfit on a small run), and a data-driven model such as
Markov or Shapley takes over as soon as surveys or truth say it agrees best.
The choice and its source are written to the run's ``manifest.json``
(``decision_model``, ``decision_model_source``, and ``decision_model_reason``: why the survey
did not choose, or null).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from attribution.exceptions import ModelNotFoundError
from attribution.surveys._leader import MIN_COMPARED_CONVERSIONS, survey_doubt

__all__ = [
    "DEFAULT_DECISION_MODELS",
    "SOURCES",
    "choose_decision_model",
    "decide",
    "decision_note",
]

#: The default decision models, the first the run has wins.
DEFAULT_DECISION_MODELS = ("linear", "markov")
#: ``decision_model_source`` values, and how the summaries say them.
SOURCES = {
    "given": "given",
    "survey agreement": "chosen by survey agreement",
    "truth": "chosen by truth MAE on synthetic data",
    "default": "the default",
}


def choose_decision_model(
    models: Sequence[str],
    *,
    given: str | None = None,
    given_by: str = "decision_model",
    leaderboard: pl.DataFrame | None = None,
    truth: pl.DataFrame | None = None,
) -> tuple[str, str]:
    """``(model, source)``: the decision model among ``models`` (the run's model labels);
    :func:`decide` without the reason.

    >>> choose_decision_model(["shapley", "markov", "linear"])
    ('linear', 'default')
    >>> choose_decision_model(["linear"], truth=pl.DataFrame(
    ...     {"model": ["linear"], "truth_mae": [0.1]}))
    ('linear', 'truth')
    """
    model, source, _ = decide(
        models, given=given, given_by=given_by, leaderboard=leaderboard, truth=truth
    )
    return model, source


def decide(
    models: Sequence[str],
    *,
    given: str | None = None,
    given_by: str = "decision_model",
    leaderboard: pl.DataFrame | None = None,
    truth: pl.DataFrame | None = None,
    survey_unusable: str | None = None,
) -> tuple[str, str, str | None]:
    """``(model, source, reason)``: the decision model among ``models`` (the run's model
    labels), its source, and why the survey did not choose when a ``leaderboard`` was given
    and its rank 1 lacks the minimum evidence (:func:`survey_doubt`; else ``None``).

    ``given`` must be one of ``models`` (else :class:`ModelNotFoundError` naming
    ``given_by``); ``leaderboard`` is a survey benchmark's (``rank``, ``model``,
    ``agreement``, ``conversions``, ``p_best``), ``truth`` a :func:`score_against_truth`
    frame (``model``, ``truth_mae``). ``survey_unusable``: surveys were given but no
    conversion could be compared (:attr:`SurveyBenchmark.unusable`, e.g. ``"0 of 413
    answers joined a conversion"``): the survey does not choose and the reason says so.

    >>> board = pl.DataFrame({"rank": [1, 2], "model": ["markov", "linear"],
    ...     "conversions": [1, 1], "agreement": [1.0, 0.0], "p_best": [1.0, 0.0]})
    >>> decide(["markov", "linear"], leaderboard=board)[2]
    'the survey is too small to choose: 1 compared conversion, at least 30 needed'
    >>> decide(["markov", "linear"], survey_unusable="0 of 413 answers joined a conversion")
    ('linear', 'default', 'the survey is unusable: 0 of 413 answers joined a conversion')
    """
    names = list(models)
    if not names:
        raise ModelNotFoundError("the run has no model to decide with")
    if given is not None:
        if given not in names:
            raise ModelNotFoundError(
                f"{given_by}: '{given}' is not a model of this run; it has {names}"
            )
        return given, "given", None
    reason = None
    if survey_unusable:
        reason = f"the survey is unusable: {survey_unusable}"
    elif leaderboard is not None and {"rank", "model", "agreement"} <= set(leaderboard.columns):
        board = leaderboard.filter(
            pl.col("model").is_in(names) & pl.col("agreement").is_not_nan()
        ).sort("rank")
        if "conversions" not in board.columns:  # a hand-made board: judged on its top alone
            board = board.with_columns(pl.lit(MIN_COMPARED_CONVERSIONS).alias("conversions"))
        reason = survey_doubt(board)
        if board.height and reason is None:
            return str(board.get_column("model")[0]), "survey agreement", None
    model, source = _without_survey(names, truth)
    return model, source, reason


def _without_survey(names: list[str], truth: pl.DataFrame | None) -> tuple[str, str]:
    """The decision model by truth MAE, else the default."""
    if truth is not None and {"model", "truth_mae"} <= set(truth.columns):
        scored = truth.filter(
            pl.col("model").is_in(names) & pl.col("truth_mae").is_not_null()
        ).filter(pl.col("truth_mae").is_not_nan())
        if scored.height:
            return str(scored.sort("truth_mae", "model").get_column("model")[0]), "truth"
    for model in DEFAULT_DECISION_MODELS:
        if model in names:
            return model, "default"
    return names[0], "default"


def decision_note(model: str, source: str | None, reason: object = None) -> str:
    """``"shapley, chosen by survey agreement"``: how a summary names the decision model;
    with the manifest's ``decision_model_reason``, why the survey did not choose:
    ``"linear, the default (the survey cannot choose: ...)"``."""
    note = f"{model}, {SOURCES.get(source or 'default', source)}" if source else model
    return f"{note} ({reason})" if isinstance(reason, str) and reason else note
