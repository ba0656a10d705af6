"""The account section of an account-level run: sourced vs influenced pipeline, credit by
buying-committee role, engagement tiers and committee coverage, the most engaged accounts."""

from __future__ import annotations

import polars as pl
from plotly.subplots import make_subplots

from attribution._reporting_currency import money_prefix, sign
from attribution.engine._files import RunFiles
from attribution.report._charts import (
    BLUE,
    GREY,
    ORANGE,
    RED,
    col,
    color,
    grouped_bars,
    model_order,
)
from attribution.report._context import Context, Section
from attribution.report._format import details, e, fmt_pct, missing_columns, missing_note, table

TIER_ORDER = ("hot", "warm", "cold")
TOP_ACCOUNT_COLUMNS = (
    "account_id", "contacts_engaged", "coverage", "missing_roles", "engagement_score", "tier",
    "conversions", "conversion_value",
)  # fmt: skip


def account_section(ctx: Context) -> Section | None:
    accounts, pipeline, credit = ctx.frames(
        RunFiles.ACCOUNTS, RunFiles.PIPELINE, RunFiles.ACCOUNT_CREDIT
    )
    if accounts is None and pipeline is None and credit is None:
        return None
    parts: list[str] = []
    if pipeline is not None:
        parts.extend(_pipeline(ctx, pipeline))
    if credit is not None and not missing_columns(credit, ("model", "dimension", "key", "credit")):
        roles = credit.filter(pl.col("dimension") == "role")
        if roles.height:
            parts.append(_role_credit_chart(ctx, roles))
    if accounts is not None:
        parts.extend(_accounts(ctx, accounts))
    return Section(
        "accounts",
        "Accounts and pipeline",
        "\n".join(parts),
        "Account-level view: sourced vs influenced pipeline, buying-committee coverage and "
        "engagement.",
    )


def _pipeline(ctx: Context, pipeline: pl.DataFrame) -> list[str]:
    need = ("measure", "channel", "pipeline")
    if gap := missing_note("Sourced vs influenced pipeline", pipeline, need):
        return [gap]
    if not pipeline.height:
        return []
    influenced = pipeline.filter(pl.col("measure") == "influenced")
    order = col(influenced.sort("pipeline", descending=True), "channel")
    order += [c for c in dict.fromkeys(col(pipeline, "channel")) if c not in order]
    fig = grouped_bars(
        pipeline, group="measure", x="channel", y="pipeline",
        groups=(("sourced", BLUE), ("influenced", ORANGE)), order=order,
    )  # fmt: skip
    fig.update_layout(
        barmode="group",
        yaxis={"title": f"pipeline ({sign()})", "tickformat": ",.0f", "tickprefix": money_prefix()},
    )
    shares = {c: fmt_pct for c in pipeline.columns if c.endswith("_share")}
    deals = (ctx.manifest.get("parameters") or {}).get("pipeline_deals") or "the run's deals"
    won = (
        " Open and lost opportunities are not in it: every opportunity's pipeline is the unit "
        f"economics' (pipeline per {e(sign())}) and the funnel's."
        if deals.startswith("closed-won")
        else ""
    )
    return [
        ctx.chart(
            fig,
            caption=f"Over {e(deals)}: the pipeline is their opportunity amounts.{won} Sourced: "
            "the channel of the deal's first touch (sums to the total). Influenced: every "
            "channel with a touch before the opportunity, each counted with the full deal "
            "value, so it does NOT sum to 100%.",
        ),
        details(f"Table: sourced vs influenced, {deals}", table(pipeline, formats=shares)),
    ]


def _role_credit_chart(ctx: Context, roles: pl.DataFrame) -> str:
    by_role = roles.group_by("model", "key").agg(pl.col("credit").sum())
    totals = by_role.group_by("model").agg(pl.col("credit").sum().alias("_t"))
    by_role = by_role.join(totals, on="model").with_columns(
        (pl.col("credit") / pl.col("_t")).alias("share")
    )
    mean_share = by_role.group_by("key").agg(pl.col("share").mean())
    role_order = col(mean_share.sort("share", descending=True), "key")
    models = model_order(ctx, col(by_role, "model"))
    fig = grouped_bars(
        by_role, group="model", x="key", y="share",
        groups=[(model, color(i)) for i, model in enumerate(models)], order=role_order,
    )  # fmt: skip
    fig.update_layout(barmode="group", yaxis={"tickformat": ".0%", "title": "credit"})
    return ctx.chart(fig, caption="Credit by buying-committee role.", height=360)


def _accounts(ctx: Context, accounts: pl.DataFrame) -> list[str]:
    parts: list[str] = []
    if "tier" in accounts.columns and accounts.height:
        tiers = accounts.group_by("tier").len().sort("tier")
        count = dict(zip(col(tiers, "tier"), col(tiers, "len"), strict=True))
        order = [t for t in TIER_ORDER if t in count]
        order += [t for t in count if t not in order]
        fig = make_subplots(
            rows=1, cols=2, subplot_titles=("Engagement tier", "Buying-committee coverage")
        )
        fig.add_bar(x=order, y=[count[t] for t in order], showlegend=False,
                    marker_color=[{"hot": RED, "warm": ORANGE}.get(str(t), GREY)
                                  for t in order], row=1, col=1)  # fmt: skip
        if "coverage" in accounts.columns:
            cov = accounts.group_by("coverage").len().sort("coverage")
            fig.add_bar(x=col(cov, "coverage"), y=col(cov, "len"), showlegend=False,
                        marker_color=BLUE, row=1, col=2)  # fmt: skip
        fig.update_yaxes(title="accounts", row=1, col=1)
        parts.append(ctx.chart(fig, caption="Accounts by engagement tier (z-score of the "
                                            "engagement score) and by required roles "
                                            "engaged.", height=340))  # fmt: skip
    cols = [c for c in TOP_ACCOUNT_COLUMNS if c in accounts.columns]
    if cols and "engagement_score" in accounts.columns:
        top = accounts.sort("engagement_score", descending=True).head(15).select(cols)
        parts.append("<h3>Most engaged accounts</h3>")
        parts.append(table(top))
    return parts
