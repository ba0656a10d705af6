"""The top of the page: the five answers of the 90-second test in sentences with numbers, the
KPI tiles, and the alerts of the latest week tested (issue #20).

1. What a customer costs by channel (loaded CAC in dollars) and by segment;
2. the guardrail (its basis stated), the paid channel closest to it or over it;
3. LTV/CAC and payback, blended and per segment against the segment's target;
4. the biggest conversion gap against its benchmark target;
5. the lever: the plan's biggest recommended budget move and how many models agree.

Every figure is the run's decision model's (the page says which and why); bootstrap intervals
(``*_ci_low`` / ``*_ci_high``), breach probabilities and ``draw_agreement`` are shown where
the run has them, and ``low_confidence`` rows are marked. Each answer links to its section.
A run that attributed nothing gets an empty state that says why and what to try instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.b2b._analysis import ECONOMICS_NOT_COMPUTED
from attribution.b2b._decision import decision_note
from attribution.b2b._economics_joins import join_lines
from attribution.b2b._economics_summary import BASIS_TEXT
from attribution.b2b._economics_window import coverage_lines
from attribution.b2b._gaps import gap_words
from attribution.b2b._plan_extrapolation import lever_caveat
from attribution.engine._files import RunFiles
from attribution.report._answer_words import agreement, defaults_said
from attribution.report._charts import col, model_order
from attribution.report._context import Context
from attribution.report._economics import pick_model
from attribution.report._format import e, fmt_num, fmt_pct, is_missing
from attribution.report._labels import money, words
from attribution.report._shared import shared_deals

LTV_TO_CAC_TARGET = 3.0  # when economics.json does not say


def answers(ctx: Context, anchors: set[str]) -> str | None:
    """The answers, tiles and alerts as HTML; None when the run has none of their files.
    ``anchors``: the ids on the page an answer may link to."""
    econ = ctx.frame(RunFiles.ECONOMICS)
    meta = ctx.json(RunFiles.ECONOMICS_JSON) or {}
    funnel = ctx.json(RunFiles.FUNNEL_JSON) or {}
    levers = ctx.frame(RunFiles.LEVERS)
    have = econ is not None or funnel or levers is not None
    if not have:
        return None
    view = _EconomicsView.of(ctx, econ, meta)
    items = [
        ("What does a customer cost, by channel?", _cac(view), "economics", "CAC by channel"),
        ("Is spend inside the guardrail?", _guardrail(view), "economics", "the guardrail"),
        ("Do customers pay back?", _payback(view),
         "segments" if view.segments() else "economics", "LTV and payback"),
        ("Where does the funnel leak most?", _gap(funnel), "funnel", "the funnel"),
        ("What should we change?", _lever(ctx, levers), "plan", "the plan check"),
    ]
    # elementtiming: the browser reports when each answer is painted (Element Timing API)
    rows = "".join(
        f'<div class="answer"><dt>{e(q)}</dt><dd elementtiming="answer-{i}">{text}'
        + (f' <a class="more" href="#{anchor}">See {e(where)} ↓</a>' if anchor in anchors else "")
        + "</dd></div>"
        for i, (q, text, anchor, where) in enumerate(items, start=1)
    )
    lead = view.lead()
    return (
        '<div id="answers" class="answers" role="region" aria-labelledby="answers-title">'
        '<h2 id="answers-title">The answers</h2>'
        f'<p class="lead">{lead}</p>{shared_deals(ctx.manifest)}<dl>{rows}</dl></div>'
        + _tiles(view, funnel)
        + _alerts(ctx, "alerts" in anchors)
    )


class _EconomicsView:
    """The decision model's rows of economics.parquet (every segment together) and of
    economics.json's blended table."""

    def __init__(
        self,
        model: str | None,
        under: str,
        channels: pl.DataFrame,
        blended: pl.DataFrame,
        params: Mapping[str, Any],
        decided: bool = False,
        absent: str = "no spend",
    ) -> None:
        self.absent = absent  # why the run has no unit economics (when it has none)
        self.decided = decided  # the model is the run's decision model
        self.model = model
        self.under = under
        self.channels = channels
        self.blended = blended
        self.params = params

    @classmethod
    def of(
        cls, ctx: Context, econ: pl.DataFrame | None, meta: Mapping[str, Any]
    ) -> _EconomicsView:
        params = meta.get("parameters") if isinstance(meta.get("parameters"), dict) else {}
        assert isinstance(params, dict)
        empty = pl.DataFrame()
        if econ is None or "model" not in econ.columns or econ.height == 0:
            # not computed on purpose (conversions that are not customers), else no spend
            skipped = ctx.manifest.get(ECONOMICS_NOT_COMPUTED)
            return cls(None, "", empty, empty, params,
                       absent=skipped if isinstance(skipped, str) else "no spend")
        models = model_order(ctx, col(econ, "model"))
        decided = ctx.manifest.get("decision_model") or params.get("decision_model")
        chosen = pick_model(models, decided)
        under = chosen
        if chosen == decided:
            source = ctx.manifest.get("decision_model_source") or params.get(
                "decision_model_source"
            )
            under = decision_note(
                chosen,
                source if isinstance(source, str) else None,
                ctx.manifest.get("decision_model_reason"),
            )
        rows = econ.filter(pl.col("model") == chosen)
        if "segment" in rows.columns:
            rows = rows.filter(pl.col("segment") == "all")
        blended = pl.DataFrame(meta.get("blended") or [], infer_schema_length=None)
        if {"model", "segment"} <= set(blended.columns):
            blended = blended.filter(pl.col("model") == chosen)
        else:
            blended = empty
        return cls(chosen, under, rows, blended, params, decided=chosen == decided)

    def lead(self) -> str:
        if self.model is None:
            why = " (no spend)" if self.absent == "no spend" else ": see the first answer"
            return f"Figures from the run's files; the run has no unit economics{why}."
        if self.decided:
            return (
                f"Every figure is under the run's decision model, <b>{e(self.under)}</b> "
                '<span class="muted">(--decision-model chooses another)</span>.'
            )
        return (
            f"Every figure is under <b>{e(self.model)}</b> (the run names no decision model: "
            "the default choice among its models; choose one with --decision-model)."
        )

    def paid(self) -> pl.DataFrame:
        rows = self.channels
        if "status" in rows.columns:
            rows = rows.filter(pl.col("status") == "paid")
        need = "loaded_cac" if "loaded_cac" in rows.columns else "cac"
        if need not in rows.columns:
            return pl.DataFrame()
        return rows.filter(pl.col(need).is_not_null()).sort(need)

    def cac_column(self) -> str:
        return "loaded_cac" if "loaded_cac" in self.channels.columns else "cac"

    def overall(self) -> dict[str, Any] | None:
        if self.blended.height == 0:
            return None
        rows = self.blended.filter(pl.col("segment") == "all")
        return rows.row(0, named=True) if rows.height else None

    def segments(self) -> list[dict[str, Any]]:
        if self.blended.height == 0:
            return []
        return list(self.blended.filter(pl.col("segment") != "all").iter_rows(named=True))


