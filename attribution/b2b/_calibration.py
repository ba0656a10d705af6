"""Calibration of channel credit with lift tests (the ``experiments`` table).

For every model of the run and every test of a channel:

1. **The model's figure in the test's window.** ``M`` = the model's credit to the channel
   on the conversions dated within the window (both ends included): its channel credit times
   the part of the channel's touch credit that falls on those conversions (for the rule-based
   models that is the touch credit itself; Markov and Shapley channel totals are not sums of
   touch credit, so the window takes the same part of their totals). A pipeline test
   (``incremental_pipeline``) compares the credited value instead.
2. **The model's variance.** From the bootstrap when the run has intervals (``ci_low``,
   ``ci_high`` in ``channel_credit``, a 90% interval of ``share``): the relative standard
   deviation ``(ci_high - ci_low) / (2 x 1.645) / share`` applied to the channel's credit,
   and the window's part of that variance (a count over a part of the period varies as that
   part of it). Without intervals, a Poisson approximation: ``var(M) = M`` for conversions,
   ``sum(credit x value^2)`` over the window's conversions for pipeline.
3. **Inverse-variance weighting.** ``C = (M / var(M) + E / se^2) / (1 / var(M) + 1 / se^2)``
   with the test's increment ``E`` and standard error ``se``; ``var(C) = 1 / (1 / var(M) +
   1 / se^2)``; ``C`` is floored at 0. Several tests of one channel pool: the channel's
   factor is ``sum(C) / sum(M)``.
4. **Rescaling and the baseline.** The tested channel's credit (conversions and value) is
   multiplied by its factor; the untested channels keep theirs. What no channel explains any
   more is booked as a ``baseline`` row, so the conversions still add up to the model's
   total. When the tests say the tested channels cause more than the models credited (the
   sum would pass the total), the untested channels give way in proportion to their credit;
   nothing is ever negative.

A test is not used, and says why in ``calibration_tests.parquet`` (``status``), when no
conversion of the run falls in its window or the model credits the channel nothing there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from attribution.b2b._calibration_credit import (
    BASELINE,
    Z90,
    calibrated_credit,
    has_intervals,
    truth_scores,
)
from attribution.b2b._economics import UnitEconomics
from attribution.b2b._shared import chosen_models, num, pct
from attribution.engine._files import RunFiles, write_parquet_atomic
from attribution.engine._result import AttributionResult
from attribution.exceptions import did_you_mean
from attribution.inputs._experiments import Experiments, load_experiments
from attribution.inputs._formats import resolve_formats
from attribution.inputs._schema import ROW
from attribution.inputs._toml import read_json
from attribution.typing import TableLike

__all__ = ["BASELINE", "Z90", "Calibration", "calibrate", "truth_shares"]

_TESTS_SCHEMA = pl.Schema(
    {
        "model": pl.String(),
        "line": pl.Int64(),
        "channel": pl.String(),
        "start": pl.Date(),
        "end": pl.Date(),
        "test_type": pl.String(),
        "measure": pl.String(),
        "experiment": pl.Float64(),
        "standard_error": pl.Float64(),
        "model_window": pl.Float64(),
        "model_se": pl.Float64(),
        "model_se_source": pl.String(),
        "models_sd": pl.Float64(),
        "experiment_weight": pl.Float64(),
        "calibrated_window": pl.Float64(),
        "calibrated_se": pl.Float64(),
        "status": pl.String(),
    }
)


@dataclass
class Calibration:
    """Calibrated credit beside the models' own, and what to test next.

    Attributes
    ----------
    credit : pl.DataFrame or None
        ``calibrated_credit.parquet`` (with experiments): per model and channel (and one
        ``baseline`` row per model) ``conversions``, ``value``, ``share``, ``ci_low``,
        ``ci_high`` calibrated, ``uncalibrated_*`` the model's own, ``factor`` (calibrated
        over uncalibrated conversions) and ``tested``.
    tests : pl.DataFrame or None
        ``calibration_tests.parquet``: per model and test (``line``: the test's line in the
        experiments file) the model's figure in the window and its standard error (and where
        it came from), the test's, the weight the test got, the calibrated figure, ``status``.
    truth : pl.DataFrame or None
        ``calibration_truth.parquet`` (with a ``truth.json`` of synthetic data): per model the
        mean absolute error of the channel shares against the true incremental shares of
        conversions (:func:`truth_shares`), uncalibrated and calibrated.
    next : pl.DataFrame or None
        ``experiments_next.parquet`` (with spend): channels ranked by the value of a test
        (see :mod:`attribution.b2b._experiments_next`).
    notes : dict
        Sources, the decision model, the formulas in words.
    """

    credit: pl.DataFrame | None = None
    tests: pl.DataFrame | None = None
    truth: pl.DataFrame | None = None
    next: pl.DataFrame | None = None
    notes: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: str | Path) -> Path:
        """Write the frames this calibration has into ``directory``."""
        out = Path(directory)
        for name, frame in (
            (RunFiles.CALIBRATED_CREDIT, self.credit),
            (RunFiles.CALIBRATION_TESTS, self.tests),
            (RunFiles.CALIBRATION_TRUTH, self.truth),
            (RunFiles.EXPERIMENTS_NEXT, self.next),
        ):
            if frame is not None:
                write_parquet_atomic(out / name, frame)
        return out

    def summary(self) -> str:
        """Calibrated beside uncalibrated under the decision model, the truth scores, and
        the ranked list of tests to run."""
        from attribution.b2b._experiments_next import next_lines

        lines: list[str] = []
        if self.credit is not None and self.tests is not None:
            lines += _credit_lines(self.credit, self.tests, self.notes)
        if self.truth is not None and self.truth.height:
            t = self.truth
            better = int(t.get_column("improved").sum())
            lines.append(
                "Calibration against the truth (mean absolute error of channel shares vs the "
                f"true incremental share of conversions): closer under {better} of {t.height} "
                "models"
            )
            lines += [
                f"  {r['model']:<24} {r['mae_uncalibrated']:.4f} -> {r['mae_calibrated']:.4f}"
                for r in t.iter_rows(named=True)
            ]
        if self.next is not None:
            lines += next_lines(self.next, self.notes)
        return "\n".join(lines)


def _credit_lines(credit: pl.DataFrame, tests: pl.DataFrame, notes: Mapping[str, Any]) -> list[str]:
    model = str(notes.get("decision_model") or credit.get_column("model").first())
    used = tests.filter(pl.col("status") == "calibrated")
    lines = [
        f"Calibrated with {notes.get('experiments', 0)} experiment(s) from "
        f"{notes.get('experiments_source')!s} (inverse-variance weighting; model variance from "
        f"{notes.get('variance_source')}); what no channel explains is the baseline. "
        f"Under {model}:"
    ]
    lines += [
        f"  {r['channel']} ({r['test_type']}, {r['start']}..{r['end']}): model "
        f"{num(r['model_window'], ',.1f')} +/- {num(r['model_se'], ',.1f')}, test "
        f"{num(r['experiment'], ',.1f')} +/- {num(r['standard_error'], ',.1f')} -> "
        f"{num(r['calibrated_window'], ',.1f')} {r['measure']} (test weight "
        f"{pct(r['experiment_weight'])})"
        for r in used.filter(model=model).iter_rows(named=True)
    ]
    rows = credit.filter(pl.col("model") == model)
    shown = rows.filter(pl.col("tested") | (pl.col("channel") == BASELINE))
    lines += [
        f"  {r['channel']:<24} {r['uncalibrated_conversions']:>7.1f} "
        f"({pct(r['uncalibrated_share'])}) -> {r['conversions']:>7.1f} ({pct(r['share'])})"
        for r in shown.iter_rows(named=True)
    ]
    others = rows.filter(~pl.col("tested") & (pl.col("channel") != BASELINE))
    before = float(others.get_column("uncalibrated_conversions").sum())
    after = float(others.get_column("conversions").sum())
    if before > 0 and after < before - 1e-9:
        lines.append(
            f"  the untested channels give way to keep the total: x{after / before:.3f} "
            "(the tests credit the tested channels more than the model did)"
        )
    skipped = tests.filter(pl.col("status") != "calibrated")
    if skipped.height:
        reasons = skipped.group_by("status").len().sort("status").iter_rows()
        lines.append(
            "  not used: " + "; ".join(f"{status} ({n} model x test)" for status, n in reasons)
        )
    return lines


def truth_shares(truth: Mapping[str, Any] | str | Path) -> dict[str, float]:
    """The true incremental share of conversions per channel of a synthetic world:
    ``expected_conversions_lost_if_removed / expected closed_won`` from its ``truth.json``.

    This is what calibrated credit estimates: a test measures the conversions a channel
    causes, so a calibrated channel's share is its incremental conversions over all
    conversions. (Removals overlap, so these shares add up to more than 1 over the channels;
    ``incremental_share`` in ``truth.json`` is the same figure normalised to 1.)
    """
    data = truth if isinstance(truth, Mapping) else read_json(truth, "truth")
    won = float(data["expected"]["closed_won"])
    return {
        ch: float(v["expected_conversions_lost_if_removed"]) / won
        for ch, v in data["channels"].items()
    }


def calibrate(
    result: AttributionResult,
    experiments: Experiments | TableLike | None = None,
    *,
    economics: UnitEconomics | None = None,
    truth: Mapping[str, Any] | str | Path | None = None,
    models: Sequence[str] | None = None,
    across_models: bool = True,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    timestamp_formats: Mapping[str, Sequence[str]] | Sequence[str] | None = None,
) -> Calibration:
    """Calibrate every model's channel credit with the ``experiments`` table (see the module
    docstring) and, with the run's ``economics`` (its spend), rank the channels by the value
    of a test (:func:`attribution.b2b._experiments_next.experiments_next`).

    Parameters
    ----------
    result
        The run (its ``channel_credit``, ``touch_credit``, ``conversions``, ``paths``).
    experiments
        The experiments table (a path, a frame, or a loaded :class:`Experiments`).
    economics
        The run's unit economics: its spend per channel ranks what to test next.
    truth
        A synthetic world's ``truth.json`` (path or mapping): scores the calibration.
    models
        The models to calibrate (default: every model of the run).
    columns, timestamp_formats
        The config's ``[columns]`` (``experiments``, ``spend``) and formats.

    Returns
    -------
    Calibration

    Raises
    ------
    InputError
        A bad experiments table, or a test of a channel the run does not have (naming the
        file, the column and the lines).
    """
    cc = result.channel_credit
    chosen = chosen_models(cc, models, "the attribution result")
    notes: dict[str, Any] = {
        "decision_model": result.manifest.get("decision_model"),
        "interval": "90%",
        "level": (result.manifest.get("parameters") or {}).get("level"),
    }
    out = Calibration(notes=notes)
    if experiments is not None:
        exp = load_experiments(
            experiments,
            columns=(columns or {}).get("experiments"),
            formats=resolve_formats(timestamp_formats, "experiments"),
        )
        frame = _match_channels(exp, cc.get_column("channel").unique().to_list())
        numbering = exp.table.source.numbering
        tests = _window_tests(
            result, frame, chosen, numbering[1] if numbering else 0, across_models
        )
        out.tests = tests
        out.credit = calibrated_credit(cc.filter(pl.col("model").is_in(chosen)), tests)
        has_ci = has_intervals(cc)
        notes.update(
            experiments=exp.frame.height,
            experiments_source=exp.source,
            variance_source="the bootstrap intervals"
            if has_ci
            else "Poisson on credited conversions (no bootstrap intervals in this run)",
        )
        if truth is not None:
            out.truth = truth_scores(out.credit, truth_shares(truth))
    if economics is not None:
        from attribution.b2b._experiments_next import experiments_next

        tested = out.credit.filter("tested") if out.credit is not None else None
        spend = economics.table.filter(
            pl.col("model") == economics.table.get_column("model").first()
        ).select("channel", "spend")
        out.next = experiments_next(
            result,
            spend,
            models=chosen,
            tested=(tested.get_column("channel").unique().to_list() if tested is not None else []),
        )
    return out


def _match_channels(exp: Experiments, channels: list[str]) -> pl.DataFrame:
    """The experiments with ``channel`` spelled as the run spells it (matched ignoring
    case); a channel the run does not have is an error naming its lines."""
    lookup = pl.DataFrame(
        {"channel": [c.lower() for c in channels], "run_channel": channels},
        schema={"channel": pl.String, "run_channel": pl.String},
    ).unique("channel", keep="first")
    f = exp.frame.join(lookup, on="channel", how="left", maintain_order="left")
    missing = f.filter(pl.col("run_channel").is_null())
    if missing.height:
        first = missing.get_column("channel").first()
        raise exp.error(
            f"{missing.height} test(s) of a channel the run does not credit ('{first!s}')",
            missing.get_column(ROW),
            column="channel",
            hint=did_you_mean(str(first), channels) or f"the run's channels: {sorted(channels)}",
        )
    return f.with_columns(pl.col("run_channel").alias("channel")).drop("run_channel")


def _window_tests(
    result: AttributionResult,
    exp: pl.DataFrame,
    models: list[str],
    offset: int,
    across_models: bool,
) -> pl.DataFrame:
    """Per model and test: the model's figure in the window, its variance, the weighted
    figure (see the module docstring, steps 1-3); ``line`` is the test's row numbered as
    its source numbers rows (``offset`` added to the 0-based row)."""
    cc = result.channel_credit.filter(pl.col("model").is_in(models))
    when = result.conversions.select(
        "conversion_id",
        pl.col("timestamp").dt.date().alias("day"),
        pl.col("value").fill_null(0.0).alias("conversion_value"),
    )
    tc = (
        result.touch_credit.filter(pl.col("model").is_in(models))
        .group_by("model", "channel", "conversion_id")
        .agg(pl.col("credit").sum(), pl.col("value").fill_null(0.0).sum())
        .join(when, on="conversion_id", how="inner")
    )
    totals = tc.group_by("model", "channel").agg(
        pl.col("credit").sum().alias("touch_credit"), pl.col("value").sum().alias("touch_value")
    )
    daily = tc.group_by("model", "channel", "day").agg(
        pl.col("credit").sum(),
        pl.col("value").sum(),
        (pl.col("credit") * pl.col("conversion_value") ** 2).sum().alias("value_sq"),
    )
    days = when.get_column("day")
    tests = exp.with_columns(
        # conversions of the run in the window (of any channel): none means not measurable
        pl.struct("start", "end")
        .map_batches(lambda s: _conversions_between(s, days), return_dtype=pl.Int64)
        .alias("run_conversions")
    )
    grid = tests.join(pl.DataFrame({"model": models}), how="cross")
    window = (
        grid.select(ROW, "model", "channel", "start", "end")
        .join(daily, on=["model", "channel"], how="inner")
        .filter(pl.col("day").is_between(pl.col("start"), pl.col("end")))
        .group_by(ROW, "model")
        .agg(
            pl.col("credit").sum().alias("w_credit"),
            pl.col("value").sum().alias("w_value"),
            pl.col("value_sq").sum().alias("w_value_sq"),
        )
    )
    ci_cols = ["ci_low", "ci_high"] if has_intervals(cc) else []
    credit = cc.select("model", "channel", "conversions", "value", "share", *ci_cols)
    if not ci_cols:
        credit = credit.with_columns(
            pl.lit(None, pl.Float64).alias("ci_low"), pl.lit(None, pl.Float64).alias("ci_high")
        )
    g = (
        grid.join(window, on=[ROW, "model"], how="left")
        .join(totals, on=["model", "channel"], how="left")
        .join(credit, on=["model", "channel"], how="left")
        .with_columns(pl.col("w_credit", "w_value", "w_value_sq").fill_null(0.0))
    )
    conv = pl.col("measure") == "conversions"
    frac = (
        pl.when(conv)
        .then(pl.col("w_credit") / pl.col("touch_credit"))
        .otherwise(pl.col("w_value") / pl.col("touch_value"))
    )
    full = pl.when(conv).then(pl.col("conversions")).otherwise(pl.col("value"))
    g = g.with_columns(frac.fill_nan(0.0).fill_null(0.0).alias("frac"), full.alias("full"))
    m = pl.col("full") * pl.col("frac")
    rel_sd = (pl.col("ci_high") - pl.col("ci_low")) / (2 * Z90) / pl.col("share")
    boot_var = (rel_sd * pl.col("full")) ** 2 * pl.col("frac")
    scale = pl.col("value") / pl.col("touch_value")
    poisson = pl.when(conv).then(m).otherwise(pl.col("w_value_sq") * scale**2)
    use_boot = rel_sd.is_finite() & (pl.col("share") > 0)
    g = g.with_columns(
        m.alias("model_window"),
        pl.when(use_boot).then(boot_var).otherwise(poisson).alias("var_sampling"),
        pl.when(use_boot)
        .then(pl.lit("bootstrap"))
        .otherwise(pl.lit("poisson"))
        .alias("model_se_source"),
    )
    # the structural part: how far the run's models are apart on this test's window
    spread = pl.col("model_window").var(ddof=0).over(ROW).fill_null(0.0)
    g = g.with_columns(
        (pl.col("var_sampling") + (spread if across_models else 0.0)).alias("var_m"),
        spread.sqrt().alias("models_sd"),
    )
    w_m = 1.0 / pl.col("var_m")
    w_e = 1.0 / pl.col("standard_error") ** 2
    ok = (pl.col("run_conversions") > 0) & (pl.col("model_window") > 0) & (pl.col("var_m") > 0)
    status = (
        pl.when(pl.col("run_conversions") == 0)
        .then(pl.lit("no conversion of the run in the window"))
        .when(~ok)
        .then(pl.lit("the model credits the channel nothing in the window"))
        .otherwise(pl.lit("calibrated"))
    )
    g = g.with_columns(
        status.alias("status"),
        pl.when(ok).then(w_e / (w_m + w_e)).alias("experiment_weight"),
        pl.when(ok)
        .then(
            ((pl.col("model_window") * w_m + pl.col("incremental") * w_e) / (w_m + w_e)).clip(
                lower_bound=0.0
            )
        )
        .alias("calibrated_window"),
        pl.when(ok).then(1.0 / (w_m + w_e)).alias("var_c"),
        pl.col("var_m").sqrt().alias("model_se"),
    )
    return g.select(
        "model",
        (pl.col(ROW) + offset).alias("line"),
        pl.col("incremental").alias("experiment"),
        *[c for c in _TESTS_SCHEMA if c not in ("model", "line", "experiment", "calibrated_se")],
        pl.col("var_c").sqrt().alias("calibrated_se"),
    ).select(*_TESTS_SCHEMA)


def _conversions_between(bounds: pl.Series, days: pl.Series) -> pl.Series:
    """For each (start, end) of ``bounds``, how many of ``days`` fall in it (both ends in)."""
    ordered = days.sort()
    start = bounds.struct.field("start")
    end = bounds.struct.field("end")
    lo = ordered.search_sorted(start, side="left")
    hi = ordered.search_sorted(end, side="right")
    return (hi.cast(pl.Int64) - lo.cast(pl.Int64)).alias("n")
