"""The plan check: can this budget buy the target customers at the target CAC?

A plan (TOML file or mapping) gives a budget by channel, targets (``customers``, ``cac``,
``mqls``) and optionally caps, floors and the rates it assumes. Channel names are the data's
(``touches.channel`` / ``spend.channel``). Methods (also written to ``plan.json``):

- **Projection**: projected customers of a channel = its budget / its measured CAC (media
  spend in the data / customers the chosen model credits to it). Projected MQLs = projected
  customers / the measured MQL-to-customer rate (MQLs that reached the won stage / MQLs).
  Measured CAC is an average over the spend seen, not a marginal cost: budgets far above it
  are flagged as extrapolation.
- **The plan's CAC** (``projected_cac``; the verdict's "at $X each", the ``cac`` flag) =
  budget / projected customers: each channel's measured CAC weighted by the plan's budget.
  The budget of channels without a CAC in the data (no spend) is not projected: left out of
  it, and of the reallocation's figures and the risk, and stated on its own
  (:mod:`attribution.b2b._plan_totals`).
  The ``(total)`` row's ``measured_cac`` is another figure, labelled so: the plan's channels'
  spend in the data / their credited customers (weighted as the money was spent); the
  risk's ``as planned`` CAC is a third, the median of draws with costs inflated.
- **Targets by channel**: the customers (and MQLs) target is split in proportion to budget,
  so every channel's implied CAC is the plan's CAC; gap = projected - target (negative:
  short).
- **Flags**: an assumption is flagged when the plan's figure and the data's differ by more
  than ``flag_factor`` (default 2x) either way; ``direction`` says whether the plan is more
  optimistic or more conservative than the data. Checked: the target CAC against the
  projected CAC (below), the target customers against the projection,
  the implied MQL-to-customer rate (customers / MQLs) and cost per MQL (budget / MQLs)
  against the data's, each channel's budget against its measured spend (scaled to the
  plan's months), and every rate or CAC in ``[assumptions]``.
- **Reallocation** (what would have to narrow): channels are filled from their floors up
  to their caps in order of measured CAC, cheapest first, with the same total budget. If
  that meets the CAC target, that is the reallocation. If not, but the cheapest channels
  can, the budget is cut along the same order to the largest amount whose blended CAC
  still meets the target. If no channel's CAC is at or under the target, no reallocation
  can meet it: the full-budget, cheapest-first allocation (the most customers) is shown
  and the verdict says by how much CAC would have to fall. Caps default to
  ``cap_multiple`` (2) x the channel's budget; floors to 0. Channels named only in
  ``[caps]`` join the reallocation with a budget of 0.
- **Risk** (:mod:`attribution.b2b._plan_risk`): the projection drawn many times from each
  channel's CAC interval (the bootstrap's draws when the run has them, else a Poisson count
  of credited customers) and a cost inflation (``[risk]``, default 15-20%): the chance of
  reaching the targets, a 90% interval of the customers (``customers_low``,
  ``customers_high``), and the scenarios a plan's owner worries about
  (``plan_risk.parquet``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.b2b._decision import choose_decision_model, decision_note
from attribution.b2b._economics import unit_economics
from attribution.b2b._funnel import DEFAULT_STEPS, Funnel, funnel
from attribution.b2b._plan_extrapolation import (
    extrapolation_summary,
    levers_with_multiples,
    with_spend_multiples,
)
from attribution.b2b._plan_file import Plan, read_plan, require_budget_channels, with_aliases
from attribution.b2b._plan_flags import FLAG_SCHEMA, plan_flags
from attribution.b2b._plan_levers import (
    LEVER_AGREEMENT,
    draw_actions,
    lever_lines,
    lever_sentence,
    lever_table,
    levers_with_value,
    with_draw_agreement,
)
from attribution.b2b._plan_measured import (
    CAC_NOTE,
    RANGES_NOTE,
    bench_source,
    measured_rates,
    partial_spend,
    range_flags,
    with_measured_cac,
)
from attribution.b2b._plan_measured import data_months as months_of
from attribution.b2b._plan_reallocation import project_plan
from attribution.b2b._plan_risk import RISK_NOTE, draws_of, plan_risk, risk_sentence
from attribution.b2b._plan_totals import (
    TOTAL,
    blended_line,
    not_projected_line,
    plan_parts,
    total_row,
)
from attribution.b2b._plan_verdict import credited_touches_note, touch_types_left_out
from attribution.b2b._plan_verdict import verdict as plan_verdict
from attribution.b2b._shared import jsonable, load_spend, money, num, pct
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import ConfigError, ModelNotFoundError
from attribution.inputs._benchmarks import Benchmarks, load_benchmarks
from attribution.typing import TableLike

if TYPE_CHECKING:  # only annotations: the engine imports the b2b room, not the other way
    from attribution import AttributionResult

__all__ = ["FLAG_SCHEMA", "PLAN_COLUMNS", "TOTAL", "Plan", "PlanCheck", "check_plan", "read_plan"]

PLAN_COLUMNS = (
    "channel",
    "budget",
    "measured_spend",
    "measured_customers",
    "measured_cac",
    "projected_customers",
    "projected_cac",
    "customers_low",
    "customers_high",
    "projected_mqls",
    "target_customers",
    "target_mqls",
    "implied_cac",
    "gap",
    "floor",
    "cap",
    "reallocated_budget",
    "reallocated_customers",
    "change",
    "action",
)


@dataclass
class PlanCheck:
    """What :func:`check_plan` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per channel and a ``(total)`` row: see :data:`PLAN_COLUMNS`.
    flags : pl.DataFrame
        ``assumption``, ``channel`` (null for plan-wide ones), ``plan_value``,
        ``data_value``, ``ratio`` (plan / data), ``flagged``, ``direction``, ``note``.
    verdict : str
        The answer in words.
    summary_data : dict
        Targets, model, measured rates, totals, the reallocation outcome and notes.
    levers : pl.DataFrame
        Each channel's action under every model of the run and how many agree
        (:mod:`attribution.b2b._plan_levers`); empty without data.
    risk : pl.DataFrame
        The plan risk's scenarios (:data:`attribution.b2b._plan_risk.RISK_COLUMNS`): as
        planned, costs up, each channel delivering half; empty without data.
    """

    table: pl.DataFrame
    flags: pl.DataFrame
    verdict: str
    summary_data: dict[str, Any] = field(default_factory=dict)
    levers: pl.DataFrame = field(default_factory=pl.DataFrame)
    risk: pl.DataFrame = field(default_factory=pl.DataFrame)

    def write(self, directory: str | Path) -> Path:
        """Write ``plan.parquet``, ``plan_flags.parquet``, ``plan.json`` and (with data)
        ``levers.parquet`` and ``plan_risk.parquet``."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.PLAN, self.table)
        write_parquet_atomic(out / RunFiles.PLAN_FLAGS, self.flags)
        if self.levers.width:
            write_parquet_atomic(out / RunFiles.LEVERS, self.levers)
        if self.risk.width:
            write_parquet_atomic(out / RunFiles.PLAN_RISK, self.risk)
        write_json_atomic(
            out / RunFiles.PLAN_JSON, jsonable(dict(self.summary_data, verdict=self.verdict))
        )
        return out

    def summary(self) -> str:
        """The verdict, the channel table and the flagged assumptions (without data: every
        check against the plan's own arithmetic and the published ranges)."""
        s = self.summary_data
        against = pl.col("against")
        checks = self.flags.filter(against != "data")
        check_lines = [
            f"  {'!' if r['flagged'] else 'ok':>2} {r['note']}"
            for r in checks.iter_rows(named=True)
        ]
        if s.get("mode") == "no_data":
            return "\n".join(
                [
                    f"Plan check '{s['name']}' without data: {money(s['budget_total'])} over "
                    f"{s['period_months']:g} months, against its own arithmetic and the "
                    "published ranges (! = flagged):",
                    *check_lines,
                    "Verdict: " + self.verdict,
                ]
            )
        lines = [
            f"Plan check '{s['name']}' under "
            f"{decision_note(s['model'], s.get('decision_model_source'))} (CAC = a channel's "
            "spend in the data / its credited customers; (total): the budget / the customers "
            "it buys, the plan's CAC"
            + (
                f"; the plan file names {s['plan_model_overruled']}, the run decides with "
                f"{s['model']}: to use it, --decision-model {s['plan_model_overruled']} in "
                f"attribution run, -m {s['plan_model_overruled']} in attribution plan"
                if s.get("plan_model_overruled")
                else ""
            )
            + "):",
            "  " + credited_touches_note(s.get("touch_types_left_out")),
            f"  {'channel':<22} {'budget':>10} {'CAC':>9} {'customers':>9} {'target':>8} "
            f"{'gap':>8} {'realloc':>10} {'customers':>9}",
        ]
        lines.extend(
            f"  {r['channel']:<22} {money(r['budget']):>10} "
            f"{money(r['measured_cac'] if r['channel'] != TOTAL else r['projected_cac']):>9} "
            f"{num(r['projected_customers']):>9} {num(r['target_customers']):>8} "
            f"{num(r['gap'], '+,.0f'):>8} {money(r['reallocated_budget']):>10} "
            f"{num(r['reallocated_customers']):>9}"
            for r in self.table.iter_rows(named=True)
        )
        lines.extend(
            x
            for x in (
                not_projected_line(s.get("projected") or {}),
                blended_line(s.get("measured") or {}),
            )
            if x
        )
        if self.risk.height:
            params = (s.get("risk") or {}).get("parameters") or {}
            low, high = params.get("inflation") or (None, None)
            head = f"scenario (median of {params.get('draws', 0):,} draws"
            if low is not None:
                up = f"{low:.0%}" if low == high else f"{low * 100:.0f}-{high:.0%}"
                head += f", costs up {up}"
            head += ")"
            w = max(len(head), *(len(x) for x in self.risk.get_column("scenario")))
            lines.append(
                f"  {head:<{w}} {'customers':>9} {'90% interval':>15} "
                f"{'CAC':>9} {'P(target)':>9}"
            )
            lines.extend(
                f"  {r['scenario']:<{w}} {num(r['customers']):>9} "
                f"{num(r['customers_low']) + '-' + num(r['customers_high']):>15} "
                f"{money(r['cac']):>9} {pct(r['p_target']):>9}"
                for r in self.risk.iter_rows(named=True)
            )
        flagged = self.flags.filter(pl.col("flagged") & (against == "data"))
        lines.append(f"Assumptions far from the data ({flagged.height}):")
        lines.extend(f"  - {n}" for n in flagged.get_column("note").to_list())
        if check_lines:
            lines.append(
                "Then against the plan's own arithmetic and the published ranges "
                f"({int(checks.get_column('flagged').sum())} flagged, ! = flagged):"
            )
            lines.extend(check_lines)
        if self.levers.height and self.levers.get_column("models")[0] > 1:
            lines.append(
                f"Levers across the run's {self.levers.get_column('models')[0]} models "
                f"(recommended when at least {LEVER_AGREEMENT:.0%} agree):"
            )
            lines.extend(f"  {line}" for line in lever_lines(self.levers) or ["keep every channel"])
            if unknown := self.table.filter(pl.col("action") == "no_data")["channel"].to_list():
                lines.append(f"  not judged (no CAC in the data): {', '.join(unknown)}")
        lines.append("Verdict: " + self.verdict)
        return "\n".join(lines)