def _interval(row: Mapping[str, Any], column: str, fmt: Any) -> str:
    """`` [low–high]`` from the row's bootstrap bounds of ``column``, else nothing."""
    low, high = row.get(f"{column}_ci_low"), row.get(f"{column}_ci_high")
    if low is None or high is None or low != low or high != high:  # none, or NaN
        return ""
    if is_missing(low):  # both ends infinite: no customer in 95% of the draws
        shown = "not measured in most draws"
    elif is_missing(high):  # some draws credit no customer: no upper bound (never "inf")
        shown = f"{fmt(low)} or more"
    else:
        shown = f"{fmt(low)}–{fmt(high)}"
    return f' <span class="ci" title="90% bootstrap interval">[{shown}]</span>'


def _low(row: Mapping[str, Any]) -> str:
    if row.get("low_confidence"):
        return (
            ' <span class="lowconf" title="few credited customers: the figure moves a lot '
            'with the sample">low confidence</span>'
        )
    return ""


def _cac(view: _EconomicsView) -> str:
    if view.model is None:
        if view.absent != "no spend":
            return _none(f"No unit economics in this run: {view.absent}.")
        return _none("No unit economics in this run: give the spend table (--spend) to get CAC.")
    paid = view.paid()
    column = view.cac_column()
    loaded = column == "loaded_cac"
    if paid.height == 0:
        return _none("No paid channel has credited customers: CAC cannot be measured.")
    cheapest, dearest = paid.row(0, named=True), paid.row(-1, named=True)
    what = "Loaded CAC (spend plus non-media costs, per credited customer)" if loaded else "CAC"
    if loaded and not any((view.params.get("costs") or {}).values()):  # none given: = CAC
        what = "CAC (spend per credited customer; no non-media costs given, so loaded = CAC)"
    text = (
        f"{what} runs from <b>{money(cheapest[column])}</b> ({e(cheapest['channel'])}) to "
        f"<b>{money(dearest[column])}</b> ({e(dearest['channel'])})"
        if paid.height > 1
        else f"{what}: {e(cheapest['channel'])}, the one paid channel with credited customers, "
        f"<b>{money(cheapest[column])}</b>"
    )
    overall = view.overall()
    if overall and not is_missing(overall.get(column)):
        text += f"; blended <b>{money(overall[column])}</b>{_interval(overall, column, money)}"
        if overall[column] < cheapest[column]:  # below every paid channel: say why
            text += (
                " (all spend over every credited customer, those of unpaid channels such as "
                "organic and direct too: so below the paid channels' own CACs)"
            )
    listed = " · ".join(
        f"{e(r['channel'])} {money(r[column])}{_interval(r, column, money)}{_low(r)}"
        for r in paid.iter_rows(named=True)
    )
    text += f'.<br><span class="list">By channel: {listed}.</span>'
    segments = [s for s in view.segments() if not is_missing(s.get(column))]
    if segments:
        seg = " · ".join(f"{e(s['segment'])} {money(s[column])}" for s in segments)
        text += f'<br><span class="list">By segment: {seg}.</span>'
    unpaid = view.channels
    if "status" in unpaid.columns:
        names = col(unpaid.filter(pl.col("status") == "unpaid"), "channel")
        if names:
            text += (
                f'<br><span class="list">Without spend (non-media costs only): '
                f"{e(', '.join(map(str, names)))}.</span>"
            )
    # the spend of part of the period, conversions without touches, ids that miss (econfix)
    said = [*coverage_lines(view.params.get("spend_coverage")), *join_lines(dict(view.params))]
    for line in said:  # a warning in red; a note (counted and said: $0 deals) plain
        shown = f'<b class="bad">{e(line)}</b>' if not line.startswith("NOTE") else e(line)
        text += f'<br><span class="list">{shown}</span>'
    return text + _spend_without_touches(view, overall, column)


