"""The funnel section: stage rates and volumes, the weakest stage, rates by channel and
cohort, the weekly leading indicators and the alerts (``alerts.parquet``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from attribution._reporting_currency import money_prefix, sign
from attribution.b2b._gaps import gap_words
from attribution.engine._files import RunFiles
from attribution.report._charts import BLUE, GREY, RED, col, shaded_table
from attribution.report._context import Context, Section
from attribution.report._format import (
    details,
    e,
    fmt_num,
    fmt_pct,
    is_missing,
    json_block,
    kpis,
    missing_note,
    note,
    table,
)
from attribution.report._labels import words

WEAKEST_KEYS = ("weakest_stage", "weakest")  # where funnel.json may name the weakest stage


def funnel_section(ctx: Context) -> Section | None:
    funnel, weekly, alerts = ctx.frames(RunFiles.FUNNEL, RunFiles.FUNNEL_WEEKLY, RunFiles.ALERTS)
    meta = ctx.json(RunFiles.FUNNEL_JSON)
    if funnel is None and weekly is None and meta is None:
        return None
    parts: list[str] = []
    if funnel is not None:
        need = ("dimension", "from_stage", "to_stage", "rate")
        if gap := missing_note("The funnel", funnel, need):
            parts.append(gap)
        else:
            parts.extend(_funnel_charts(ctx, funnel, meta))
    if weekly is not None:
        parts.append("<h3>Weekly leading indicators</h3>")
        if gap := missing_note("The weekly series", weekly, ("week", "metric", "value")):
            parts.append(gap)
        elif weekly.height:
            parts.append(_weekly_chart(ctx, weekly))
    if alerts is not None:
        parts.append(_alerts_table(ctx, alerts))
    if meta:
        velocity = meta.get("pipeline_velocity")
        if isinstance(velocity, dict) and velocity.get("velocity_per_day") is not None:
            figures = [
                ("pipeline velocity per day", fmt_num(velocity.get("velocity_per_day"))),
                ("open opportunities (avg)", fmt_num(velocity.get("opportunities"))),
                ("win rate", fmt_pct(velocity.get("win_rate"))),
                ("average deal", fmt_num(velocity.get("average_deal"))),
                ("cycle days", fmt_num(velocity.get("cycle_days"), 1)),
            ]
            parts.insert(0, kpis(figures))
        rest = {k: v for k, v in meta.items() if k not in WEAKEST_KEYS}
        if rest:
            parts.append(details("Pipeline velocity, alerts, alert rule and method",
                                 json_block(rest)))  # fmt: skip
    return Section(
        "funnel",
        "Funnel",
        "\n".join(parts),
        "Stage conversion rates, where the funnel is weakest, and the weekly series that "
        "warn early when a stage breaks from its trailing range.",
    )


def _weakest(meta: Mapping[str, Any] | None, rows: pl.DataFrame) -> tuple[str, str] | None:
    """The (from_stage, to_stage) that funnel.json names weakest, else ``None``."""
    value = (meta or {}).get(WEAKEST_KEYS[0], (meta or {}).get(WEAKEST_KEYS[1]))
    pairs = list(zip(col(rows, "from_stage"), col(rows, "to_stage"), strict=True))
    if isinstance(value, dict):
        frm = value.get("from_stage", value.get("from", value.get("stage")))
        to = value.get("to_stage", value.get("to"))
        for a, b in pairs:
            if a == frm and (to is None or b == to):
                return a, b
    elif isinstance(value, str):
        for a, b in pairs:
            if value in (a, f"{a} -> {b}", f"{a}->{b}", f"{a} → {b}", f"{a}_to_{b}"):
                return a, b
        for a, b in pairs:
            if value == b:
                return a, b
    return None


def _funnel_charts(ctx: Context, funnel: pl.DataFrame, meta: Mapping[str, Any] | None) -> list[str]:
    parts: list[str] = []
    overall = funnel.filter(pl.col("dimension") == "all")
    if overall.height == 0:
        parts.append(note(f"{RunFiles.FUNNEL} has no dimension = 'all' rows: no overall funnel."))
        return parts
    weakest = _weakest(meta, overall)
    named = (meta or {}).get("weakest_stage")
    label = f"as named in {RunFiles.FUNNEL_JSON}"
    if isinstance(named, dict):
        label = str(named.get("judged_against") or label)
    measured = overall.filter(pl.col("rate").is_not_null())
    if weakest is None and measured.height == 0:
        # no step the data can measure (its stages miss): say so, judge nothing
        why = "; ".join(
            f"{words(a)} → {words(b)}: {why}"
            for a, b, why in zip(
                col(overall, "from_stage"),
                col(overall, "to_stage"),
                col(overall, "not_measured") if "not_measured" in overall.columns
                else [None] * overall.height,
                strict=True,
            )
            if why
        )
        parts.append(
            '<div class="callout">No funnel step is measured'
            + (f": {e(why)}" if why else ": no step has a rate")
            + ".</div>"
        )
        return parts
    if weakest is None:
        low = measured.sort("rate").row(0, named=True)
        weakest = (low["from_stage"], low["to_stage"])
        label = f"the lowest rate ({RunFiles.FUNNEL_JSON} names no weakest stage)"
    pairs = list(zip(col(overall, "from_stage"), col(overall, "to_stage"), strict=True))
    steps = [f"{words(a)} → {words(b)}" for a, b in pairs]
    is_weak = [pair == weakest for pair in pairs]
    weak_row = overall.filter(
        (pl.col("from_stage") == weakest[0]) & (pl.col("to_stage") == weakest[1])
    ).row(0, named=True)
    lo, hi = weak_row.get("benchmark_low"), weak_row.get("benchmark_high")
    target = ""
    if not is_missing(lo):
        rate = weak_row.get("rate")
        gap = weak_row.get("benchmark_gap")
        # the gap worded as the answers and the CLI word it: points (share of the low end)
        below = (
            ", " + gap_words(rate, lo, None if is_missing(hi) else hi, "rate")
            if isinstance(rate, int | float) and isinstance(gap, int | float) and gap < 0
            else ""
        )
        target = f" (benchmark target {fmt_pct(lo, 0)}" + (
            f"–{fmt_pct(hi, 0)}" if not is_missing(hi) else " or more"
        ) + f"{below})"
    parts.append(
        f'<div class="callout">Weakest stage: <b>{e(words(weakest[0]))} → '
        f"{e(words(weakest[1]))}</b>, {e(fmt_pct(weak_row['rate']))} of those entering "
        f"advance{e(target)}.<br>"
        f'<span class="muted">Judged against {e(label)}.</span></div>'
    )
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("Stage volumes", "Stage conversion rate"),
        horizontal_spacing=0.14,
    )  # fmt: skip
    if {"entered", "advanced"} <= set(overall.columns):
        stages = [words(x) for x in [*col(overall, "from_stage"), col(overall, "to_stage")[-1]]]
        volumes = [*col(overall, "entered"), col(overall, "advanced")[-1]]
        # Horizontal bars, first stage on top: a funnel chart without the funnel trace, which
        # the page's small plotly.js bundle does not have.
        fig.add_bar(
            y=stages, x=volumes, orientation="h", marker_color=BLUE, name="volume",
            text=[fmt_num(v) for v in volumes], textposition="auto", showlegend=False,
            hovertemplate="%{y}: %{x:,}<extra></extra>", row=1, col=1,
        )  # fmt: skip
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=1)
        fig.update_xaxes(rangemode="tozero", row=1, col=1)
    fig.add_bar(
        x=steps,
        y=col(overall, "rate"),
        marker_color=[RED if w else BLUE for w in is_weak],
        text=[fmt_pct(v) for v in col(overall, "rate")],
        textposition="outside",
        name="rate",
        showlegend=False,
        hovertemplate="%{x}: %{y:.1%}<extra></extra>",
        row=1,
        col=2,
    )
    caption = "Red: the weakest stage."
    if {"benchmark_low", "benchmark_high"} <= set(overall.columns):
        lows, highs = col(overall, "benchmark_low"), col(overall, "benchmark_high")
        has = [not is_missing(a) and not is_missing(b) for a, b in zip(lows, highs, strict=True)]
        if any(has):
            fig.add_scatter(
                x=[x for x, h in zip(steps, has, strict=True) if h],
                y=[(a + b) / 2 for a, b, h in zip(lows, highs, has, strict=True) if h],
                error_y={"type": "data", "color": "#444", "thickness": 2, "width": 14,
                         "array": [(b - a) / 2 for a, b, h in zip(lows, highs, has, strict=True)
                                   if h]},
                mode="markers", marker={"size": 1, "color": "#444"}, name="benchmark target",
                hovertemplate="%{x}: target %{customdata}<extra></extra>",
                customdata=[f"{fmt_pct(a, 0)}–{fmt_pct(b, 0)}"
                            for a, b, h in zip(lows, highs, has, strict=True) if h],
                showlegend=False, row=1, col=2,
            )  # fmt: skip
            caption += " Black brackets: the benchmark target range of the step."
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", title="share advancing", row=1, col=2)
    fig.update_xaxes(title=f"{_unit(meta)} entering the stage", tickformat=",.0f", row=1, col=1)
    parts.append(ctx.chart(fig, caption=e(caption), height=420))
    if "median_days_in_stage" in overall.columns:
        days = go.Figure(
            go.Bar(x=steps, y=col(overall, "median_days_in_stage"), marker_color=GREY,
                   hovertemplate="%{x}: %{y:.1f} days<extra></extra>")
        )  # fmt: skip
        days.update_layout(yaxis={"title": "median days in stage (days)"})
        parts.append(ctx.chart(days, caption="Median days from entering a stage to "
                                             "advancing.", height=320))  # fmt: skip
    for dim, title in (("channel", "by channel"), ("cohort", "by cohort")):
        rows = funnel.filter(pl.col("dimension") == dim)
        if rows.height == 0 or "group" not in rows.columns:
            continue
        parts.append(_rates_by_group(rows, steps, title, meta if dim == "cohort" else None))
    parts.append(details("Table: funnel", table(funnel, formats={"rate": fmt_pct},
                                                max_rows=500)))  # fmt: skip
    return parts


def _unit(meta: Mapping[str, Any] | None) -> str:
    """What the funnel counts, from funnel.json's notes: ``contacts`` or ``accounts``."""
    unit = str(((meta or {}).get("notes") or {}).get("unit", ""))
    return "accounts" if "account" in unit else "contacts" if "contact" in unit else "entities"


