"""The plan check: can this budget buy the target customers at the target CAC?

A plan (TOML file or mapping) gives a budget by channel, targets (``customers``, ``cac``,
``mqls``) and optionally caps, floors and the rates it assumes. Channel names are the data's
(``touches.channel`` / ``spend.channel``). Methods (also written to ``plan.json``):

- **Projection**: projected customers of a channel = its budget / its measured CAC (media
  spend in the data / customers the chosen model credits to it). Projected MQLs = projected
  customers / the measured MQL-to-customer rate (MQLs that reached the won stage / MQLs).
  Measured CAC is an average over the spend seen, not a marginal cost: budgets far above it
  are flagged as extrapolation.
- **Targets by channel**: the customers (and MQLs) target is split in proportion to budget,
  so every channel's implied CAC is the plan's CAC; gap = projected - target (negative:
  short).
- **Flags**: an assumption is flagged when the plan's figure and the data's differ by more
  than ``flag_factor`` (default 2x) either way; ``direction`` says whether the plan is more
  optimistic or more conservative than the data. Checked: the target CAC against the
  measured blended CAC of the plan's channels, the target customers against the projection,
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
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from attribution.b2b._economics import unit_economics
from attribution.b2b._funnel import Funnel, _jsonable, funnel
from attribution.engine._files import write_json_atomic
from attribution.engine._memory import AttributionResult
from attribution.exceptions import ConfigError, ModelNotFoundError, did_you_mean
from attribution.inputs._schema import SPEND, load
from attribution.inputs._sources import TableLike

TOTAL = "(total)"
_SECTIONS = {"plan", "budget", "targets", "caps", "floors", "assumptions"}
_PLAN_KEYS = {"name", "model", "period_months", "flag_factor", "cap_multiple"}
_TARGETS = {"customers", "cac", "mqls"}
_PHRASES = {
    "optimistic": "more optimistic than the data",
    "conservative": "more conservative than the data",
    "extrapolated": "beyond the spend the CAC was measured at",
    "contracted": "below the spend the CAC was measured at",
}

PLAN_COLUMNS = (
    "channel",
    "budget",
    "measured_spend",
    "measured_customers",
    "measured_cac",
    "projected_customers",
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
FLAG_SCHEMA = pl.Schema(
    {
        "assumption": pl.String(),
        "channel": pl.String(),
        "plan_value": pl.Float64(),
        "data_value": pl.Float64(),
        "ratio": pl.Float64(),
        "flagged": pl.Boolean(),
        "direction": pl.String(),
        "note": pl.String(),
    }
)


@dataclass
class Plan:
    """A marketing plan: budget by channel (the data's channel names), targets, limits.

    Attributes
    ----------
    budget : dict of str to float
        Budget per channel for the plan's period.
    targets : dict
        Any of ``customers``, ``cac``, ``mqls``.
    caps, floors : dict of str to float
        The most and least each channel may get when reallocating.
    assumptions : dict
        Rates the plan assumes (``mql_to_customer``, ``<from>_to_<to>`` for each funnel
        step), and ``cac`` per channel; each is checked against the data.
    """

    budget: dict[str, float]
    targets: dict[str, float] = field(default_factory=dict)
    caps: dict[str, float] = field(default_factory=dict)
    floors: dict[str, float] = field(default_factory=dict)
    assumptions: dict[str, Any] = field(default_factory=dict)
    name: str = "plan"
    model: str | None = None
    period_months: float = 12.0
    flag_factor: float = 2.0
    cap_multiple: float = 2.0
    source: str = "<memory>"


def read_plan(plan: str | os.PathLike[str] | Mapping[str, Any] | Plan) -> Plan:
    """Read a plan from a TOML file or a mapping of the same shape, and check it.

    Examples
    --------
    >>> p = read_plan({"budget": {"linkedin": 1000}, "targets": {"customers": 10, "cac": 100}})
    >>> p.budget, p.targets["cac"]
    ({'linkedin': 1000.0}, 100.0)
    """
    if isinstance(plan, Plan):
        return plan
    if isinstance(plan, Mapping):
        data, where = dict(plan), "<memory>"
    else:
        path = Path(plan)
        where = str(path)
        try:
            data = tomllib.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read plan '{path}': {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"plan '{path}' is not valid TOML: {exc}") from exc

    def fail(message: str) -> ConfigError:
        return ConfigError(f"plan '{where}': {message}")

    for key in data:
        if key not in _SECTIONS:
            raise fail(f"unknown section [{key}]; {did_you_mean(key, sorted(_SECTIONS))}")

    def amounts(section: str, *, positive: bool = False) -> dict[str, float]:
        value = data.get(section, {})
        if not isinstance(value, Mapping):
            raise fail(f"[{section}] must be a table of channel = amount")
        out = {}
        for k, v in value.items():
            if not _number(v) or v < 0 or (positive and v == 0):
                rule = "> 0" if positive else ">= 0"
                raise fail(f"[{section}] {k} must be a number {rule}, got {v!r}")
            out[str(k)] = float(v)
        return out

    budget = amounts("budget")
    if not budget or sum(budget.values()) <= 0:
        raise fail("[budget] needs at least one channel with an amount > 0")
    targets = amounts("targets", positive=True)
    for k in targets:
        if k not in _TARGETS:
            raise fail(f"unknown target '{k}'; {did_you_mean(k, sorted(_TARGETS))}")
    head = data.get("plan", {})
    if not isinstance(head, Mapping):
        raise fail("[plan] must be a table")
    for k in head:
        if k not in _PLAN_KEYS:
            raise fail(f"unknown key '{k}' in [plan]; {did_you_mean(k, sorted(_PLAN_KEYS))}")
    for k in ("period_months", "flag_factor", "cap_multiple"):
        if k in head and not (_number(head[k]) and head[k] > 0):
            raise fail(f"[plan] {k} must be a number > 0, got {head[k]!r}")
    if "flag_factor" in head and head["flag_factor"] <= 1:
        raise fail(f"[plan] flag_factor must be > 1 (a ratio), got {head['flag_factor']!r}")
    assumptions = data.get("assumptions", {})
    if not isinstance(assumptions, Mapping):
        raise fail("[assumptions] must be a table")
    for k, v in assumptions.items():
        if k == "cac":
            if not isinstance(v, Mapping) or not all(_number(x) and x > 0 for x in v.values()):
                raise fail("[assumptions.cac] must map channel = CAC > 0")
        elif not (_number(v) and 0 < v <= 1):
            raise fail(f"[assumptions] {k} must be a rate in (0, 1], got {v!r}")
    floors, caps = amounts("floors"), amounts("caps")
    for ch, low in floors.items():
        if ch in caps and caps[ch] < low:
            raise fail(f"channel '{ch}': floor {low:,.0f} is above its cap {caps[ch]:,.0f}")
    if sum(floors.values()) > sum(budget.values()):
        raise fail("the floors add up to more than the budget")
    model = head.get("model")
    if model is not None and not isinstance(model, str):
        raise fail(f"[plan] model must be a model name, got {model!r}")
    return Plan(
        budget=budget,
        targets=targets,
        caps=caps,
        floors=floors,
        assumptions=dict(assumptions),
        name=str(head.get("name", "plan")),
        model=model,
        period_months=float(head.get("period_months", 12.0)),
        flag_factor=float(head.get("flag_factor", 2.0)),
        cap_multiple=float(head.get("cap_multiple", 2.0)),
        source=where,
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
    """

    table: pl.DataFrame
    flags: pl.DataFrame
    verdict: str
    summary_data: dict[str, Any] = field(default_factory=dict)

    def write(self, directory: str | Path) -> Path:
        """Write ``plan.parquet``, ``plan_flags.parquet`` and ``plan.json``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in (("plan", self.table), ("plan_flags", self.flags)):
            tmp = out / f".{name}.parquet.tmp"
            frame.write_parquet(tmp)
            os.replace(tmp, out / f"{name}.parquet")
        write_json_atomic(
            out / "plan.json", _jsonable(dict(self.summary_data, verdict=self.verdict))
        )
        return out

    def summary(self) -> str:
        """The verdict, the channel table and the flagged assumptions."""
        s = self.summary_data
        lines = [
            f"Plan check '{s['name']}' under {s['model']} (measured CAC = spend / credited "
            f"customers):",
            f"  {'channel':<22} {'budget':>10} {'CAC':>9} {'customers':>9} {'target':>8} "
            f"{'gap':>8} {'realloc':>10} {'customers':>9}",
        ]
        lines.extend(
            f"  {r['channel']:<22} {_money(r['budget']):>10} {_money(r['measured_cac']):>9} "
            f"{_num(r['projected_customers']):>9} {_num(r['target_customers']):>8} "
            f"{_num(r['gap'], '+,.0f'):>8} {_money(r['reallocated_budget']):>10} "
            f"{_num(r['reallocated_customers']):>9}"
            for r in self.table.iter_rows(named=True)
        )
        flagged = self.flags.filter(pl.col("flagged"))
        lines.append(f"Assumptions far from the data ({flagged.height}):")
        lines.extend(f"  - {n}" for n in flagged.get_column("note").to_list())
        lines.append("Verdict: " + self.verdict)
        return "\n".join(lines)


def check_plan(
    plan: str | os.PathLike[str] | Mapping[str, Any] | Plan,
    result: AttributionResult,
    spend: TableLike,
    stages: TableLike | Funnel,
    *,
    model: str | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    stage_names: Mapping[str, str | list[str]] | None = None,
) -> PlanCheck:
    """Project a plan with the measured CAC per channel and stage rates; flag and reallocate.

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
    model
        The model whose credit measures CAC; default: the plan's ``model``, else ``linear``
        when present, else the result's first model.
    columns, stage_names
        Column and stage-name mappings, as in the config file.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> from attribution.b2b._plan import check_plan
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
    available = result.channel_credit.get_column("model").unique(maintain_order=True).to_list()
    chosen = model or p.model or ("linear" if "linear" in available else None)
    chosen = chosen or (available[0] if available else None)
    if chosen is None or chosen not in available:
        raise ModelNotFoundError(
            f"model '{chosen}' is not in the attribution result; it has {available}"
        )
    econ = unit_economics(result, spend, models=[chosen], columns=(columns or {}).get("spend"))
    flow = (
        stages
        if isinstance(stages, Funnel)
        else funnel(stages, columns=columns, stage_names=stage_names)
    )
    spend_frame = load(spend, SPEND, columns=(columns or {}).get("spend")).frame
    date_col = "month" if "month" in spend_frame.columns else "date"
    data_months = _months(spend_frame.get_column(date_col))
    scale = p.period_months / data_months if data_months else None
    measured = econ.table.select(
        "channel",
        pl.col("spend").alias("measured_spend"),
        pl.col("customers").alias("measured_customers"),
        pl.when(pl.col("cac") > 0).then(pl.col("cac")).alias("measured_cac"),
    )
    rates = _rates(flow)
    mql_to_customer = rates.get("mql_to_customer")
    channels = list(dict.fromkeys([*p.budget, *p.caps]))
    total_budget = sum(p.budget.values())
    frame = (
        pl.DataFrame(
            {
                "channel": channels,
                "budget": [p.budget.get(c, 0.0) for c in channels],
                "floor": [p.floors.get(c, 0.0) for c in channels],
                "cap": [p.caps.get(c, p.cap_multiple * p.budget.get(c, 0.0)) for c in channels],
            },
            schema={
                "channel": pl.String,
                "budget": pl.Float64,
                "floor": pl.Float64,
                "cap": pl.Float64,
            },
        )
        .join(measured, on="channel", how="left")
        .with_columns(pl.col("measured_spend", "measured_customers").fill_null(0.0))
    )
    frame = frame.with_columns(pl.max_horizontal("cap", "floor").alias("cap"))
    target_customers = p.targets.get("customers")
    target_mqls = p.targets.get("mqls")
    target_cac = p.targets.get("cac")
    share = pl.col("budget") / total_budget
    frame = frame.with_columns(
        (pl.col("budget") / pl.col("measured_cac")).alias("projected_customers"),
        (share * target_customers if target_customers else pl.lit(None, pl.Float64)).alias(
            "target_customers"
        ),
        (share * target_mqls if target_mqls else pl.lit(None, pl.Float64)).alias("target_mqls"),
    ).with_columns(
        (
            pl.col("projected_customers") / mql_to_customer
            if mql_to_customer
            else pl.lit(None, pl.Float64)
        ).alias("projected_mqls"),
        pl.when(pl.col("target_customers") > 0)
        .then(pl.col("budget") / pl.col("target_customers"))
        .alias("implied_cac"),
        (pl.col("projected_customers") - pl.col("target_customers")).alias("gap"),
    )
    realloc, outcome = _reallocate(frame, total_budget, target_cac, target_customers)
    frame = frame.with_columns(
        pl.Series("reallocated_budget", realloc, dtype=pl.Float64),
    ).with_columns(
        (pl.col("reallocated_budget") / pl.col("measured_cac"))
        .fill_null(0.0)
        .alias("reallocated_customers"),
        (pl.col("reallocated_budget") - pl.col("budget")).alias("change"),
    )
    frame = frame.with_columns(
        pl.when((pl.col("reallocated_budget") == 0) & (pl.col("budget") > 0))
        .then(pl.lit("drop"))
        .when(pl.col("change") > 0.005 * total_budget)
        .then(pl.lit("grow"))
        .when(pl.col("change") < -0.005 * total_budget)
        .then(pl.lit("cut"))
        .otherwise(pl.lit("keep"))
        .alias("action")
    )
    projected_total = float(frame.get_column("projected_customers").fill_null(0.0).sum())
    plan_channels = frame.filter(pl.col("budget") > 0)
    measured_spend = float(plan_channels.get_column("measured_spend").sum())
    measured_customers = float(plan_channels.get_column("measured_customers").sum())
    blended_cac = measured_spend / measured_customers if measured_customers > 0 else None
    total = frame.select(
        pl.lit(TOTAL).alias("channel"),
        pl.col("budget").sum(),
        pl.col("measured_spend").sum(),
        pl.col("measured_customers").sum(),
        pl.lit(blended_cac, pl.Float64).alias("measured_cac"),
        pl.col("projected_customers").fill_null(0.0).sum(),
        pl.col("projected_mqls").sum(),
        pl.col("target_customers").sum(),
        pl.col("target_mqls").sum(),
        pl.lit(total_budget / target_customers if target_customers else None, pl.Float64).alias(
            "implied_cac"
        ),
        pl.col("gap").sum(),
        pl.col("floor").sum(),
        pl.col("cap").sum(),
        pl.col("reallocated_budget").sum(),
        pl.col("reallocated_customers").sum(),
        pl.col("change").sum(),
        pl.lit(None, pl.String).alias("action"),
    )
    if not target_customers:
        total = total.with_columns(pl.lit(None, pl.Float64).alias("target_customers"))
    if not target_mqls:
        total = total.with_columns(pl.lit(None, pl.Float64).alias("target_mqls"))
    total = total.with_columns(
        (pl.col("projected_customers") - pl.col("target_customers")).alias("gap")
    )
    table = pl.concat([frame.select(*PLAN_COLUMNS), total.select(*PLAN_COLUMNS)])
    all_spend = float(spend_frame.get_column("amount").sum())
    flags = _flags(
        p,
        frame,
        rates,
        blended_cac=blended_cac,
        projected_total=projected_total,
        cost_per_mql=all_spend / rates["mqls"] if rates.get("mqls") else None,
        scale=scale,
    )
    verdict = _verdict(
        p, outcome, projected_total, total_budget, blended_cac, frame, flags, mql_to_customer
    )
    summary = {
        "name": p.name,
        "source": p.source,
        "model": chosen,
        "targets": p.targets,
        "budget_total": total_budget,
        "period_months": p.period_months,
        "data_months": data_months,
        "measured": {
            "blended_cac_of_plan_channels": blended_cac,
            "rates": rates,
            "cost_per_mql": all_spend / rates["mqls"] if rates.get("mqls") else None,
            "unpaid_customers_not_in_projection": float(
                econ.table.filter(pl.col("status") == "unpaid").get_column("customers").sum()
            ),
        },
        "projected": {
            "customers": projected_total,
            "cac": total_budget / projected_total if projected_total > 0 else None,
            "mqls": projected_total / mql_to_customer if mql_to_customer else None,
        },
        "reallocation": outcome,
        "parameters": {
            "flag_factor": p.flag_factor,
            "cap_multiple": p.cap_multiple,
            "caps": p.caps,
            "floors": p.floors,
        },
        "notes": {
            "projection": "projected customers = budget / measured CAC of the channel under "
            "the model (media spend in the data / credited customers); customers credited to "
            "unpaid channels (organic, direct) are not bought by the budget and are left out",
            "targets_by_channel": "the customers and MQL targets are split by budget share",
            "mqls": "projected MQLs = projected customers / measured MQL-to-customer rate",
            "flags": f"flagged when plan / data is above {p.flag_factor:g} or below "
            f"1/{p.flag_factor:g}; budget checks compare with the data's spend scaled to "
            f"{p.period_months:g} months",
            "reallocation": "cheapest measured CAC first, from floors to caps, same total "
            "budget; cut the budget along the same order if only that meets the CAC target; "
            f"default cap = {p.cap_multiple:g} x the channel's budget",
        },
    }
    return PlanCheck(table=table, flags=flags, verdict=verdict, summary_data=summary)


def _rates(flow: Funnel) -> dict[str, Any]:
    overall = flow.overall()
    out: dict[str, Any] = {}
    for r in overall.iter_rows(named=True):
        out[f"{r['from_stage']}_to_{r['to_stage']}"] = r["rate"]
    steps = flow.parameters["steps"]
    if overall.height:
        by_from = {r["from_stage"]: r for r in overall.iter_rows(named=True)}
        won = overall.row(overall.height - 1, named=True)["advanced"]
        mqls = by_from[steps[1]]["entered"] if steps[1] in by_from else 0
        leads = by_from[steps[0]]["entered"]
        out["mqls"] = mqls
        out["customers"] = won
        out["mql_to_customer"] = won / mqls if mqls else None
        out["lead_to_customer"] = won / leads if leads else None
    return out


def _reallocate(
    frame: pl.DataFrame,
    budget: float,
    target_cac: float | None,
    target_customers: float | None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Cheapest measured CAC first from floors to caps; cut when only that meets the CAC."""
    cac = frame.get_column("measured_cac").fill_null(np.inf).to_numpy()
    floor = frame.get_column("floor").to_numpy().astype(float)
    cap = frame.get_column("cap").to_numpy().astype(float)
    order = np.argsort(cac, kind="stable")
    order = order[np.isfinite(cac[order])]
    room = np.zeros_like(floor)
    room[order] = np.maximum(cap[order] - floor[order], 0.0)
    # the fill path: floors, then each channel's room in order
    seg_cac = cac[order]
    seg_len = room[order]
    base_spend = float(floor.sum())
    base_customers = float(np.where(np.isfinite(cac), floor / cac, 0.0).sum())
    full = _fill(order, floor, seg_len, budget - base_spend)
    unallocated = budget - float(full.sum())
    customers_full = _customers(full, cac)
    best = customers_full and float(full.sum()) / customers_full
    out: dict[str, Any] = {
        "mode": "same_budget",
        "cac_target_met": None,
        "budget": float(full.sum()),
        "customers": customers_full,
        "cac": best,
        "unallocated_budget": unallocated,
        "cheapest_channel": frame.get_column("channel")[int(order[0])] if order.size else None,
        "cheapest_cac": float(seg_cac[0]) if order.size else None,
    }
    alloc = full
    if target_cac is not None:
        out["cac_target_met"] = bool(best and best <= target_cac * (1 + 1e-9))
        if not out["cac_target_met"]:
            floors_ok = base_customers > 0 and base_spend / base_customers <= target_cac
            if order.size and seg_cac[0] <= target_cac and (base_spend == 0 or floors_ok):
                spend_s, cust_s = base_spend, base_customers
                takes = np.zeros_like(seg_len)
                for i, (k, length) in enumerate(zip(seg_cac, seg_len, strict=True)):
                    if k <= target_cac:
                        take = length
                    else:  # blended (S + x) / (C + x / k) reaches the target at this x
                        take = min(length, (target_cac * cust_s - spend_s) / (1 - target_cac / k))
                    take = max(take, 0.0)
                    takes[i] = take
                    spend_s, cust_s = spend_s + take, cust_s + take / k
                    if take < length:
                        break
                alloc = floor.copy()
                alloc[order] += takes
                alloc = np.minimum(alloc, floor + room)
                total = float(alloc.sum())
                if total > budget:  # cheap channels alone could take more than the budget
                    alloc = full
                out.update(
                    mode="cut_budget" if total < budget - 1e-6 else "same_budget",
                    cac_target_met=True,
                    budget=float(alloc.sum()),
                    customers=_customers(alloc, cac),
                    cac=float(alloc.sum()) / _customers(alloc, cac),
                )
            else:
                out["mode"] = "impossible"
                out["cac_reduction_needed"] = (1 - target_cac / best) if best else None
    # what it would take to reach the customers target at measured CACs, within the caps
    if target_customers is not None:
        spend_s, cust_s = base_spend, base_customers
        needed: float | None = None
        for k, length in zip(seg_cac, seg_len, strict=True):
            if cust_s + length / k >= target_customers:
                needed = spend_s + (target_customers - cust_s) * k
                break
            spend_s, cust_s = spend_s + length, cust_s + length / k
        out["budget_for_target_customers"] = needed
        out["max_customers_within_caps"] = float(cust_s) if needed is None else None
        out["max_spend_within_caps"] = float(spend_s) if needed is None else None
    return alloc, out


def _fill(order: np.ndarray, floor: np.ndarray, room: np.ndarray, budget: float) -> np.ndarray:
    taken = np.clip(budget - np.concatenate(([0.0], np.cumsum(room)[:-1])), 0.0, room)
    alloc = floor.copy()
    alloc[order] += taken
    return alloc


def _customers(alloc: np.ndarray, cac: np.ndarray) -> float:
    return float(np.where(np.isfinite(cac), alloc / cac, 0.0).sum())


def _flags(
    p: Plan,
    frame: pl.DataFrame,
    rates: dict[str, Any],
    *,
    blended_cac: float | None,
    projected_total: float,
    cost_per_mql: float | None,
    scale: float | None,
) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    factor = p.flag_factor

    def add(
        name: str,
        plan_value: float | None,
        data_value: float | None,
        *,
        higher_is_optimistic: bool,
        what: str,
        fmt: str,
        channel: str | None = None,
        note: str | None = None,
        words: tuple[str, str] = ("optimistic", "conservative"),
    ) -> None:
        if plan_value is None:
            return
        if data_value is None or data_value == 0:
            rows.append(
                dict(
                    assumption=name,
                    channel=channel,
                    plan_value=plan_value,
                    data_value=data_value,
                    ratio=None,
                    flagged=True,
                    direction="no data",
                    note=note
                    or f"{what}: the plan has {_show(plan_value, fmt)}; the data has "
                    "nothing to measure it against",
                )
            )
            return
        ratio = plan_value / data_value
        optimistic = ratio > 1 if higher_is_optimistic else ratio < 1
        flagged = ratio > factor or ratio < 1 / factor
        far = max(ratio, 1 / ratio)
        rows.append(
            dict(
                assumption=name,
                channel=channel,
                plan_value=plan_value,
                data_value=data_value,
                ratio=ratio,
                flagged=flagged,
                direction=words[0] if optimistic else words[1],
                note=f"{what}: the plan assumes {_show(plan_value, fmt)}, the data shows "
                f"{_show(data_value, fmt)} ({far:.1f}x, "
                f"{_PHRASES[words[0] if optimistic else words[1]]})",
            )
        )

    t = p.targets
    add(
        "cac",
        t.get("cac"),
        blended_cac,
        higher_is_optimistic=False,
        what="CAC of the plan's channels",
        fmt="money",
    )
    add(
        "customers",
        t.get("customers"),
        projected_total,
        higher_is_optimistic=True,
        what="customers from this budget (data: budget / measured CAC)",
        fmt="count",
    )
    if t.get("customers") and t.get("mqls"):
        add(
            "mql_to_customer",
            t["customers"] / t["mqls"],
            rates.get("mql_to_customer"),
            higher_is_optimistic=True,
            what="MQL-to-customer rate (plan: target customers / target MQLs)",
            fmt="rate",
        )
    if t.get("mqls"):
        add(
            "cost_per_mql",
            sum(p.budget.values()) / t["mqls"],
            cost_per_mql,
            higher_is_optimistic=False,
            what="cost per MQL (plan: budget / target MQLs; data: all spend / MQLs)",
            fmt="money",
        )
    for key, value in p.assumptions.items():
        if key == "cac":
            for ch, v in value.items():
                row = frame.filter(pl.col("channel") == ch)
                data = row.item(0, "measured_cac") if row.height else None
                add(
                    "cac",
                    float(v),
                    data,
                    higher_is_optimistic=False,
                    what=f"CAC of {ch}",
                    fmt="money",
                    channel=ch,
                )
            continue
        known = sorted(k for k in rates if k not in ("mqls", "customers"))
        if key not in rates:
            raise ConfigError(
                f"plan '{p.source}': unknown assumption '{key}'; {did_you_mean(key, known)}"
            )
        add(key, float(value), rates[key], higher_is_optimistic=True, what=key, fmt="rate")
    for r in frame.iter_rows(named=True):
        if r["budget"] > 0 and r["measured_cac"] is None:
            add(
                "channel_cac",
                r["budget"],
                None,
                higher_is_optimistic=True,
                what=f"budget for {r['channel']}",
                fmt="money",
                channel=r["channel"],
                note=f"{r['channel']}: the data has no spend with credited customers for this "
                "channel, so its budget buys no projected customers (check the name is the "
                "data's channel name)",
            )
        elif r["budget"] > 0 and scale is not None:
            add(
                "budget",
                r["budget"],
                r["measured_spend"] * scale,
                higher_is_optimistic=True,
                what=f"budget for {r['channel']} vs its spend in the data "
                f"(scaled to {p.period_months:g} months)",
                fmt="money",
                channel=r["channel"],
                words=("extrapolated", "contracted"),
            )
    return pl.DataFrame(rows, schema=FLAG_SCHEMA) if rows else pl.DataFrame(schema=FLAG_SCHEMA)


def _verdict(
    p: Plan,
    outcome: dict[str, Any],
    projected: float,
    budget: float,
    blended: float | None,
    frame: pl.DataFrame,
    flags: pl.DataFrame,
    mql_to_customer: float | None,
) -> str:
    t = p.targets
    parts = []
    cac_now = budget / projected if projected > 0 else None
    head = f"At measured CACs the ${budget:,.0f} budget buys about {projected:,.0f} customers"
    head += f" at ${cac_now:,.0f} each" if cac_now else ""
    if t.get("customers"):
        head += f", against a target of {t['customers']:,.0f}"
        if t.get("cac"):
            head += f" at ${t['cac']:,.0f}"
    parts.append(head + ".")
    if t.get("mqls") and mql_to_customer:
        parts.append(
            f"It would take about {projected / mql_to_customer:,.0f} MQLs at the data's "
            f"MQL-to-customer rate of {mql_to_customer:.1%} (target {t['mqls']:,.0f})."
        )
    mode = outcome["mode"]
    if t.get("cac"):
        if outcome["cac_target_met"] and mode == "same_budget":
            parts.append(
                f"Reallocating cheapest-CAC first within the caps meets the ${t['cac']:,.0f} CAC "
                f"target: {outcome['customers']:,.0f} customers at ${outcome['cac']:,.0f}."
            )
        elif mode == "cut_budget":
            parts.append(
                f"The ${t['cac']:,.0f} CAC target is met only by cutting the budget to "
                f"${outcome['budget']:,.0f} on the cheapest channels: "
                f"{outcome['customers']:,.0f} customers at ${outcome['cac']:,.0f}."
            )
        else:
            need = outcome.get("cac_reduction_needed")
            parts.append(
                f"No reallocation meets the ${t['cac']:,.0f} CAC target: the cheapest channel, "
                f"{outcome['cheapest_channel']}, costs ${outcome['cheapest_cac']:,.0f} per "
                f"customer; the best allocation within the caps buys "
                f"{outcome['customers']:,.0f} customers at ${outcome['cac']:,.0f}"
                + (f", so CAC would have to fall by {need:.0%}." if need else ".")
            )
    if t.get("customers"):
        need_budget = outcome.get("budget_for_target_customers")
        if need_budget is not None:
            parts.append(
                f"Buying {t['customers']:,.0f} customers at measured CACs would take about "
                f"${need_budget:,.0f} within the caps."
            )
        elif outcome.get("max_customers_within_caps") is not None:
            parts.append(
                f"{t['customers']:,.0f} customers are out of reach within the caps at measured "
                f"CACs (at most {outcome['max_customers_within_caps']:,.0f} for "
                f"${outcome['max_spend_within_caps']:,.0f})."
            )
    grow = frame.filter(pl.col("action") == "grow").get_column("channel").to_list()
    cut = frame.filter(pl.col("action").is_in(["cut", "drop"])).get_column("channel").to_list()
    if grow or cut:
        parts.append(
            "To narrow the gap: "
            + "; ".join(
                x
                for x in (
                    f"grow {', '.join(grow)}" if grow else "",
                    f"cut {', '.join(cut)}" if cut else "",
                )
                if x
            )
            + "."
        )
    n = int(flags.get_column("flagged").sum()) if flags.height else 0
    parts.append(f"{n} assumption(s) are far from the data (plan_flags.parquet).")
    return " ".join(parts)


def _show(x: float, kind: str) -> str:
    if kind == "money":
        return f"${x:,.0f}"
    return f"{x:.1%}" if kind == "rate" else f"{x:,.0f}"


def _months(dates: pl.Series) -> float:
    if dates.len() == 0:
        return 0.0
    return float(dates.dt.month_start().n_unique())


def _number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _money(x: float | None) -> str:
    return "-" if x is None else f"${x:,.0f}"


def _num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)