def _spend_without_touches(
    view: _EconomicsView, overall: Mapping[str, Any] | None, column: str
) -> str:
    """The spend on channels no touch of the run has (status ``no_touches``: a name the touches
    spell otherwise, or a channel the touch log does not track): how much, which channels,
    and the blended CAC without it, since the blended figure carries it."""
    rows = view.channels
    if not {"status", "spend", "channel"} <= set(rows.columns):
        return ""
    lost = rows.filter(pl.col("status") == "no_touches")
    amount = float(lost.get_column("spend").sum() or 0.0)
    if amount <= 0:
        return ""
    total = float(rows.get_column("spend").sum() or 0.0)
    names = ", ".join(map(str, lost.sort("spend", descending=True).get_column("channel")))
    text = (
        f'<br><span class="list"><b class="bad">{money(amount)} of {money(total)} spend '
        f"({amount / total:.0%}) is on channels with no touches</b> in the data: {e(names)}"
    )
    customers = overall.get("customers") if overall else None
    if overall and not is_missing(overall.get(column)) and customers and customers > 0:
        without = float(overall[column]) - amount / float(customers)
        text += (
            f". The blended {money(overall[column])} includes it; without it, "
            f"{money(without)}. Map those names to the touches' channels in [channels], or "
            "leave that spend out"
        )
    return text + ".</span>"