def _rates_by_group(
    rows: pl.DataFrame, steps: list[str], title: str, meta: Mapping[str, Any] | None = None
) -> str:
    """Each group's stage conversion rates as a shaded table, the steps in funnel order
    (``steps`` as the page labels them: :func:`words` of each stage). With ``meta`` (the
    cohort table), cohorts too recent to have settled are marked provisional and left out of
    the colour scale (:func:`_provisional_cohorts`)."""
    pairs = list(zip(col(rows, "from_stage"), col(rows, "to_stage"), strict=True))
    labels = [f"{words(a)} → {words(b)}" for a, b in pairs]
    groups = sorted({str(g) for g in col(rows, "group")})
    rate = {
        (str(g), step): r for g, step, r in zip(col(rows, "group"), labels, col(rows, "rate"),
                                                 strict=True)
    }  # fmt: skip
    cols = [s for s in steps if s in set(labels)]
    z = [[rate.get((g, s)) for s in cols] for g in groups]
    recent, days = _provisional_cohorts(groups, meta) if meta is not None else (set(), None)
    caption = f"Stage conversion rate {title}: red for the lowest, green for the highest."
    if recent:
        caption += (
            f" Provisional: cohorts whose month ended less than {days} days before the last "
            "stage event "
            "(open deals still count as not advanced), unshaded and outside the scale."
        )
    return shaded_table(
        z, cols, groups, colorscale="RdYlGn", corner=title.removeprefix("by "),
        caption=e(caption), muted=[g in recent for g in groups],
    )  # fmt: skip


