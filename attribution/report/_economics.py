"""The section on money: unit economics (CAC against the guardrail; the plan check is in
:mod:`attribution.report._plan`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl
from plotly.subplots import make_subplots

from attribution._reporting_currency import sign
from attribution.b2b._decision import DEFAULT_DECISION_MODELS, decision_note
from attribution.b2b._economics_draws import MIN_CUSTOMERS
from attribution.b2b._economics_summary import BASIS_TEXT
from attribution.engine._files import RunFiles
from attribution.models._registry import available_models
from attribution.report._charts import BLUE, ORANGE, RED, col, model_order
from attribution.report._context import Context, Section
from attribution.report._format import (
    Formatter,
    details,
    e,
    fmt_num,
    fmt_pct,
    is_missing,
    json_block,
    missing_note,
    money,
    note,
    select,
    skip_note,
    table,
)
from attribution.report._labels import label
from attribution.report._uncertainty import LOW_CELL, LOW_LABEL, low_cell

ECONOMICS_COLUMNS = (
    "channel", "status", "spend", "customers", "revenue", "cac", "loaded_cac", "ltv",
    "ltv_to_cac", "payback_months", "gross_profit_per_customer", "guardrail_share", "breach",
    "breach_probability", "loaded_cac_ci_low", "loaded_cac_ci_high", "low_confidence",
)  # fmt: skip
PER_MODEL_KEYS = ("blended", "breaches", "segment_breaches", "rerate")


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


def pick_model(models: Sequence[str], *hints: Any) -> str:
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
        # the per-model lists (blended rows, breaches, re-rating) stay in economics.json: the
        # page shows the decision model's above, and every model's would double its size
        listed = [k for k in PER_MODEL_KEYS if meta.get(k)]
        body = json_block(meta, skip=PER_MODEL_KEYS)
        if listed:
            body += note(
                f"Every model's {', '.join(label(k).lower() for k in listed)} are in "
                f"{RunFiles.ECONOMICS_JSON}."
            )
        parts.append(details("Parameters and method notes", body))
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
    chosen = pick_model(
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
    if "ltv_to_cac" in econ.columns:
        weak = rows.filter(pl.col("ltv_to_cac") < 3)
        if weak.height:
            listed = ", ".join(
                f"{c} ({fmt_num(v, 1)})"
                for c, v in zip(col(weak, "channel"), col(weak, "ltv_to_cac"), strict=True)
            )
            parts.append(note(f"LTV/CAC below the target of 3 under {chosen}: {listed}."))
    formats: dict[str, Formatter] = {
        "customers": lambda v: fmt_num(v, 1),
        "ltv_to_cac": lambda v: fmt_num(v, 1) + "×" if not is_missing(v) else "–",
        "payback_months": lambda v: fmt_num(v, 1),
        "guardrail_share": fmt_pct,
        "guardrail_limit": fmt_pct,
        "breach_probability": lambda v: fmt_pct(v, 0),
        "loaded_cac_ci_low": money,
        "loaded_cac_ci_high": money,
        # the visible mark of a figure on too few customers (the row is greyed as well)
        "low_confidence": lambda v: LOW_CELL if v else "",
    }

    def breach_class(row: dict[str, Any]) -> str:
        # over the guardrail in red; too few credited customers to trust: greyed, italic
        return " ".join(
            c for c, on in (("bad", row.get("breach")), ("lowconf-row", row.get("low_confidence")))
            if on
        )  # fmt: skip

    basis = meta.get("parameters", {}).get("guardrail_basis")
    parts.append(f"<h3>Unit economics under {e(under)}</h3>")
    if basis:
        limit = (meta.get("parameters") or {}).get("guardrail_limit")
        within = f"at most {fmt_pct(limit, 0)} of " if isinstance(limit, int | float) else ""
        parts.append(
            note(
                f"The guardrail: loaded CAC {within}"
                f"{BASIS_TEXT.get(str(basis), str(basis))} (basis {basis}; method notes below)."
            )
        )
    parts.append(table(select(rows, ECONOMICS_COLUMNS), formats=formats, row_class=breach_class))
    parts.extend(_segment_parts(ctx, chosen, meta, formats))
    if len(models) > 1:
        parts.append(
            details(
                "Table: unit economics under every model",
                table(select(econ, ("model", *ECONOMICS_COLUMNS)), formats=formats,
                      row_class=breach_class, max_rows=500),  # fmt: skip
            )
        )
    return parts


SEGMENT_COLUMNS = (
    "segment", "customers", "spend", "loaded_cac", "arpa", "ltv", "ltv_to_cac",
    "payback_months", "payback_target_months", "payback_ok", "cac_payback_low",
    "cac_payback_high", "cac_payback_judgement", "guardrail_share", "breach", "marketing_roi",
    "pipeline_created",
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
            parts.append(f'<h3 id="segments">By segment under {e(chosen)} (every channel)</h3>')
            parts.append(
                table(
                    select(rows, SEGMENT_COLUMNS),
                    formats={
                        **formats,
                        "pipeline_created": money,
                        **dict.fromkeys(
                            ("created_pipeline_per_dollar", "pipeline_per_dollar_low",
                             "pipeline_per_dollar_high"),  # fmt: skip
                            lambda v: "–" if is_missing(v) else f"{fmt_num(v, 1)}×",
                        ),
                        **dict.fromkeys(
                            ("cac_payback_low", "cac_payback_high"), lambda v: fmt_num(v, 0)
                        ),
                    },
                    row_class=lambda r: "bad"
                    if r.get("payback_ok") is False
                    or r.get("breach")
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
            low = (
                col(seg, "low_confidence")
                if "low_confidence" in seg.columns
                else [False] * seg.height
            )
            cells = seg.with_columns(
                pl.Series(
                    "cell",
                    [low_cell(money(v), flag)
                     for v, flag in zip(col(seg, "loaded_cac"), low, strict=True)],  # fmt: skip
                    dtype=pl.String,
                )
            )
            wide = cells.pivot(on="segment", index="channel", values="cell").sort("channel")
            parts.append(
                details(
                    f"Table: loaded CAC by channel and segment ({LOW_LABEL}: fewer than "
                    f"{MIN_CUSTOMERS:g} credited customers)",
                    table(wide.fill_null("–")),
                )
            )
    ret = ctx.frame(RunFiles.RETENTION)
    if ret is not None and {"segment", "nrr"} <= set(ret.columns):
        parts.append("<h3>Retention (subscriptions)</h3>")
        parts.append(
            table(
                select(ret, ("segment", "accounts", "nrr", "grr", "annual_churn", "expansion")),
            )
        )
    return parts


def _segment_range_note(rows: pl.DataFrame) -> str:
    """What the range columns of the segment table are, and which segments fall short."""
    short = [
        f"{r['segment']} ({what})"
        for r in rows.iter_rows(named=True)
        for what, key in ((f"pipeline per {sign()}", "pipeline_per_dollar_judgement"),
                          ("CAC recovery", "cac_payback_judgement"))  # fmt: skip
        if r.get(key) == "short"
    ]
    text = (
        "Against the published segment ranges: created pipeline per dollar (the opportunity "
        "amounts the channels sourced / media spend) against pipeline_per_dollar, and payback "
        "against the CAC recovery range (cac_payback_months); short = on the worse side. "
    )
    return note(text + ("Short: " + ", ".join(short) + "." if short else "No segment is short."))


def _cac_chart(
    ctx: Context,
    econ: pl.DataFrame,
    models: Sequence[str],
    chosen: str,
    cac_col: str,
    currency: str,
) -> str:
    """Two panels sharing the channels: loaded CAC in the run's currency, and the same CAC
    as a share of gross profit per customer against the guardrail, drawn once as a line
    (linear axes: the guardrail is one share for every channel, so no log axis is needed)."""
    unit = currency or sign()  # the run's reporting currency
    has_share = "guardrail_share" in econ.columns
    limits = [v for v in col(econ, "guardrail_limit") if not is_missing(v)] if (
        "guardrail_limit" in econ.columns
    ) else []
    limit = limits[0] if limits else None
    unpaid = econ.filter(pl.col("status") != "paid") if "status" in econ.columns else None
    paid = econ.filter(pl.col("status") == "paid") if unpaid is not None else econ
    fig = make_subplots(
        rows=1, cols=2 if has_share else 1, shared_yaxes=True, horizontal_spacing=0.04
    )  # fmt: skip
    what = "Loaded CAC" if cac_col == "loaded_cac" else "CAC"
    fig.update_xaxes(title=f"{what} ({unit} per customer)", row=1, col=1)
    if has_share:
        fig.update_xaxes(title=f"{what} as % of gross profit per customer", row=1, col=2)
    per_model = 2 if has_share else 1
    buttons = []
    most = 0.0
    order = [str(c) for c in col(
        paid.filter(pl.col("model") == chosen).sort(cac_col, nulls_last=False), "channel"
    )]  # fmt: skip
    for model in models:
        rows = paid.filter(pl.col("model") == model).sort(cac_col, nulls_last=False)
        channels = [str(c) for c in col(rows, "channel")]
        cac = col(rows, cac_col)
        breach = col(rows, "breach") if "breach" in rows.columns else [False] * rows.height
        colours = [RED if b else BLUE for b in breach]
        fig.add_bar(
            x=cac, y=channels, orientation="h", marker_color=colours, visible=model == chosen,
            text=[money(v) for v in cac], textposition="auto", showlegend=False,
            name=model, hovertemplate=f"%{{y}}: {e(unit)}%{{x:,.0f}}<extra></extra>",
            row=1, col=1,
        )  # fmt: skip
        if has_share:
            share = col(rows, "guardrail_share")
            most = max([most, *(v for v in share if not is_missing(v))])
            fig.add_bar(
                x=share, y=channels, orientation="h", marker_color=colours,
                visible=model == chosen, text=[fmt_pct(v) for v in share],
                textposition="auto", showlegend=False, name=model,
                hovertemplate="%{y}: %{x:.1%} of gross profit<extra></extra>", row=1, col=2,
            )  # fmt: skip
        buttons.append(
            {
                "label": model,
                "method": "restyle",
                "args": [{"visible": [m == model for m in models for _ in range(per_model)]}],
            }
        )
    fig.update_xaxes(tickformat=",.0f", tickprefix=unit, rangemode="tozero", row=1, col=1)
    if has_share:
        top = max(most, limit or 0.0) * 1.1 or 1.0
        fig.update_xaxes(tickformat=".0%", range=[0, top], row=1, col=2)
        if limit is not None:
            fig.add_vline(
                x=limit, line={"color": ORANGE, "width": 3, "dash": "dash"}, row=1, col=2,
                annotation={"text": f"guardrail {fmt_pct(limit, 0)}", "font": {"color": "#8a4b00"}},
                annotation_position="top",
            )  # fmt: skip
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    fig.update_layout(bargap=0.3, margin={"l": 150, "r": 30, "t": 50, "b": 50})
    if len(models) > 1:
        fig.update_layout(
            updatemenus=[
                {
                    "buttons": buttons, "active": list(models).index(chosen),
                    "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom", "pad": {"b": 26},
                }
            ]
        )  # fmt: skip
    caption = (
        "Left: fully loaded CAC per paid channel, in dollars. Right: the same CAC as a share of "
        "gross profit per customer; the dashed line is the guardrail. Red: over the guardrail."
        if has_share
        else "Loaded CAC per paid channel; the file has no guardrail_share, so no guardrail."
    )
    if unpaid is not None and unpaid.height:
        names = sorted({str(c) for c in col(unpaid, "channel")})
        caption += f" Channels without spend are left out: {', '.join(names)}."
    if len(models) > 1:
        caption += " Pick another model with the menu above the chart."
    height = max(320, 130 + 30 * max(1, paid.filter(pl.col("model") == chosen).height))
    return ctx.chart(fig, caption=e(caption), height=height)