def _guardrail(view: _EconomicsView) -> str:
    paid = view.paid()
    if view.model is None or "guardrail_share" not in paid.columns or paid.height == 0:
        return _none("No guardrail: the run has no unit economics with a guardrail share.")
    limit = view.params.get("guardrail_limit")
    if is_missing(limit) and "guardrail_limit" in paid.columns:
        limit = paid.item(0, "guardrail_limit")
    basis = str(view.params.get("guardrail_basis") or "")
    of = BASIS_TEXT.get(basis, "gross profit per customer")
    text = f"The guardrail: loaded CAC at most <b>{fmt_pct(limit, 0)}</b> of {e(of)}. "
    shares = paid.filter(pl.col("guardrail_share").is_not_null()).sort(
        "guardrail_share", descending=True
    )
    if shares.height == 0:  # no paid channel measured: never "all 0 are inside it"
        why = view.params.get("not_measured") or "no paid channel has a guardrail share"
        return _none(f"No guardrail verdict: {why}.")
    over = shares.filter(pl.col("guardrail_share") > limit) if not is_missing(limit) else shares
    inside = shares.filter(pl.col("guardrail_share") <= limit) if not is_missing(limit) else None
    if over.height:
        named = "; ".join(_share_phrase(r) for r in over.iter_rows(named=True))
        verb = "breaches" if over.height == 1 else "breach"
        text += (
            f'<b class="bad">{over.height} of {shares.height} paid channels {verb} it</b>: '
            f"{named}. "
        )
    else:
        text += f"All <b>{shares.height}</b> paid channels are inside it. "
    if inside is not None and inside.height:
        r = inside.row(0, named=True)
        text += f"Closest inside: <b>{e(r['channel'])}</b> at {_share_phrase(r, name=False)}."
    segments = [s for s in view.segments() if s.get("breach")]
    if segments:
        text += " By segment, over the line: " + "; ".join(
            f"<b>{e(s['segment'])}</b> at {fmt_pct(s.get('guardrail_share'))}"
            if not is_missing(s.get("guardrail_share"))  # never "at –": say what it lacks
            else f"<b>{e(s['segment'])}</b> (spend {money(s.get('spend'))}, no credited customer)"
            for s in segments
        ) + "."
    return text


def _share_phrase(row: Mapping[str, Any], *, name: bool = True) -> str:
    """``outbound at 47.8% [41–55%] (loaded CAC $9,735; breaches in 97% of draws)``."""
    head = f"<b>{e(row['channel'])}</b> at " if name else ""
    cac = row.get("loaded_cac", row.get("cac"))
    extra = [f"loaded CAC {money(cac)}"] if not is_missing(cac) else []
    if not is_missing(row.get("breach_probability")):
        extra.append(f"over the line in {fmt_pct(row['breach_probability'], 0)} of draws")
    return (
        f"{head}{fmt_pct(row.get('guardrail_share'))}"
        f"{_interval(row, 'guardrail_share', fmt_pct)} ({'; '.join(extra)}){_low(row)}"
    )


