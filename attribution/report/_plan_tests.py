"""The plan's risk (its chance of reaching the targets and the scenarios, shown inside the
plan section) and the section of its channel tests (the readout at each checkpoint and the
go / no-go call)."""

from __future__ import annotations

from typing import Any

from attribution.engine._files import RunFiles
from attribution.report._context import Context, Section
from attribution.report._format import (
    Formatter,
    details,
    e,
    fmt_num,
    fmt_pct,
    json_block,
    missing_note,
    note,
    select,
    table,
)
from attribution.report._labels import money

RISK_COLUMNS = ("scenario", "customers", "customers_low", "customers_high", "cac", "cac_low",
                "cac_high", "p_customers", "p_cac", "p_target")  # fmt: skip
TEST_COLUMNS = (
    "channel", "checkpoint", "day", "spend", "mqls", "mqls_low", "mqls_high", "mql_to_sql",
    "cost_per_mql", "cost_per_mql_low", "cost_per_mql_high", "customers", "cac", "cac_low",
    "cac_high", "cost_per_mql_status", "cac_status", "mqls_status", "on_track", "decision",
)  # fmt: skip


#: headers of the columns the page's label table does not know
HEADERS = {
    "scenario": "Scenario",
    "customers": "Customers (median)",
    "customers_low": "Customers, 90% low",
    "customers_high": "Customers, 90% high",
    "cac": "CAC (median)",
    "cac_low": "CAC, 90% low",
    "cac_high": "CAC, 90% high",
    "p_customers": "Chance: customers target",
    "p_cac": "Chance: CAC target",
    "p_target": "Chance: both",
    "checkpoint": "Checkpoint",
    "day": "Day",
    "mqls": "MQLs",
    "mqls_low": "MQLs, 90% low",
    "mqls_high": "MQLs, 90% high",
    "mql_to_sql": "MQL to SQL",
    "cost_per_mql": "Cost per MQL",
    "cost_per_mql_low": "Cost per MQL, 90% low",
    "cost_per_mql_high": "Cost per MQL, 90% high",
    "cost_per_mql_status": "Cost per MQL vs target",
    "cac_status": "CAC vs target",
    "mqls_status": "MQL volume vs target",
    "on_track": "On track",
    "decision": "Call",
}


def plan_risk_parts(ctx: Context, meta: dict[str, Any] | None) -> list[str]:
    """plan_risk.parquet and plan.json's ``risk``: the chance in a sentence (a finding too)
    and the scenario rows."""
    risk = ctx.frame(RunFiles.PLAN_RISK)
    info = (meta or {}).get("risk")
    sentence = info.get("sentence") if isinstance(info, dict) else None
    if risk is None and not sentence:
        return []
    parts = ["<h3>Plan risk</h3>"]
    if isinstance(sentence, str) and sentence:
        parts.append(f'<div class="callout"><b>Chance.</b> {e(sentence)}</div>')
        ctx.findings.append(f"Plan risk: {e(sentence.split(' (')[0])}.")
    if risk is not None:
        if gap := missing_note("The scenario table", risk, ("scenario", "p_target")):
            return [*parts, gap]
        parts.append(
            note(
                "Each row is the plan's projection drawn many times from each channel's CAC "
                "interval and a cost inflation: the median customers and CAC with their 90% "
                "interval, and the share of draws meeting each target. The scenarios a plan's "
                "owner worries about are computed on the same draws."
            )
        )
        formats: dict[str, Formatter] = {
            **{c: fmt_num for c in ("customers", "customers_low", "customers_high")},
            **{c: money for c in ("cac", "cac_low", "cac_high")},
            **{c: lambda v: fmt_pct(v, 0) for c in ("p_customers", "p_cac", "p_target")},
        }
        parts.append(table(select(risk, RISK_COLUMNS), formats=formats, headers=HEADERS))
    return parts


def tests_section(ctx: Context) -> Section | None:
    """tests.parquet and tests.json: the readout of each channel test and its call."""
    readout = ctx.frame(RunFiles.TESTS)
    meta = ctx.json(RunFiles.TESTS_JSON)
    if readout is None and meta is None:
        return None
    parts: list[str] = []
    calls = (meta or {}).get("calls")
    if isinstance(calls, dict) and calls:
        text = "; ".join(f"{ch}: {call}" for ch, call in calls.items())
        parts.append(f'<div class="callout"><b>Calls.</b> {e(text)}</div>')
        ctx.findings.append(f"Channel tests: {e(text)}.")
    parts.append(
        note(
            "Each test's cohort is the MQLs the channel sourced since its start; at each monthly "
            "checkpoint: spend so far, MQLs, MQL -> SQL, cost per MQL, and customers and CAC "
            "once deals can have closed, each with a 90% interval (Poisson for counts, "
            "binomial for rates). The call at the window's end: go when every target is met "
            "with its interval, no-go when one is missed beyond it, else extend."
        )
    )
    if readout is not None:
        if gap := missing_note("The readout", readout, ("channel", "checkpoint", "decision")):
            parts.append(gap)
        else:
            dollars = ("spend", "cost_per_mql", "cost_per_mql_low", "cost_per_mql_high", "cac",
                     "cac_low", "cac_high")  # fmt: skip
            formats: dict[str, Formatter] = {
                **{c: money for c in dollars},
                "mql_to_sql": fmt_pct,
                "mqls_low": fmt_num,
                "mqls_high": fmt_num,
            }
            parts.append(
                table(
                    select(readout, TEST_COLUMNS),
                    formats=formats,
                    headers=HEADERS,
                    row_class=lambda r: (
                        "bad" if r.get("decision") == "no-go" or r.get("on_track") is False else ""
                    ),
                )
            )
    if meta:
        parts.append(details("Tests, parameters and method", json_block(meta, skip=("calls",))))
    return Section(
        "tests",
        "Channel tests",
        "\n".join(parts),
        "Are the channels on trial on track against their targets, and what does the rule "
        "call at the end of each validation window?",
    )

