"""The plan against itself and the published ranges: checks that need no data.

A plan's targets and ``[assumptions]`` are checked against each other (its own arithmetic)
and against the benchmark table (:mod:`attribution.inputs._benchmarks`). Each check is one
row of the plan's flags (:data:`attribution.b2b._plan_flags.FLAG_SCHEMA`) with ``against``
= ``plan`` (the plan's own arithmetic) or ``benchmark`` (a published range, in
``range_low`` / ``range_high``); ``note`` says it with the numbers. The checks, each where
the plan gives what it needs:

- ``cost_of_target_mqls`` (plan): the budget against target MQLs x ``cost_per_mql``;
  flagged when the budget is more than ``tolerance`` below (or above) that cost.
- ``implied_cac`` (plan): budget / target customers against the target CAC.
- ``cac_from_assumptions`` (plan): ``cost_per_mql`` / the MQL-to-customer rate (the
  ``mql_to_customer`` assumption, else target customers / target MQLs) against the target
  CAC.
- ``mql_to_customer`` (plan): the assumption against target customers / target MQLs; and
  (when every step from MQL to won is assumed) against the product of the step assumptions.
- ``mql_to_customer`` and each ``<from>_to_<to>`` step (benchmark): the rate the plan assumes
  (or implies: customers / MQLs) against the published range; a multi-step rate without a
  row of its own is judged against the product of the step ranges (15-25% x 40-60% x
  20-30% = 1.2-4.5% from MQL to customer). Flagged when outside the range; ``ratio`` is
  the plan's figure over the end of the range it passes (1 inside).
- ``ltv_to_cac`` (benchmark): ``ltv`` / target CAC against ``ltv_to_cac`` (>= 3).
- ``cac`` (benchmark): the CAC target, and (``implied_cac_vs_benchmark``) budget / target
  customers when there is no CAC target or it differs from it, against the CAC the
  published ranges imply
  (:mod:`attribution.b2b._plan_costs`: each table channel's cost per MQL over the published
  MQL-to-customer rate; LinkedIn $1,389-$62,500, content syndication $3,704-$111,111 on the
  shipped table), of the channels the plan buys only; flagged below the lowest (optimistic)
  or above the highest. A plan that buys none of the table's channels gets an unflagged row
  saying so.
- ``cost_per_mql`` (benchmark): the assumed ``cost_per_mql``, else budget / target MQLs,
  against the published cost per MQL (LinkedIn $62.50-$750, content syndication
  $167-$1,333); flagged outside.

So a plan with a budget and any target has at least one check: "$750K for 5,000 customers"
is $150 a customer, 9.3x below the $1,389 the published ranges allow at best.

Ranges on both sides are carried through: ``cost_per_mql = [75, 80]`` gives a cost of
15,000 MQLs of $1,125,000-$1,200,000.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from attribution._reporting_currency import DEFAULT_CURRENCY, current_currency
from attribution.b2b._economics_ranges import PUBLISHED_USD
from attribution.b2b._plan_costs import Implied, dollars, published_costs
from attribution.b2b._plan_file import MONEY_ASSUMPTIONS, Plan, assumed_range
from attribution.b2b._shared import money
from attribution.exceptions import ConfigError, did_you_mean
from attribution.inputs._benchmarks import BenchmarkRange, Benchmarks, format_range, format_value

__all__ = ["plan_range_flags"]


def _money(low: float, high: float) -> str:
    shown = money(low), money(high)
    return shown[0] if shown[0] == shown[1] else f"{shown[0]}-{shown[1]}"


def _rate(low: float, high: float) -> str:
    a, b = format_value(low, "rate"), format_value(high, "rate")
    return a if a == b else f"{a[:-1]}-{b}"


def _times(low: float, high: float) -> str:
    return f"{low:.1f}x" if f"{low:.1f}" == f"{high:.1f}" else f"{low:.1f}-{high:.1f}x"


def _row(
    assumption: str,
    against: str,
    plan_value: float,
    flagged: bool,
    direction: str | None,
    note: str,
    *,
    ratio: float | None = None,
    range_low: float | None = None,
    range_high: float | None = None,
) -> dict[str, Any]:
    return dict(
        assumption=assumption,
        channel=None,
        plan_value=plan_value,
        data_value=None,
        ratio=ratio,
        flagged=flagged,
        direction=direction,
        note=note,
        against=against,
        range_low=range_low,
        range_high=range_high,
    )


def _agree(
    name: str,
    low: float,
    high: float,
    other: float,
    tol: float,
    say: str,
    cheaper_is_good: bool,
    inconsistent: str = "",
) -> dict[str, Any]:
    """A plan-arithmetic row: ``[low, high]`` (what one part of the plan implies) against
    ``other`` (what another part says), flagged when ``other`` lies more than ``tol`` outside;
    ``inconsistent``: what does not add up, said after ``say`` when flagged."""
    outside_low = other < low * (1 - tol)
    outside_high = other > high * (1 + tol)
    flagged = outside_low or outside_high
    # the plan says `other`; the arithmetic gives [low, high]
    if not flagged:
        direction = None
    elif cheaper_is_good:
        direction = "optimistic" if outside_low else "conservative"
    else:
        direction = "optimistic" if outside_high else "conservative"
    mid = (low + high) / 2
    return _row(
        name,
        "plan",
        other,
        flagged,
        direction,
        say + ((f": {inconsistent}" if inconsistent else "") if flagged else " (consistent)"),
        ratio=other / mid if mid else None,
        range_low=low,
        range_high=high,
    )


def _against_range(
    name: str, low: float, high: float, r: tuple[float, float], unit: str, what: str
) -> dict[str, Any]:
    """A benchmark row for a rate the plan assumes (``[low, high]``) against the range ``r``
    (higher is better: above the range is optimistic)."""
    lo, hi = r
    if low > hi:
        flagged, direction = True, "optimistic"
        far = f"{_times(low / hi, high / lo)} the published {format_range(lo, hi, unit)}"
        ratio = ((low + high) / 2) / hi
    elif high < lo:
        flagged, direction = True, "conservative"
        far = f"{_times(lo / high, hi / low)} below the published {format_range(lo, hi, unit)}"
        ratio = ((low + high) / 2) / lo
    else:
        flagged, direction, ratio = False, None, 1.0
        far = f"within the published {format_range(lo, hi, unit)}"
    return _row(
        name,
        "benchmark",
        (low + high) / 2,
        flagged,
        direction,
        f"{what} {_rate(low, high)} is {far}",
        ratio=ratio,
        range_low=lo,
        range_high=hi,
    )


def _range_of(
    bench: Benchmarks, steps: Sequence[str], a: str, b: str
) -> tuple[float, float, str] | None:
    """The published range from stage ``a`` to ``b``: its own row, else the product of the
    step rows between them; with how it was made."""
    own = bench.step(a, b)
    if own is not None and own.low is not None and own.high is not None:
        return own.low, own.high, own.source
    if a not in steps or b not in steps or steps.index(a) >= steps.index(b):
        return None
    chain = bench.chain(steps[steps.index(a) : steps.index(b) + 1])
    if chain is None:
        return None
    parts = " x ".join(f"{r.metric} {r.text()}" for r in chain[2])
    return chain[0], chain[1], parts


def plan_range_flags(p: Plan, bench: Benchmarks, steps: Sequence[str]) -> list[dict[str, Any]]:
    """The checks of the module docstring, for plan ``p`` with the funnel ``steps``."""
    rows: list[dict[str, Any]] = []
    t, a, tol = p.targets, p.assumptions, p.tolerance
    budget = sum(p.budget.values())
    won, mql = steps[-1], steps[1] if len(steps) > 2 else steps[0]
    cpm = assumed_range(a["cost_per_mql"]) if "cost_per_mql" in a else None
    if cpm and t.get("mqls"):
        m = t["mqls"]
        cost = (cpm[0] * m, cpm[1] * m)
        rows.append(
            _agree(
                "cost_of_target_mqls",
                cost[0],
                cost[1],
                budget,
                tol,
                f"budget / cost per MQL: the {_money(budget, budget)} budget buys "
                f"{budget / cpm[1]:,.0f}"
                + ("" if cpm[0] == cpm[1] else f"-{budget / cpm[0]:,.0f}")
                + f" MQLs at {_money(*cpm)} per MQL, against the target of {m:,.0f}; "
                f"{m:,.0f} MQLs cost {_money(*cost)}"
                + (f", not {_money(budget, budget)}" if budget < cost[0] * (1 - tol) else ""),
                cheaper_is_good=False,
            )
        )
    if t.get("customers") and t.get("cac"):
        implied = budget / t["customers"]
        rows.append(
            _agree(
                "implied_cac",
                implied,
                implied,
                t["cac"],
                tol,
                f"budget / target customers = {_money(budget, budget)} / "
                f"{t['customers']:,.0f} = {_money(implied, implied)} per customer; the CAC "
                f"target is {_money(t['cac'], t['cac'])}",
                cheaper_is_good=True,
                inconsistent=f"at {_money(t['cac'], t['cac'])} the budget buys "
                f"{budget / t['cac']:,.0f} customers, not {t['customers']:,.0f}",
            )
        )
    implied_rate = t["customers"] / t["mqls"] if t.get("customers") and t.get("mqls") else None
    assumed_rate = assumed_range(a["mql_to_customer"]) if "mql_to_customer" in a else None
    rate = assumed_rate or ((implied_rate, implied_rate) if implied_rate else None)
    rate_says = (
        "the assumed MQL-to-customer rate"
        if assumed_rate
        else "the MQL-to-customer rate the targets imply (customers / MQLs)"
    )
    if cpm and rate and t.get("cac"):
        cac = (cpm[0] / rate[1], cpm[1] / rate[0])
        rows.append(
            _agree(
                "cac_from_assumptions",
                cac[0],
                cac[1],
                t["cac"],
                tol,
                f"cost per MQL / {rate_says}: {_money(*cpm)} / "
                f"{_rate(*rate)} = {_money(*cac)} per customer"
                + (
                    f", not the {_money(t['cac'], t['cac'])} CAC target "
                    f"({_times(cac[0] / t['cac'], cac[1] / t['cac'])})"
                    if t["cac"] < cac[0] * (1 - tol) or t["cac"] > cac[1] * (1 + tol)
                    else f"; the CAC target is {_money(t['cac'], t['cac'])}"
                ),
                cheaper_is_good=True,
            )
        )
    if assumed_rate and implied_rate:
        rows.append(
            _agree(
                "mql_to_customer",
                implied_rate,
                implied_rate,
                sum(assumed_rate) / 2,
                tol,
                f"target customers / target MQLs = {_rate(implied_rate, implied_rate)}; the "
                f"assumed mql_to_customer is {_rate(*assumed_rate)}",
                cheaper_is_good=False,
            )
        )
    chain = [f"{x}_to_{y}" for x, y in zip(steps[1:], steps[2:], strict=False)]
    if assumed_rate and chain and all(k in a for k in chain):
        lows, highs = zip(*(assumed_range(a[k]) for k in chain), strict=True)
        prod = (math.prod(lows), math.prod(highs))
        rows.append(
            _agree(
                "mql_to_customer",
                prod[0],
                prod[1],
                sum(assumed_rate) / 2,
                tol,
                "the assumed steps multiply to "
                + " x ".join(_rate(*assumed_range(a[k])) for k in chain)
                + f" = {_rate(*prod)} MQL to customer; the assumed mql_to_customer is "
                f"{_rate(*assumed_rate)}",
                cheaper_is_good=False,
            )
        )
    judged: list[tuple[str, tuple[float, float], str]] = []
    if rate:
        judged.append((f"{mql}_to_{won}", rate, rate_says[0].upper() + rate_says[1:]))
    rates = [
        f"{x}_to_{y}"
        for i, x in enumerate(steps)
        for y in [*steps[i + 1 :], "customer"]
        if not (y == "customer" and x == won)
    ]
    for key, value in a.items():
        if key in ("cac", "mql_to_customer", *MONEY_ASSUMPTIONS):
            continue
        if key not in rates:
            raise ConfigError(
                f"plan '{p.source}': unknown assumption '{key}'; "
                + did_you_mean(key, sorted({*rates, "cac", *MONEY_ASSUMPTIONS}))
            )
        judged.append((key, assumed_range(value), key))
    for key, (low, high), what in judged:
        name = "mql_to_customer" if key == f"{mql}_to_{won}" else key
        x, _, y = key.partition("_to_")
        if y == "customer":
            y = won
        published = _range_of(bench, steps, x, y)
        if published is None:
            rows.append(
                _row(
                    name,
                    "benchmark",
                    (low + high) / 2,
                    False,
                    None,
                    f"{what} {_rate(low, high)}: the benchmark table has no range for it",
                )
            )
            continue
        row = _against_range(name, low, high, published[:2], "rate", what)
        row["note"] += f" ({published[2]})"
        rows.append(row)
    ltv_row = bench.get("ltv_to_cac")
    if "ltv" in a and t.get("cac") and ltv_row is not None:
        rows.append(_ltv(assumed_range(a["ltv"]), t["cac"], ltv_row))
    rows.extend(_cost_rows(p, bench, steps, budget, cpm))
    return rows


def _cost_rows(
    p: Plan,
    bench: Benchmarks,
    steps: Sequence[str],
    budget: float,
    cpm: tuple[float, float] | None,
) -> list[dict[str, Any]]:
    """The plan's CAC and cost per MQL against what the published ranges imply."""
    t, tol = p.targets, p.tolerance
    per_mql, cacs, _ = published_costs(bench, steps)
    bought = [c for c, b in p.budget.items() if b > 0]
    rows = []
    # (name, what, low, high): each row a name of its own (new-user report 5, defect 18)
    cac_figures: list[tuple[str, str, float, float]] = []
    if t.get("cac"):
        cac_figures.append(("cac", "The CAC target", t["cac"], t["cac"]))
    if t.get("customers") and budget > 0:
        implied = budget / t["customers"]
        if not t.get("cac") or abs(implied / t["cac"] - 1) > tol:
            cac_figures.append(
                ("implied_cac_vs_benchmark", f"Budget / target customers ("
                 f"{_money(budget, budget)} / {t['customers']:,.0f})", implied, implied)
            )  # fmt: skip
    for name, what, low, high in cac_figures:
        rows.append(_against_costs(name, what, low, high, cacs, "CAC", bought))
    if cpm:
        rows.append(_against_costs("cost_per_mql", "The assumed cost per MQL", *cpm, per_mql,
                                   "cost per MQL", bought))  # fmt: skip
    elif t.get("mqls") and budget > 0:
        x = budget / t["mqls"]
        what = f"Budget / target MQLs ({_money(budget, budget)} / {t['mqls']:,.0f})"
        rows.append(_against_costs("cost_per_mql", what, x, x, per_mql, "cost per MQL", bought))
    return rows