def _provisional_cohorts(
    groups: list[str], meta: Mapping[str, Any]
) -> tuple[set[str], int | None]:
    """The monthly cohorts (``YYYY-MM``) whose month ends less than the funnel's settle time
    (funnel.json: parameters.alerts.settle_days_used) before the data's last stage event
    (counts.span), and that settle time in days."""
    alerts = ((meta.get("parameters") or {}).get("alerts") or {}) if meta else {}
    settle = alerts.get("settle_days_used") if isinstance(alerts, dict) else None
    span = (meta.get("counts") or {}).get("span") if meta else None
    if not isinstance(settle, int | float) or not isinstance(span, list) or len(span) != 2:
        return set(), None
    try:
        end = datetime.fromisoformat(str(span[1])).date()
    except ValueError:
        return set(), None
    recent = set()
    for group in groups:
        try:
            start = datetime.strptime(group, "%Y-%m").date()
        except ValueError:
            continue
        month_end = (start.replace(day=28) + timedelta(days=4)).replace(day=1)
        if (end - month_end).days < settle:
            recent.add(group)
    return recent, int(settle)


def _weekly_chart(ctx: Context, weekly: pl.DataFrame) -> str:
    if "channel" in weekly.columns:  # the overall series; the per-channel ones are in the file
        weekly = weekly.filter(pl.col("channel").is_null())
    metrics = list(dict.fromkeys(col(weekly, "metric")))
    titles = [f"{words(m)} ({_metric_unit(m)})" for m in metrics]
    fig = make_subplots(rows=len(metrics), cols=1, shared_xaxes=True, subplot_titles=titles,
                        vertical_spacing=min(0.08, 0.3 / max(1, len(metrics))))  # fmt: skip
    alerts_total = 0
    for i, metric in enumerate(metrics, start=1):
        rows = weekly.filter(pl.col("metric") == metric).sort("week")
        unit = _metric_unit(str(metric))
        if unit == sign():  # money: the run's reporting currency
            fig.update_yaxes(tickprefix=money_prefix(), tickformat=",.0f", row=i, col=1)
        elif unit == "%":
            fig.update_yaxes(tickformat=".0%", row=i, col=1)
        else:
            fig.update_yaxes(tickformat=",.0f", row=i, col=1)
        weeks = [str(w) for w in col(rows, "week")]
        first = i == 1
        # provisional weeks (near the data's first or last day, still moving): hollow grey
        provisional = (col(rows, "provisional") if "provisional" in rows.columns
                       else [False] * rows.height)  # fmt: skip
        fig.add_scatter(x=weeks, y=col(rows, "value"), mode="lines+markers", name="value",
                        line={"color": BLUE},
                        marker={"size": 5, "color": [GREY if p else BLUE for p in provisional],
                                "symbol": ["circle-open" if p else "circle"
                                           for p in provisional]},
                        legendgroup="value", showlegend=first, row=i, col=1)  # fmt: skip
        if "expected" in rows.columns:
            fig.add_scatter(x=weeks, y=col(rows, "expected"), mode="lines",
                            name="expected", line={"color": GREY, "dash": "dash"},
                            legendgroup="expected", showlegend=first, row=i, col=1)  # fmt: skip
        if "alert" in rows.columns:
            hit = rows.filter(pl.col("alert").fill_null(False))
            alerts_total += hit.height
            z = col(hit, "score") if "score" in hit.columns else [None] * hit.height
            fig.add_scatter(
                x=[str(w) for w in col(hit, "week")], y=col(hit, "value"), mode="markers",
                name="alert", marker={"color": RED, "size": 11, "symbol": "x"},
                customdata=[[v] for v in z], legendgroup="alert", showlegend=first,
                hovertemplate="%{x}: %{y:,.3g}<br>z %{customdata[0]:.1f}<extra></extra>",
                row=i, col=1,
            )  # fmt: skip
    fig.update_layout(legend={"orientation": "h", "y": 1.06, "yanchor": "bottom"})
    return ctx.chart(
        fig,
        caption="Each overall metric against its expected value; red crosses are weeks out of "
        "their expected range; hollow grey points are provisional weeks (within the funnel's "
        "settle time of the data's first or last day, where counts and rates still move: "
        "they never alert). Per-channel series are in funnel_weekly.parquet.",
        height=max(320, 170 * len(metrics)),
    )


