"""The command line's summary of unit economics: what a RevOps lead reads in one glance (CAC
by channel and segment in dollars, the guardrail's basis and limit, the channel closest to
the line, blended LTV/CAC, payback per segment against its target, NRR, re-rating)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from attribution._reporting_currency import money_text, sign
from attribution.b2b._decision import decision_note
from attribution.b2b._economics_accountless import accountless_lines
from attribution.b2b._economics_draws import LOW_MARK, low_note, span
from attribution.b2b._economics_heavy import heavy_contacts_lines
from attribution.b2b._economics_joins import join_lines
from attribution.b2b._economics_window import coverage_lines
from attribution.b2b._funnel_kpis import judged
from attribution.b2b._shared import money, num, pct
from attribution.b2b._spend_checks import spend_check_lines
from attribution.inputs._account_inputs import UNKNOWN

if TYPE_CHECKING:
    from attribution.b2b._economics import UnitEconomics

#: The interval columns' header (after the flag column, 10 wide).
_CI_HEADER = f" {'':<10} {'loaded CAC 90%':>17} {'guardrail 90%':>14} {'P(breach)':>9}"
BASIS_TEXT = {
    "lifetime_gross_profit": "lifetime gross profit per customer",
    "first_year_gross_profit": "first-year gross profit per customer",
    "period_gross_profit": "the gross profit per customer of the spend period",
}


def economics_summary(econ: UnitEconomics, model: str | None = None) -> str:
    """The summary of :meth:`UnitEconomics.summary`."""
    if econ.table.height == 0:
        return "Unit economics: no channels."
    models = econ.table.get_column("model").unique(maintain_order=True).to_list()
    p = econ.parameters
    decided = p.get("decision_model")
    if model is None and decided in models:
        model = decided
    model = model or ("linear" if "linear" in models else models[0])
    under = decision_note(model, p.get("decision_model_source")) if model == decided else model
    rows = econ.table.filter(pl.col("model") == model).sort(
        pl.col("loaded_cac").is_null(), "loaded_cac", descending=[True, False]
    )
    limit, basis = p["guardrail_limit"], p["guardrail_basis"]
    churn = p["annual_churn"]
    draws = int((p.get("bootstrap") or {}).get("draws") or 0)
    ci = draws > 0 and "loaded_cac_ci_low" in rows.columns
    lines = [
        f"Unit economics under {under} (CAC = spend / credited customers; loaded adds "
        f"non-media costs {money_text(p['non_media_total'])} allocated by {p['allocation']}; "
        f"LTV = ARPA x {p['gross_margin']['value']:.0%} margin{_by_segment(p)} / annual churn "
        f"({churn['value']:.0%}, {churn['source']}), lifetime at most "
        f"{p.get('max_lifetime_years', 5):g} years; guardrail basis {basis}: loaded CAC <= "
        f"{limit:.0%} of {BASIS_TEXT[basis]}):",
        f"  {'channel':<22} {'spend':>10} {'customers':>9} {'CAC':>9} {'loaded':>9} "
        f"{'LTV/CAC':>8} {'payback':>8} {'guardrail':>9}"
        + (_CI_HEADER if ci else ""),
    ]
    lines[0:0] = [*coverage_lines(p.get("spend_coverage")), *join_lines(p), *accountless_lines(p),
                  *heavy_contacts_lines(p)]
    for r in rows.iter_rows(named=True):
        flag = "BREACH" if r["breach"] else "ok"
        if r["guardrail_share"] is None and r["status"] == "paid":
            flag = "not measured"
        if r["status"] == "unpaid":
            flag = "unpaid"
        elif r["status"] == "no_touches":
            flag = "no touches"
        low = LOW_MARK if r.get("low_confidence") else " "
        line = (
            f"  {r['channel']:<22} {money(r['spend']):>10} {r['customers']:>8.1f}{low} "
            f"{money(r['cac']):>9} {money(r['loaded_cac']):>9} "
            f"{num(r['ltv_to_cac'], '.1f'):>8} {num(r['payback_months'], '.1f'):>8} "
            f"{num(r['guardrail_share'], '.1%'):>9} {flag}"
        )
        if ci:
            line = (
                f"{line:<{len(line) - len(flag) + 10}} "
                f"{span(r['loaded_cac_ci_low'], r['loaded_cac_ci_high']):>17} "
                f"{span(r['guardrail_share_ci_low'], r['guardrail_share_ci_high'], 'pct'):>14} "
                f"{num(r['breach_probability'], '.0%'):>9}"
            )
        lines.append(line.rstrip())
    blended = econ.blended.filter(pl.col("model") == model)
    overall = blended.filter(pl.col("segment") == "all")
    if overall.height:
        r = overall.row(0, named=True)
        lines.append(
            f"  {'(blended)':<22} {money(r['spend']):>10} {r['customers']:>8.1f}  "
            f"{money(r['cac']):>9} {money(r['loaded_cac']):>9} "
            f"{num(r['ltv_to_cac'], '.1f'):>8} {num(r['payback_months'], '.1f'):>8} "
            f"{num(r['guardrail_share'], '.1%'):>9}"
        )
        if (off := float(rows.filter(pl.col("status") == "no_touches")["spend"].sum())) > 0:
            names = ", ".join(rows.filter(pl.col("status") == "no_touches")["channel"])
            lines.append(  # spend is spend: kept in the blended row, and said (README)
                f"  (the blended row includes {money(off)} of spend on channels no touch has: "
                f"{names}; without it the blended CAC is "
                f"{money((r['spend'] - off) / r['customers'] if r['customers'] else None)})"
            )
    if rows.filter(pl.col("low_confidence")).height or ci:
        lines.append(f"  ({low_note(draws)})")
    breaches = rows.filter(pl.col("breach"))
    # a segment over the line is said here too (new-user report 22, M9: "none." read above
    # an smb row in BREACH)
    segments = blended.filter((pl.col("segment") != "all") & pl.col("breach").fill_null(False)) \
        if "breach" in blended.columns else blended.clear()
    by_segment = ", ".join(f"{r['segment']} at {num(r['guardrail_share'], '.1%')}"
                           for r in segments.iter_rows(named=True))
    lines.append(
        f"Guardrail breaches under {model}: "
        + (
            ", ".join(_with_odds(r, ci) for r in breaches.iter_rows(named=True))
            or ("not measured (no deal values)" if p.get("not_measured") else None)
            or _none_judged(rows)
        )
        + (f" by channel; by segment (loaded CAC of all channels): {by_segment}"
           if by_segment else "")
        + "."
    )
    lines.extend(_closest(rows, limit, BASIS_TEXT[basis], ci))
    if overall.height:
        r = overall.row(0, named=True)
        lines.append(
            f"Blended under {model}: LTV/CAC {num(r['ltv_to_cac'], '.1f')} (target >= "
            f"{p['ltv_to_cac_target']:g}), payback {num(r['payback_months'], '.1f')} months "
            f"(target {p['payback_target_months']:g}), loaded CAC {money(r['loaded_cac'])}."
        )
    lines.extend(_segments(econ, model, blended))
    lines.extend(_rerate(econ, model))
    if econ.retention is not None:
        kpi = econ.retention.table.select("segment", "nrr")
        lines.append(
            "NRR (annualised, subscriptions): "
            + ", ".join(f"{s} {pct(v)}" for s, v in kpi.iter_rows())
        )
    for channel, hint in (p.get("spend_channels_without_touches") or {}).items():
        lines.append(f"Spend channel '{channel}' matches no touch channel: {hint}")
    lines.extend(spend_check_lines(p.get("spend_checks")))  # duplicates, dates off the period
    return "\n".join(lines)


def _none_judged(rows: pl.DataFrame) -> str:
    """``none``, or -- when no channel has both spend and touches while spend was given --
    that nothing was judged, and why: a guardrail with no breach because every spend row
    missed the touches' channel names is not a pass."""
    judged = rows.filter(pl.col("status").is_in(["paid", "no_customers"])).height
    unmatched = float(rows.filter(pl.col("status") == "no_touches").get_column("spend").sum())
    if judged or unmatched <= 0:
        return "none"
    total = float(rows.get_column("spend").sum())
    return (
        f"none judged: {money(unmatched)} of {money(total)} spend is on channels with no touch "
        "(their names are not the touches' channel names: see the lines 'Spend channel ... "
        "matches no touch channel' below)"
    )