def _payback(view: _EconomicsView) -> str:
    overall = view.overall()
    if overall is None:
        return _none("No LTV or payback: the run has no blended unit economics.")
    target = float(view.params.get("ltv_to_cac_target") or LTV_TO_CAC_TARGET)
    if is_missing(overall.get("ltv_to_cac")) and is_missing(overall.get("payback_months")):
        # never "–× ... – months": say what is missing, as the guardrail answer does
        why = view.params.get("not_measured")
        return _none(
            "Blended LTV/CAC and payback: "
            + (why if isinstance(why, str) and why else "not measured")
            + "."
        )
    text = (
        f"Blended LTV/CAC <b>{fmt_num(overall.get('ltv_to_cac'), 1)}×</b>"
        f"{_interval(overall, 'ltv_to_cac', lambda v: fmt_num(v, 1))} (target ≥ {target:g}×), "
        f"payback <b>{fmt_num(overall.get('payback_months'), 1)} months</b>"
        f"{_interval(overall, 'payback_months', lambda v: fmt_num(v, 1))} (target "
        f"{fmt_num(overall.get('payback_target_months'))} months)"
        + defaults_said(view.params) + "."
    )
    parts = []
    for s in view.segments():
        ratio, months = s.get("ltv_to_cac"), s.get("payback_months")
        weak = isinstance(ratio, int | float) and not is_missing(ratio) and ratio < target
        late = s.get("payback_ok") is False
        ratio_text = f"{fmt_num(ratio, 1)}×" + (f", below {target:g}×" if weak else "")
        pay = (
            f"{fmt_num(months, 1)} months vs {fmt_num(s.get('payback_target_months'))}"
            + (", over target" if late else "")
        )
        low, high = s.get("cac_payback_low"), s.get("cac_payback_high")
        recovery = s.get("cac_payback_judgement")
        if not is_missing(low) and not is_missing(high) and recovery in ("short", "better"):
            # the same months against the playbook's CAC recovery range for the segment, which
            # is tighter than the payback target: say which yardstick each verdict uses
            pay += (
                f" (the payback target; {'above' if recovery == 'short' else 'below'} the "
                f"{fmt_num(low)}–{fmt_num(high)}-month CAC recovery range: {recovery})"
            )
        item = f"{e(s['segment'])} {ratio_text}, payback {pay}"
        if is_missing(ratio) and is_missing(months):  # no credited customer: no "–×, – months"
            item = f"{e(s['segment'])}: no credited customer (spend {money(s.get('spend'))})"
        parts.append(f'<b class="bad">{item}</b>' if weak or late else item)
    if parts:
        text += f'<br><span class="list">By segment: {" · ".join(parts)}.</span>'
    return text


def _gap(funnel: Mapping[str, Any]) -> str:
    weakest = funnel.get("weakest_stage")
    skipped = funnel.get("not_measured_steps")
    skipped = skipped if isinstance(skipped, dict) else {}
    unmeasured = (
        " Not measured (the data has no events of their stages, so no rate is judged): "
        + "; ".join(e(" → ".join(words(x) for x in k.split(" -> "))) for k in skipped)
        + "."
        if skipped
        else ""
    )
    if not isinstance(weakest, dict) or not weakest.get("from_stage"):
        if skipped:
            seen = (funnel.get("counts") or {}).get("stages_seen") or []
            return _none(
                "No funnel step can be measured: the stages have only "
                + (", ".join(words(str(x)) for x in seen) or "none of the steps")
                + ", and a step needs events of both its stages."
            )
        return _none("No funnel in this run: give the CRM stages to measure stage conversion.")
    step = f"{words(weakest['from_stage'])} → {words(weakest.get('to_stage', ''))}"
    rate = fmt_pct(weakest.get("rate"))
    count = (
        f" ({fmt_num(weakest.get('advanced'))} of {fmt_num(weakest.get('entered'))})"
        if weakest.get("entered") is not None
        else ""
    )
    unmeasured += _win_rate_note(funnel, weakest)
    low, high = weakest.get("benchmark_low"), weakest.get("benchmark_high")
    if weakest.get("below_range") and isinstance(low, int | float):
        target = f"{fmt_pct(low, 0)}–{fmt_pct(high, 0)}" if not is_missing(high) else (
            f"at least {fmt_pct(low, 0)}"
        )
        value = weakest.get("rate")
        below = (  # worded as the CLI and the funnel section word it: points (share)
            ", " + gap_words(value, low, None if is_missing(high) else high, "rate")
            if isinstance(value, int | float) and not is_missing(value)
            else ""
        )
        source = weakest.get("benchmark_source")
        return (
            f"<b>{e(step)}</b>: {rate} advance{count} against a benchmark target of "
            f"<b>{target}</b>{below}"
            + (f' <span class="muted">({e(source)})</span>' if source else "")
            + "."
            + unmeasured
        )
    return (
        f"No stage is below its benchmark target; the lowest rate is <b>{e(step)}</b>, "
        f"{rate} advance{count}." + unmeasured
    )


