"""The uncertainty section (the bootstrap's 90% intervals of channel credit and of the unit
economics, the probability of a guardrail breach) and the small-sample marks the economics
tables carry (``~ low n``: fewer credited customers than
:data:`attribution.b2b._economics_draws.MIN_CUSTOMERS`)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from attribution._reporting_currency import money_text
from attribution.b2b._economics_draws import LOW_MARK, MIN_CUSTOMERS, span
from attribution.engine._files import RunFiles
from attribution.report._charts import BLUE, RED, col
from attribution.report._context import Context, Section
from attribution.report._format import e, fmt_num, fmt_pct, note, table
from attribution.report._labels import money

__all__ = ["LOW_CELL", "LOW_LABEL", "low_cell", "marked", "uncertainty_section"]

#: What a low-confidence row shows in its ``n`` column.
LOW_LABEL = f"{LOW_MARK} low n"
#: the same in a table cell, kept on one line (no-break spaces)
LOW_CELL = LOW_LABEL.replace(" ", "\u00a0")
_SPANS = (
    ("customers", "customers 90%", "num"),
    ("loaded_cac", "loaded CAC 90%", "money"),
    ("ltv_to_cac", "LTV/CAC 90%", "num"),
    ("payback_months", "payback 90%", "num"),
    ("guardrail_share", "guardrail 90%", "pct"),
)


def marked(rows: pl.DataFrame) -> pl.DataFrame:
    """``rows`` (economics rows) with ``n`` (``~ low n`` on low-confidence rows), the
    intervals as text (``loaded CAC 90%``...) and ``P(breach)`` where the run has draws;
    the interval columns themselves dropped (the text says them)."""
    out = rows
    if "low_confidence" in rows.columns:
        out = out.with_columns(
            pl.when(pl.col("low_confidence")).then(pl.lit(LOW_CELL)).otherwise(pl.lit(""))
            .alias("n")
        )  # fmt: skip
    drawn = "breach_probability" in rows.columns and rows.get_column(
        "breach_probability"
    ).null_count() < max(rows.height, 1)
    if drawn:
        texts = {
            label: [
                span(r.get(f"{figure}_ci_low"), r.get(f"{figure}_ci_high"), kind,
                     r.get("customers"))  # fmt: skip
                for r in rows.iter_rows(named=True)
            ]
            for figure, label, kind in _SPANS
            if f"{figure}_ci_low" in rows.columns
        }
        # spend and no credited customer: one statement, not "not measured" in every
        # interval beside its 100% breach (the CAC is unbounded: that is the breach)
        for i, r in enumerate(rows.iter_rows(named=True)):
            spent, customers = r.get("spend"), r.get("customers")
            if customers == 0 and isinstance(spent, int | float) and spent > 0:
                for label in texts:
                    if label != "customers 90%":
                        texts[label][i] = (
                            f"no customer for {money(spent)} of spend: CAC unbounded"
                            if label == "loaded CAC 90%" else ""
                        )
        out = out.with_columns(
            *(pl.Series(label, values, dtype=pl.String) for label, values in texts.items()),
            pl.col("breach_probability").alias("P(breach)"),
        )
    drop = [c for c in out.columns
            if "_ci_" in c or c in ("breach_probability", "low_confidence", "spend")]
    return out.drop(drop)


def low_cell(value: str, low: bool | None) -> str:
    """A table cell's text with the low-n mark in front when ``low``."""
    return f"{LOW_MARK}{value}" if low else value


