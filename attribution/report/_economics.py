"""The sections on money: unit economics (CAC against the guardrail) and the plan check."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from attribution.b2b._decision import DEFAULT_DECISION_MODELS, decision_note
from attribution.engine._files import RunFiles
from attribution.models._registry import available_models
from attribution.report._charts import BLUE, GREY, ORANGE, RED, col, model_order
from attribution.report._context import Context, Section
from attribution.report._format import (
    Formatter,
    details,
    e,
    fmt_auto,
    fmt_num,
    fmt_pct,
    is_missing,
    json_block,
    kpis,
    missing_note,
    note,
    select,
    skip_note,
    table,
)

ECONOMICS_COLUMNS = (
    "channel", "status", "spend", "customers", "revenue", "cac", "loaded_cac", "ltv",
    "ltv_to_cac", "payback_months", "gross_profit_per_customer", "guardrail_share",
    "guardrail_limit", "breach",
)  # fmt: skip
PLAN_COLUMNS = (
    "channel", "budget", "measured_cac", "projected_customers", "target_customers", "gap",
    "floor", "cap", "reallocated_budget", "reallocated_customers", "change", "action",
)  # fmt: skip
TOTAL_LABELS = frozenset({"total", "all", "(total)", "__total__", "sum"})


def headline_models() -> list[str]:
    """The models whose figures the page shows when the run names none: the registry's
    ``headline`` models, data-driven first, each family in registry order."""
    specs = available_models().items()
    return [
        name
        for family in ("data", "rule")
        for name, spec in specs
        if spec.family == family and spec.prominence == "headline"
    ]


def _pick_model(models: Sequence[str], *hints: Any) -> str:
    """The first hint the run has (its decision model first), else the default decision
    model (:mod:`attribution.b2b._decision`), else the first headline model."""
    for hint in hints:
        if isinstance(hint, str) and hint in models:
            return hint
    for model in (*DEFAULT_DECISION_MODELS, *headline_models()):
        if model in models:
            return model
    return models[0]


def economics_section(ctx: Context) -> Section | None:
    econ = ctx.frame(RunFiles.ECONOMICS)
    if econ is not None and "segment" in econ.columns:  # the chart: every segment together
        econ = econ.filter(pl.col("segment") == "all")
    meta = ctx.json(RunFiles.ECONOMICS_JSON)
    if econ is None and meta is None:
        return None
    parts: list[str] = []
    if econ is None:
        parts.append(note(f"{RunFiles.ECONOMICS} is missing: only the parameters are shown."))
    elif gap := missing_note("The CAC chart", econ, ("model", "channel")):
        parts.append(gap)
    elif econ.height == 0:
        parts.append(note("The economics table is empty (no spend or no customers)."))
    else:
        parts.extend(_economics_body(ctx, econ, meta or {}))
    if meta:
        parts.append(details("Parameters, method notes and blended CAC", json_block(meta)))
    return Section(
        "economics",
        "CAC against the guardrail",
        "\n".join(parts),
        "Fully loaded CAC by channel against the guardrail (CAC as a share of gross profit "
        "per customer); channels over the line are in red.",
    )


def _economics_body(ctx: Context, econ: pl.DataFrame, meta: dict[str, Any]) -> list[str]:
    parts: list[str] = []
    models = model_order(ctx, col(econ, "model"))
    plan = ctx.json(RunFiles.PLAN_JSON) or {}
    decided = ctx.manifest.get("decision_model") or (meta.get("parameters") or {}).get(
        "decision_model"
    )
    chosen = _pick_model(
        models, decided, meta.get("model"), meta.get("primary_model"), plan.get("model")
    )
    under = chosen
    if chosen == decided:
        source = ctx.manifest.get("decision_model_source") or (meta.get("parameters") or {}).get(
            "decision_model_source"
        )
        under = decision_note(chosen, source if isinstance(source, str) else None)
    currency = str(meta.get("currency", "") or "")
    cac_col = "loaded_cac" if "loaded_cac" in econ.columns else "cac"
    if cac_col not in econ.columns:
        parts.append(skip_note("The CAC chart", ["loaded_cac", "cac"], econ))
    else:
        parts.append(_cac_chart(ctx, econ, models, chosen, cac_col, currency))
    rows = econ.filter(pl.col("model") == chosen)
    if "breach" in econ.columns:
        breached = col(rows.filter(pl.col("breach").fill_null(False)), "channel")
        total = rows.height
        if breached:
            ctx.findings.append(
                f"<b>{len(breached)} of {total}</b> channels breach the CAC guardrail "
                f"under {e(under)}: {e(', '.join(map(str, breached)))}."
            )
        else:
            ctx.findings.append(
                f"All {total} channels are inside the CAC guardrail under {e(under)}."
            )
    if "ltv_to_cac" in econ.columns:
        weak = rows.filter(pl.col("ltv_to_cac") < 3)
        if weak.height:
            listed = ", ".join(
                f"{c} ({fmt_num(v, 1)})"
                for c, v in zip(col(weak, "channel"), col(weak, "ltv_to_cac"), strict=True)
            )
            parts.append(note(f"LTV/CAC below the target of 3 under {chosen}: {listed}."))
    money = dict.fromkeys(
        ("spend", "revenue", "cac", "loaded_cac", "ltv", "gross_profit_per_customer"),
        lambda v: (currency + fmt_num(v)) if not is_missing(v) else "–",
    )
    formats: dict[str, Formatter] = {
        **money,
        "customers": lambda v: fmt_num(v, 1),
        "ltv_to_cac": lambda v: fmt_num(v, 1),
        "payback_months": lambda v: fmt_num(v, 1),
        "guardrail_share": fmt_pct,
        "guardrail_limit": fmt_pct,
    }

    def breach_class(row: dict[str, Any]) -> str:
        return "bad" if row.get("breach") else ""

    basis = meta.get("parameters", {}).get("guardrail_basis")
    parts.append(f"<h3>Unit economics under {e(chosen)}</h3>")
    if basis:
        parts.append(note(f"Guardrail basis: {basis} (see the method notes below)."))
    parts.append(table(select(rows, ECONOMICS_COLUMNS), formats=formats, row_class=breach_class))
    parts.extend(_segment_parts(ctx, chosen, meta, formats))
    if len(models) > 1:
        parts.append(
            details(
                "Table: unit economics under every model",
                table(econ, formats=formats, row_class=breach_class, max_rows=500),
            )
        )
    return parts


SEGMENT_COLUMNS = (
    "segment", "customers", "spend", "loaded_cac", "arpa", "ltv", "ltv_to_cac",
    "payback_months", "payback_target_months", "cac_payback_low", "cac_payback_high",
    "cac_payback_judgement", "guardrail_share", "marketing_roi", "pipeline_created",
    "created_pipeline_per_dollar", "pipeline_per_dollar_low", "pipeline_per_dollar_high",
    "pipeline_per_dollar_judgement",
)  # fmt: skip


def _segment_parts(
    ctx: Context, chosen: str, meta: dict[str, Any], formats: dict[str, Formatter]
) -> list[str]:
    """Every channel together per segment (economics.json's blended rows), loaded CAC by
    channel and segment, and NRR per segment (retention.parquet), where the run has them."""
    parts: list[str] = []
    blended = pl.DataFrame(meta.get("blended") or [], infer_schema_length=None)
    if {"model", "segment"} <= set(blended.columns):
        rows = blended.filter(pl.col("model") == chosen)
        if rows.filter(pl.col("segment") != "all").height:
            parts.append(f"<h3>By segment under {e(chosen)} (every channel)</h3>")
            parts.append(
                table(
                    select(rows, SEGMENT_COLUMNS),
                    formats={
                        **formats,
                        "arpa": formats["ltv"],
                        "marketing_roi": fmt_pct,
                        "pipeline_created": formats["ltv"],
                        **dict.fromkeys(
                            ("created_pipeline_per_dollar", "pipeline_per_dollar_low",
                             "pipeline_per_dollar_high"),  # fmt: skip
                            lambda v: "–" if is_missing(v) else f"{fmt_num(v, 1)}x",
                        ),
                        **dict.fromkeys(
                            ("cac_payback_low", "cac_payback_high"), lambda v: fmt_num(v, 0)
                        ),
                    },
                    row_class=lambda r: "bad"
                    if r.get("payback_ok") is False
                    or "short" in (r.get("pipeline_per_dollar_judgement"),
                                   r.get("cac_payback_judgement"))  # fmt: skip
                    else "",
                )
            )
            parts.append(_segment_range_note(rows))
    full = ctx.frame(RunFiles.ECONOMICS)
    if full is not None and {"segment", "loaded_cac", "model", "channel"} <= set(full.columns):
        seg = full.filter((pl.col("model") == chosen) & (pl.col("segment") != "all"))
        if seg.height:
            wide = seg.pivot(on="segment", index="channel", values="loaded_cac").sort("channel")
            parts.append(
                details(
                    "Table: loaded CAC by channel and segment",
                    table(wide, formats=dict.fromkeys(wide.columns[1:], formats["loaded_cac"])),
                )
            )
    ret = ctx.frame(RunFiles.RETENTION)
    if ret is not None and {"segment", "nrr"} <= set(ret.columns):
        parts.append("<h3>Retention (subscriptions)</h3>")
        parts.append(
            table(
                select(ret, ("segment", "accounts", "nrr", "grr", "annual_churn", "expansion")),
                formats={"nrr": fmt_pct, "grr": fmt_pct, "annual_churn": fmt_pct,
                         "expansion": formats["spend"]},  # fmt: skip
            )
        )
    return parts


def _segment_range_note(rows: pl.DataFrame) -> str:
    """What the range columns of the segment table are, and which segments fall short."""
    short = [
        f"{r['segment']} ({what})"
        for r in rows.iter_rows(named=True)
        for what, key in (("pipeline per $", "pipeline_per_dollar_judgement"),
                          ("CAC recovery", "cac_payback_judgement"))  # fmt: skip
        if r.get(key) == "short"
    ]
    text = (
        "Against the published segment ranges: created pipeline per dollar (the opportunity "
        "amounts the channels sourced / media spend) against pipeline_per_dollar, and payback "
        "against the CAC recovery range (cac_payback_months); short = on the worse side. "
    )
    return note(text + ("Short: " + ", ".join(short) + "." if short else "No segment is short."))


def _guardrail_line(rows: pl.DataFrame, cac: list[Any]) -> list[Any]:
    """The most CAC each channel can cost at the guardrail share of its gross profit."""
    limit = col(rows, "guardrail_limit")
    if "gross_profit_per_customer" in rows.columns:
        gp = col(rows, "gross_profit_per_customer")
        return [
            None if is_missing(lim) or is_missing(g) else lim * g
            for lim, g in zip(limit, gp, strict=True)
        ]
    share = col(rows, "guardrail_share")
    return [
        None if is_missing(c) or is_missing(lim) or not s else c * lim / s
        for c, lim, s in zip(cac, limit, share, strict=True)
    ]


def _cac_chart(
    ctx: Context,
    econ: pl.DataFrame,
    models: Sequence[str],
    chosen: str,
    cac_col: str,
    currency: str,
) -> str:
    fig = go.Figure()
    buttons = []
    has_line = "guardrail_limit" in econ.columns and (
        "gross_profit_per_customer" in econ.columns or "guardrail_share" in econ.columns
    )
    traces_per_model = 2 if has_line else 1
    highest = ceiling = 0.0
    unpaid = econ.filter(pl.col("status") == "unpaid") if "status" in econ.columns else None
    paid = econ.filter(pl.col("status") != "unpaid") if unpaid is not None else econ
    for model in models:
        rows = paid.filter(pl.col("model") == model).sort(cac_col, descending=True, nulls_last=True)
        channels = col(rows, "channel")
        cac = col(rows, cac_col)
        breach = col(rows, "breach") if "breach" in rows.columns else [False] * rows.height
        share = col(rows, "guardrail_share") if "guardrail_share" in rows.columns else None
        fig.add_bar(
            name=f"{'loaded ' if cac_col == 'loaded_cac' else ''}CAC",
            x=channels,
            y=cac,
            text=[fmt_pct(v) + " of GP" for v in share] if share else None,
            textposition="outside",
            marker_color=[RED if b else BLUE for b in breach],
            visible=model == chosen,
            customdata=[["over the guardrail" if b else "inside"] for b in breach],
            hovertemplate=f"%{{x}}<br>CAC {e(currency)}%{{y:,.0f}}<br>%{{customdata[0]}}"
            "<extra></extra>",
        )
        highest = max(highest, *(v for v in cac if not is_missing(v)), 0.0)
        if has_line:
            line = _guardrail_line(rows, cac)
            fig.add_scatter(
                name="guardrail",
                x=channels,
                y=line,
                mode="markers",
                marker={"symbol": "line-ew", "size": 36, "line": {"width": 3, "color": ORANGE}},
                visible=model == chosen,
                hovertemplate=f"%{{x}}<br>guardrail {e(currency)}%{{y:,.0f}}<extra></extra>",
            )
            ceiling = max(ceiling, *(v for v in line if v is not None and not is_missing(v)), 0.0)
        buttons.append(
            {
                "label": model,
                "method": "update",
                "args": [
                    {"visible": [m == model for m in models for _ in range(traces_per_model)]},
                    {"title": {"text": f"CAC by channel: {model}"}},
                ],
            }
        )
    fig.update_layout(
        title={"text": f"CAC by channel: {chosen}"},
        yaxis={"title": f"fully loaded CAC {currency}".strip(), "tickformat": ",.0f"},
        legend={"orientation": "h", "y": -0.25},
        bargap=0.35,
    )
    log_axis = highest > 0 and ceiling > 8 * highest
    if log_axis:  # the guardrail far above every bar: a linear axis would flatten the bars
        fig.update_yaxes(type="log", tickformat=",.0f")
    if len(models) > 1:
        fig.update_layout(
            updatemenus=[
                {
                    "buttons": buttons,
                    "active": list(models).index(chosen),
                    "x": 1.0,
                    "xanchor": "right",
                    "y": 1.18,
                    "yanchor": "top",
                }
            ]
        )
    caption = (
        "Bars: fully loaded CAC per channel (red = over the guardrail). Orange ticks: the "
        "guardrail, the most CAC the channel can cost at the guardrail share of gross profit "
        "per customer. Labels: CAC as a share of gross profit per customer (GP)."
        if has_line
        else "Bars: CAC per channel. The guardrail line is missing: the file has no "
        "guardrail_limit with gross_profit_per_customer or guardrail_share."
    )
    if log_axis:
        caption += " Log scale: the guardrail is far above every channel's CAC."
    if unpaid is not None and unpaid.height:
        names = sorted({str(c) for c in col(unpaid, "channel")})
        caption += f" Channels without spend are left out: {', '.join(names)}."
    if len(models) > 1:
        caption += " Pick another model with the menu."
    return ctx.chart(fig, caption=e(caption), height=460)


def _is_total(label: Any) -> bool:
    return label is None or str(label).strip().lower() in TOTAL_LABELS


def _total_expr() -> pl.Expr:
    label = pl.col("channel").cast(pl.String).str.strip_chars().str.to_lowercase()
    return label.is_null() | label.is_in(list(TOTAL_LABELS))


def plan_section(ctx: Context) -> Section | None:
    plan, flags = ctx.frames(RunFiles.PLAN, RunFiles.PLAN_FLAGS)
    meta = ctx.json(RunFiles.PLAN_JSON)
    if plan is None and flags is None and meta is None:
        return None
    parts = _plan_verdict(ctx, meta) if meta else []
    if plan is not None:
        parts.extend(_plan_budget(ctx, plan))
    if (levers := ctx.frame(RunFiles.LEVERS)) is not None:
        parts.extend(_plan_levers(ctx, levers))
    if flags is not None:
        parts.extend(_plan_flags(ctx, flags))
    if meta:
        parts.append(details("Plan, measured rates, projection and method",
                             json_block(meta, skip=("verdict",))))  # fmt: skip
    return Section(
        "plan",
        "Plan check",
        "\n".join(parts),
        "Can the example budget reach its target at the CAC and conversion rates measured "
        "here, and which assumptions of the plan does the data contradict?",
    )


LEVER_COLUMNS = ("channel", "action", "models_agreeing", "models", "agreement", "status",
                 "decision_action", "actions")  # fmt: skip


def _plan_levers(ctx: Context, levers: pl.DataFrame) -> list[str]:
    """levers.parquet: each channel's action under every model and how many agree."""
    if gap := missing_note("The levers table", levers, ("channel", "action", "status")):
        return [gap]
    contested = col(levers.filter(pl.col("status") == "contested"), "channel")
    if contested:
        ctx.findings.append(
            "Plan levers contested across models (not recommended): "
            f"{e(', '.join(map(str, contested)))}."
        )
    return [
        note(
            "Levers across models: each channel's action (grow, keep, cut) under every model "
            "of the run; recommended when at least 75% of the models agree, else contested: "
            "the advice depends on the model, so it is no recommendation."
        ),
        table(
            select(levers, LEVER_COLUMNS),
            formats={"agreement": fmt_pct},
            row_class=lambda r: "bad" if r.get("status") == "contested" else "",
        ),
    ]


def _plan_verdict(ctx: Context, meta: dict[str, Any]) -> list[str]:
    """plan.json's verdict (its first sentence is a finding) and its targets."""
    parts: list[str] = []
    verdict = meta.get("verdict")
    if verdict:
        parts.append(f'<div class="callout"><b>Verdict.</b> {e(verdict)}</div>')
        first = str(verdict).split(". ")[0].rstrip(".")
        ctx.findings.append(f"Plan check: {e(first)}.")
    model, source = meta.get("model"), meta.get("decision_model_source")
    if isinstance(model, str):
        named = decision_note(model, source if isinstance(source, str) else None)
        parts.append(note(f"Measured CAC under {named}."))
    targets = meta.get("targets")
    if isinstance(targets, dict) and targets:
        parts.append(kpis((f"target {k}", fmt_auto(v)) for k, v in targets.items()))
    return parts


def _plan_budget(ctx: Context, plan: pl.DataFrame) -> list[str]:
    parts: list[str] = []
    channels = plan.filter(~_total_expr()) if "channel" in plan.columns else plan
    if gap := missing_note("The budget chart", plan, ("channel", "budget", "reallocated_budget")):
        parts.append(gap)
    elif channels.height:
        fig = make_subplots(
            rows=1,
            cols=2,
            subplot_titles=("Budget", "Customers"),
            horizontal_spacing=0.12,
        )
        names = col(channels, "channel")
        fig.add_bar(name="plan", x=names, y=col(channels, "budget"),
                    marker_color=GREY, legendgroup="plan", row=1, col=1)  # fmt: skip
        fig.add_bar(name="reallocated", x=names, y=col(channels, "reallocated_budget"),
                    marker_color=BLUE, legendgroup="re", row=1, col=1)  # fmt: skip
        if {"projected_customers", "reallocated_customers"} <= set(channels.columns):
            fig.add_bar(name="plan", x=names, y=col(channels, "projected_customers"),
                        marker_color=GREY, legendgroup="plan", showlegend=False,
                        row=1, col=2)  # fmt: skip
            fig.add_bar(name="reallocated", x=names,
                        y=col(channels, "reallocated_customers"), marker_color=BLUE,
                        legendgroup="re", showlegend=False, row=1, col=2)  # fmt: skip
        fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.3})
        fig.update_yaxes(tickformat=",.0f")
        parts.append(
            ctx.chart(
                fig,
                caption="The plan's budget by channel and what it buys at the measured "
                "CAC, against the budget reallocated toward the channels that buy "
                "customers cheapest (within each channel's cap).",
                height=440,
            )
        )
    money: dict[str, Formatter] = dict.fromkeys(
        ("budget", "measured_cac", "cap", "reallocated_budget"), fmt_num
    )
    counts: dict[str, Formatter] = dict.fromkeys(
        ("projected_customers", "gap", "reallocated_customers"), lambda v: fmt_num(v, 1)
    )
    parts.append(
        table(
            select(plan, PLAN_COLUMNS),
            formats={**money, **counts},
            row_class=lambda r: "total" if _is_total(r.get("channel")) else "",
        )
    )
    return parts