def _win_rate_note(funnel: Mapping[str, Any], weakest: Mapping[str, Any]) -> str:
    """When the answer names the step into won, the win rate beside it with both definitions
    (the step counts open opportunities as not won; the win rate only closed deals), so the
    answer and the win-rate tile, judged on the same range, do not read as a contradiction."""
    won = ((funnel.get("parameters") or {}).get("steps") or [None])[-1]
    if won is None or weakest.get("to_stage") != won:
        return ""
    rows = [
        k for k in funnel.get("kpis") or []
        if isinstance(k, dict) and k.get("kpi") == "win_rate" and k.get("group") == "all"
    ]
    if not rows or is_missing(rows[0].get("value")):
        return ""
    r = rows[0]
    low, high = r.get("benchmark_low"), r.get("benchmark_high")
    judged = ""
    if not is_missing(low) and not is_missing(high):
        value = r["value"]
        where = "below" if value < low else "above" if value > high else "within"
        judged = f", {where} {fmt_pct(low, 0)}–{fmt_pct(high, 0)}"
    return (
        " This step counts the opportunities still open as not won; the win rate, of closed "
        f"deals only, is <b>{fmt_pct(r['value'])}</b>{judged} (the win-rate tile)."
    )


def _lever(ctx: Context, levers: pl.DataFrame | None) -> str:
    if levers is None or not {"channel", "action", "status"} <= set(levers.columns):
        return _none(
            "No plan check in this run: give a plan (--plan PLAN.toml) to get the budget "
            "moves and how many models agree on each."
        )
    plan = ctx.frame(RunFiles.PLAN)
    rec = levers.filter(pl.col("status") == "recommended")
    if plan is not None and {"channel", "change"} <= set(plan.columns):
        rec = rec.join(plan.select("channel", "change"), on="channel", how="left").sort(
            pl.col("change").abs(), descending=True, nulls_last=True
        )
    contested = levers.filter(pl.col("status") != "recommended")
    if rec.height == 0:
        text = "No budget move holds across the models: every lever is contested."
    else:
        top = rec.row(0, named=True)
        change = top.get("change")
        moved = f"{'+' if change > 0 else ''}{money(change)} in the reallocated plan" if (
            not is_missing(change) and change
        ) else ""
        if said := lever_caveat(top):  # the tool's own extrapolation, said as the plan's is
            moved = f"{moved}, {said}" if moved else said
        text = (
            f"<b>{e(str(top['action']).capitalize())} {e(top['channel'])}</b>"
            + (f" ({e(moved)})" if moved else "")
            + f": {agreement(top)}."
        )
        if rec.height > 1:
            others = " · ".join(
                f"{e(r['action'])} {e(r['channel'])} ({agreement(r, short=True)})"
                for r in rec.slice(1).iter_rows(named=True)
            )
            text += f'<br><span class="list">Also recommended: {others}.</span>'
    if contested.height:
        listed = " · ".join(
            f"{e(r['channel'])} ({e(r.get('actions') or 'models disagree')})"
            for r in contested.iter_rows(named=True)
        )
        text += (
            f'<br><span class="list">Contested, not recommended (the advice flips with the '
            f"model): {listed}.</span>"
        )
    return text