def _with_odds(r: dict[str, object], ci: bool) -> str:
    """A channel's name, with its low-n mark and the share of draws in breach."""
    name = f"{r['channel']}{LOW_MARK if r.get('low_confidence') else ''}"
    odds = r.get("breach_probability")
    return f"{name} (in breach in {odds:.0%} of draws)" if ci and isinstance(odds, float) else name


def _closest(rows: pl.DataFrame, limit: float, base: str, ci: bool = False) -> list[str]:
    """The paid channel nearest the guardrail from below, and the one furthest over it."""
    paid = rows.filter((pl.col("status") == "paid") & pl.col("guardrail_share").is_not_null())
    out = []
    over = paid.filter(pl.col("guardrail_share") > limit).sort("guardrail_share", descending=True)
    under = paid.filter(pl.col("guardrail_share") <= limit).sort(
        "guardrail_share", descending=True
    )
    if over.height:
        r = over.row(0, named=True)
        out.append(
            f"Furthest over the line: {_with_odds(r, ci)} at {pct(r['guardrail_share'])} of "
            f"{base} against the {limit:.0%} limit (loaded CAC {money(r['loaded_cac'])})."
        )
    if under.height:
        r = under.row(0, named=True)
        out.append(
            f"Closest inside the line: {_with_odds(r, ci)} at {pct(r['guardrail_share'])} of "
            f"{base} against the {limit:.0%} limit (loaded CAC {money(r['loaded_cac'])})."
        )
    return out


