"""The survey section: which model agrees best with what buyers say brought them, and the
channel shares of the answers beside each model's credit (the dark funnel included)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from attribution.engine._files import RunFiles
from attribution.report._charts import BLUE, GREY, col, color, model_order
from attribution.report._context import Context, Section
from attribution.report._format import (
    details,
    e,
    fmt_pct,
    missing_columns,
    missing_note,
    table,
)
from attribution.surveys._leader import survey_doubt

# Columns of survey_shares.parquet that are not a model's share.
SHARE_COLUMNS = frozenset({"channel", "tracked", "answers", "sra_share", "sra_share_incl_dark"})


def survey_section(ctx: Context) -> Section | None:
    shares, board, bench = ctx.frames(
        RunFiles.SURVEY_SHARES, RunFiles.SURVEY_LEADERBOARD, RunFiles.SURVEY_BENCHMARK
    )
    summary_path = ctx.run_dir / RunFiles.SURVEY_SUMMARY
    if shares is None and board is None and bench is None and not summary_path.is_file():
        return None
    parts: list[str] = []
    best = None
    if board is not None and not missing_columns(board, ("model", "agreement")) and board.height:
        best = board.sort("agreement", descending=True).get_column("model")[0]
        parts.append(_agreement_chart(ctx, board))
    if shares is not None:
        if gap := missing_note("Survey vs model shares", shares, ("channel", "sra_share")):
            parts.append(gap)
        else:
            parts.append(_shares_chart(ctx, shares, best))
    dark = ctx.frame(RunFiles.SURVEY_DARK_FUNNEL)
    dark_columns = ("channel", "dark_funnel_rate")
    if dark is not None and not missing_columns(dark, dark_columns) and dark.height:
        parts.append(details("Table: dark funnel by channel",
                             table(dark, formats={"dark_funnel_rate": fmt_pct})))  # fmt: skip
    if board is not None and board.height:
        pct = {
            c: fmt_pct
            for c in board.columns
            if c.startswith(("agreement", "p_best", "mean_credit"))
        }
        parts.append(details("Table: leaderboard", table(board, formats=pct)))
    if summary_path.is_file():
        text = summary_path.read_text(encoding="utf-8", errors="replace")
        parts.append(details("Survey benchmark summary", f"<pre>{e(text)}</pre>"))
    return Section(
        "surveys",
        "Survey vs model shares",
        "\n".join(parts),
        'What buyers say brought them ("How did you hear about us?") against what each '
        "model credits.",
    )


def _agreement_chart(ctx: Context, board: pl.DataFrame) -> str:
    ranked = board.sort("agreement", descending=True)
    best = ranked.get_column("model")[0]
    has_ci = not missing_columns(ranked, ("agreement_low", "agreement_high"))
    models = col(ranked, "model")
    agree = col(ranked, "agreement")
    fig = go.Figure(
        go.Bar(
            x=agree,
            y=models,
            orientation="h",
            marker_color=[BLUE if a is not None and a >= agree[0] - 1e-9 else GREY for a in agree],
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [h - a for a, h in zip(agree, col(ranked, "agreement_high"),
                                               strict=True)],
                "arrayminus": [a - lo for a, lo in zip(agree, col(ranked, "agreement_low"),
                                                      strict=True)],
                "color": "#555",
            } if has_ci else None,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )  # fmt: skip
    fig.update_layout(xaxis={"title": "conversions whose reported channel is the model's "
                                      "top channel", "tickformat": ".0%"})  # fmt: skip
    fig.update_yaxes(autorange="reversed")
    ctx.findings.append(_leader_finding(board, best, agree[0]))
    return ctx.chart(
        fig,
        caption="Agreement with what buyers say (top-1), with 95% bootstrap intervals."
        if has_ci
        else "Agreement with what buyers say (top-1).",
        height=max(300, 60 + 26 * len(models)),
    )


def _leader_finding(board: pl.DataFrame, best: Any, agreement: float) -> str:
    """The finding's sentence: the leader, or why the survey cannot choose one in the
    words the run printed (:func:`survey_doubt`, the decision model's rule: a tie at the
    top, too few answers, a leader seldom first in the bootstrap draws)."""
    doubt = survey_doubt(board) if not missing_columns(board, ("rank", "conversions")) else None
    if doubt:
        return f"Survey benchmark: {e(doubt)}."
    return (
        f"Survey benchmark: <b>{e(best)}</b> agrees best with what buyers report "
        f"({e(fmt_pct(agreement))} top-1 agreement)."
    )


def _shares_chart(ctx: Context, shares: pl.DataFrame, best: Any) -> str:
    models = model_order(
        ctx, [c for c, t in shares.schema.items() if c not in SHARE_COLUMNS and t.is_float()]
    )
    ordered = shares.sort("sra_share", descending=True, nulls_last=True)
    tracked = col(ordered, "tracked") if "tracked" in ordered.columns else None
    labels = [
        f"{c} (untracked)" if tracked is not None and tracked[i] is False else str(c)
        for i, c in enumerate(col(ordered, "channel"))
    ]
    fig = go.Figure()
    fig.add_bar(name="survey (tracked channels)", x=labels,
                y=col(ordered, "sra_share"), marker_color="#222")  # fmt: skip
    if "sra_share_incl_dark" in ordered.columns:
        fig.add_bar(name="survey incl. dark funnel", x=labels,
                    y=col(ordered, "sra_share_incl_dark"), marker_color="#8a8f96")  # fmt: skip
    shown = {best, "linear"} if len(models) > 2 else set(models)
    for i, model in enumerate(models):
        fig.add_bar(name=model, x=labels, y=col(ordered, model), marker_color=color(i),
                    visible=True if model in shown else "legendonly")  # fmt: skip
    fig.update_layout(barmode="group", yaxis={"tickformat": ".0%", "title": "share"})
    return ctx.chart(
        fig,
        caption="Channel shares from survey answers beside model credit. Models "
        "are in the legend: click to compare. Untracked channels (podcasts, word "
        "of mouth...) have no model credit: that is the dark funnel.",
        height=460,
    )