def uncertainty_section(ctx: Context) -> Section | None:
    """The bootstrap's intervals: channel shares under the decision model (and every model
    folded), the unit economics with their intervals and breach probabilities; None for a
    run without draws."""
    boot = ctx.manifest.get("bootstrap")
    credit = ctx.frame(RunFiles.CHANNEL_CREDIT)
    if not isinstance(boot, dict) or credit is None or "ci_low" not in credit.columns:
        return None
    parts: list[str] = [
        note(
            f"{boot.get('draws')} bootstrap draws over {boot.get('unit')}s (seed "
            f"{boot.get('seed')}): each draw weighs every {boot.get('unit')} by a Poisson(1) "
            "count and refits every model; the intervals are the 5th to 95th percentiles of "
            "the draws (90%). A figure whose interval is wide is noise more than signal. "
            f"{LOW_LABEL}: fewer than {MIN_CUSTOMERS:g} credited customers. "
            f"\"{money_text(2485)} or more\": in more than 5% of the draws the channel is "
            "credited no customer, so its "
            "CAC, payback and guardrail share have no upper bound; \"not measured\": no "
            "customer in 95% of the draws."
        )
    ]
    models = col(credit, "model")
    decided = ctx.manifest.get("decision_model")
    chosen = decided if decided in models else (models[0] if models else None)
    if chosen is not None:
        rows = credit.filter(pl.col("model") == chosen).sort("share", descending=True)
        parts.append(f"<h3>Channel share under {e(chosen)}, with its 90% interval</h3>")
        parts.append(ctx.chart(_share_chart(rows), height=380))
        parts.append(
            note(
                "Every model's shares and intervals are in channel_credit.parquet (ci_low, "
                "ci_high); every draw in credit_draws.parquet."
            )
        )
    econ = ctx.frame(RunFiles.ECONOMICS)
    if econ is not None and chosen is not None and "breach_probability" in econ.columns:
        rows = econ.filter(pl.col("model") == chosen)
        if rows.height:
            likely = rows.filter(
                (pl.col("segment") == "all") & (pl.col("breach_probability") >= 0.5)
            )
            if likely.height:
                ctx.findings.append(
                    f"Under {e(chosen)}, "
                    + ", ".join(
                        f"<b>{e(r['channel'])}</b> breaches the guardrail in "
                        f"{r['breach_probability']:.0%} of the bootstrap draws"
                        for r in likely.iter_rows(named=True)
                    )
                    + "."
                )
            shown = marked(
                rows.select(
                    "segment", "channel", "customers", "spend", "loaded_cac", "guardrail_share",
                    *[c for c in rows.columns if "_ci_" in c],
                    "breach_probability", "low_confidence",
                )  # fmt: skip
            )
            parts.append(f"<h3>Unit economics under {e(chosen)}, with 90% intervals</h3>")
            parts.append(
                table(
                    shown,
                    formats={
                        "customers": lambda v: fmt_num(v, 1),
                        "loaded_cac": money,
                        "guardrail_share": fmt_pct,
                        "P(breach)": lambda v: fmt_pct(v, 0),
                    },
                    row_class=_likely_breach,
                    max_rows=500,
                )
            )
    return Section(
        "uncertainty",
        "Uncertainty",
        "\n".join(parts),
        "90% bootstrap intervals of channel credit and unit economics, and how often each "
        "channel breaches the guardrail across the draws.",
    )


def _likely_breach(row: dict[str, Any]) -> str:
    p = row.get("P(breach)")
    return "bad" if isinstance(p, float) and p >= 0.5 else ""


def _gap(top: Any, bottom: Any) -> float | None:
    return None if top is None or bottom is None else float(top) - float(bottom)


def _share_chart(rows: pl.DataFrame) -> go.Figure:
    share = col(rows, "share")
    above = [_gap(h, s) for h, s in zip(col(rows, "ci_high"), share, strict=True)]
    below = [_gap(s, lo) for lo, s in zip(col(rows, "ci_low"), share, strict=True)]
    fig = go.Figure()
    fig.add_bar(
        x=col(rows, "channel"),
        y=share,
        marker_color=BLUE,
        name="share",
        error_y={
            "type": "data",
            "symmetric": False,
            "array": above,
            "arrayminus": below,
            "color": RED,
        },
    )
    fig.update_layout(yaxis={"tickformat": ".0%", "title": "share of credited conversions"})
    return fig