def _segments(econ: UnitEconomics, model: str, blended: pl.DataFrame) -> list[str]:
    """CAC by channel and segment ($, loaded) and the blended figures per segment."""
    seg = econ.segments.filter(pl.col("model") == model)
    if seg.height == 0:
        return []
    names = [s for s in blended.get_column("segment").to_list() if s != "all"]
    how = econ.parameters.get("segment_spend")
    lines = [
        f"Loaded CAC by channel and segment under {model} (spend split across segments by "
        f"{how}):",
        f"  {'channel':<22} " + " ".join(f"{s:>12}" for s in names),
    ]
    wide = {
        (r["channel"], r["segment"]): (
            (LOW_MARK if r["low_confidence"] else "") + money(r["loaded_cac"])
            if r["loaded_cac"] is not None
            else "-"
        )
        for r in seg.select("channel", "segment", "loaded_cac", "low_confidence").iter_rows(
            named=True
        )
    }
    channels = econ.table.filter(
        (pl.col("model") == model) & (pl.col("status") == "paid")
    ).get_column("channel")
    lines.extend(
        f"  {channel:<22} " + " ".join(f"{wide.get((channel, s), '-'):>12}" for s in names)
        for channel in channels
    )
    if seg.filter(pl.col("low_confidence")).height:
        lines.append(f"  ({low_note(None)})")
    lines.append(
        f"  {'segment':<12} {'customers':>9} {'loaded CAC':>10} {'ARPA':>9} {'LTV':>9} "
        f"{'LTV/CAC':>8} {'payback mo':>10} {'target mo':>9} {'payback vs target':<17} "
        f"{'guardrail':>9} {'':<6} {'pipeline/' + sign():>10}"
    )
    for r in blended.iter_rows(named=True):
        # each verdict beside the figure it judges: payback against its target, the guardrail
        # share against its limit (a segment can pay back in time and still breach)
        ok, breach = r["payback_ok"], r.get("breach")
        payback = "" if ok is None else ("within target" if ok else "over target")
        guardrail = "" if breach is None else ("BREACH" if breach else "ok")
        pipe = r.get("created_pipeline_per_dollar")
        line = (
            f"  {r['segment']:<12} {r['customers']:>9.1f} {money(r['loaded_cac']):>10} "
            f"{money(r['arpa']):>9} {money(r['ltv']):>9} {num(r['ltv_to_cac'], '.1f'):>8} "
            f"{num(r['payback_months'], '.1f'):>10} {num(r['payback_target_months'], '.0f'):>9} "
            f"{payback:<17} {num(r['guardrail_share'], '.1%'):>9} {guardrail:<6} "
            f"{num(pipe, '.1f') + ('x' if pipe is not None else ''):>10}"
        )
        lines.append(line.rstrip())
    return [*lines, *_range_lines(blended, econ.parameters.get("segment_aliases") or {})]


