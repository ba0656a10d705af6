"""The plan's reallocation: channels filled cheapest measured CAC first from their floors to
their caps, and the budget cut along the same order when only that meets the CAC target (the
rules are in :mod:`attribution.b2b._plan`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

if TYPE_CHECKING:
    from attribution.b2b._plan_file import Plan

__all__ = ["project_plan", "reallocate"]


def reallocate(
    frame: pl.DataFrame,
    budget: float,
    target_cac: float | None,
    target_customers: float | None,
    held: np.ndarray | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Cheapest measured CAC first from floors to caps; cut when only that meets the CAC.

    ``held``: the channels without a CAC in the data (no spend), held at their budget (their
    floor and cap). Their budget buys nothing that was measured, so it is left out of every
    figure of the outcome (``budget``, ``cac``, the cut, the budget for the customers target)
    and stated on its own (``held_budget``, ``held_channels``): counting it as money that
    buys no customer would put the plan's CAC, and the fall it needs, on budget nobody
    measured (new-user report 5, defect 7)."""
    cac = frame.get_column("measured_cac").fill_null(np.inf).to_numpy()
    floor = frame.get_column("floor").to_numpy().astype(float)
    cap = frame.get_column("cap").to_numpy().astype(float)
    if held is None:
        held = np.zeros(len(cac), dtype=bool)
    held_budget = float(floor[held].sum())
    order = np.argsort(cac, kind="stable")
    order = order[np.isfinite(cac[order])]
    room = np.zeros_like(floor)
    room[order] = np.maximum(cap[order] - floor[order], 0.0)
    # the fill path: floors, then each channel's room in order
    seg_cac = cac[order]
    seg_len = room[order]
    base_spend = float(floor[~held].sum())
    base_customers = float(np.where(np.isfinite(cac), floor / cac, 0.0).sum())
    full = _fill(order, floor, seg_len, budget - held_budget - base_spend)
    unallocated = budget - float(full.sum())
    customers_full = _customers(full, cac)
    measured_full = float(full.sum()) - held_budget
    best = customers_full and measured_full / customers_full
    names = frame.get_column("channel").to_list()
    out: dict[str, Any] = {
        "mode": "same_budget",
        "cac_target_met": None,
        "budget": measured_full,
        "customers": customers_full,
        "cac": best,
        "held_budget": held_budget,
        "held_channels": [names[i] for i in np.flatnonzero(held & (floor > 0))],
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
                bought = _customers(alloc, cac)
                if bought > 0:
                    spent = float(alloc.sum()) - held_budget
                    out.update(
                        mode="cut_budget" if total < budget - 1e-6 else "same_budget",
                        cac_target_met=True,
                        budget=spent,
                        customers=bought,
                        cac=spent / bought,
                    )
                else:  # the channels under the target have no room (no budget, no cap)
                    alloc = full
            if not out["cac_target_met"]:
                out["mode"] = "impossible"
                out["cac_reduction_needed"] = (1 - target_cac / best) if best else None
                out["cheap_without_room"] = [
                    names[int(i)] for i in order if cac[i] <= target_cac and room[i] <= 0
                ]
    # what it would take to reach the customers target at measured CACs, within the caps
    if target_customers is not None:
        spend_s, cust_s = base_spend, base_customers
        needed: float | None = None
        for_target = floor.copy()  # that spend by channel (plan.json: its extrapolation)
        for i, k, length in zip(order, seg_cac, seg_len, strict=True):
            if cust_s + length / k >= target_customers:
                needed = spend_s + (target_customers - cust_s) * k
                for_target[i] += max((target_customers - cust_s) * k, 0.0)
                break
            spend_s, cust_s = spend_s + length, cust_s + length / k
            for_target[i] += length
        out["budget_for_target_customers"] = needed
        if needed is not None:
            out["target_allocation"] = {
                names[j]: float(for_target[j]) for j in range(len(names)) if not held[j]
            }
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


def project_plan(
    p: Plan, economics: pl.DataFrame, total_budget: float, mql_to_customer: float | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The plan's channel frame (projection, targets, reallocation, action) under one model's
    unit economics (``economics``: its rows of the economics table)."""
    # spend on a channel with no touch in the data (trade shows whose leads were never
    # logged as touches) measures no CAC: held like a channel the data does not have, not
    # dropped as an infinite CAC (that is spend with touches and no customer)
    untracked = pl.col("status") == "no_touches" if "status" in economics.columns else False
    measured = economics.select(
        "channel",
        pl.when(untracked).then(0.0).otherwise(pl.col("spend")).alias("measured_spend"),
        pl.col("customers").alias("measured_customers"),
        pl.when(pl.col("cac") > 0).then(pl.col("cac")).alias("measured_cac"),
    )
    channels = list(dict.fromkeys([*p.budget, *p.caps]))
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
    # a channel whose CAC the data cannot measure, because the data does not have it (new,
    # under test, or spelled otherwise: the flags give a did-you-mean) or has it without
    # spend (unpaid: organic_search), has no CAC to move money by: held at its budget, not
    # judged (no_data). Spend without customers is a measured (infinite) CAC: judged.
    unknown = pl.col("measured_spend") <= 0
    held = pl.max_horizontal("floor", "budget")
    frame = frame.with_columns(
        pl.when(unknown).then(held).otherwise(pl.col("floor")).alias("floor"),
        pl.when(unknown).then(held).otherwise(pl.max_horizontal("cap", "floor")).alias("cap"),
        unknown.alias("_unknown"),
    )
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
    realloc, outcome = reallocate(
        frame,
        total_budget,
        target_cac,
        target_customers,
        held=frame.get_column("_unknown").to_numpy().astype(bool),
    )
    frame = frame.with_columns(
        pl.Series("reallocated_budget", realloc, dtype=pl.Float64),
    ).with_columns(
        (pl.col("reallocated_budget") / pl.col("measured_cac"))
        .fill_null(0.0)
        .alias("reallocated_customers"),
        (pl.col("reallocated_budget") - pl.col("budget")).alias("change"),
    )
    frame = frame.with_columns(
        pl.when(pl.col("_unknown"))
        .then(pl.lit("no_data"))
        .when((pl.col("reallocated_budget") == 0) & (pl.col("budget") > 0))
        .then(pl.lit("drop"))
        .when(pl.col("change") > 0.005 * total_budget)
        .then(pl.lit("grow"))
        .when(pl.col("change") < -0.005 * total_budget)
        .then(pl.lit("cut"))
        .otherwise(pl.lit("keep"))
        .alias("action")
    ).drop("_unknown")
    return frame, outcome
