"""The plan check's verdict: what the budget buys at measured CACs, whether a reallocation
meets the CAC target, what the customers target would take, and what to grow or cut."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from attribution.b2b._economics_window import coverage_lines
from attribution.b2b._plan_extrapolation import extrapolation_caveat
from attribution.b2b._plan_file import Plan
from attribution.b2b._shared import money

if TYPE_CHECKING:
    from attribution.engine._result import AttributionResult

__all__ = ["credited_touches_note", "touch_types_left_out", "verdict"]


def verdict(
    p: Plan,
    outcome: dict[str, Any],
    projected: float,
    budget: float,
    frame: pl.DataFrame,
    flags: pl.DataFrame,
    mql_to_customer: float | None,
    coverage: Mapping[str, Any] | None = None,
    *,
    not_projected: tuple[float, Sequence[str]] = (0.0, ()),
) -> str:
    """The verdict in sentences. ``not_projected``: the budget on channels without a CAC in
    the data, and those channels: the figures are then on the rest of the budget (the part
    with a measured CAC), and that budget is stated as not projected (new-user report 5,
    defect 7), never counted as money that buys no customer."""
    t = p.targets
    parts = []
    held, held_channels = not_projected
    if held <= 0 or held >= budget:  # every channel measured, or none (said below)
        held, held_channels = 0.0, ()
    spent = budget - held  # the part of the budget with a measured CAC
    cac_now = spent / projected if projected > 0 else None
    on = " with a measured CAC" if held else ""
    if held:
        measured = [
            c for c in frame.filter(pl.col("budget") > 0).get_column("channel").to_list()
            if c not in held_channels
        ]  # fmt: skip
        head = (
            f"At measured CACs {money(spent)} of the {money(budget)} budget "
            f"({', '.join(measured)}) buys about {projected:,.0f} customers"
        )
    else:
        head = f"At measured CACs the {money(budget)} budget buys about {projected:,.0f} customers"
    head += f" at {money(cac_now)} each" if cac_now else ""
    head += _extrapolated(p, flags)
    if held:
        head += (
            f"; the other {money(held)} ({', '.join(held_channels)}: no CAC in the data) is "
            "not projected."
        )
        if t.get("customers"):
            head += (
                f" Against a target of {t['customers']:,.0f}"
                + (f" at {money(t['cac'])}" if t.get("cac") else "")
                + " for the whole budget"
            )
            if projected < t["customers"]:
                rest = t["customers"] - projected
                head += (
                    f", the other {money(held)} would have to buy the remaining {rest:,.0f} "
                    f"at {money(held / rest)} each"
                )
            else:
                head += ", the measured part alone reaches it"
    elif t.get("customers"):
        head += f", against a target of {t['customers']:,.0f}"
        if t.get("cac"):
            head += f" at {money(t['cac'])}"
    parts.append(head if head.endswith(".") else head + ".")
    if coverage:  # as the economics summary and the report's CAC answer say it
        parts.append(f"Measured CACs: {coverage_lines(dict(coverage))[0]}")
    if t.get("mqls") and mql_to_customer:
        parts.append(
            f"It would take about {projected / mql_to_customer:,.0f} MQLs at the data's "
            f"MQL-to-customer rate of {mql_to_customer:.1%} (target {t['mqls']:,.0f})."
        )
    mode = outcome["mode"]
    moved = _beyond(p, outcome, "reallocation")  # said once: here, else beside the levers
    said = bool(t.get("cac"))  # the CAC target's sentence describes the reallocation
    if t.get("cac"):
        if outcome["cac_target_met"] and mode == "same_budget":
            parts.append(
                f"Reallocating cheapest-CAC first within the caps meets the {money(t['cac'])} CAC "
                f"target: {outcome['customers']:,.0f} customers at {money(outcome['cac'])}"
                + (f" (on the {money(outcome['budget'])}{on})" if held else "")
                + f"{moved}."
            )
        elif mode == "cut_budget":
            parts.append(
                f"The {money(t['cac'])} CAC target is met only by cutting the budget"
                + (f"{on} ({money(spent)})" if held else "")
                + f" to {money(outcome['budget'])} on the cheapest channels: "
                f"{outcome['customers']:,.0f} customers at {money(outcome['cac'])}{moved}."
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
                f"{money(outcome['cac'])}{moved}."
            )
        else:
            need = outcome.get("cac_reduction_needed")
            parts.append(
                f"No reallocation meets the {money(t['cac'])} CAC target: the cheapest channel, "
                f"{outcome['cheapest_channel']}, costs {money(outcome['cheapest_cac'])} per "
                "customer; the best allocation"
                + (f" of the {money(outcome['budget'])}{on}" if held else "")
                + f" within the caps buys {outcome['customers']:,.0f} customers at "
                f"{money(outcome['cac'])}{moved}"
                + (
                    f", so {'the CAC of the channels' + on if held else 'CAC'} would have to "
                    f"fall by {need:.0%}."
                    if need
                    else "."
                )
            )
    if t.get("customers"):
        need_budget = outcome.get("budget_for_target_customers")
        if need_budget is not None:
            # a reallocation, not the plan's split: it can cost less than the budget that
            # buys fewer customers as the plan spends it (new-user report 2, defect 27)
            parts.append(
                f"Spent cheapest CAC first within the caps (a reallocation, not the plan's "
                f"split), {t['customers']:,.0f} customers at measured CACs would take about "
                f"{money(need_budget)}"
                + (f" on the channels{on}" if held else "")
                + _beyond(p, outcome, "target_allocation")
                + (
                    f", less than the plan's {money(spent)}"
                    + (" on them" if held else "")
                    + ", which buys fewer as it is split"
                    if need_budget < spent and projected < t["customers"]
                    else ""
                )
                + "."
            )
        elif outcome.get("max_customers_within_caps") is not None:
            most = outcome["max_customers_within_caps"]
            parts.append(
                f"{t['customers']:,.0f} customer(s) are out of reach within the caps at "
                "measured CACs ("
                + (f"at most {most:,.0f} for {money(outcome['max_spend_within_caps'])}{on}"
                   if most >= 0.5 else f"at most {most:.2f} for "
                   f"{money(outcome['max_spend_within_caps'])}{on}: not one whole customer")
                + ")."
            )
    grow = frame.filter(pl.col("action") == "grow").get_column("channel").to_list()
    cut = frame.filter(pl.col("action").is_in(["cut", "drop"])).get_column("channel").to_list()
    # a channel the data cannot measure (new, or under test) is no channel to cut: say so
    unmeasured = (
        frame.filter(pl.col("measured_cac").is_null() & (pl.col("budget") > 0))
        .get_column("channel")
        .to_list()
    )
    cut = [c for c in cut if c not in unmeasured]
    if unknown := frame.filter(pl.col("action") == "no_data").get_column("channel").to_list():
        parts.append(
            f"{', '.join(unknown)}: no CAC in the data (not a channel of it: new, or spelled "
            "otherwise, see the assumptions for a did-you-mean; unpaid in it; or paid with no "
            "touch in it), so held at its budget in the reallocation and in no lever."
            + _did_you_mean(flags, unknown)
        )
    short = bool(t.get("customers") and projected < t["customers"]) or bool(
        t.get("cac") and (cac_now is None or cac_now > t["cac"])
    )
    if grow or cut or unmeasured:
        parts.append(
            ("To narrow the gap: " if short else "The targets are met at measured CACs; to buy "
             "more with the same budget: ")
            + "; ".join(
                x
                for x in (
                    f"grow {', '.join(grow)}" if grow else "",
                    f"cut {', '.join(cut)}" if cut else "",
                    f"measure {', '.join(unmeasured)} before deciding (no CAC in the data: a "
                    "channel to test, not to cut)"
                    if unmeasured
                    else "",
                )
                if x
            )
            + ("" if said else moved)
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


def _did_you_mean(flags: pl.DataFrame, channels: Sequence[str]) -> str:
    """The flags' did-you-means for ``channels`` (a misspelled budget channel, new-user
    report 8 #17), as a sentence of the verdict; empty when there is none."""
    if not {"assumption", "channel", "note"} <= set(flags.columns):
        return ""
    notes = flags.filter(
        (pl.col("assumption") == "channel_cac") & pl.col("channel").is_in(list(channels))
    ).select("channel", pl.col("note").str.extract(r"did you mean '([^']+)'").alias("close"))
    said = [f"{c} -> {close}?" for c, close in notes.drop_nulls("close").iter_rows()]
    return f" Did you mean: {', '.join(said)}" if said else ""