def _range_lines(blended: pl.DataFrame, aliases: dict[str, Any] | None = None) -> list[str]:
    """Each segment's created pipeline per dollar and CAC recovery against the published
    ranges (the benchmark table's ``pipeline_per_dollar`` and ``cac_payback_months``)."""
    if "pipeline_per_dollar_low" not in blended.columns:
        return []
    judged_rows = blended.filter(
        pl.any_horizontal(
            pl.col(f"{p}_{end}").is_not_null()
            for p in ("pipeline_per_dollar", "cac_payback")
            for end in ("low", "high")
        )
    )
    if judged_rows.height == 0:
        return []
    lines = [
        f"Segments against the published ranges (pipeline per {sign()} = created pipeline, "
        "the "
        "opportunity amounts the channels sourced, / media spend; CAC recovery = the same "
        "payback months, against the playbook's CAC recovery range for the segment, which is "
        "tighter than the payback target of the table above: a segment can meet one and miss "
        "the other):"
    ]
    for r in judged_rows.iter_rows(named=True):
        parts = []
        for label, figure, prefix, unit in (
            (f"pipeline per {sign()}", "created_pipeline_per_dollar", "pipeline_per_dollar",
             "ratio"),
            ("CAC recovery", "payback_months", "cac_payback", "months"),
        ):
            ranged = {
                "benchmark_low": r[f"{prefix}_low"],
                "benchmark_high": r[f"{prefix}_high"],
                "benchmark_gap": r[f"{prefix}_gap"],
            }
            if r[figure] is not None or ranged["benchmark_low"] is not None:
                text = f"{label} {judged(r[figure], unit, '', ranged)}"
                ok, target = r.get("payback_ok"), r.get("payback_target_months")
                if prefix == "cac_payback" and ok is not None and target is not None:
                    # the other published yardstick for the same months, said beside it
                    text += (
                        f"; {'within' if ok else 'over'} the {target:g}-month payback target"
                    )
                parts.append(text)
        alias = (aliases or {}).get(r["segment"])  # a segment of yours read as a published one
        named = f"{r['segment']} (as {alias['as']})" if alias else r["segment"]
        lines.append(f"  {named:<12} " + "; ".join(parts))
    return lines


def _rerate(econ: UnitEconomics, model: str) -> list[str]:
    monthly = econ.monthly
    if monthly.height == 0:
        return []
    rows = monthly.filter((pl.col("model") == model) & pl.col("rerate"))
    overall = rows.filter(pl.col("segment") == "all")
    head = "Re-rating (guardrail breached two months running, trailing three months): "
    first = overall.group_by("channel").agg(pl.col("month").min()).sort("month", "channel")
    lines = [
        head
        + (", ".join(f"{c} (from {m})" for c, m in first.iter_rows()) or "none")
        + "."
    ]
    by_segment = (
        rows.filter(~pl.col("segment").is_in(["all", UNKNOWN]))
        .group_by("segment", "channel")
        .agg(
            pl.col("month").min(),
            (pl.col("status") == "no_customers").all().alias("_none"),
        )
        .sort("segment", "month", "channel")
    )
    if by_segment.height:
        # a streak of windows with spend and no customer of the segment says little on a
        # segment with few deals: say so beside the channel
        lines.append(
            "  by segment: "
            + "; ".join(
                f"{seg}: " + ", ".join(
                    f"{c} (from {m}{'; no customers in those windows' if none else ''})"
                    for c, m, none in part.select("channel", "month", "_none").iter_rows())
                for (seg,), part in by_segment.group_by("segment", maintain_order=True)
            )  # fmt: skip
            + "."
        )
    elif monthly.filter(pl.col("segment") != "all").height:
        lines.append("  by segment: none.")
    return lines


def _by_segment(p: dict[str, Any]) -> str:
    """`` (smb 70%, enterprise 85%)``: the segments' own gross margins, when given."""
    own = (p.get("gross_margin") or {}).get("by_segment") or {}
    return " (" + ", ".join(f"{s} {m:.0%}" for s, m in own.items()) + ")" if own else ""