def _none(text: str) -> str:
    return f'<span class="muted">{e(text)}</span>'


def _tiles(view: _EconomicsView, funnel: Mapping[str, Any]) -> str:
    overall = view.overall() or {}
    velocity = funnel.get("pipeline_velocity") if isinstance(funnel, dict) else None
    velocity = velocity if isinstance(velocity, dict) else {}
    figures: Sequence[tuple[str, str, str]] = [
        ("Spend", money(overall.get("spend")), "media, the run's period"),
        ("Customers", fmt_num(overall.get("customers")), "credited conversions"),
        ("Revenue", money(overall.get("revenue")), "credited deal value"),
        ("Loaded CAC", money(overall.get("loaded_cac")), "blended"),
        ("LTV/CAC", _times(overall.get("ltv_to_cac")), "blended"),
        ("Payback (months)", fmt_num(overall.get("payback_months"), 1), "blended"),
        ("Win rate", fmt_pct(velocity.get("win_rate")), "won / closed deals, open left out"),
        ("Pipeline velocity", money(velocity.get("velocity_per_day")), "a day"),
    ]  # fmt: skip
    cells = "".join(
        f'<div class="kpi"><span class="figure">{e(v)}</span>{e(k)}'
        f'<small>{e(hint)}</small></div>'
        for k, v, hint in figures
        if v != "–"
    )
    return f'<div class="kpis" aria-label="Key figures">{cells}</div>' if cells else ""


def _times(value: Any) -> str:
    return "–" if is_missing(value) else f"{value:,.1f}×"


def _alerts(ctx: Context, linked: bool) -> str:
    """The alerts of the latest week tested; if none fired then, the latest earlier ones."""
    alerts = ctx.frame(RunFiles.ALERTS)
    if alerts is None or not {"week", "message"} <= set(alerts.columns):
        return ""
    weekly = ctx.frame(RunFiles.FUNNEL_WEEKLY)
    latest = None
    if weekly is not None and {"week", "score"} <= set(weekly.columns):
        latest = weekly.filter(pl.col("score").is_not_null()).get_column("week").max()
    if latest is None and alerts.height:
        latest = alerts.get_column("week").max()
    head = '<div class="alerts" id="latest-alerts"><h2>Alerts of the latest week</h2>'
    if latest is None:
        return head + '<p class="muted">No week was tested.</p></div>'
    now = alerts.filter(pl.col("week") == latest)
    before = alerts.filter(pl.col("week") < latest).sort("week", descending=True)
    if now.height:
        body = _alert_list(now)
    else:
        body = (
            f'<p>No alert fired in the week of <b>{e(latest)}</b>, the latest week tested.</p>'
        )
    if before.height:
        shown = before.head(3)
        body += (
            f'<p class="muted">Earlier: {before.height} alert(s); the latest '
            f"{min(3, before.height)}:</p>" + _alert_list(shown)
        )
    more = (
        '<a class="more" href="#alerts">Every alert and the weekly series ↓</a>' if linked else ""
    )
    return head + body + more + "</div>"


def _alert_list(rows: pl.DataFrame) -> str:
    items = []
    for r in rows.iter_rows(named=True):
        severity = r.get("severity")
        tag = f'<span class="sev sev-{e(severity)}">{e(severity)}</span> ' if severity else ""
        provisional = (
            ' <span class="lowconf" title="the week is recent: its rates can still move">'
            "provisional</span>"
            if r.get("provisional")
            else ""
        )
        items.append(f"<li>{tag}{e(r['message'])}{provisional}</li>")
    return f'<ul class="alert-list">{"".join(items)}</ul>'