def _against_costs(
    name: str,
    what: str,
    low: float,
    high: float,
    implied: list[Implied],
    metric: str,
    bought: Sequence[str],
) -> dict[str, Any]:
    """A benchmark row for a cost of the plan (``[low, high]``) against the costs the
    published ranges imply for the plan's channels (``bought``: those with a budget; lower
    is optimistic). A channel the plan does not buy says nothing about what the plan's
    customers cost (new-user report 5, defect 8: a plan of partner referrals and review
    sites was flagged from LinkedIn's and content syndication's ranges), so the range is the
    plan's channels' that the table covers; with none, the row says so, unflagged."""
    shown = _money(low, high)
    if not implied:
        return _row(
            name, "benchmark", (low + high) / 2, False, None,
            f"{what} {shown}: the benchmark table implies no {metric} (no channel with "
            "both a cost per lead and an MQL rate, or no MQL-to-customer steps)",
        )  # fmt: skip
    covered = sorted(implied, key=lambda i: i.low)
    implied = [i for i in covered if i.channel in bought]
    if not implied:
        return _row(
            name, "benchmark", (low + high) / 2, False, None,
            f"{what} {shown}: the benchmark table has no cost for the plan's channels "
            f"({', '.join(bought)}), so it is not judged; it covers "
            f"{', '.join(i.channel for i in covered)}, which this plan does not buy (add "
            "rows for your channels in a benchmarks file: --benchmarks)",
        )  # fmt: skip
    lo, hi = min(i.low for i in implied), max(i.high for i in implied)
    # published USD figures in a run in another currency: in dollars, labelled (report 16)
    usd = any(i.usd for i in implied) and current_currency() != DEFAULT_CURRENCY
    label = f"{PUBLISHED_USD[1:-1]}; " if usd else ""
    how = "; ".join(
        f"{i.channel}: {i.how} = {dollars(i.low, i.usd)}-{dollars(i.high, i.usd)}"
        for i in sorted(implied, key=lambda i: i.low)
    )
    span = f"{dollars(lo, usd)}-{dollars(hi, usd)}, of the plan's channels the table covers"
    if high < lo:
        flagged, direction, ratio = True, "optimistic", ((low + high) / 2) / lo
        far = (
            f"{_times(lo / high, lo / low)} below {dollars(lo, usd)}, the lowest {metric} the "
            f"published ranges imply ({label}range {span}"
        )
    elif low > hi:
        flagged, direction, ratio = True, "conservative", ((low + high) / 2) / hi
        far = (
            f"{_times(low / hi, high / hi)} {dollars(hi, usd)}, the highest {metric} the "
            f"published ranges imply ({label}range {span}"
        )
    else:
        flagged, direction, ratio = False, None, 1.0
        far = f"within the {metric} the published ranges imply ({label}{span}"
    return _row(
        name, "benchmark", (low + high) / 2, flagged, direction,
        f"{what} {shown} is {far}: {how})",
        ratio=ratio, range_low=lo, range_high=hi,
    )  # fmt: skip


def _ltv(ltv: tuple[float, float], cac: float, r: BenchmarkRange) -> dict[str, Any]:
    ratio = (ltv[0] / cac, ltv[1] / cac)
    short = r.low is not None and ratio[0] < r.low
    return _row(
        "ltv_to_cac",
        "benchmark",
        sum(ratio) / 2,
        short,
        "below target" if short else None,
        f"LTV / target CAC = {_money(*ltv)} / {_money(cac, cac)} = "
        f"{_times(*ratio)} (target {r.text()})",
        ratio=(sum(ratio) / 2) / r.low if r.low else None,
        range_low=r.low,
        range_high=r.high,
    )
