"""The SLA section: each sales and marketing SLA against its target (``sla.parquet``), the
compliance of each owner team, and the longest breaches (``sla_breaches.parquet``)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

from attribution.engine._files import RunFiles
from attribution.report._charts import col, color
from attribution.report._context import Context, Section
from attribution.report._format import details, e, fmt_pct, json_block, kpis, missing_note, table

_LABELS = {
    "speed_to_lead": "speed to lead",
    "follow_up": "follow-up",
    "sql_acceptance": "SQL acceptance",
    "mql_to_sql": "MQL -> SQL",
    "sql_to_opportunity": "SQL -> opportunity",
}
_COLUMNS = (
    "metric",
    "owner_team",
    "target_rule",
    "entered",
    "judged",
    "not_judged",
    "value",
    "p90",
    "compliance_share",
    "breaches",
)
_SHOWN_BREACHES = 50


def sla_section(ctx: Context) -> Section | None:
    slas, breaches = ctx.frames(RunFiles.SLA, RunFiles.SLA_BREACHES)
    meta = ctx.json(RunFiles.SLA_JSON)
    if slas is None:
        return None
    if gap := missing_note("The SLAs", slas, ("metric", "owner_team", "compliance_share")):
        return Section("sla", "Sales and marketing SLAs", gap)
    overall = slas.filter(pl.col("owner_team").is_null())
    parts = [kpis(_figures(overall))]
    if clock := _as_of(meta):
        parts.append(f"<p>{e(clock)}</p>")
    _finding(ctx, overall)
    parts.append(
        table(overall.select(c for c in _COLUMNS if c in overall.columns and c != "owner_team"))
    )
    teams = slas.filter(pl.col("owner_team").is_not_null())
    if teams.height:
        parts.append("<h3>By owner team</h3>")
        parts.append(_team_chart(ctx, teams))
        parts.append(
            details(
                "Every metric by owner team",
                table(teams.select(c for c in _COLUMNS if c in teams.columns)),
            )
        )
    if breaches is not None and breaches.height:
        parts.append(
            f"<h3>Longest breaches (first {min(breaches.height, _SHOWN_BREACHES)} of "
            f"{breaches.height:,}; all in sla_breaches.parquet)</h3>"
        )
        parts.append(table(breaches.head(_SHOWN_BREACHES)))
    if meta:
        parts.append(
            details(
                "Targets, rules and where each default comes from",
                json_block(meta, skip=("overall",)),
            )
        )
    return Section(
        "sla",
        "Sales and marketing SLAs",
        "\n".join(parts),
        "The hand-off from marketing to sales: how fast MQLs get a first sales touch, whether "
        "they are followed up, accepted, and moved on, against the SLA targets.",
    )


def _as_of(meta: dict[str, Any] | None) -> str | None:
    """The time open and overdue hand-offs were measured at and where it came from (the
    run's as-of time), with the rows dated after it; None for a run written before
    ``sla.json`` said it."""
    counts = (meta or {}).get("counts") or {}
    if not counts.get("as_of_from"):
        return None
    after = counts.get("rows_after_as_of") or {}
    left = (
        f"; {after.get('stages', 0):,} stage event(s) and {after.get('touches', 0):,} "
        "touch(es) dated after it are left out"
        if after.get("stages") or after.get("touches")
        else ""
    )
    return f"Open and overdue as of {counts.get('as_of')} ({counts['as_of_from']}){left}."


def _figures(overall: pl.DataFrame) -> list[tuple[str, str]]:
    figures = []
    for row in overall.iter_rows(named=True):
        label = _LABELS.get(row["metric"], row["metric"])
        if row["metric"] == "sql_acceptance":
            figures.append(
                (f"{label} (target {fmt_pct(row.get('target'))})", fmt_pct(row.get("value")))
            )
        else:
            figures.append((f"{label} within target", fmt_pct(row["compliance_share"])))
    return figures


def _finding(ctx: Context, overall: pl.DataFrame) -> None:
    speed = overall.filter(pl.col("metric") == "speed_to_lead")
    if not speed.height or "value" not in speed.columns:
        return
    row = speed.row(0, named=True)
    value, target, breaches = row["value"], row.get("target") or 0.0, row.get("breaches") or 0
    median = f" (median {value:,.1f} h)" if value is not None else ""
    ctx.findings.append(
        f"Speed to lead: <b>{e(fmt_pct(row['compliance_share']))}</b> of MQLs got a first "
        f"sales touch within the {target:g} h target{e(median)}; {breaches:,} breaches."
    )


def _team_chart(ctx: Context, teams: pl.DataFrame) -> str:
    shown = teams.filter(pl.col("metric") != "sql_acceptance").with_columns(
        pl.col("metric").replace(_LABELS).alias("label")
    )
    fig = go.Figure()
    for i, team in enumerate(shown.get_column("owner_team").unique(maintain_order=True)):
        rows = shown.filter(pl.col("owner_team") == team)
        fig.add_bar(
            name=str(team),
            x=col(rows, "label"),
            y=col(rows, "compliance_share"),
            marker_color=color(i),
        )
    fig.update_layout(
        barmode="group",
        yaxis_tickformat=".0%",
        yaxis_range=[0, 1],
        yaxis_title="share within target",
    )
    return ctx.chart(
        fig,
        caption="Share of the hand-offs judged that met the target, by "
        "owner team ((no team): neither the stage nor a sales touch names one).",
    )