def _metric_unit(metric: str) -> str:
    """The unit of a weekly metric, from its name: money (the sign of the run's reporting
    currency), a share, days or a count.

    >>> _metric_unit("cost_per_lead"), _metric_unit("mql_to_sql"), _metric_unit("mql_volume")
    ('$', '%', 'count')
    """
    if metric.startswith(("cost", "spend")) or metric == "spend":
        return sign()
    if "_to_" in metric or metric.endswith("rate"):
        return "%"
    if metric.endswith("days"):
        return "days"
    return "count"


def _alerts_table(ctx: Context, alerts: pl.DataFrame) -> str:
    """The alerts of ``alerts.parquet``, most severe first, with a key finding."""
    head = '<h3 id="alerts">Alerts</h3>'
    if gap := missing_note("The alerts", alerts, ("week", "metric", "kind", "message")):
        return head + gap
    if alerts.height == 0:
        return head + note("No alert: every tested week is inside its expected range.")
    if "severity" in alerts.columns:
        rank = pl.col("severity").replace_strict({"high": 0, "medium": 1}, default=2)
        alerts = alerts.sort(rank, "week")
    shown = [c for c in ("week", "severity", "metric", "channel", "kind", "message")
             if c in alerts.columns]  # fmt: skip
    return head + table(alerts.select(shown), max_rows=50)
