"""Self-reported attribution (SRA) benchmark: models against "How did you hear about us?".

:func:`compare_surveys` codes the answers (:mod:`attribution.surveys._classifier`), joins
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
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from attribution.engine._files import write_json_atomic
from attribution.engine._memory import AttributionResult
from attribution.exceptions import ConfigError, InputError, ModelParameterError
from attribution.inputs._schema import ROW
from attribution.inputs._sources import TableLike
from attribution.surveys._classifier import (
    OTHER,
    CodingMode,
    SurveyClassifier,
    SurveyRules,
    code_answers,
    load_survey_rules,
)

JOIN_KEYS: tuple[str, ...] = ("opportunity_id", "contact_id", "account_id")
_TIE = 1e-9
#: Metrics of the tidy long table, in order.
METRICS: tuple[str, ...] = (
    "top1_agreement",
    "mean_credit_reported",
    "p_best",
    "tvd",
    "jsd",
    "spearman",
    "truth_mae",
    "truth_max_error",
    "truth_spearman",
)


# --------------------------------------------------------------------------------------------
# distances between share vectors
# --------------------------------------------------------------------------------------------


def total_variation(p: np.ndarray, q: np.ndarray) -> float:
    """``1/2 sum |p - q|`` of two distributions over the same channels.

    >>> total_variation(np.array([0.5, 0.5, 0.0]), np.array([0.0, 0.5, 0.5]))
    0.5
    """
    return float(0.5 * np.abs(np.asarray(p, float) - np.asarray(q, float)).sum())


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon divergence in bits (base 2): 0 for equal, 1 for disjoint distributions.

    >>> jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    1.0
    """
    p, q = np.asarray(p, float), np.asarray(q, float)
    m = 0.5 * (p + q)

    def kl(a: np.ndarray) -> float:
        nz = a > 0
        return float((a[nz] * np.log2(a[nz] / m[nz])).sum())

    return 0.5 * kl(p) + 0.5 * kl(q)


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when a side is constant.

    >>> spearman(np.array([0.1, 0.2, 0.3]), np.array([0.3, 0.5, 0.9]))
    1.0
    """
    from scipy.stats import rankdata

    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    rx, ry = rankdata(x) - (x.size + 1) / 2, rankdata(y) - (y.size + 1) / 2
    return float((rx * ry).sum() / math.sqrt((rx * rx).sum() * (ry * ry).sum()))


def bootstrap_means(
    scores: np.ndarray, *, resamples: int, seed: int, block: int = 4_000_000
) -> np.ndarray:
    """Means of ``scores`` (conversions x models) over bootstrap resamples of the conversions.

    Each resample draws multinomial counts over the ``n`` conversions (resampling with
    replacement) and takes ``counts @ scores / n``, in blocks of resamples so memory stays
    under about ``block`` weights whatever ``n``. Returns ``resamples x models``.

    The product is an ``einsum``, not ``@``: a BLAS matrix product may sum in a different
    order for a different number of rows (seen: the last bit changed with ``block``), and the
    result must not depend on how the resamples are blocked.
    """
    n = scores.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, scores.shape[1]))
    if n == 0:
        out.fill(np.nan)
        return out
    step = max(1, block // n)
    pvals = np.full(n, 1.0 / n)
    for start in range(0, resamples, step):
        size = min(step, resamples - start)
        counts = rng.multinomial(n, pvals, size=size)
        out[start : start + size] = np.einsum("rn,nm->rm", counts, scores) / n
    return out


# --------------------------------------------------------------------------------------------
# the result object
# --------------------------------------------------------------------------------------------


@dataclass
class SurveyBenchmark:
    """What :func:`compare_surveys` returns.

    Attributes
    ----------
    coded : pl.DataFrame
        One row per answer: keys, ``response``, ``pick_list``, ``channel`` (coded),
        ``coded_by``, ``rule``, ``compare_channel`` (after the groups), ``tracked``,
        ``conversion_id`` (null when the answer has no conversion) and ``joined_on``.
    shares : pl.DataFrame
        Channel shares side by side: ``channel``, ``tracked``, ``answers``, ``sra_share``
        (compared conversions, tracked channels), ``sra_share_incl_dark`` (every joined answer
        not ``other``), then one column per model (its share on the compared conversions).
    metrics : pl.DataFrame
        One row per model: ``conversions``, ``top1_agreement``, ``mean_credit_reported``,
        ``tvd``, ``jsd``, ``spearman`` and, with a truth, ``truth_mae``, ``truth_max_error``,
        ``truth_spearman``.
    leaderboard : pl.DataFrame
        Models ranked by top-1 agreement with bootstrap CIs: ``rank``, ``model``,
        ``agreement``, ``agreement_low``, ``agreement_high``, ``p_best``, ``mean_credit``,
        ``mean_credit_low``, ``mean_credit_high``, then the distances and truth scores.
    dark_funnel : pl.DataFrame
        Per reported channel: ``tracked``, ``answers``, ``without_touch``,
        ``dark_funnel_rate``; the last row, ``(all)``, pools every channel.
    hybrid : pl.DataFrame
        Per model and channel: ``dark``, ``model_credit``, ``hybrid_credit``, ``model_share``,
        ``hybrid_share``.
    coverage, counts, parameters : dict
        Coding coverage, join counts (answers joined / without a conversion, conversions
        without an answer...) and the parameters used.
    truth : pl.DataFrame or None
        :func:`score_against_truth`, when a truth was given.
    """

    coded: pl.DataFrame
    shares: pl.DataFrame
    metrics: pl.DataFrame
    leaderboard: pl.DataFrame
    dark_funnel: pl.DataFrame
    hybrid: pl.DataFrame
    coverage: dict[str, Any]
    counts: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    truth: pl.DataFrame | None = None

    def to_long(self) -> pl.DataFrame:
        """The metrics and leaderboard in tidy long form (``survey_benchmark.parquet``).

        One row per model and metric: ``model``, ``rank`` (leaderboard rank), ``metric``,
        ``value``, ``ci_low``, ``ci_high`` (bootstrap CI, null where none) and
        ``conversions`` (compared conversions). Metrics: see :data:`METRICS`.
        """
        board = self.leaderboard
        ci = {"top1_agreement": "agreement", "mean_credit_reported": "mean_credit"}
        parts = []
        for metric in METRICS:
            source = ci.get(metric, metric)
            if source not in board.columns:
                continue
            low, high = (f"{source}_low", f"{source}_high") if metric in ci else (None, None)
            parts.append(
                board.select(
                    "model",
                    "rank",
                    pl.lit(metric).alias("metric"),
                    pl.col(source).cast(pl.Float64).alias("value"),
                    (pl.col(low) if low else pl.lit(None)).cast(pl.Float64).alias("ci_low"),
                    (pl.col(high) if high else pl.lit(None)).cast(pl.Float64).alias("ci_high"),
                    pl.col("conversions").cast(pl.Int64),
                )
            )
        return pl.concat(parts).sort("rank", "model", maintain_order=True)

    def write(self, directory: str | Path) -> Path:
        """Write the benchmark files into ``directory`` (created if needed); return it.

        ``survey_benchmark.parquet`` (:meth:`to_long`), ``survey_leaderboard.parquet``,
        ``survey_shares.parquet``, ``survey_coded.parquet``, ``survey_dark_funnel.parquet``,
        ``survey_hybrid.parquet``, ``survey_truth.parquet`` (with a truth),
        ``survey_benchmark.json`` (coverage, counts, parameters) and ``survey_summary.txt``.
        Each file is written to a temporary name and renamed into place.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        frames = {
            "survey_benchmark": self.to_long(),
            "survey_leaderboard": self.leaderboard,
            "survey_shares": self.shares,
            "survey_coded": self.coded,
            "survey_dark_funnel": self.dark_funnel,
            "survey_hybrid": self.hybrid,
        }
        if self.truth is not None:
            frames["survey_truth"] = self.truth
        for name, frame in frames.items():
            tmp = out / f".{name}.parquet.tmp"
            frame.write_parquet(tmp)
            os.replace(tmp, out / f"{name}.parquet")
        write_json_atomic(
            out / "survey_benchmark.json",
            {
                "coverage": self.coverage,
                "counts": self.counts,
                "parameters": self.parameters,
            },
        )
        tmp = out / ".survey_summary.txt.tmp"
        tmp.write_text(self.summary() + "\n")
        os.replace(tmp, out / "survey_summary.txt")
        return out

    def summary(self) -> str:
        """A short readable report: coverage, joins, dark funnel and the leaderboard."""
        cov, cnt = self.coverage, self.counts
        reasons = cov["other_reasons"]
        lines = [
            f"Survey answers: {cov['answers']}; coded to a channel {cov['coded']} "
            f"({_pct(cov['coded_share'])}), other {cov['other']} ({_pct(cov['other_share'])}: "
            f"{reasons['dont_know']} don't know, {reasons['blank']} blank, "
            f"{reasons['unmatched']} unmatched).",
        ]
        clf = cov.get("classifier")
        if clf:
            lines.append(
                f"Classifier ({cov['mode']}): {clf['n_splits']}-fold CV accuracy "
                f"{clf['cv_accuracy']:.3f} on {clf['n_labelled']} labelled answers."
            )
        joined = ", ".join(f"{v} by {k}" for k, v in cnt["joined_on"].items() if v)
        lines.append(
            f"Joined {cnt['answers_joined']} answers to conversions ({joined or 'none'}); "
            f"{cnt['answers_without_conversion']} answers have no conversion (kept, not "
            f"compared); {cnt['conversions_without_answer']} of {cnt['conversions']} "
            "conversions have no answer."
        )
        groups = self.parameters.get("groups") or {}
        rolled = "; ".join(f"{g} = {' + '.join(m)}" for g, m in groups.items())
        lines.append(
            f"Compared {cnt['conversions_compared']} conversions whose answer names a tracked "
            f"channel" + (f" ({rolled})." if rolled else ".")
        )
        total = self.dark_funnel.filter(pl.col("channel") == "(all)")
        if total.height:
            dark = self.dark_funnel.filter(~pl.col("tracked") & (pl.col("channel") != "(all)"))
            named = ", ".join(f"{c} {a}" for c, a in dark.select("channel", "answers").rows())
            lines.append(
                f"Dark funnel: {_pct(total.item(0, 'dark_funnel_rate'))} of joined answers name "
                f"a channel with no touch in the journey; untracked channels named: "
                f"{named or 'none'}."
            )
        resamples = self.parameters.get("bootstrap", 0)
        lines.append(
            f"Leaderboard by top-1 agreement (95% bootstrap CI, {resamples} resamples, seed "
            f"{self.parameters.get('seed')}):"
        )
        has_truth = "truth_mae" in self.leaderboard.columns
        header = (
            f"  {'#':>2} {'model':<24} {'agree':>6} {'95% CI':>15} {'p_best':>6} "
            f"{'credit':>6} {'TVD':>5} {'JSD':>5} {'rho':>5}"
        )
        lines.append(header + (f" {'truthMAE':>8} {'truth_rho':>9}" if has_truth else ""))
        for row in self.leaderboard.iter_rows(named=True):
            line = (
                f"  {row['rank']:>2} {row['model'][:24]:<24} {_num(row['agreement'])} "
                f"[{_num(row['agreement_low'])}, {_num(row['agreement_high'])}] "
                f"{_num(row['p_best'])} {_num(row['mean_credit'])} {_num(row['tvd'], 5, 2)} "
                f"{_num(row['jsd'], 5, 2)} {_num(row['spearman'], 5, 2)}"
            )
            if has_truth:
                line += f" {_num(row['truth_mae'], 8, 3)} {_num(row['truth_spearman'], 9, 2)}"
            lines.append(line)
        return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def _num(x: float | None, width: int = 6, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"{'-':>{width}}"
    return f"{x:>{width}.{digits}f}"


# --------------------------------------------------------------------------------------------
# joining answers to conversions
# --------------------------------------------------------------------------------------------


def join_answers(coded: pl.DataFrame, conversions: pl.DataFrame) -> pl.DataFrame:
    """Add ``conversion_id`` and ``joined_on`` to each answer.

    The key is the most specific one that both the answer row (non-null) and the conversions
    carry: ``opportunity_id``, else ``contact_id``, else ``account_id``; there is no fallback to
    a broader key when the specific one finds nothing (an answer about a lost opportunity
    must not land on another, won one). When a key matches several conversions (an account
    with two deals), the answer goes to the first conversion at or after it, else the last
    one before it (the answer is asked before the deal closes). Answers without a match keep
    a null ``conversion_id``.
    """
    keys = [k for k in JOIN_KEYS if k in coded.columns and k in conversions.columns]
    key_expr: Any = None
    for k in keys:
        cond = pl.col(k).is_not_null()
        key_expr = (
            pl.when(cond).then(pl.lit(k))
            if key_expr is None
            else key_expr.when(cond).then(pl.lit(k))
        )
    base = coded.with_columns(
        (
            key_expr.otherwise(pl.lit(None, dtype=pl.String))
            if key_expr is not None
            else pl.lit(None, dtype=pl.String)
        ).alias("joined_on")
    )
    conv_time = "timestamp" if "timestamp" in conversions.columns else None
    candidates = []
    for k in keys:
        conv = conversions.select(
            pl.col(k).cast(pl.String),
            "conversion_id",
            (
                pl.col(conv_time) if conv_time else pl.lit(None, dtype=pl.Datetime("us", "UTC"))
            ).alias("_conv_ts"),
        ).filter(pl.col(k).is_not_null())
        candidates.append(
            base.filter(pl.col("joined_on") == k)
            .select(ROW, k, *(["timestamp"] if "timestamp" in base.columns else []))
            .join(conv, on=k, how="inner")
            .select(
                ROW,
                "conversion_id",
                "_conv_ts",
                *(["timestamp"] if "timestamp" in base.columns else []),
            )
        )
    if candidates:
        cand = pl.concat(candidates, how="diagonal_relaxed")
        if "timestamp" in cand.columns:
            after = (pl.col("_conv_ts") >= pl.col("timestamp")).fill_null(True)
            gap = (pl.col("_conv_ts") - pl.col("timestamp")).abs().fill_null(pl.duration(days=0))
        else:
            after, gap = pl.lit(True), pl.lit(0)
        chosen = (
            cand.with_columns(after.alias("_after"), gap.alias("_gap"))
            .sort(
                [ROW, "_after", "_gap", "_conv_ts", "conversion_id"],
                descending=[False, True, False, False, False],
                nulls_last=True,
            )
            .unique(subset=ROW, keep="first", maintain_order=True)
            .select(ROW, "conversion_id")
        )
    else:
        chosen = pl.DataFrame(schema={ROW: pl.Int64, "conversion_id": pl.String})
    return base.join(chosen, on=ROW, how="left")


# --------------------------------------------------------------------------------------------
# the benchmark
# --------------------------------------------------------------------------------------------


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
        Our column name -> the surveys table's.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> from attribution.surveys._benchmark import compare_surveys
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1", "c2"],
    ...     "channel": ["linkedin", "email", "g2_capterra"],
    ...     "timestamp": ["2025-01-01", "2025-01-05", "2025-01-02"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1", "c2"], "stage": ["closed_won"] * 2,
    ...     "timestamp": ["2025-01-10"] * 2})
    >>> res = attribution.attribute(touches, stages, models=["first_touch", "last_touch"])
    >>> answers = pl.DataFrame({"contact_id": ["c1", "c2"], "response": ["LinkedIn", "G2"]})
    >>> bench = compare_surveys(res, answers, bootstrap=200)
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
    models = _models(result)
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
        known_channels=sorted(tracked_raw),
        columns=columns,
    )
    coded = (
        join_answers(coded_answers.frame, result.conversions)
        .with_columns(
            pl.col("channel").replace(group_of).alias("compare_channel"),
        )
        .with_columns(pl.col("compare_channel").is_in(sorted(tracked)).alias("tracked"))
    )
    coded = coded.select(
        *[
            c
            for c in coded.columns
            if c not in ("compare_channel", "tracked", "conversion_id", "joined_on")
        ],
        "compare_channel",
        "tracked",
        "conversion_id",
        "joined_on",
    )

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
    credit = _conversion_credit(touch_credit, group_of, conv_ids)

    top1, mean_credit = _per_conversion_scores(compared, credit, models, conv_ids)
    counts = _counts(coded, joined, result.conversions, compared)
    distances, shares = _shares(compared, credit, models, joined, tracked, conv_ids.len())
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
    leaderboard = _leaderboard(metrics, top1, mean_credit, bootstrap=bootstrap, seed=seed)
    dark_funnel = _dark_funnel(joined, touch_credit, group_of, tracked)
    hybrid = _hybrid(joined, touch_credit, tracked, hybrid_dark_share)
    parameters = {
        "rules": rule_set.source,
        "groups": {k: list(v) for k, v in rule_set.groups.items()},
        "coding": coding if classifier is not None else "rules_only",
        "bootstrap": bootstrap,
        "seed": seed,
        "hybrid_dark_share": float(hybrid_dark_share),
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
    )


