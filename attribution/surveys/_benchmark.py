"""Self-reported attribution (SRA) benchmark: models against "How did you hear about us?".

:func:`compare_surveys` codes the answers (:mod:`attribution.surveys._coding`), joins
each to its conversion and scores every model of an :class:`AttributionResult` against them;
:func:`score_against_truth` scores the models against known incremental shares (``truth.json``
of the synthetic data), the second yardstick.

Definitions (all on the *compared* conversions: attributed conversions with at least one
answer naming a tracked channel; each such answer weighs ``1 / k`` when a conversion has
``k`` of them, so every conversion counts once):

- channels are compared after the rules file's ``[groups]`` roll-up (``search`` =
  ``google_ads`` + ``organic_search`` by default), on both sides; ``other`` is left out;
- SRA share of a channel: weighted answers naming it / compared conversions; model share:
  the model's per-conversion credit on it summed over the same conversions / their total;
- total variation distance ``TVD = 1/2 sum |p - q|`` (0 = same shares, 1 = disjoint);
- Jensen-Shannon divergence in bits (log base 2, so it lies in [0, 1]):
  ``JSD = 1/2 KL(p || m) + 1/2 KL(q || m)``, ``m = (p + q) / 2``, ``0 log 0 = 0``;
- Spearman rank correlation of the two share vectors over the tracked channels (average
  ranks for ties; undefined, NaN, when either side is constant);
- top-1 agreement: share of conversions whose reported channel is the model's top-credited
  channel for that conversion (a tie of ``t`` channels for the top scores ``1 / t``);
- mean credit on the reported channel: the model's credit on it, averaged over conversions;
- confidence intervals: percentile bootstrap over conversions (multinomial weights, seeded),
  the same resamples for every model, so the ranks are compared on equal draws; ``p_best``
  is the share of resamples in which the model has the highest agreement (ties split);
- dark-funnel rate of a reported channel: share of the answers naming it (joined to a
  conversion) whose journey has no touch of it; channels the touch log never records have 1;
- hybrid: for each conversion whose answer names a dark channel (not tracked, not ``other``),
  ``hybrid_dark_share`` (default 1, all) of the model's credit for that conversion moves to
  the named channel; every other conversion keeps the model's credit, so totals are kept.
  Moving all of it is how practitioners report a declared source ("the podcast brought this
  deal"); the touches logged afterwards are treated as the follow-up it caused.

The pieces: joining answers to conversions (:mod:`._join`), the distances and the bootstrap
(:mod:`._metrics`), per-conversion scores, shares and the leaderboard (:mod:`._scores`), the
dark funnel and the hybrid (:mod:`._dark_funnel`), truth scoring (:mod:`._truth`) and the
result with its files (:mod:`._result`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._result import AttributionResult
from attribution.exceptions import InputError, ModelParameterError
from attribution.inputs._schema import CONTACTS, ROW, load
from attribution.inputs._sources import TableLike
from attribution.surveys._classifier import SurveyClassifier
from attribution.surveys._coding import CodingMode, code_answers
from attribution.surveys._dark_funnel import dark_funnel_table, hybrid_table
from attribution.surveys._emails import contacts_from_emails, email_contacts
from attribution.surveys._join import (
    DEFAULT_POST_PURCHASE_DAYS,
    JOIN_KEYS,
    accounts_from_contacts,
    check_post_purchase_days,
    drop_duplicate_answers,
    empty_reason,
    join_answers,
    join_counts,
)
from attribution.surveys._metrics import bootstrap_means, jensen_shannon, spearman, total_variation
from attribution.surveys._result import METRICS, SurveyBenchmark
from attribution.surveys._rules import OTHER, SurveyRules, load_survey_rules
from attribution.surveys._scores import (
    compare_shares,
    conversion_credit,
    leaderboard_table,
    per_conversion_scores,
    result_models,
)
from attribution.surveys._truth import score_against_truth

__all__ = [
    "JOIN_KEYS",
    "METRICS",
    "SurveyBenchmark",
    "bootstrap_means",
    "compare_surveys",
    "jensen_shannon",
    "join_answers",
    "score_against_truth",
    "spearman",
    "total_variation",
]


def compare_surveys(
    result: AttributionResult,
    surveys: TableLike,
    *,
    rules: SurveyRules | str | Path | None = None,
    classifier: SurveyClassifier | TableLike | None = None,
    coding: CodingMode = "rules_first",
    truth: str | Path | Mapping[str, Any] | None = None,
    hybrid_dark_share: float = 1.0,
    bootstrap: int = 1000,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    formats: Mapping[str, Sequence[str]] | None = None,
    min_proba: float | None = None,
    contacts: TableLike | None = None,
    post_purchase_days: int = DEFAULT_POST_PURCHASE_DAYS,
    touches: TableLike | None = None,
    table_columns: Mapping[str, Mapping[str, str]] | None = None,
) -> SurveyBenchmark:
    """Score every model of ``result`` against self-reported attribution answers.

    Parameters
    ----------
    result
        From :func:`attribute` (per-conversion credit is needed; a path-table result has none).
    surveys
        The surveys table: ``response`` and/or pick-list ``channel``, with ``opportunity_id``,
        ``contact_id`` and/or ``account_id`` (path, DataFrame, LazyFrame or Arrow table).
    rules
        Survey rules file or :class:`SurveyRules`; ``None`` = the shipped defaults.
    classifier
        A fitted :class:`SurveyClassifier`, or a labelled table (``response``, ``channel``) to
        fit one on (seeded with ``seed``). ``None``: rules only.
    coding
        ``"rules_first"`` (rules, then the classifier for unmatched answers) or
        ``"classifier_only"``. The pick-list value always takes precedence over free text.
    truth
        ``truth.json`` (path or mapping) to add :func:`score_against_truth` to the leaderboard.
    hybrid_dark_share
        Share of a conversion's credit moved to the dark channel its answer names (hybrid).
    bootstrap
        Bootstrap resamples of the conversions for the CIs (0: no CIs).
    seed
        Seeds the bootstrap (and the classifier's folds when it is fitted here).
    columns
        Our column name -> the surveys table's (``[columns.surveys]``).
    formats
        Our timestamp column -> strftime patterns (``[formats]``; ``formats_for("surveys",
        ...)`` of a run's ``timestamp_formats``).
    min_proba
        The classifier's probability floor (``RunOptions.survey_min_proba``,
        ``--survey-min-proba``); ``None``: the classifier's own (default 0.5). Answers it
        codes less surely stay ``other`` (unmatched, counted as ``below_min_proba``).
    contacts
        The run's contacts table (``contact_id``, ``account_id``; the run's ``contacts``). At
        account level, an answer keyed by a contact alone joins its contact's account
        (counted: ``answers_account_from_contact``, ``answers_contact_without_account``).
    touches
        The run's touch log: read for ``contact_id`` and ``email`` only, when the answers
        are keyed by e-mail and ``contacts`` carries no ``email`` column.
    table_columns
        The run's column mappings by table (``{"contacts": {...}, "touches": {...}}``),
        for reading ``contact_id`` and ``email`` from ``contacts`` or ``touches``.
    post_purchase_days
        An answer at most this many days after one of its key's conversions is about that
        conversion (``RunOptions.survey_post_purchase_days``, default 30); else it goes to the
        next conversion. ``join_rule`` in :attr:`SurveyBenchmark.coded` says which rule
        joined each answer (:func:`attribution.surveys._join.join_answers`).

    Examples
    --------
    >>> import polars as pl, attribution
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1", "c2"],
    ...     "channel": ["linkedin", "email", "g2_capterra"],
    ...     "timestamp": ["2025-01-01", "2025-01-05", "2025-01-02"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
    ...     "timestamp": ["2025-01-10"] * 2})
    >>> res = attribution.attribute(touches, stages, models=["first_touch", "last_touch"])
    >>> answers = pl.DataFrame({"contact_id": ["c1", "c2"], "response": ["LinkedIn", "G2"]})
    >>> bench = attribution.compare_surveys(res, answers, bootstrap=200)
    >>> bench.leaderboard.select("model", "agreement").rows()
    [('first_touch', 1.0), ('last_touch', 0.5)]
    """
    if not isinstance(bootstrap, int) or isinstance(bootstrap, bool) or bootstrap < 0:
        raise ModelParameterError(
            f"The 'bootstrap' parameter of compare_surveys must be an int >= 0. "
            f"Got {bootstrap!r} instead."
        )
    if not isinstance(hybrid_dark_share, int | float) or not 0 <= hybrid_dark_share <= 1:
        raise ModelParameterError(
            f"The 'hybrid_dark_share' parameter of compare_surveys must be a float in [0, 1]. "
            f"Got {hybrid_dark_share!r} instead."
        )
    check_post_purchase_days(post_purchase_days, "post_purchase_days")
    if not isinstance(result, AttributionResult):
        raise InputError(f"expected an AttributionResult, got {type(result).__name__}")
    if result.conversions.width == 0 or "conversion_id" not in result.conversions.columns:
        raise InputError(
            "the result has no per-conversion credit",
            hint="a path-table result (attribute_paths) cannot be joined to survey answers; "
            "use attribute() with the touch log",
        )
    rule_set = rules if isinstance(rules, SurveyRules) else load_survey_rules(rules)
    if classifier is not None and not isinstance(classifier, SurveyClassifier):
        classifier = SurveyClassifier(seed=seed).fit(classifier)

    touch_credit = result.touch_credit
    models = result_models(result)
    tracked_raw = set(touch_credit.get_column("channel").unique().to_list()) | set(
        result.channel_credit.get_column("channel").unique().to_list()
    )
    group_of = rule_set.compare_map()
    tracked = {group_of.get(c, c) for c in tracked_raw} - {OTHER}

    coded_answers = code_answers(
        surveys,
        rules=rule_set,
        classifier=classifier,
        mode=coding,
        min_proba=min_proba,
        known_channels=sorted(tracked_raw),
        columns=columns,
        formats=formats,
    )
    answers, duplicates = drop_duplicate_answers(coded_answers.frame)
    # answers keyed by e-mail: the contact carrying it (contacts table, else the touches)
    emails = (
        email_contacts({"contacts": contacts, "touches": touches}, table_columns)
        if "email" in answers.columns
        else None
    )
    answers, email_counts = contacts_from_emails(answers, emails)
    contact_frame = None
    conversion_ids = result.conversions.columns
    if contacts is not None and "account_id" in conversion_ids and "contact_id" not in (
        conversion_ids
    ):  # account level: the answers' contacts are mapped to accounts
        contact_frame = (
            contacts if isinstance(contacts, pl.DataFrame) and ROW in contacts.columns
            else load(contacts, CONTACTS, columns=(table_columns or {}).get("contacts")).frame
        )
    answers, contact_accounts = accounts_from_contacts(answers, result.conversions, contact_frame)
    coded = (
        join_answers(answers, result.conversions, post_purchase_days=post_purchase_days)
        .with_columns(
            pl.col("channel").replace(group_of).alias("compare_channel"),
        )
        .with_columns(pl.col("compare_channel").is_in(sorted(tracked)).alias("tracked"))
    )
    last = ("compare_channel", "tracked", "conversion_id", "joined_on", "join_rule", "id_15")
    coded = coded.select(*[c for c in coded.columns if c not in last], *last)

    conversions = result.conversions.select(
        "conversion_id",
        (pl.col("n_touches") if "n_touches" in result.conversions.columns else pl.lit(1)).alias(
            "n_touches"
        ),
    )
    joined = coded.filter(pl.col("conversion_id").is_not_null()).join(
        conversions, on="conversion_id", how="left"
    )
    # compared: attributed conversions, answers naming a tracked channel, 1/k weight each
    compared = (
        joined.filter(pl.col("tracked") & (pl.col("n_touches") > 0))
        .select("conversion_id", "compare_channel")
        .with_columns((1.0 / pl.len().over("conversion_id")).alias("w"))
    )
    conv_ids = compared.get_column("conversion_id").unique().sort()
    credit = conversion_credit(touch_credit, group_of, conv_ids)

    top1, mean_credit = per_conversion_scores(compared, credit, models, conv_ids)
    counts = join_counts(coded, joined, result.conversions, compared) | contact_accounts
    counts |= email_counts
    counts["duplicate_answers_dropped"] = duplicates
    distances, shares = compare_shares(compared, credit, models, joined, tracked, conv_ids.len())
    metrics = pl.DataFrame(
        {
            "model": models,
            "conversions": [conv_ids.len()] * len(models),
            "top1_agreement": top1.mean(axis=0) if conv_ids.len() else [math.nan] * len(models),
            "mean_credit_reported": (
                mean_credit.mean(axis=0) if conv_ids.len() else [math.nan] * len(models)
            ),
        },
        schema_overrides={"top1_agreement": pl.Float64, "mean_credit_reported": pl.Float64},
    ).join(distances, on="model", how="left", maintain_order="left")

    truth_frame = None
    if truth is not None:
        truth_frame = score_against_truth(result, truth)
        metrics = metrics.join(
            truth_frame.drop("channels"), on="model", how="left", maintain_order="left"
        )
    leaderboard = leaderboard_table(metrics, top1, mean_credit, bootstrap=bootstrap, seed=seed)
    if conv_ids.len() == 0:  # nothing compared: no model is ranked (no rows of NaN ranks)
        leaderboard = leaderboard.clear()
    dark_funnel = dark_funnel_table(joined, touch_credit, group_of, tracked)
    hybrid = hybrid_table(joined, touch_credit, tracked, hybrid_dark_share)
    parameters = {
        "rules": rule_set.source,
        "groups": {k: list(v) for k, v in rule_set.groups.items()},
        "coding": coding if classifier is not None else "rules_only",
        "min_proba": coded_answers.coverage["min_proba"],
        "bootstrap": bootstrap,
        "seed": seed,
        "hybrid_dark_share": float(hybrid_dark_share),
        "post_purchase_days": post_purchase_days,
        "contacts": contact_frame is not None,  # contact -> account at account level
        "models": models,
        "tracked_channels": sorted(tracked),
    }
    return SurveyBenchmark(
        coded=coded,
        shares=shares,
        metrics=metrics,
        leaderboard=leaderboard,
        dark_funnel=dark_funnel,
        hybrid=hybrid,
        coverage=coded_answers.coverage,
        counts=counts,
        parameters=parameters,
        truth=truth_frame,
        empty=(
            empty_reason(
                coded,
                joined,
                result.conversions,
                contact_accounts,
                with_contacts=contact_frame is not None,
            )
            if conv_ids.len() == 0
            else None
        ),
    )