def check_plan(
    plan: str | os.PathLike[str] | Mapping[str, Any] | Plan,
    result: AttributionResult | None = None,
    spend: TableLike | None = None,
    stages: TableLike | Funnel | None = None,
    *,
    model: str | None = None,
    decision_source: str | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    stage_names: Mapping[str, str | list[str]] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    benchmarks: Benchmarks | str | os.PathLike[str] | None = None,
    economics_draws: pl.DataFrame | None = None,
) -> PlanCheck:
    """Project a plan with the measured CAC per channel and stage rates; flag and reallocate.
    Without data (no ``result``, ``spend`` or ``stages``), check the plan against its own
    arithmetic and the published ranges only.

    Parameters
    ----------
    plan
        TOML path, mapping of the same shape, or :class:`Plan` (see ``sample_data/plan.toml``).
    result
        From :func:`attribute`: credited customers per channel and model.
    spend
        Spend table (``channel``, ``month`` or ``date``, ``amount``).
    stages
        CRM stage events, or a :class:`Funnel` already computed from them.
    benchmarks
        The benchmark table (:func:`attribution.load_benchmarks`) or a file of your own over
        the shipped one; default the shipped table. Its rows judge the plan's rates
        (:mod:`attribution.b2b._plan_ranges`), after the data's figures.
    model
        The model whose credit measures CAC (the run's decision model); default: the plan's
        ``model``, else the default decision model (:mod:`attribution.b2b._decision`:
        ``linear`` when present). The levers (``levers``) compare every model of the result.
    decision_source
        How ``model`` was chosen (``survey agreement``, ``truth``, ...), for the summary.
    columns, stage_names
        Column and stage-name mappings, as in the config file.
    timestamp_formats
        As :attr:`attribution.RunOptions.timestamp_formats`: strftime patterns for dates
        written as text (a list, or a mapping by column).
    economics_draws
        The bootstrap's per-draw economics (``draw``, ``model``, ``segment``, ``channel``,
        ``cac``) for the plan risk; default: those of the unit economics measured on
        ``result`` (or the result's own), when its run drew them; without any, the risk
        draws each channel's credited customers as a Poisson count.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> from attribution import check_plan
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c2", "c3"],
    ...     "channel": ["a", "b", "b"], "timestamp": ["2025-01-01"] * 3})
    >>> stages = pl.DataFrame({"contact_id": ["c1", "c2", "c3"],
    ...     "stage": ["closed_won", "closed_won", "mql"], "timestamp": ["2025-01-09"] * 3})
    >>> res = attribution.attribute(touches, stages, models=["linear"])
    >>> spend = pl.DataFrame({"channel": ["a", "b"], "month": ["2025-01-01"] * 2,
    ...     "amount": [100.0, 400.0]})
    >>> plan = {"budget": {"a": 500, "b": 500}, "targets": {"customers": 8, "cac": 125},
    ...     "caps": {"a": 800}}
    >>> check = check_plan(plan, res, spend, stages)
    >>> check.table.select("channel", "projected_customers", "reallocated_budget").rows()
    [('a', 5.0, 800.0), ('b', 1.25, 200.0), ('(total)', 6.25, 1000.0)]
    """
    p = read_plan(plan)
    if result is not None:  # the plan's channels under the run's [channels] aliases
        p = with_aliases(p, (result.manifest.get("parameters") or {}).get("channel_aliases"))
    require_budget_channels(p)
    bench = benchmarks if isinstance(benchmarks, Benchmarks) else load_benchmarks(benchmarks)
    given = [x is not None for x in (result, spend, stages)]
    if not any(given):
        return _without_data(p, bench)
    if result is None or spend is None or stages is None:
        raise ConfigError(
            "the plan check against data needs the attribution result, the spend and the "
            "stages; give all three, or none for the check against the plan's own arithmetic "
            "and the published ranges"
        )
    available = result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
    if not available:
        raise ModelNotFoundError("the attribution result has no model")
    chosen, source = choose_decision_model(
        available,
        given=model or p.model,
        given_by="model" if model else f"plan '{p.source}': model",
    )
    if model and decision_source:
        source = decision_source
    overruled = p.model if p.model and p.model != chosen else None
    econ = unit_economics(
        result,
        spend,
        models=available,
        columns=(columns or {}).get("spend"),
        timestamp_formats=timestamp_formats,
    )
    flow = (
        stages
        if isinstance(stages, Funnel)
        else funnel(
            stages, columns=columns, stage_names=stage_names, timestamp_formats=timestamp_formats
        )
    )
    spend_frame = load_spend(spend, columns=columns, timestamp_formats=timestamp_formats)
    date_col = "month" if "month" in spend_frame.columns else "date"
    data_months = months_of(spend_frame.get_column(date_col))
    scale = p.period_months / data_months if data_months else None
    rates = measured_rates(flow)
    mql_to_customer = rates.get("mql_to_customer")
    total_budget = sum(p.budget.values())
    frames = {
        m: project_plan(p, econ.table.filter(pl.col("model") == m), total_budget, mql_to_customer)
        for m in available
    }
    frame, outcome = frames[chosen]
    frame = with_spend_multiples(frame, scale)  # the reallocation's extrapolation
    outcome = {**outcome, "extrapolation": extrapolation_summary(p, frame, outcome, scale)}
    draws = draws_of(economics_draws, econ, result, model=chosen)
    risk = plan_risk(frame, p.targets, p.risk, draws)
    frame = frame.join(risk.channels, on="channel", how="left", maintain_order="left")
    frame = frame.with_columns(
        pl.when(pl.col("projected_customers") > 0)
        .then(pl.col("budget") / pl.col("projected_customers"))
        .alias("projected_cac")
    )
    planned = risk.table.row(0, named=True) if risk.table.height else {}
    target_customers = p.targets.get("customers")
    target_mqls = p.targets.get("mqls")
    levers = lever_table(
        pl.concat(
            [f.select("channel", "budget", "action").with_columns(model=pl.lit(m))
             for m, (f, _) in frames.items()]
        ),
        chosen,
    )  # fmt: skip
    if econ.draws.height:  # the decision model's action in every bootstrap draw
        levers = with_draw_agreement(
            levers, draw_actions(p, econ.draws, chosen, total_budget, mql_to_customer)
        )
    levers = levers_with_multiples(levers, frame, p.flag_factor)
    levers = levers_with_value(levers, econ.table, chosen)
    projected_total = float(frame.get_column("projected_customers").fill_null(0.0).sum())
    parts = plan_parts(frame)
    blended_cac = parts["blended_cac"]
    total = total_row(
        frame,
        parts,
        projected_total=projected_total,
        total_budget=total_budget,
        planned=planned,
        target_customers=target_customers,
        target_mqls=target_mqls,
    )
    table = pl.concat([frame.select(*PLAN_COLUMNS), total.select(*PLAN_COLUMNS)])
    all_spend = float(spend_frame.get_column("amount").sum())
    projected_cac = parts["projected_budget"] / projected_total if projected_total > 0 else None
    coverage = econ.parameters.get("spend_coverage")
    partial = partial_spend(coverage)  # then no cost per MQL to compare
    flags = plan_flags(
        p,
        frame,
        rates,
        projected_cac=projected_cac,
        projected_total=projected_total,
        cost_per_mql=all_spend / rates["mqls"] if rates.get("mqls") and not partial else None,
        scale=scale,
        data_channels=econ.table.get_column("channel").unique().sort().to_list(),
        cost_per_mql_not_measured=partial,
        not_projected=(parts["held_budget"], parts["held_channels"]),
    )
    steps = list(flow.parameters["steps"])
    ranges = with_measured_cac(range_flags(p, bench, steps), econ.table, chosen, p.budget)
    flags = pl.concat([flags, ranges])
    verdict = plan_verdict(
        p, outcome, projected_total, total_budget, frame, flags, mql_to_customer, coverage,
        not_projected=(parts["held_budget"], parts["held_channels"]),
    )
    if across := lever_sentence(levers):
        verdict = f"{verdict} {across}"
    if chance := risk_sentence(risk, p.targets):
        verdict = f"{verdict} Risk: {chance}"
    summary = {
        "name": p.name,
        "source": p.source,
        "model": chosen,
        "decision_model_source": source,
        "plan_model_overruled": overruled,
        "touch_types_left_out": touch_types_left_out(result),
        "levers": {
            "models": available,
            "agreement_needed": LEVER_AGREEMENT,
            "recommended": [
                f"{r['action']} {r['channel']}"
                for r in levers.filter(pl.col("status") == "recommended").iter_rows(named=True)
            ],
            "contested": levers.filter(pl.col("status") == "contested")
            .get_column("channel")
            .to_list(),
        },
        "targets": p.targets,
        "budget_total": total_budget,
        "period_months": p.period_months,
        "data_months": data_months,
        "measured": {
            "blended_cac_of_plan_channels": blended_cac,
            "blended_cac_channels": parts["paid"],
            "channels_without_spend": parts["unpaid"],
            "rates": rates,
            "cost_per_mql": all_spend / rates["mqls"] if rates.get("mqls") and not partial
            else None,
            "unpaid_customers_not_in_projection": float(
                econ.table.filter((pl.col("status") == "unpaid") & (pl.col("model") == chosen))
                .get_column("customers")
                .sum()
            ),
        },
        "projected": {
            "customers": projected_total,
            "cac": projected_cac,
            "budget": parts["projected_budget"],
            "budget_not_projected": parts["held_budget"],
            "channels_not_projected": parts["held_channels"],
            "mqls": projected_total / mql_to_customer if mql_to_customer else None,
        },
        "reallocation": outcome,
        "risk": {
            "sentence": chance,
            "source": risk.source,
            "parameters": risk.parameters,
            "as_planned": planned,
        },
        "mode": "data",
        "benchmarks": bench_source(bench),
        "parameters": {
            "flag_factor": p.flag_factor,
            "tolerance": p.tolerance,
            "cap_multiple": p.cap_multiple,
            "caps": p.caps,
            "floors": p.floors,
        },
        "notes": {
            "projection": "projected customers = budget / measured CAC of the channel under "
            "the model (media spend in the data / credited customers); customers credited to "
            "unpaid channels (organic, direct) are not bought by the budget and are left out",
            "cac": CAC_NOTE,
            "targets_by_channel": "the customers and MQL targets are split by budget share",
            "mqls": "projected MQLs = projected customers / measured MQL-to-customer rate",
            "flags": f"flagged when plan / data is above {p.flag_factor:g} or below "
            f"1/{p.flag_factor:g}; budget checks compare with the data's spend scaled to "
            f"{p.period_months:g} months",
            "reallocation": "cheapest measured CAC first, from floors to caps, same total "
            "budget; cut the budget along the same order if only that meets the CAC target; "
            f"default cap = {p.cap_multiple:g} x the channel's budget",
            "ranges": RANGES_NOTE.format(tol=p.tolerance),
            "risk": RISK_NOTE,
            "levers": "each channel's action (grow, keep, cut; drop counts as cut) under every "
            "model of the run (levers.parquet); recommended when at least "
            f"{LEVER_AGREEMENT:.0%} of the models agree, else contested; with the bootstrap, "
            "draw_agreement = the share of draws in which the decision model gives the "
            "channel its decision_action (the plan projected with each draw's CAC)",
        },
    }
    return PlanCheck(
        table=table,
        flags=flags,
        verdict=verdict,
        summary_data=summary,
        levers=levers,
        risk=risk.table,
    )


