"""The funnel's KPIs, overall and per segment, each beside its benchmark range: average deal
size, time to close, sales cycle, win rate, pipeline velocity, customer concentration,
marketing-sourced and -influenced shares of pipeline, and NRR (from the retention stage).

Definitions (also in ``funnel.json`` and the README):

- ``average_deal_size`` (money): mean ``value`` of the ``closed_won`` events of won entities.
- ``time_to_close_days``: mean days from the opportunity to ``closed_won`` (the velocity's cycle
  days), judged against ``deal_velocity_days``; ``sales_cycle_months`` is the same figure in
  months (days / 30.4375), judged against the segment's ``sales_cycle_months``.
- ``win_rate``: won / (won + lost) of closed opportunities.
- ``pipeline_velocity_per_day`` (money a day): open opportunities x win rate x average deal /
  cycle days (:mod:`attribution.b2b._funnel`).
- ``customer_concentration``: the share of won revenue that the ``top_customers`` largest
  customers (accounts; the entity when it has no account) bring; ``detail`` names N and the count
  of customers.
- ``marketing_sourced_share`` / ``marketing_influenced_share`` (with touches): of the
  opportunities (entities that reached the opportunity step; at the time of the opportunity, else
  of the won / lost event), the share whose first touch is a marketing touch at or before it
  (sourced), and the share with any marketing touch at or before it (influenced). A sales touch is
  one whose ``touch_type`` is a sales touch type (``sales_call``, ``sales_email``, ``meeting``) or
  that has an ``owner_team`` (made by a sales team: SDR prospecting, AE follow-up); every other
  touch is a marketing touch. Counts, not value: opportunities carry no amount until they close.
- ``nrr``: annualised net revenue retention per segment, from
  :func:`attribution.b2b._retention.nrr` (with a subscriptions table).
- Per sourced channel (with touches; ``dimension = channel``): ``mql_rate`` = the share of the
  leads the channel sourced (first touch) that became MQLs, judged against the channel's
  ``mql_rate`` row; with spend, ``cost_per_lead`` = the channel's spend over the spend table / the
  leads it sourced over the stages table (judged against its ``cpl`` row) and ``cost_per_mql``
  likewise. Channels without a row of their own have no range.
- Per sourced channel too: ``sql_conversion`` = the share of the MQLs it sourced that became SQLs
  (judged against the channel's ``sql_conversion`` row, content syndication 10-20%, read as MQL ->
  SQL); with ``clicks`` in the spend, ``conversion_rate`` = the leads it sourced / its clicks
  (paid search 5-15%). LinkedIn's lead-form conversion and programmatic view-through rates need
  form opens and view-throughs no input carries: not compared.
- Media figures per channel (spend rows with ``impressions`` / ``clicks``, the ad platform's
  counts for the same rows): ``cpm`` = spend / impressions x 1,000 and ``cpc`` = spend / clicks,
  each over the spend rows that carry the count; ``ctr`` = clicks / impressions over the rows that
  carry both. Judged against the channel's ``cpm``, ``cpc`` and ``ctr`` rows (LinkedIn CPM USD
  30-80, CPC USD 5-15, CTR 0.3-0.8%; programmatic CPM USD 10-30, CTR 0.05-0.15%; paid search CTR
  3-8%: its CPC ranges are per brand and generic keywords, which the spend does not say, so give
  your own ``[targets.channel.NAME] cpc``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.b2b._economics_ranges import PUBLISHED_USD, published_in_usd, usd_range
from attribution.b2b._gaps import gap_words
from attribution.b2b._shared import money_prefix, pct
from attribution.inputs._account_inputs import UNKNOWN
from attribution.inputs._benchmarks import Benchmarks, format_range, format_value, gap_expr

__all__ = [
    "KPI_BENCHMARKS",
    "KPI_COLUMNS",
    "KPI_LABELS",
    "funnel_kpis",
    "gap_lines",
    "judged",
    "kpi_lines",
    "unmeasured_kpis",
    "win_rate_line",
]

#: KPI -> the benchmark table's metric it is judged against
KPI_BENCHMARKS: dict[str, str] = {
    "mql_rate": "mql_rate",
    "sql_conversion": "sql_conversion",
    "conversion_rate": "conversion_rate",
    "cost_per_lead": "cpl",
    "cpm": "cpm",
    "cpc": "cpc",
    "ctr": "ctr",
    "time_to_close_days": "deal_velocity_days",
    "sales_cycle_months": "sales_cycle_months",
    "win_rate": "win_rate",
    "marketing_sourced_share": "marketing_sourced_share",
    "marketing_influenced_share": "marketing_influenced_share",
    "nrr": "nrr",
}
_UNITS = {
    "average_deal_size": "usd",
    "time_to_close_days": "days",
    "sales_cycle_months": "months",
    "win_rate": "rate",
    "pipeline_velocity_per_day": "usd",
    "customer_concentration": "rate",
    "marketing_sourced_share": "rate",
    "marketing_influenced_share": "rate",
    "nrr": "ratio",
    "mql_rate": "rate",
    "sql_conversion": "rate",
    "conversion_rate": "rate",
    "cost_per_lead": "usd",
    "cost_per_mql": "usd",
    "cpm": "usd",
    "cpc": "usd",
    "ctr": "rate",
}
KPI_COLUMNS = (
    "dimension", "group", "kpi", "value", "unit", "detail", "benchmark_low", "benchmark_high",
    "benchmark_gap", "benchmark_source", "not_measured",
)  # fmt: skip
_DAYS_PER_MONTH = 30.4375


def funnel_kpis(
    wide: pl.DataFrame,
    velocity: pl.DataFrame,
    steps: list[str],
    bench: Benchmarks,
    *,
    deals: pl.DataFrame,
    top_customers: int,
    nrr: Mapping[str, float | None] | None = None,
    spend: pl.DataFrame | None = None,
    seen: set[str] | None = None,
    lost_stage: str = "closed_lost",
) -> pl.DataFrame:
    """The KPI table (:data:`KPI_COLUMNS`), ``all``, per segment when ``wide`` has one and
    per sourced channel when it has a channel (``spend``: its costs per lead / MQL).
    ``deals``: one row per deal (:func:`attribution.b2b._funnel_unit.deal_table`, keyed by
    ``_deal``), for the customer concentration and the marketing shares.
    ``seen``: the stages the data has (default: every step and ``lost_stage``); a KPI whose
    stages are not among them has no value and ``not_measured`` says why."""
    reasons = unmeasured_kpis(steps, set(steps) | {lost_stage} if seen is None else seen,
                              lost_stage)  # fmt: skip
    dims = ["all", *(["segment"] if "segment" in wide.columns else [])]
    from_velocity = (
        velocity.filter(pl.col("dimension").is_in(dims))
        .select(
            "dimension",
            "group",
            pl.col("average_deal").alias("average_deal_size"),
            pl.col("cycle_days").alias("time_to_close_days"),
            (pl.col("cycle_days") / _DAYS_PER_MONTH).alias("sales_cycle_months"),
            "win_rate",
            pl.col("velocity_per_day").alias("pipeline_velocity_per_day"),
        )
        .unpivot(index=["dimension", "group"], variable_name="kpi", value_name="value")
        .join(
            # the win rate says its definition: closed deals only (the funnel's step into won
            # counts open opportunities as not won, so it reads lower on the same range)
            velocity.filter(pl.col("dimension").is_in(dims)).select(
                "dimension",
                "group",
                pl.lit("win_rate").alias("kpi"),
                pl.col("win_rate_detail").alias("detail"),
            ),
            on=["dimension", "group", "kpi"],
            how="left",
            maintain_order="left",
        )
    )
    parts = [from_velocity, _concentration(deals, steps, dims, top_customers, "_deal")]
    if "_first_is_marketing" in deals.columns:
        parts.append(_marketing(deals, steps, dims))
    if "channel" in wide.columns:
        parts.append(_by_channel(wide, spend))
    if spend is not None:
        parts.append(_media(spend))
    if nrr:
        parts.append(
            pl.DataFrame(
                {
                    "dimension": ["all" if s == "all" else "segment" for s in nrr],
                    "group": list(nrr),
                    "kpi": ["nrr"] * len(nrr),
                    "value": list(nrr.values()),
                    "detail": ["annualised, from the subscriptions table"] * len(nrr),
                },
                schema={
                    "dimension": pl.String,
                    "group": pl.String,
                    "kpi": pl.String,
                    "value": pl.Float64,
                    "detail": pl.String,
                },
            )  # fmt: skip
        )
    kpis = pl.concat([p.select("dimension", "group", "kpi", "value", "detail") for p in parts])
    kpis = kpis.with_columns(pl.col("kpi").replace_strict(_UNITS).alias("unit"))
    kpis = bench.attach(
        kpis,
        pl.col("kpi").replace_strict(KPI_BENCHMARKS, default=None, return_dtype=pl.String),
        segment=pl.when(pl.col("dimension") == "segment").then(pl.col("group")),
        channel=pl.when(pl.col("dimension") == "channel").then(pl.col("group")),
    )
    order = list(_UNITS)
    reason = pl.col("kpi").replace_strict(reasons, default=None, return_dtype=pl.String)
    kpis = kpis.with_columns(
        pl.when(reason.is_null()).then(pl.col("value")).alias("value"),
        reason.alias("not_measured"),
    )
    return (
        kpis.with_columns(
            gap_expr(
                pl.col("value"),
                pl.col("benchmark_low"),
                pl.col("benchmark_high"),
                pl.col("benchmark_better"),
            ).alias("benchmark_gap")
        )
        .sort(
            pl.col("dimension").replace_strict({"all": 0, "segment": 1, "channel": 2}),
            "group",
            pl.col("kpi").replace_strict({k: i for i, k in enumerate(order)}),
        )
        .select(KPI_COLUMNS)
    )


def unmeasured_kpis(steps: list[str], seen: set[str], lost: str) -> dict[str, str]:
    """KPI -> why it is not measured, for the KPIs whose stages the data does not have
    (``seen``: the stages it has; the rule is in :mod:`attribution.b2b._funnel`)."""
    lead, mql, opp = steps[0], steps[1], steps[-2]

    def no(*stages: str) -> str:
        names = " or ".join(f"'{x}'" for x in stages)
        return f"not measured: the data has no {names} event"

    out: dict[str, str] = {}
    if lost not in seen:
        out["win_rate"] = (
            no(lost) + ", so won / (won + lost) would count every closed deal as won"
        )
        out["pipeline_velocity_per_day"] = no(lost) + ": it needs the win rate"
    if opp not in seen:
        for kpi in ("time_to_close_days", "sales_cycle_months", "pipeline_velocity_per_day"):
            out.setdefault(kpi, no(opp) + ": the cycle runs from the opportunity to won")
        if lost not in seen:
            for kpi in ("marketing_sourced_share", "marketing_influenced_share"):
                out[kpi] = (
                    no(opp, lost) + ": only won deals, so the pipeline is not in the data"
                )
    if lead not in seen:
        for kpi in ("cost_per_lead", "conversion_rate"):
            out[kpi] = no(lead)
    for kpi, need in (("mql_rate", (lead, mql)), ("sql_conversion", (mql, *steps[2:3])),
                      ("cost_per_mql", (mql,))):  # fmt: skip
        if missing := [x for x in need if x not in seen]:
            out[kpi] = no(*missing)
    return out


def _group(dim: str) -> pl.Expr:
    return (pl.lit("all") if dim == "all" else pl.col(dim)).alias("group")


def _concentration(
    wide: pl.DataFrame, steps: list[str], dims: list[str], n: int, key: str
) -> pl.DataFrame:
    won = wide.filter(
        (pl.col("depth") >= len(steps) - 1) & pl.col("won_value").is_not_null()
    ).with_columns(
        pl.coalesce(pl.col("_account"), pl.col(key)).alias("_customer"),
    )
    out = []
    for dim in dims:
        per_customer = won.group_by(_group(dim), "_customer").agg(pl.col("won_value").sum())
        out.append(
            per_customer.sort("won_value", descending=True)
            .group_by("group", maintain_order=True)
            .agg(
                pl.col("won_value").head(n).sum().alias("_top"),
                pl.col("won_value").sum().alias("_all"),
                pl.len().alias("_customers"),
            )
            .select(
                pl.lit(dim).alias("dimension"),
                "group",
                pl.lit("customer_concentration").alias("kpi"),
                pl.when(pl.col("_all") > 0).then(pl.col("_top") / pl.col("_all")).alias("value"),
                pl.format(
                    "top {} of {} customers",
                    pl.min_horizontal(pl.col("_customers"), pl.lit(n)),
                    pl.col("_customers"),
                ).alias("detail"),
            )
        )
    return pl.concat(out)


def _by_channel(wide: pl.DataFrame, spend: pl.DataFrame | None) -> pl.DataFrame:
    leads = wide.filter(pl.col("depth") >= 0)
    agg = leads.group_by(pl.col("channel").alias("group")).agg(
        pl.len().alias("_leads"),
        (pl.col("depth") >= 1).sum().alias("_mqls"),
        (pl.col("depth") >= 2).sum().alias("_sqls"),
    )
    kpis = [
        agg.select(
            pl.lit("channel").alias("dimension"),
            "group",
            pl.lit("mql_rate").alias("kpi"),
            (pl.col("_mqls") / pl.col("_leads")).alias("value"),
            pl.format("{} of {} sourced leads", pl.col("_mqls"), pl.col("_leads")).alias("detail"),
        ),
        agg.select(
            pl.lit("channel").alias("dimension"),
            "group",
            pl.lit("sql_conversion").alias("kpi"),
            pl.when(pl.col("_mqls") > 0).then(pl.col("_sqls") / pl.col("_mqls")).alias("value"),
            pl.format("{} of {} sourced MQLs", pl.col("_sqls"), pl.col("_mqls")).alias("detail"),
        ),
    ]
    if spend is not None and "clicks" in spend.columns:
        clicks = spend.group_by(pl.col("channel").alias("group")).agg(
            pl.col("clicks").sum().alias("_clicks"),
            pl.col("clicks").is_not_null().sum().alias("_rows"),
        )
        kpis.append(
            agg.join(clicks.filter(pl.col("_rows") > 0), on="group", how="inner").select(
                pl.lit("channel").alias("dimension"),
                "group",
                pl.lit("conversion_rate").alias("kpi"),
                pl.when(pl.col("_clicks") > 0)
                .then(pl.col("_leads") / pl.col("_clicks"))
                .alias("value"),
                pl.format(
                    "{} sourced leads / {} clicks",
                    pl.col("_leads"),
                    pl.col("_clicks").round(0).cast(pl.Int64),
                ).alias("detail"),
            )
        )
    if spend is not None:
        by_channel = spend.group_by(pl.col("channel").alias("group")).agg(
            pl.col("amount").sum().alias("_spend")
        )
        costs = agg.join(by_channel, on="group", how="inner")
        for kpi, n in (("cost_per_lead", "_leads"), ("cost_per_mql", "_mqls")):
            kpis.append(
                costs.select(
                    pl.lit("channel").alias("dimension"),
                    "group",
                    pl.lit(kpi).alias("kpi"),
                    pl.when(pl.col(n) > 0).then(pl.col("_spend") / pl.col(n)).alias("value"),
                    pl.format(
                        f"{money_prefix()}{{}} spend / {{}} {{}}",
                        pl.col("_spend").round(0).cast(pl.Int64),
                        pl.col(n),
                        pl.lit("leads" if n == "_leads" else "MQLs"),
                    ).alias("detail"),
                )
            )
    return pl.concat(kpis)


_MEDIA: tuple[tuple[str, str, str, float], ...] = (
    ("cpm", "amount", "impressions", 1_000.0),
    ("cpc", "amount", "clicks", 1.0),
    ("ctr", "clicks", "impressions", 1.0),
)


def _media(spend: pl.DataFrame) -> pl.DataFrame:
    """CPM, CPC and CTR per channel from the spend rows that carry impressions / clicks."""
    parts = [
        pl.DataFrame(
            schema={"dimension": pl.String, "group": pl.String, "kpi": pl.String,
                    "value": pl.Float64, "detail": pl.String}  # fmt: skip
        )
    ]
    for kpi, num, den, scale in _MEDIA:
        if num not in spend.columns or den not in spend.columns:
            continue
        kept = pl.col(num).is_not_null() & pl.col(den).is_not_null()
        agg = spend.group_by(pl.col("channel").alias("group")).agg(
            pl.col(num).filter(kept).sum().alias("_num"),
            pl.col(den).filter(kept).sum().alias("_den"),
            kept.sum().alias("_rows"),
        )
        parts.append(
            agg.filter(pl.col("_rows") > 0).select(
                pl.lit("channel").alias("dimension"),
                "group",
                pl.lit(kpi).alias("kpi"),
                pl.when(pl.col("_den") > 0)
                .then(pl.col("_num") / pl.col("_den") * scale)
                .alias("value"),
                pl.format(
                    "{}{} {} / {} {}",
                    pl.lit(money_prefix() if num == "amount" else ""),
                    pl.col("_num").round(0).cast(pl.Int64),
                    pl.lit("spend" if num == "amount" else "clicks"),
                    pl.col("_den").round(0).cast(pl.Int64),
                    pl.lit(den),
                ).alias("detail"),
            )
        )
    return pl.concat(parts)


def _marketing(wide: pl.DataFrame, steps: list[str], dims: list[str]) -> pl.DataFrame:
    opp, won = steps[-2], steps[-1]
    at = pl.coalesce(pl.col(f"{opp}_at"), pl.col(f"{won}_at"), pl.col("_lost_at"))
    opps = wide.filter(pl.col("depth") >= len(steps) - 2).with_columns(
        (pl.col("_first_is_marketing").fill_null(False) & (pl.col("_first_touch_at") <= at))
        .fill_null(False)
        .alias("_sourced"),
        (pl.col("_first_marketing_at") <= at).fill_null(False).alias("_influenced"),
    )
    out = []
    for dim in dims:
        agg = opps.group_by(_group(dim)).agg(
            pl.len().alias("_n"), pl.col("_sourced").sum(), pl.col("_influenced").sum()
        )
        for kpi, col in (
            ("marketing_sourced_share", "_sourced"),
            ("marketing_influenced_share", "_influenced"),
        ):
            out.append(
                agg.select(
                    pl.lit(dim).alias("dimension"),
                    "group",
                    pl.lit(kpi).alias("kpi"),
                    (pl.col(col) / pl.col("_n")).alias("value"),
                    pl.format("{} of {} opportunities", pl.col(col), pl.col("_n")).alias("detail"),
                )
            )
    return pl.concat(out)


def judged(value: float | None, unit: str, kpi: str, r: Mapping[str, Any]) -> str:
    """``12% vs a target of 15-25% (-20%)`` or the bare value without a range; a KPI the
    data cannot measure (``r["not_measured"]``) says so and why, never judged."""
    if r.get("not_measured"):
        return str(r["not_measured"])
    shown = format_value(value, unit, kpi)
    if r.get("benchmark_low") is None and r.get("benchmark_high") is None:
        return shown
    low, high = r["benchmark_low"], r["benchmark_high"]
    # a published USD range in a run in another currency: in dollars, labelled (report 16)
    usd = published_in_usd(unit, source=r.get("benchmark_source"))
    target = (usd_range if usd else format_range)(low, high, unit, kpi)
    label = PUBLISHED_USD[1:-1] if usd else ""
    gap = r.get("benchmark_gap")
    if value is None or gap is None:
        where = f" ({label})" if label else ""
    else:
        where = f" ({label + '; ' if label else ''}{gap_words(value, low, high, unit, kpi)}"
        where += ")" if where.endswith("within it") else (
            f", {'short' if gap < 0 else 'better'})"
        )
    return f"{shown} vs a target of {target}{where}"


def gap_lines(weakest: Mapping[str, Any], extra: Sequence[str] = ()) -> list[str]:
    """The biggest conversion gap and the data's own weakest step, with the numbers, then
    ``extra`` (lines about them), then the steps not measured and the gaps by segment."""
    if not weakest:
        return []

    def step(w: Mapping[str, Any]) -> str:
        return f"{w['from_stage']} -> {w['to_stage']} at " + judged(w["rate"], "rate", "", w)

    low = weakest["data_weakest"]
    if weakest.get("below_range"):
        lines = [
            f"Biggest conversion gap: {step(weakest)} ({weakest['benchmark_source']}).",
            f"  The data's own weakest step (lowest rate): {step(low)}.",
        ]
    else:
        lines = [
            f"Weakest stage: {step(low)}: the data's lowest rate; no conversion gap against "
            f"the benchmark ranges ({weakest['no_gap']}).",
        ]
    lines.extend(extra)
    if skipped := weakest.get("not_measured_steps"):
        lines.append(
            f"  Not measured (no events of their stages; never judged): {', '.join(skipped)}."
        )
    by_segment = {g: w for g, w in (weakest.get("by_segment") or {}).items() if g != UNKNOWN}
    if by_segment:
        lines.append(
            "  Biggest gap by segment: "
            + "; ".join(f"{g}: {step(w)}" for g, w in by_segment.items())
        )
    return lines


def win_rate_line(weakest: Mapping[str, Any], kpis: pl.DataFrame, won: str) -> list[str]:
    """When the step into won is named (the biggest gap or the lowest rate), the win rate
    beside it with both definitions, so the two figures on one range do not read as a
    contradiction."""
    named = [w for w in (weakest, weakest.get("data_weakest") or {}) if w.get("to_stage") == won]
    rows = kpis.filter(
        (pl.col("dimension") == "all")
        & (pl.col("kpi") == "win_rate")
        & pl.col("value").is_not_null()
    )
    if not named or rows.height == 0:
        return []
    step, r = named[0], rows.row(0, named=True)
    return [
        f"  {step['from_stage']} -> {won} ({pct(step['rate'])}) is of every opportunity, the "
        f"open ones counted as not won; the win rate, of closed deals only, is "
        f"{judged(r['value'], 'rate', 'win_rate', r)}."
    ]


KPI_LABELS = {
    "average_deal_size": "average deal size",
    "time_to_close_days": "time to close",
    "sales_cycle_months": "sales cycle",
    "win_rate": "win rate",
    "pipeline_velocity_per_day": "pipeline velocity a day",
    "customer_concentration": "customer concentration",
    "marketing_sourced_share": "marketing-sourced pipeline",
    "marketing_influenced_share": "marketing-influenced pipeline",
    "nrr": "NRR",
    "mql_rate": "MQL rate of sourced leads",
    "sql_conversion": "SQL rate of sourced MQLs",
    "conversion_rate": "sourced leads per click",
    "cost_per_lead": "cost per lead",
    "cost_per_mql": "cost per MQL",
    "cpm": "CPM",
    "cpc": "CPC",
    "ctr": "CTR",
}


#: the KPIs the summary shows per segment (every KPI is in funnel_kpis.parquet)
_BY_SEGMENT = (
    "average_deal_size",
    "sales_cycle_months",
    "win_rate",
    "marketing_sourced_share",
    "marketing_influenced_share",
    "nrr",
)


def kpi_lines(kpis: pl.DataFrame) -> list[str]:
    """The KPIs overall, then a few per segment, one line each."""
    if kpis.height == 0:
        return []
    lines = ["Funnel KPIs (overall; against the benchmark table where it has a range):"]
    for r in kpis.filter(pl.col("dimension") == "all").iter_rows(named=True):
        if r["kpi"] == "sales_cycle_months" and r["benchmark_low"] is None:
            continue  # the same figure as time to close; its ranges are per segment
        detail = (
            f" ({r['detail']})"
            if r["detail"] and r["kpi"] != "nrr" and not r.get("not_measured")
            else ""
        )
        lines.append(
            f"  {KPI_LABELS[r['kpi']]:<30} {judged(r['value'], r['unit'], r['kpi'], r)}{detail}"
        )
    segments = kpis.filter(
        (pl.col("dimension") == "segment")
        & pl.col("kpi").is_in(_BY_SEGMENT)
        & pl.col("value").is_not_null()
    )
    if segments.height:
        lines.append("  by segment:")
    for (group,), rows in segments.group_by("group", maintain_order=True):
        lines.append(
            f"    {group}: "
            + "; ".join(
                f"{KPI_LABELS[r['kpi']]} {judged(r['value'], r['unit'], r['kpi'], r)}"
                for r in rows.iter_rows(named=True)
            )
        )
    has_range = pl.col("benchmark_low").is_not_null() | pl.col("benchmark_high").is_not_null()
    channels = kpis.filter((pl.col("dimension") == "channel") & has_range)
    if channels.height:
        lines.append(
            "  by channel (its sourced leads; the spend's impressions and clicks), where the "
            "benchmark table has the channel:"
        )
    for (group,), rows in channels.group_by("group", maintain_order=True):
        lines.append(
            f"    {group}: "
            + "; ".join(
                f"{KPI_LABELS[r['kpi']]} {judged(r['value'], r['unit'], r['kpi'], r)}"
                for r in rows.iter_rows(named=True)
            )
        )
    return lines