def _models(result: AttributionResult) -> list[str]:
    labels = [m["label"] for m in result.manifest.get("models", []) if "label" in m]
    present = set(result.touch_credit.get_column("model").unique().to_list())
    ordered = [m for m in labels if m in present]
    return ordered + sorted(present - set(ordered))


def _conversion_credit(
    touch_credit: pl.DataFrame, group_of: Mapping[str, str], conv_ids: pl.Series
) -> pl.DataFrame:
    """Credit per model, conversion and compared channel, with the top channel(s) marked."""
    return (
        touch_credit.filter(pl.col("conversion_id").is_in(conv_ids.implode()))
        .with_columns(pl.col("channel").replace(group_of).alias("compare_channel"))
        .filter(pl.col("compare_channel") != OTHER)
        .group_by("model", "conversion_id", "compare_channel")
        .agg(pl.col("credit").sum())
        .with_columns(pl.col("credit").max().over("model", "conversion_id").alias("_max"))
        .with_columns(
            ((pl.col("credit") >= pl.col("_max") - _TIE) & (pl.col("_max") > 0)).alias("is_top")
        )
        .with_columns(pl.col("is_top").sum().over("model", "conversion_id").alias("n_top"))
        .drop("_max")
    )


def _per_conversion_scores(
    compared: pl.DataFrame, credit: pl.DataFrame, models: Sequence[str], conv_ids: pl.Series
) -> tuple[np.ndarray, np.ndarray]:
    """Conversions x models matrices of top-1 agreement and credit on the reported channel."""
    n, m = conv_ids.len(), len(models)
    if n == 0 or m == 0:
        return np.zeros((n, m)), np.zeros((n, m))
    scored = (
        compared.join(pl.DataFrame({"model": list(models)}), how="cross")
        .join(credit, on=["model", "conversion_id", "compare_channel"], how="left")
        .group_by("model", "conversion_id")
        .agg(
            (
                pl.col("w")
                * pl.col("is_top").fill_null(False).cast(pl.Float64)
                / pl.col("n_top").fill_null(1).cast(pl.Float64)
            )
            .sum()
            .alias("top1"),
            (pl.col("w") * pl.col("credit").fill_null(0.0)).sum().alias("credit"),
        )
    )
    index = pl.DataFrame({"conversion_id": conv_ids, "_i": np.arange(n)})
    model_index = pl.DataFrame({"model": list(models), "_j": np.arange(m)})
    cells = scored.join(index, on="conversion_id").join(model_index, on="model")
    i, j = cells.get_column("_i").to_numpy(), cells.get_column("_j").to_numpy()
    top1, mean_credit = np.zeros((n, m)), np.zeros((n, m))
    top1[i, j] = cells.get_column("top1").to_numpy()
    mean_credit[i, j] = cells.get_column("credit").to_numpy()
    return top1, mean_credit


