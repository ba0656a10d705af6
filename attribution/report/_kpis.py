"""The funnel KPIs section (``funnel_kpis.parquet``): NRR, average deal size, time to close,
pipeline velocity, customer concentration, win rate and the marketing-sourced and
-influenced shares, overall, per segment and per channel, each beside its range."""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution.b2b._economics_ranges import PUBLISHED_USD, published_in_usd, usd_range
from attribution.b2b._funnel_kpis import KPI_LABELS
from attribution.b2b._gaps import gap_words, judgement
from attribution.engine._files import RunFiles
from attribution.inputs._benchmarks import format_range, format_value
from attribution.report._context import Context, Section
from attribution.report._format import e, is_missing, missing_note, note, table

__all__ = ["kpi_section"]

_NEED = ("dimension", "group", "kpi", "value", "unit")
_SCOPES = (("all", "Overall", None), ("segment", "By segment", "segment"),
           ("channel", "By channel", "channel"))  # fmt: skip


def _verdict(gap: Any) -> str:
    return "" if is_missing(gap) else judgement(gap)


def _gap_text(r: dict[str, Any], low: Any, high: Any) -> str:
    """The gap worded as the CLI and the answers word it (``1.4 points (6.9%) below it``
    for a rate); empty without a figure or a gap."""
    value, gap = r.get("value"), r.get("benchmark_gap")
    if not isinstance(value, int | float) or is_missing(value) or is_missing(gap):
        return ""
    return gap_words(
        value, None if is_missing(low) else low, None if is_missing(high) else high,
        r["unit"], r["kpi"],
    )  # fmt: skip


def _range(r: dict[str, Any], low: Any, high: Any) -> str:
    """The range in its unit; a published USD range in a run in another currency in dollars,
    labelled (new-user report 16, M8)."""
    if published_in_usd(r["unit"], source=r.get("benchmark_source")):
        return f"{usd_range(low, high, r['unit'], r['kpi'])} {PUBLISHED_USD}"
    return format_range(low, high, r["unit"], r["kpi"])


def _rows(kpis: pl.DataFrame, scope: str | None) -> pl.DataFrame:
    """The displayed rows: the KPI's label, its value and range in their unit, the gap and
    the judgement (a few dozen rows: formatted one by one)."""
    out = []
    for r in kpis.iter_rows(named=True):
        low, high = r.get("benchmark_low"), r.get("benchmark_high")
        ranged = not (is_missing(low) and is_missing(high))
        row = {
            **({scope: r["group"]} if scope else {}),
            "KPI": KPI_LABELS.get(r["kpi"], r["kpi"]),
            "value": format_value(r["value"], r["unit"], r["kpi"]),
            "range": _range(r, low, high) if ranged else "",
            "gap": _gap_text(r, low, high) if ranged else "",
            "judgement": "not measured"
            if r.get("not_measured")
            else "no range"
            if not ranged
            else "no figure"
            if is_missing(r["value"])
            else _verdict(r.get("benchmark_gap")),
            "detail": r.get("not_measured") or r.get("detail") or "",
        }
        out.append(row)
    return pl.DataFrame(out, schema_overrides={"gap": pl.String}, infer_schema_length=None)


def kpi_section(ctx: Context) -> Section | None:
    kpis = ctx.frame(RunFiles.FUNNEL_KPIS)
    if kpis is None:
        return None
    parts: list[str] = []
    if gap := missing_note("The KPI tables", kpis, _NEED):
        parts.append(gap)
    elif kpis.height == 0:
        parts.append(note(f"{RunFiles.FUNNEL_KPIS} is empty: no KPI to show."))
    else:
        for dimension, title, scope in _SCOPES:
            rows = kpis.filter(pl.col("dimension") == dimension)
            if rows.height == 0:
                continue
            parts.append(f"<h3>{e(title)}</h3>")
            parts.append(
                table(
                    _rows(rows, scope),
                    row_class=lambda r: "bad" if r.get("judgement") == "short" else "",
                    max_rows=300,
                )
            )
    return Section(
        "kpis",
        "Funnel KPIs against their ranges",
        "\n".join(parts),
        "NRR, average deal size, time to close, pipeline velocity, customer concentration, "
        "win rate and the marketing-sourced and -influenced shares, overall, per segment and "
        "per channel, each beside its published range (the gap is how far beyond the end it "
        "passes; short = on the worse side).",
    )
