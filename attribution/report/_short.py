"""What falls short of a published range, gathered once for the page's findings, so the
findings and the answers above them say the same (new-user report 3, defect 8: "Funnel KPIs:
0 of 27 fall short" beside a funnel step and a segment shown short in red).

"Short" has one meaning on the page: a figure on the worse side of its published range
(``benchmark_gap < 0``; the ``short`` judgement of ``economics.parquet``'s segment ranges).
Three files carry such figures: the funnel's step rates (``funnel.parquet``, overall and per
segment: the answers' "Where does the funnel leak most?"), the funnel KPIs
(``funnel_kpis.parquet``) and each segment's created pipeline per dollar and CAC recovery
under the decision model (``economics.json`` blended rows: the economics section's segment
table). The guardrail, LTV/CAC and the payback target are targets of the run, not published
ranges: the answers judge them in their own words.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution._reporting_currency import sign
from attribution.b2b._funnel_kpis import KPI_LABELS
from attribution.b2b._gaps import gap_words
from attribution.engine._files import RunFiles
from attribution.report._charts import col, model_order
from attribution.report._context import Context
from attribution.report._economics import pick_model
from attribution.report._format import e, fmt_num, fmt_pct, is_missing
from attribution.report._labels import words

__all__ = ["short_finding"]

#: the segment range judgements of the economics: column prefix -> its words and unit
_SEGMENT_RANGES = (
    ("pipeline_per_dollar", "created pipeline per {sign}", "created_pipeline_per_dollar", "×"),
    ("cac_payback", "CAC recovery", "payback_months", " months"),
)


def _range(low: Any, high: Any, fmt: Any) -> str:
    if is_missing(low):
        return f"at most {fmt(high)}"
    if is_missing(high):
        return f"at least {fmt(low)}"
    return f"{fmt(low)}–{fmt(high)}"


def _steps(ctx: Context) -> tuple[list[str], list[str], bool]:
    """The funnel steps below their range: overall, then per segment; and whether any step
    was judged against a range at all."""
    funnel = ctx.frame(RunFiles.FUNNEL)
    need = {"dimension", "from_stage", "to_stage", "rate", "benchmark_gap", "benchmark_low"}
    if funnel is None or not need <= set(funnel.columns):
        return [], [], False
    judged = funnel.filter(pl.col("benchmark_gap").is_not_null()).height > 0
    rows = funnel.filter(
        pl.col("dimension").is_in(["all", "segment"])
        & (pl.col("benchmark_gap") < 0)
        & pl.col("rate").is_not_null()
    ).sort("benchmark_gap")
    overall, by_segment = [], []
    for r in rows.iter_rows(named=True):
        high = r.get("benchmark_high")
        high = None if is_missing(high) else high
        step = f"{words(r['from_stage'])} → {words(r['to_stage'])}"
        text = (
            f"{fmt_pct(r['rate'])} against "
            f"{_range(r['benchmark_low'], high, lambda v: fmt_pct(v, 0))}: "
            f"{gap_words(r['rate'], r['benchmark_low'], high, 'rate')}"
        )
        if r["dimension"] == "all":
            overall.append(f"the funnel step <b>{e(step)}</b> ({e(text)})")
        elif "group" in funnel.columns and r.get("group") not in (None, "unknown"):
            by_segment.append(f"{e(r['group'])}'s {e(step)} ({e(text)})")
    return overall, by_segment, judged


def _segments(ctx: Context) -> list[str]:
    """Each segment's created pipeline per $ and CAC recovery judged short, under the
    decision model (the rows the economics section's segment table shows)."""
    econ = ctx.frame(RunFiles.ECONOMICS)
    meta = ctx.json(RunFiles.ECONOMICS_JSON) or {}
    blended = meta.get("blended") if isinstance(meta, dict) else None
    if econ is None or "model" not in econ.columns or not isinstance(blended, list):
        return []
    frame = pl.DataFrame(blended, infer_schema_length=None)
    if not {"model", "segment"} <= set(frame.columns):
        return []
    chosen = pick_model(model_order(ctx, col(econ, "model")), ctx.manifest.get("decision_model"))
    out = []
    for r in frame.filter(pl.col("model") == chosen).iter_rows(named=True):
        for prefix, what, figure, unit in _SEGMENT_RANGES:
            if r.get(f"{prefix}_judgement") != "short":
                continue
            ends = _range(r.get(f"{prefix}_low"), r.get(f"{prefix}_high"), lambda v: f"{v:g}")
            out.append(
                f"{e(r['segment'])}'s {e(what.format(sign=sign()))} "
                f"({e(fmt_num(r.get(figure), 1))}{e(unit)} "
                f"against {e(ends)}{e(unit)})"
            )
    return out


def _kpis(ctx: Context) -> tuple[int, int, list[str]] | None:
    kpis = ctx.frame(RunFiles.FUNNEL_KPIS)
    if kpis is None or not {"benchmark_gap", "kpi", "dimension"} <= set(kpis.columns):
        return None
    short = kpis.filter(pl.col("benchmark_gap") < 0)
    judged = kpis.filter(pl.col("benchmark_gap").is_not_null()).height
    named = [
        (f"{r['group']}'s " if r["dimension"] != "all" and r.get("group") else "")
        + KPI_LABELS.get(r["kpi"], r["kpi"])
        for r in short.iter_rows(named=True)
    ]
    return short.height, judged, named


def short_finding(ctx: Context) -> str | None:
    """One finding: every figure short of its published range on the page, the funnel step
    the answers name first, then the KPI tally; None when the run judges nothing."""
    overall, by_segment, judged = _steps(ctx)
    segments = _segments(ctx)
    kpis = _kpis(ctx)
    if not (judged or segments or kpis):
        return None
    items = [*overall, *by_segment, *segments]
    if kpis and kpis[0]:
        items.append(f"funnel KPIs: {e(', '.join(kpis[2]))}")
    count = len(overall) + len(by_segment) + len(segments) + (kpis[0] if kpis else 0)
    text = (
        f"Short of its published range: <b>{count}</b> figure(s): " + "; ".join(items) + "."
        if count
        else "Nothing is short of its published range."
    )
    if kpis:
        text += (
            f" Of the funnel KPIs (the KPI tables), <b>{kpis[0]} of {kpis[1]}</b> with a range "
            "fall short of it."
        )
    return text
