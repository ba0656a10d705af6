"""The plan check section: the plan's verdict and targets, its budget by channel against the
reallocation, the levers across models and the plan's assumptions against the data."""

from __future__ import annotations

from typing import Any

import polars as pl
from plotly.subplots import make_subplots

from attribution._reporting_currency import money_prefix, sign
from attribution.b2b._decision import decision_note
from attribution.b2b._economics_ranges import PUBLISHED_USD
from attribution.b2b._plan_costs import dollars
from attribution.engine._files import RunFiles
from attribution.report._charts import BLUE, GREY, col
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
    money,
    note,
    select,
    table,
)
from attribution.report._labels import PLAN_CAC, words
from attribution.report._plan_tests import plan_risk_parts

PLAN_COLUMNS = (
    "channel", "budget", "measured_cac", "projected_customers", "projected_cac",
    "target_customers", "gap",
    "floor", "cap", "reallocated_budget", "reallocated_customers", "change", "action",
)  # fmt: skip
TOTAL_LABELS = frozenset({"total", "all", "(total)", "__total__", "sum"})


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
    parts.extend(plan_risk_parts(ctx, meta))
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
        parts.append(note(f"Measured CAC under {named}: {PLAN_CAC}"))
    targets = meta.get("targets")
    if isinstance(targets, dict) and targets:
        parts.append(kpis((f"target {words(k)}", _target(k, v)) for k, v in targets.items()))
    return parts


def _target(name: str, value: Any) -> str:
    """A plan target as its unit reads: dollars for costs and budgets, else a count."""
    if any(word in name for word in ("cac", "cost", "budget", "spend")):
        return money(value)
    return fmt_num(value) if isinstance(value, int | float) else fmt_auto(value)


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
        fig.update_yaxes(tickprefix=money_prefix(), title=f"budget ({sign()} a year)", row=1,
                         col=1)
        fig.update_yaxes(title="customers (at measured CAC)", row=1, col=2)
        parts.append(
            ctx.chart(
                fig,
                caption="The plan's budget by channel and what it buys at the measured "
                "CAC, against the budget reallocated toward the channels that buy "
                "customers cheapest (within each channel's cap).",
                height=440,
            )
        )
    counts: dict[str, Formatter] = dict.fromkeys(
        ("projected_customers", "gap", "reallocated_customers", "target_customers"),
        lambda v: fmt_num(v, 1),
    )
    parts.append(
        table(
            select(plan, PLAN_COLUMNS),
            formats=counts,
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
                "shows: " + e(", ".join(words(n) for n in named))
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
    # plan / data is below 1 for a CAC the plan underestimates and above 1 for customers it
    # overestimates: shown as how many times apart, the direction in its own column
    ratio: dict[str, Formatter] = {"ratio": _apart}
    flags = _flags_in_units(flags)
    parts.append(
        table(
            flags,
            formats=ratio,
            headers={"ratio": "Plan vs data (times apart)"},
            row_class=lambda r: "bad" if r.get("flagged") else "",
        )
    )
    return parts


def _apart(value: Any) -> str:
    """A ratio as how many times apart its two sides are, whichever is larger.

    >>> _apart(0.069), _apart(12.38), _apart(1.0), _apart(None)
    ('14.5×', '12.4×', '1.0×', '–')
    """
    if is_missing(value) or not isinstance(value, int | float) or value <= 0:
        return "–"
    return f"{max(value, 1 / value):,.1f}×"


_FLAG_VALUES = ("plan_value", "data_value", "range_low", "range_high")


def _flags_in_units(flags: pl.DataFrame) -> pl.DataFrame:
    """plan_flags with each row's figures in its own unit (dollars for costs and budgets, a
    percentage for rates, else a count) and the assumption's name in words."""
    if "assumption" not in flags.columns:
        return flags
    names = [str(a) for a in col(flags, "assumption")]
    out = flags.with_columns(pl.Series("assumption", [words(a) for a in names]))
    notes = col(flags, "note") if "note" in flags.columns else [None] * flags.height
    usd = [PUBLISHED_USD[1:-1] in str(n or "") for n in notes]  # report 16, M8: in dollars
    for column in (c for c in _FLAG_VALUES if c in flags.columns):
        out = out.with_columns(
            pl.Series(column, [_in_unit(a, v, column.startswith("range_") and u) for a, v, u
                               in zip(names, col(flags, column), usd, strict=True)])
        )  # fmt: skip
    return out


def _in_unit(assumption: str, value: Any, usd: bool = False) -> str:
    """``cac`` 150 -> ``$150``; ``mql_to_customer`` 0.0634 -> ``6.3%``; ``customers`` 404 ->
    ``404``.

    >>> _in_unit("cac", 150.0), _in_unit("mql_to_customer", 0.0634), _in_unit("customers", 404.2)
    ('$150', '6.3%', '404')
    """
    if is_missing(value) or not isinstance(value, int | float):
        return "–"
    if any(w in assumption for w in ("cac", "cost", "budget", "spend")):
        return f"{dollars(value, usd=True)} (USD)" if usd else money(value)
    if "_to_" in assumption or "rate" in assumption:
        return fmt_pct(value)
    return fmt_num(value)