def _shares(
    compared: pl.DataFrame,
    credit: pl.DataFrame,
    models: Sequence[str],
    joined: pl.DataFrame,
    tracked: set[str],
    n_compared: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per-model TVD / JSD / Spearman, and the side-by-side shares table."""
    channels = sorted(tracked)
    sra = (
        compared.group_by("compare_channel")
        .agg(pl.col("w").sum())
        .with_columns((pl.col("w") / n_compared if n_compared else pl.lit(0.0)).alias("sra"))
    )
    model_shares = (
        credit.group_by("model", "compare_channel")
        .agg(pl.col("credit").sum())
        .with_columns((pl.col("credit") / pl.col("credit").sum().over("model")).alias("share"))
    )
    grid = pl.DataFrame({"compare_channel": channels}, schema={"compare_channel": pl.String})
    p = grid.join(sra, on="compare_channel", how="left").get_column("sra").fill_null(0.0)
    p_np = p.to_numpy()
    rows = []
    wide = grid.with_columns(p.alias("sra_share"))
    for model in models:  # one pass per model, not per conversion
        q = (
            grid.join(
                model_shares.filter(pl.col("model") == model), on="compare_channel", how="left"
            )
            .get_column("share")
            .fill_null(0.0)
        )
        wide = wide.with_columns(q.alias(model))
        q_np = q.to_numpy()
        empty = n_compared == 0 or q_np.sum() == 0
        rows.append(
            {
                "model": model,
                "tvd": math.nan if empty else total_variation(p_np, q_np),
                "jsd": math.nan if empty else jensen_shannon(p_np, q_np),
                "spearman": math.nan if empty else spearman(p_np, q_np),
            }
        )
    distances = pl.DataFrame(
        rows,
        schema={"model": pl.String, "tvd": pl.Float64, "jsd": pl.Float64, "spearman": pl.Float64},
    )
    answers = (
        joined.filter(pl.col("compare_channel") != OTHER)
        .with_columns((1.0 / pl.len().over("conversion_id")).alias("w"))
        .group_by("compare_channel")
        .agg(pl.len().alias("answers"), pl.col("w").sum(), pl.col("tracked").first())
        .with_columns((pl.col("w") / pl.col("w").sum()).alias("sra_share_incl_dark"))
        .drop("w")
    )
    shares = (
        wide.join(answers, on="compare_channel", how="full", coalesce=True)
        .with_columns(
            pl.col("compare_channel").is_in(channels).alias("tracked"),
            pl.col("answers").fill_null(0).cast(pl.Int64),
            pl.col("sra_share_incl_dark").fill_null(0.0),
            *[pl.col(m).fill_null(0.0) for m in models],
        )
        .rename({"compare_channel": "channel"})
        .select("channel", "tracked", "answers", "sra_share", "sra_share_incl_dark", *models)
        .sort(["tracked", "sra_share_incl_dark", "channel"], descending=[True, True, False])
    )
    return distances, shares


def _leaderboard(
    metrics: pl.DataFrame,
    top1: np.ndarray,
    mean_credit: np.ndarray,
    *,
    bootstrap: int,
    seed: int,
) -> pl.DataFrame:
    m = metrics.height
    if bootstrap and top1.shape[0]:
        both = bootstrap_means(np.hstack([top1, mean_credit]), resamples=bootstrap, seed=seed)
        agree, cred = both[:, :m], both[:, m:]
        lo_a, hi_a = np.percentile(agree, [2.5, 97.5], axis=0)
        lo_c, hi_c = np.percentile(cred, [2.5, 97.5], axis=0)
        best = agree >= agree.max(axis=1, keepdims=True) - _TIE
        p_best = (best / best.sum(axis=1, keepdims=True)).mean(axis=0)
    else:
        lo_a = hi_a = lo_c = hi_c = p_best = np.full(m, np.nan)
    board = metrics.with_columns(
        pl.Series("agreement_low", lo_a, dtype=pl.Float64),
        pl.Series("agreement_high", hi_a, dtype=pl.Float64),
        pl.Series("p_best", p_best, dtype=pl.Float64),
        pl.Series("mean_credit_low", lo_c, dtype=pl.Float64),
        pl.Series("mean_credit_high", hi_c, dtype=pl.Float64),
    ).rename({"top1_agreement": "agreement", "mean_credit_reported": "mean_credit"})
    board = (
        board.sort(
            [pl.col("agreement").fill_nan(None), pl.col("mean_credit").fill_nan(None), "model"],
            descending=[True, True, False],
            nulls_last=True,
        )
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
    )
    front = [
        "rank",
        "model",
        "conversions",
        "agreement",
        "agreement_low",
        "agreement_high",
        "p_best",
        "mean_credit",
        "mean_credit_low",
        "mean_credit_high",
    ]
    return board.select(front + [c for c in board.columns if c not in front])


def _dark_funnel(
    joined: pl.DataFrame,
    touch_credit: pl.DataFrame,
    group_of: Mapping[str, str],
    tracked: set[str],
) -> pl.DataFrame:
    """Per reported channel: answers whose journey has no touch of that channel."""
    journeys = (
        touch_credit.select(
            "conversion_id", pl.col("channel").replace(group_of).alias("compare_channel")
        )
        .unique()
        .with_columns(pl.lit(True).alias("_touched"))
    )
    answers = (
        joined.filter(pl.col("compare_channel") != OTHER)
        .join(journeys, on=["conversion_id", "compare_channel"], how="left")
        .with_columns(pl.col("_touched").fill_null(False))
    )
    per = (
        answers.group_by("compare_channel")
        .agg(pl.len().alias("answers"), (~pl.col("_touched")).sum().alias("without_touch"))
        .rename({"compare_channel": "channel"})
        .with_columns(pl.col("channel").is_in(sorted(tracked)).alias("tracked"))
    )
    total = answers.select(
        pl.lit("(all)").alias("channel"),
        pl.len().alias("answers"),
        (~pl.col("_touched")).sum().alias("without_touch"),
        pl.lit(None, dtype=pl.Boolean).alias("tracked"),
    )
    per = per.sort(["tracked", "answers", "channel"], descending=[False, True, False])
    out = pl.concat([per.select(total.columns), total], how="vertical_relaxed")
    return out.with_columns(
        pl.col("answers").cast(pl.Int64),
        pl.col("without_touch").cast(pl.Int64),
        (pl.col("without_touch") / pl.col("answers")).alias("dark_funnel_rate"),
    ).select("channel", "tracked", "answers", "without_touch", "dark_funnel_rate")


def _hybrid(
    joined: pl.DataFrame, touch_credit: pl.DataFrame, tracked: set[str], move: float
) -> pl.DataFrame:
    """Model credit with SRA-only channels added (see the module docstring for the rule)."""
    # per conversion, the share of its credit each dark channel takes (1/k per answer)
    dark = (
        joined.with_columns((pl.lit(move) / pl.len().over("conversion_id")).alias("w"))
        .filter(~pl.col("tracked") & (pl.col("compare_channel") != OTHER))
        .group_by("conversion_id", "compare_channel")
        .agg(pl.col("w").sum())
        .rename({"compare_channel": "channel"})
    )
    moved_share = dark.group_by("conversion_id").agg(pl.col("w").sum().alias("moved"))
    per_conv = touch_credit.group_by("model", "conversion_id").agg(
        pl.col("credit").sum().alias("total")
    )
    kept = (
        touch_credit.group_by("model", "conversion_id", "channel")
        .agg(pl.col("credit").sum())
        .join(moved_share, on="conversion_id", how="left")
        .with_columns((pl.col("credit") * (1 - pl.col("moved").fill_null(0.0))).alias("hyb"))
        .group_by("model", "channel")
        .agg(
            pl.col("credit").sum().alias("model_credit"), pl.col("hyb").sum().alias("hybrid_credit")
        )
    )
    added = (
        per_conv.join(dark, on="conversion_id", how="inner")
        .group_by("model", "channel")
        .agg((pl.col("total") * pl.col("w")).sum().alias("hybrid_credit"))
        .with_columns(pl.lit(0.0).alias("model_credit"))
    )
    out = pl.concat(
        [
            kept.select("model", "channel", "model_credit", "hybrid_credit"),
            added.select("model", "channel", "model_credit", "hybrid_credit"),
        ]
    )
    out = out.group_by("model", "channel").agg(pl.col("model_credit", "hybrid_credit").sum())
    return (
        out.with_columns(
            pl.col("channel").is_in(dark.get_column("channel").unique().implode()).alias("dark"),
            (pl.col("model_credit") / pl.col("model_credit").sum().over("model"))
            .fill_nan(0.0)
            .alias("model_share"),
            (pl.col("hybrid_credit") / pl.col("hybrid_credit").sum().over("model"))
            .fill_nan(0.0)
            .alias("hybrid_share"),
        )
        .select(
            "model",
            "channel",
            "dark",
            "model_credit",
            "hybrid_credit",
            "model_share",
            "hybrid_share",
        )
        .sort(["model", "hybrid_credit", "channel"], descending=[False, True, False])
    )


def _counts(
    coded: pl.DataFrame, joined: pl.DataFrame, conversions: pl.DataFrame, compared: pl.DataFrame
) -> dict[str, Any]:
    answered = joined.get_column("conversion_id").unique()
    n_conv = conversions.height
    with_answer = int(conversions.get_column("conversion_id").is_in(answered.implode()).sum())
    per_conv = joined.group_by("conversion_id").agg(
        pl.len().alias("k"),
        (pl.col("compare_channel") == OTHER).all().alias("all_other"),
        (~pl.col("tracked") & (pl.col("compare_channel") != OTHER)).any().alias("any_dark"),
        pl.col("n_touches").first(),
    )
    by_key = coded.filter(pl.col("conversion_id").is_not_null()).group_by("joined_on").len()
    joined_on = dict.fromkeys(JOIN_KEYS, 0) | dict(by_key.iter_rows())
    no_key = int(coded.get_column("joined_on").is_null().sum())
    return {
        "answers": coded.height,
        "answers_joined": joined.height,
        "answers_without_conversion": coded.height - joined.height,
        "answers_without_key": no_key,
        "joined_on": {k: int(v) for k, v in joined_on.items() if k is not None},
        "conversions": n_conv,
        "conversions_with_answer": with_answer,
        "conversions_without_answer": n_conv - with_answer,
        "conversions_with_several_answers": int((per_conv.get_column("k") > 1).sum()),
        "conversions_answer_other_only": int(per_conv.get_column("all_other").sum()),
        "conversions_answer_dark": int(per_conv.get_column("any_dark").sum()),
        "conversions_unattributed_with_answer": int(
            (per_conv.get_column("n_touches").fill_null(0) == 0).sum()
        ),
        "conversions_compared": compared.get_column("conversion_id").n_unique(),
    }


# --------------------------------------------------------------------------------------------
# truth
# --------------------------------------------------------------------------------------------


def _read_truth(truth: str | Path | Mapping[str, Any]) -> dict[str, float]:
    if isinstance(truth, str | Path):
        try:
            data = json.loads(Path(truth).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read truth '{truth}': {exc}") from exc
        where = str(truth)
    else:
        data, where = dict(truth), "<memory>"
    shares = data.get("incremental_share") if isinstance(data, dict) else None
    if (
        not isinstance(shares, dict)
        or not shares
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in shares.values())
    ):
        raise ConfigError(
            f"truth '{where}' needs 'incremental_share': a mapping of channel -> share "
            "(as in sample_data/truth.json)"
        )
    return {str(k): float(v) for k, v in shares.items()}


def score_against_truth(
    result: AttributionResult, truth: str | Path | Mapping[str, Any]
) -> pl.DataFrame:
    """Score each model's channel shares against the true incremental shares.

    Uses ``result.channel_credit`` (the shares a model reports) and
    ``truth["incremental_share"]``, over the union of their channels (a share missing on
    one side is 0).

    Returns
    -------
    pl.DataFrame
        ``model``, ``truth_mae`` (mean absolute error of the shares), ``truth_max_error``
        (largest absolute error), ``truth_spearman`` (rank correlation) and ``channels``.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1"], "channel": ["linkedin", "email"],
    ...     "timestamp": ["2025-01-01", "2025-01-05"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
    ...     "timestamp": ["2025-01-10"]})
    >>> res = attribution.attribute(touches, stages, models=["linear"])
    >>> score_against_truth(res, {"incremental_share": {"linkedin": 0.7, "email": 0.3}}
    ...     ).get_column("truth_mae").round(3).to_list()
    [0.2]
    """
    shares = _read_truth(truth)
    truth_frame = pl.DataFrame(
        {"channel": list(shares), "truth": list(shares.values())},
        schema={"channel": pl.String, "truth": pl.Float64},
    )
    models = _models(result) if result.touch_credit.height else []
    models += [
        m
        for m in result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
        if m not in models
    ]
    rows = []
    for model in models:  # one pass per model
        model_shares = result.channel_credit.filter(pl.col("model") == model).select(
            "channel", "share"
        )
        both = truth_frame.join(model_shares, on="channel", how="full", coalesce=True).with_columns(
            pl.col("truth", "share").fill_null(0.0)
        )
        t, s = both.get_column("truth").to_numpy(), both.get_column("share").to_numpy()
        err = np.abs(s - t)
        rows.append(
            {
                "model": model,
                "truth_mae": float(err.mean()),
                "truth_max_error": float(err.max()),
                "truth_spearman": spearman(s, t),
                "channels": both.height,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "model": pl.String,
            "truth_mae": pl.Float64,
            "truth_max_error": pl.Float64,
            "truth_spearman": pl.Float64,
            "channels": pl.Int64,
        },
    )
