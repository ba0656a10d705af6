"""The plan check's verdict: what the budget buys at measured CACs, whether a reallocation
meets the CAC target, what the customers target would take, and what to grow or cut."""

from __future__ import annotations

from typing import Any

import polars as pl

from attribution.b2b._plan_file import Plan
from attribution.b2b._shared import money

__all__ = ["verdict"]


def verdict(
    p: Plan,
    outcome: dict[str, Any],
    projected: float,
    budget: float,
    frame: pl.DataFrame,
    flags: pl.DataFrame,
    mql_to_customer: float | None,
) -> str:
    t = p.targets
    parts = []
    cac_now = budget / projected if projected > 0 else None
    head = f"At measured CACs the {money(budget)} budget buys about {projected:,.0f} customers"
    head += f" at {money(cac_now)} each" if cac_now else ""
    if t.get("customers"):
        head += f", against a target of {t['customers']:,.0f}"
        if t.get("cac"):
            head += f" at {money(t['cac'])}"
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
                f"Reallocating cheapest-CAC first within the caps meets the {money(t['cac'])} CAC "
                f"target: {outcome['customers']:,.0f} customers at {money(outcome['cac'])}."
            )
        elif mode == "cut_budget":
            parts.append(
                f"The {money(t['cac'])} CAC target is met only by cutting the budget to "
                f"{money(outcome['budget'])} on the cheapest channels: "
                f"{outcome['customers']:,.0f} customers at {money(outcome['cac'])}."
            )
        elif outcome.get("cheapest_channel") is None:
            parts.append(
                f"No channel of the plan has a measured CAC in the data, so no reallocation "
                f"can be judged against the {money(t['cac'])} CAC target (check the plan's "
                "channel names are the data's)."
            )
        elif stuck := outcome.get("cheap_without_room"):
            parts.append(
                f"No reallocation meets the {money(t['cac'])} CAC target within the plan: the "
                f"channels whose measured CAC is under it ({', '.join(stuck)}) have no budget "
                "and no cap, so the reallocation cannot move money to them (give them a [caps] "
                f"entry); the best allocation buys {outcome['customers']:,.0f} customers at "
                f"{money(outcome['cac'])}."
            )
        else:
            need = outcome.get("cac_reduction_needed")
            parts.append(
                f"No reallocation meets the {money(t['cac'])} CAC target: the cheapest channel, "
                f"{outcome['cheapest_channel']}, costs {money(outcome['cheapest_cac'])} per "
                f"customer; the best allocation within the caps buys "
                f"{outcome['customers']:,.0f} customers at {money(outcome['cac'])}"
                + (f", so CAC would have to fall by {need:.0%}." if need else ".")
            )
    if t.get("customers"):
        need_budget = outcome.get("budget_for_target_customers")
        if need_budget is not None:
            parts.append(
                f"Buying {t['customers']:,.0f} customers at measured CACs would take about "
                f"{money(need_budget)} within the caps."
            )
        elif outcome.get("max_customers_within_caps") is not None:
            parts.append(
                f"{t['customers']:,.0f} customers are out of reach within the caps at measured "
                f"CACs (at most {outcome['max_customers_within_caps']:,.0f} for "
                f"{money(outcome['max_spend_within_caps'])})."
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
    against = flags.get_column("against")
    n = int(flags.filter(against == "data").get_column("flagged").sum()) if flags.height else 0
    m = int(flags.filter(against != "data").get_column("flagged").sum()) if flags.height else 0
    parts.append(
        f"{n} assumption(s) are far from the data, and {m} check(s) against the plan's own "
        "arithmetic and the published ranges are flagged (plan_flags.parquet)."
    )
    return " ".join(parts)
