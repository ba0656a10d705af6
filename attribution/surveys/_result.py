"""What :func:`attribution.compare_surveys` returns: the tables, their tidy long form, the
files of a run directory and a short readable summary."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import EmptyResultError
from attribution.surveys._leader import survey_doubt

__all__ = ["METRICS", "SurveyBenchmark"]

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


@dataclass
class SurveyBenchmark:
    """What :func:`compare_surveys` returns.

    Attributes
    ----------
    coded : pl.DataFrame
        One row per answer: keys, ``response``, ``pick_list``, ``channel`` (coded),
        ``coded_by``, ``rule``, ``compare_channel`` (after the groups), ``tracked``,
        ``conversion_id`` (null when the answer has no conversion), ``joined_on`` (the id
        column it joined by) and ``join_rule`` (how its time placed it among its id's
        conversions: ``after_conversion``, ``next_conversion``, ``previous_conversion``,
        ``untimed``; see :func:`attribution.surveys._join.join_answers`).
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
    empty : str or None
        Why no conversion was compared (no answer joined a conversion: the join tried, with
        examples of both sides' ids; or no joined answer names a tracked channel); ``None``
        when the benchmark has compared conversions. :meth:`require_compared` raises it.
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
    empty: str | None = None

    @property
    def unusable(self) -> str | None:
        """Why the survey cannot be used at all, in a few words for the decision line
        (``"0 of 413 answers joined a conversion"``); ``None`` when some conversion was
        compared. :attr:`empty` has the whole reason."""
        if self.empty is None:
            return None
        cnt = self.counts
        if not cnt.get("answers"):
            return "the survey table has no answer"
        if not cnt.get("answers_joined"):
            without = cnt.get("answers_contact_without_account", 0)
            return f"0 of {cnt['answers']:,} answers joined a conversion" + (
                f", {without:,} of them keyed by a contact without an account "
                "(account level: give account_id, or --contacts)"
                if without
                else ""
            )
        return (
            f"none of the {cnt['answers_joined']:,} answers joined to a conversion names a "
            "tracked channel of an attributed conversion"
        )

    def require_compared(self) -> SurveyBenchmark:
        """This benchmark, or :class:`~attribution.EmptyResultError` saying why it compared
        no conversion (``attribution surveys`` exits 3 with it unless ``--allow-empty``)."""
        if self.empty is not None:
            raise EmptyResultError(f"the survey benchmark is empty: {self.empty}")
        return self

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
            RunFiles.SURVEY_BENCHMARK: self.to_long(),
            RunFiles.SURVEY_LEADERBOARD: self.leaderboard,
            RunFiles.SURVEY_SHARES: self.shares,
            RunFiles.SURVEY_CODED: self.coded,
            RunFiles.SURVEY_DARK_FUNNEL: self.dark_funnel,
            RunFiles.SURVEY_HYBRID: self.hybrid,
        }
        if self.truth is not None:
            frames[RunFiles.SURVEY_TRUTH] = self.truth
        for name, frame in frames.items():
            write_parquet_atomic(out / name, frame)
        write_json_atomic(
            out / RunFiles.SURVEY_BENCHMARK_JSON,
            {
                "coverage": self.coverage,
                "counts": self.counts,
                "parameters": self.parameters,
                "empty": self.empty,  # why no conversion was compared (null: some were)
                # why the survey's rank 1 cannot decide (null: it can)
                "leader_doubt": survey_doubt(self.leaderboard) if self.leaderboard.height
                else None,
            },
        )
        # engine._files has no atomic text writer (yet): the same temporary-name-and-rename
        summary = out / RunFiles.SURVEY_SUMMARY
        tmp = summary.with_name(f".{summary.name}.tmp")
        tmp.write_text(self.summary() + "\n")
        os.replace(tmp, summary)
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
        if cut := cov.get("truncated"):
            lines.append(
                f"{cut['values']} answer(s) longer than {cut['limit']:,} characters cut to their "
                f"first {cut['limit']:,} (the longest {cut['longest']:,}; {cut['numbering']} "
                f"{', '.join(map(str, cut['lines']))})."
            )
        if several := cov.get("several_channels"):
            lines.append(
                f"{several} answer(s) name several channels (\"Google and LinkedIn\"): each is "
                "coded to the channel of the first rule that matches it; survey_coded.parquet "
                "lists every channel named (channels_named)."
            )
        clf = cov.get("classifier")
        if clf:
            floor = cov.get("min_proba")
            lines.append(
                f"Classifier ({cov['mode']}): {clf['n_splits']}-fold CV accuracy "
                f"{clf['cv_accuracy']:.3f} on {clf['n_labelled']} labelled answers; it coded "
                f"{cov['coded_by']['classifier']} answer(s) to a channel and left "
                f"{cov.get('below_min_proba', 0)} it was less sure of unmatched (probability "
                f"below {floor if floor is not None else clf['min_proba']:.2f}, "
                "--survey-min-proba; classifier_proba in survey_coded.parquet)."
            )
        joined = ", ".join(f"{v} by {k}" for k, v in cnt["joined_on"].items() if v)
        lines.append(
            f"Joined {cnt['answers_joined']} answers to conversions ({joined or 'none'}); "
            f"{cnt['answers_without_conversion']} answers have no conversion (kept, not "
            f"compared); {cnt['conversions_without_answer']} of {cnt['conversions']} "
            "conversions have no answer."
        )
        if repeats := cnt.get("duplicate_answers_dropped"):
            lines.append(
                f"{repeats} answer(s) repeating an earlier row exactly (same ids, time and "
                "answer: a form sent twice, an export appended to itself) left out, counted "
                "once."
            )
        if cut := cnt.get("answers_joined_by_15_character_id"):
            lines.append(
                f"{cut} answers joined by the 15-character form of an 18-character Salesforce "
                "id (a survey tool's ids against a report's; id_15 in survey_coded.parquet)."
            )
        if "email_source" in cnt:
            lines.append(
                f"Answers keyed by e-mail: {cnt['answers_contact_from_email']} given the contact "
                f"of their e-mail ({cnt['email_source']} table; trimmed, case-insensitive); "
                f"{cnt['answers_email_unknown']} with an e-mail no contact carries; "
                f"{cnt['answers_email_ambiguous_dropped']} dropped: their e-mail is on two or "
                "more contacts, so the answer cannot say whose it is."
            )
        elif cnt.get("answers_email_without_table"):
            lines.append(
                f"{cnt['answers_email_without_table']} answers keyed by e-mail alone join "
                "nothing: neither the contacts table nor the touches carry an 'email' column."
            )
        if "answers_account_from_contact" in cnt:
            mapped = cnt["answers_account_from_contact"]
            without = cnt["answers_contact_without_account"]
            lines.append(
                f"Account level: {mapped} answers keyed by a contact joined by the contact's "
                f"account (contacts table); {without} keyed by a contact without an account."
                if self.parameters.get("contacts")
                else f"Account level: {without} answers keyed by a contact alone join no "
                "account's conversion without the contacts table (--contacts) or their "
                "account_id."
            )
        if rules := {k: v for k, v in cnt.get("join_rules", {}).items() if v}:
            days = self.parameters.get("post_purchase_days")
            said = {
                "after_conversion": f"within {days} days after a conversion (post-purchase)",
                "next_conversion": "the next conversion",
                "previous_conversion": f"the last conversion, more than {days} days before",
                "untimed": "no answer time: the first conversion",
            }
            lines.append(
                "Answers placed by time (join_rule in survey_coded.parquet): "
                + "; ".join(f"{v} {said.get(k, k)}" for k, v in rules.items())
                + "."
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
            gap = self.dark_funnel.filter(pl.col("tracked").fill_null(False))  # identity gaps
            none = int(gap.get_column("without_journey").sum()) if "without_journey" in (
                gap.columns) else 0
            lines.append(
                f"Dark funnel: {_pct(total.item(0, 'dark_funnel_rate'))} of joined answers name "
                f"a channel with no touch in the journey"
                + (f" ({none} of those {total.item(0, 'without_touch')} name a tracked channel "
                   "on a conversion with no touch at all: anonymous or unmatched visitors, not "
                   "the dark funnel)" if none else "")
                + f"; untracked channels named: {named or 'none'}."
            )  # fmt: skip
            lines += near_channel_lines(dark.get_column("channel").to_list(),
                                        self.shares.filter(pl.col("tracked"))
                                        .get_column("channel").to_list())
        if self.empty is not None:  # no ranking of empty scores
            lines.append(
                "Leaderboard: none, no model is ranked. Warning: the survey benchmark is "
                f"empty: {self.empty}."
            )
            return "\n".join(lines)
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
        if self.leaderboard.height and (doubt := survey_doubt(self.leaderboard)):
            lines.append(
                f"{doubt[0].upper()}{doubt[1:]}; a run's decision model is then the best by "
                "truth MAE, else the default (--decision-model to choose)."
            )
        return "\n".join(lines)


def _pct(x: float | None) -> str:
    return "n/a" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def _num(x: float | None, width: int = 6, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return f"{'-':>{width}}"
    return f"{x:>{width}.{digits}f}"


#: words channel names share without being one channel (paid_social, organic_social)
_GENERIC = frozenset({"ads", "paid", "organic", "social", "search", "media", "display",
                      "direct", "referral", "partner", "other", "events", "online"})


def near_channel_lines(untracked: list[str], tracked: list[str]) -> list[str]:
    """A line per untracked channel the answers name that the run tracks under a close name
    (``g2_capterra`` coded, ``g2`` in the touches: a word of one is the other, or the names
    are close), with the alias to write (new-user report 22b, S1: 329 answers "G2 reviews"
    called 100% dark and left out of the comparison, every journey starting with ``g2``)."""
    from difflib import get_close_matches

    out = []
    for name in untracked:
        words = set(name.split("_"))
        near = [c for c in tracked if c in words or set(c.split("_")) & words - _GENERIC]
        near = near or get_close_matches(name, tracked, n=1, cutoff=0.75)
        if near:
            out.append(
                f"'{name}' (coded from the answers) is not a channel of the run, which has "
                f"'{near[0]}': the same channel? Alias it in the run (channel_aliases="
                f"{{'{name}': ['{near[0]}']}}, [channels] {name} = [\"{near[0]}\"]) or label "
                "the answers so, and its answers are compared."
            )
    return out