def _plan_flags(ctx: Context, flags: pl.DataFrame) -> list[str]:
    parts = ["<h3>Assumptions against the data</h3>"]
    if "flagged" in flags.columns:
        flagged = pl.col("flagged").fill_null(False)
        # rows against the plan's own arithmetic or a published range say so in 'against'
        vs_data = pl.col("against") == "data" if "against" in flags.columns else pl.lit(True)
        data_rows = flags.filter(flagged & vs_data)
        if data_rows.height:
            named = col(data_rows, "assumption") if "assumption" in flags.columns else []
            ctx.findings.append(
                f"<b>{data_rows.height}</b> plan assumption(s) are far from what the data "
                "shows: " + e(", ".join(map(str, named)))
            )
        other = flags.filter(flagged & ~vs_data)
        if other.height and "note" in flags.columns:
            ctx.findings.append(
                f"<b>{other.height}</b> check(s) against the plan's own arithmetic and the "
                "published ranges flagged: " + e("; ".join(map(str, col(other, "note"))))
            )
        flags = flags.sort(pl.col("flagged").fill_null(False), descending=True,
                           maintain_order=True)  # fmt: skip
    else:
        parts.append(note(f"{RunFiles.PLAN_FLAGS} has no 'flagged' column: nothing marked."))
    ratio: dict[str, Formatter] = {"ratio": lambda v: fmt_num(v, 2) + "×"
                                   if not is_missing(v) else "–"}  # fmt: skip
    parts.append(table(flags, formats=ratio, row_class=lambda r: "bad" if r.get("flagged") else ""))
    return parts
