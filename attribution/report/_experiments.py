"""The experiments section: credit calibrated with lift tests beside the models' own
(``calibrated_credit.parquet``, ``calibration_tests.parquet``), its score against a synthetic
world's truth (``calibration_truth.parquet``), and what to test next
(``experiments_next.parquet``)."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from attribution._reporting_currency import money_text
from attribution.engine._files import RunFiles
from attribution.report._charts import col, color
from attribution.report._context import Context, Section
from attribution.report._format import e, fmt_pct, missing_note, note, table

_BASELINE = "baseline"
#: What-to-test-next columns the report leaves to the file (the rates behind the size).
_NEXT_HIDDEN = ("decision_share", "p_with", "p_without")


def experiments_section(ctx: Context) -> Section | None:
    credit, tests, truth, nxt = ctx.frames(
        RunFiles.CALIBRATED_CREDIT,
        RunFiles.CALIBRATION_TESTS,
        RunFiles.CALIBRATION_TRUTH,
        RunFiles.EXPERIMENTS_NEXT,
    )
    if credit is None and nxt is None:
        return None
    parts: list[str] = []
    model = ctx.manifest.get("decision_model")
    if credit is not None:
        if gap := missing_note(
            "Calibrated credit", credit, ("model", "channel", "share", "uncalibrated_share")
        ):
            parts.append(gap)
        else:
            if model not in credit.get_column("model").to_list():
                model = credit.get_column("model").first()
            parts += _calibrated(ctx, credit, tests, str(model))
    if truth is not None and truth.height and "improved" in truth.columns:
        better = int(truth.get_column("improved").sum())
        parts.append(
            f"<h3>Against the truth</h3><p>Closer to the true incremental share of conversions "
            f"under <b>{better} of {truth.height}</b> models (mean absolute error of the "
            "channel shares, uncalibrated and calibrated).</p>"
        )
        parts.append(table(truth))
        ctx.findings.append(
            f"Calibrated with lift tests, credit is closer to the truth under <b>{better} of "
            f"{truth.height}</b> models."
        )
    if nxt is not None:
        parts += _next(ctx, nxt)
    return Section(
        "calibration",
        "Experiments: calibrated credit and what to test next",
        "\n".join(parts),
        "What lift tests measured, weighed against each model by inverse variance: the tested "
        "channels rescaled, what no channel explains booked as baseline; then the channels "
        "where a test is worth the most.",
    )


def _calibrated(
    ctx: Context, credit: pl.DataFrame, tests: pl.DataFrame | None, model: str
) -> list[str]:
    rows = credit.filter(pl.col("model") == model)
    shown = rows.filter(pl.col("channel") != _BASELINE).sort("uncalibrated_share")
    fig = go.Figure()
    fig.add_bar(
        name="uncalibrated",
        y=col(shown, "channel"),
        x=col(shown, "uncalibrated_share"),
        orientation="h",
        marker_color=color(0),
    )
    fig.add_bar(
        name="calibrated",
        y=col(shown, "channel"),
        x=col(shown, "share"),
        orientation="h",
        marker_color=color(1),
    )
    fig.update_layout(barmode="group", xaxis_tickformat=".0%", xaxis_title="share of conversions")
    base = rows.filter(pl.col("channel") == _BASELINE)
    baseline = fmt_pct(base.get_column("share").first()) if base.height else "-"
    parts = [
        f"<h3>Calibrated credit under {e(model)}</h3>",
        f"<p>Baseline (what no channel explains once the tests are applied): "
        f"<b>{e(baseline)}</b> of conversions.</p>",
        ctx.chart(
            fig,
            caption="Each channel's share of conversions, the model's own and calibrated with "
            "the experiments (only tested channels move, unless the others give way to keep "
            "the total).",
            height=max(320, 28 * shown.height + 120),
        ),
    ]
    tested = rows.filter(pl.col("tested")).get_column("channel").to_list()
    if tested:
        ctx.findings.append(
            f"Lift tests moved {e(', '.join(tested))} under {e(model)} (calibrated_credit."
            "parquet; the baseline holds " + e(baseline) + " of conversions)."
        )
    if tests is not None and tests.height:
        parts.append(f"<h3>The tests, weighed against {e(model)}</h3>")
        parts.append(table(tests.filter(pl.col("model") == model).drop("model")))
    parts.append(
        note(
            "Every model's calibrated credit is in calibrated_credit.parquet, every model x "
            "test in calibration_tests.parquet."
        )
    )
    return parts


def _next(ctx: Context, nxt: pl.DataFrame) -> list[str]:
    if gap := missing_note("What to test next", nxt, ("rank", "channel", "value")):
        return [gap]
    top = nxt.filter(pl.col("value") > 0)
    parts = ["<h3>What to test next</h3>"]
    if not top.height:
        return [*parts, note("No paid channel on which the models disagree.")]
    first = top.row(0, named=True)
    size = first.get("holdout_per_arm")
    ctx.findings.append(
        f"Test next: <b>{e(first['channel'])}</b> (spend x model disagreement x interval "
        f"width {e(money_text(first['value']))}; an account holdout needs "
        f"{e(f'{size:,}' if size is not None else '-')} per arm)."
    )
    parts.append(
        "<p>Value = spend x how far the models are apart on the channel's credit ((max - "
        "min) / mean) x the decision model's relative interval width (1 without the "
        "bootstrap). The holdout size detects the gap between the highest and the lowest "
        "model's credit with a two-proportion z-test at alpha 5% and power 80%.</p>"
    )
    parts.append(table(nxt.drop(_NEXT_HIDDEN, strict=False)))
    return parts
