"""The plan's flags: each assumption of the plan (targets, implied rates, budgets, the
``[assumptions]``) against what the data measures, flagged when they are more than the plan's
``flag_factor`` apart either way."""

from __future__ import annotations

from collections.abc import Sequence
from difflib import get_close_matches
from typing import Any

import polars as pl

from attribution.b2b._plan_extrapolation import scaled_spend, spend_multiple
from attribution.b2b._plan_file import MONEY_ASSUMPTIONS, Plan, assumed_range
from attribution.b2b._shared import money
from attribution.exceptions import ConfigError, did_you_mean
from attribution.inputs._channels import unmatched_channels

__all__ = ["FLAG_SCHEMA", "plan_flags"]

_PHRASES = {
    "optimistic": "more optimistic than the data",
    "conservative": "more conservative than the data",
    "extrapolated": "beyond the spend the CAC was measured at",
    "contracted": "below the spend the CAC was measured at",
    "impossible": "impossible: a rate above 100%",
}

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
        "against": pl.String(),
        "range_low": pl.Float64(),
        "range_high": pl.Float64(),
    }
)


def plan_flags(
    p: Plan,
    frame: pl.DataFrame,
    rates: dict[str, Any],
    *,
    projected_cac: float | None,
    projected_total: float,
    cost_per_mql: float | None,
    scale: float | None,
    data_channels: Sequence[str] = (),
    cost_per_mql_not_measured: str | None = None,
    not_projected: tuple[float, Sequence[str]] = (0.0, ()),
) -> pl.DataFrame:
    """The plan's assumptions against the data (``data_channels``: the channels of the run,
    for a did-you-mean beside a plan channel the data does not have;
    ``cost_per_mql_not_measured``: why the data's cost per MQL is not measured, e.g. the
    spend covers part of the MQLs' months: the rows say so, unflagged)."""
    rows: list[dict[str, Any]] = []
    unknown = unmatched_channels(list(frame.get_column("channel")), list(data_channels))
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
        shown: str | None = None,
        multiple: float | None = None,
    ) -> None:
        if plan_value is None:
            return
        ratio: float | None = None
        if name == "cost_per_mql" and cost_per_mql_not_measured:
            flagged, direction, data_value = False, "not measured", None
            note = f"{what}: the plan has {_show(plan_value, fmt)}; not compared: " + (
                cost_per_mql_not_measured
            )
        elif data_value is None or data_value == 0:
            flagged, direction = True, "no data"
            note = note or (
                f"{what}: the plan has {_show(plan_value, fmt)}; the data has nothing to "
                "measure it against"
            )
        else:
            ratio = plan_value / data_value if multiple is None else multiple
            optimistic = ratio > 1 if higher_is_optimistic else ratio < 1
            flagged = ratio > factor or ratio < 1 / factor
            direction = words[0] if optimistic else words[1]
            if fmt == "rate" and plan_value > 1:  # more customers than MQLs: not optimistic
                flagged, direction = True, "impossible"
            far = max(ratio, 1 / ratio) if ratio > 0 else float("inf")
            note = (
                f"{what}: the plan assumes {shown or _show(plan_value, fmt)}, the data shows "
                f"{_show(data_value, fmt)} ({far:.1f}x, {_PHRASES[direction]})"
            )
        rows.append(
            dict(
                assumption=name,
                channel=channel,
                plan_value=plan_value,
                data_value=data_value,
                ratio=ratio,
                flagged=flagged,
                direction=direction,
                note=note,
                against="data",
                range_low=None,
                range_high=None,
            )
        )

    t = p.targets
    held, held_channels = not_projected
    budget = sum(p.budget.values())
    # budget on channels without a CAC in the data is not projected: the CAC and customers
    # are of the rest, and the customers target is its share of that rest (new-user report
    # 5, defect 7), as the channel rows split it by budget
    if held <= 0 or held >= budget:  # all measured, or nothing is: the whole budget
        held, held_channels = 0.0, ()
    measured = budget - held
    aside = (
        f"; {money(held)} on {', '.join(held_channels)} is not projected: no CAC in the data"
        if held > 0
        else ""
    )
    add(
        "cac",
        t.get("cac"),
        projected_cac,
        higher_is_optimistic=False,
        what=(
            f"CAC of this budget (data: the {money(measured)} with a measured CAC / the "
            f"customers it buys{aside})"
            if held > 0
            else "CAC of this budget (data: budget / the customers it buys at measured CACs)"
        ),
        fmt="money",
    )
    add(
        "customers",
        t["customers"] * measured / budget if t.get("customers") and budget > 0 else None,
        projected_total,
        higher_is_optimistic=True,
        what=(
            f"customers from the {money(measured)} with a measured CAC (plan: its budget "
            f"share of the {t.get('customers') or 0:,.0f} target; data: budget / measured "
            f"CAC{aside})"
            if held > 0
            else "customers from this budget (data: budget / measured CAC)"
        ),
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
                if ch not in p.budget:  # nothing of the plan is projected with it: not "far
                    # from the data", a name to check (new-user report 5, defect 25)
                    close = get_close_matches(ch, sorted({*p.budget, *data_channels}), n=1,
                                              cutoff=0.6)  # fmt: skip
                    rows.append(
                        dict(
                            assumption="cac",
                            channel=ch,
                            plan_value=float(v),
                            data_value=None,
                            ratio=None,
                            flagged=False,
                            direction="not a budget channel",
                            note=f"CAC of {ch}: the plan assumes {money(float(v))}; {ch} is "
                            "not a channel of [budget], so nothing is projected with it"
                            + (f" (did you mean '{close[0]}'?)" if close else ""),
                            against="data",
                            range_low=None,
                            range_high=None,
                        )
                    )
                    continue
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
        if key == "ltv":  # no measured counterpart: checked against the plan's CAC
            continue
        low, high = assumed_range(value)
        fmt = "money" if key in MONEY_ASSUMPTIONS else "rate"
        shown = None if low == high else f"{_show(low, fmt)}-{_show(high, fmt)}"
        if key == "cost_per_mql":
            add(
                key,
                (low + high) / 2,
                cost_per_mql,
                higher_is_optimistic=False,
                what="cost per MQL (data: all spend / MQLs)",
                fmt="money",
                shown=shown,
            )
            continue
        known = sorted(k for k in rates if k not in ("mqls", "customers"))
        if key not in rates:
            raise ConfigError(
                f"plan '{p.source}': unknown assumption '{key}'; "
                + did_you_mean(key, [*known, *MONEY_ASSUMPTIONS])
            )
        add(
            key,
            (low + high) / 2,
            rates[key],
            higher_is_optimistic=True,
            what=key,
            fmt="rate",
            shown=shown,
        )
    # a budget against the spend its CAC was measured at: the plan's spend multiple
    # (attribution.b2b._plan_extrapolation), one rule with the reallocation's
    budgets = frame.with_columns(scaled_spend(scale).alias("_scaled"),
                                 spend_multiple(pl.col("budget"), scale).alias("_multiple"))
    for r in budgets.iter_rows(named=True):
        if r["budget"] > 0 and r["measured_cac"] is None:
            add(
                "channel_cac",
                r["budget"],
                None,
                higher_is_optimistic=True,
                what=f"budget for {r['channel']}",
                fmt="money",
                channel=r["channel"],
                note=(
                    f"{r['channel']}: unpaid in the data ({r['measured_customers']:,.1f} "
                    "credited customers, no spend): its CAC cannot be measured, so its budget "
                    "is not projected and the channel is not judged"
                )
                if r["measured_customers"] > 0 and r["measured_spend"] == 0
                else f"{r['channel']}: the data has no spend with credited customers for this "
                "channel, so its budget buys no projected customers (check the name is the "
                "data's channel name"
                + (f": {unknown[r['channel']]}" if r["channel"] in unknown and data_channels
                   else "")
                + ")",
            )
        elif r["budget"] > 0 and scale is not None:
            add(
                "budget",
                r["budget"],
                r["_scaled"],
                multiple=r["_multiple"],
                higher_is_optimistic=True,
                what=f"budget for {r['channel']} vs its spend in the data "
                f"(scaled to {p.period_months:g} months)",
                fmt="money",
                channel=r["channel"],
                words=("extrapolated", "contracted"),
            )
    return pl.DataFrame(rows, schema=FLAG_SCHEMA) if rows else pl.DataFrame(schema=FLAG_SCHEMA)


def _show(x: float, kind: str) -> str:
    if kind == "money":
        return money(x)
    return f"{x:.1%}" if kind == "rate" else f"{x:,.0f}"