def _extrapolated(p: Plan, flags: pl.DataFrame) -> str:
    """The caveat of the verdict's first sentence when the plan spends channels well beyond
    what their CAC was measured at (the flagged ``budget`` rows, ``extrapolated``): a CFO
    reads that sentence alone, and a CAC measured at a quarter of the spend is not the CAC
    of four times it (new-user report 8, defect 23)."""
    if not flags.height:
        return ""
    rows = flags.filter(
        (pl.col("assumption") == "budget")
        & (pl.col("direction") == "extrapolated")
        & pl.col("flagged")
    )
    pairs = [(str(c), float(r)) for c, r in rows.select("channel", "ratio").iter_rows()]
    return extrapolation_caveat(pairs, p.period_months)  # one sentence: the reallocation's too


def _beyond(p: Plan, outcome: Mapping[str, Any], key: str) -> str:
    """The reallocation's (``key`` ``reallocation``) or the customers target allocation's
    (``target_allocation``) extrapolation caveat (:mod:`attribution.b2b._plan_extrapolation`)."""
    found = (outcome.get("extrapolation") or {}).get(key) or {}
    return extrapolation_caveat(list(found.items()), p.period_months)


def touch_types_left_out(result: AttributionResult) -> dict[str, Any]:
    """The touch types the run that measured CAC left out of the credit, and how many
    touches that was (``parameters.exclude_touch_types`` and the reconciliation)."""
    manifest = result.manifest or {}
    types = list((manifest.get("parameters") or {}).get("exclude_touch_types") or [])
    dropped = ((manifest.get("reconciliation") or {}).get("touches_dropped") or {})
    return {"types": types, "touches": int(dropped.get("excluded_touch_type", 0))}


def credited_touches_note(left_out: Mapping[str, Any] | None) -> str:
    """What the CAC was measured on: every touch, or all but the types left out; the sales
    follow-ups a plan leaves out by default are named only when the touches have some
    (``sales_types_in_data``, as the run's plan step finds them; unknown: named)."""
    types = list((left_out or {}).get("types") or [])
    if not types and (left_out or {}).get("sales_types_in_data") == []:
        return "(CAC measured on every touch)"  # the touches have no sales follow-up type
    if not types:
        return (
            "(CAC measured on every touch: no touch type left out; by default a plan's "
            "CAC, in `attribution plan` and `run --plan` alike, leaves out the sales "
            "follow-up types the touches have, sales_call, sales_email, meeting)"
        )
    return (
        f"(CAC measured without the touch types {', '.join(types)}: "
        f"{int((left_out or {}).get('touches', 0)):,} touches left out of the credit; "
        "--exclude-touch-types none credits every touch)"
    )