def _without_data(p: Plan, bench: Benchmarks) -> PlanCheck:
    """The plan against its own arithmetic and the published ranges: no data needed."""
    flags = range_flags(p, bench, list(DEFAULT_STEPS))
    total = sum(p.budget.values())
    t = p.targets
    channels = list(p.budget)
    share = [p.budget[c] / total for c in channels]
    frame = pl.DataFrame(
        {
            "channel": [*channels, TOTAL],
            "budget": [*p.budget.values(), total],
            "target_customers": [s * t["customers"] for s in share] + [t["customers"]]
            if t.get("customers")
            else None,
            "target_mqls": [s * t["mqls"] for s in share] + [t["mqls"]] if t.get("mqls") else None,
        },
        schema_overrides={"target_customers": pl.Float64, "target_mqls": pl.Float64},
    )
    frame = frame.with_columns(
        pl.when(pl.col("target_customers") > 0)
        .then(pl.col("budget") / pl.col("target_customers"))
        .alias("implied_cac"),
        *[
            pl.lit(None, pl.String if c == "action" else pl.Float64).alias(c)
            for c in PLAN_COLUMNS
            if c not in ("channel", "budget", "target_customers", "target_mqls", "implied_cac")
        ],
    ).select(*PLAN_COLUMNS)
    flagged = flags.filter(pl.col("flagged"))
    verdict = (
        "No data given: the plan is checked against its own arithmetic and the published "
        f"ranges. {flagged.height} of {flags.height} check(s) are flagged"
        + (
            " (" + ", ".join(dict.fromkeys(flagged.get_column("assumption").to_list())) + ")."
            if flagged.height
            else "."
        )
    )
    summary = {
        "name": p.name,
        "source": p.source,
        "model": None,
        "mode": "no_data",
        "targets": p.targets,
        "assumptions": p.assumptions,
        "budget_total": total,
        "period_months": p.period_months,
        "benchmarks": bench_source(bench),
        "parameters": {"tolerance": p.tolerance},
        "notes": {
            "mode": "no touch, stage or spend data: nothing is measured; the plan's targets and "
            "[assumptions] are checked against each other and the benchmark table",
            "ranges": RANGES_NOTE.format(tol=p.tolerance),
        },
    }
    return PlanCheck(table=frame, flags=flags, verdict=verdict, summary_data=summary)
