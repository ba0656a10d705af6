"""The plan check's parts that are not the projection: the measured rates it reads from the
funnel, the data's months, the checks against the published ranges, and its method notes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from attribution._reporting_currency import money_text
from attribution.b2b._funnel import Funnel
from attribution.b2b._plan_file import Plan
from attribution.b2b._plan_flags import FLAG_SCHEMA
from attribution.b2b._plan_ranges import plan_range_flags
from attribution.inputs._benchmarks import Benchmarks

__all__ = [
    "CAC_NOTE",
    "RANGES_NOTE",
    "bench_source",
    "data_months",
    "measured_rates",
    "range_flags",
    "with_measured_cac",
]

CAC_NOTE = (
    "the plan's CAC is one figure everywhere (the verdict, the (total) row's projected_cac and "
    "CAC column, the 'cac' flag, projected.cac): the budget / the customers it buys at each "
    "channel's measured CAC, i.e. the channels' measured CACs weighted by the plan's budget; "
    "the budget of channels without a CAC in the data (no spend) is not projected: left out "
    "of it and stated as projected.budget_not_projected. "
    "Two other figures are labelled as what they are: the (total) row's measured_cac (and "
    "measured.blended_cac_of_plan_channels) is the plan's channels' spend in the data / their "
    "credited customers, weighted by the spend as it was spent, not by the plan, over the "
    "plan's channels with spend in the data (measured.blended_cac_channels); the risk's "
    "'as planned' CAC is the median of the draws, with costs up by the inflation ([risk] "
    "inflation, default 15-20%) and each channel's CAC uncertainty"
)

RANGES_NOTE = (
    "rows with against = 'plan' check the plan's own arithmetic (budget / cost per MQL "
    "against the MQL target, budget / customers and cost per MQL / MQL-to-customer against "
    "the CAC target, the assumed rates against the targets' ratio), flagged when more than "
    "{tol:.0%} apart; rows with against = 'benchmark' judge its rates against the published "
    "ranges of the benchmark table (range_low, range_high; a rate over several steps against "
    "the product of the step ranges), and its CAC and cost per MQL against what the table's "
    "channel rows imply for the channels the plan buys (cost per lead / MQL rate, over the "
    "MQL-to-customer steps), flagged when outside; not judged when the table covers none of "
    "the plan's channels"
)


def range_flags(p: Plan, bench: Benchmarks, steps: list[str]) -> pl.DataFrame:
    rows = plan_range_flags(p, bench, steps)
    return pl.DataFrame(rows, schema=FLAG_SCHEMA) if rows else pl.DataFrame(schema=FLAG_SCHEMA)


def bench_source(bench: Benchmarks) -> list[str]:
    return sorted(bench.table.get_column("origin").unique().to_list())


def measured_rates(flow: Funnel) -> dict[str, Any]:
    """The measured step rates (null where the funnel could not measure the step) and the
    MQLs, customers and MQL- and lead-to-customer rates, from the stages the data has."""
    overall = flow.overall()
    out: dict[str, Any] = {}
    for r in overall.iter_rows(named=True):
        out[f"{r['from_stage']}_to_{r['to_stage']}"] = r["rate"]
    steps = flow.parameters["steps"]
    reached = flow.counts.get("reached") or {}
    if overall.height:
        won, mqls, leads = (reached.get(x) for x in (steps[-1], steps[1], steps[0]))
        out["mqls"] = mqls
        out["customers"] = won
        out["mql_to_customer"] = won / mqls if won is not None and mqls else None
        out["lead_to_customer"] = won / leads if won is not None and leads else None
    return out


def data_months(dates: pl.Series) -> float:
    if dates.len() == 0:
        return 0.0
    return float(dates.dt.month_start().n_unique())


def partial_spend(coverage: dict[str, Any] | None) -> str | None:
    """Why the data's cost per MQL is not compared when the spend covers part of the
    conversions' months (``economics.parameters["spend_coverage"]``): CAC is then on the
    customers that spend buys (the economics restrict it), while all spend / all MQLs would
    divide a quarter's spend by a year's MQLs (new-user report 3, defect 25b). None when the
    spend covers the period."""
    if not coverage:
        return None
    return (
        f"the spend covers {coverage['overlap_months']} of the conversions' "
        f"{coverage['conversion_months']} months, and all spend / all MQLs would divide it by "
        "the MQLs of every month"
    )


def with_measured_cac(flags: pl.DataFrame, table: pl.DataFrame, model: str,
                      budget: Mapping[str, float]) -> pl.DataFrame:
    """``flags`` with the CAC benchmark rows flagged optimistic (the plan's CAC below the
    lowest the published ranges imply for its channels, those ``budget`` buys) unflagged when
    the data measures one
    of the plan's channels at or below the plan's figure under ``model``: the range does not
    bind this business, and the row says so (new-user report 22, M14: a $150 CAC target
    flagged "9.3x below $1,389" while her data measured google_ads at $105)."""
    bought = [c for c, b in budget.items() if b > 0]
    measured = table.filter((pl.col("model") == model) & (pl.col("segment") == "all")
                            & pl.col("channel").is_in(bought) & (pl.col("cac") > 0))
    if not measured.height or not flags.height:
        return flags
    best = measured.sort("cac", "channel").row(0, named=True)
    cac_rows = (pl.col("against") == "benchmark") & pl.col("assumption").is_in(
        ["cac", "implied_cac_vs_benchmark"]) & pl.col("flagged") & (
        pl.col("direction") == "optimistic")
    beaten = cac_rows & (pl.col("plan_value") >= best["cac"])
    said = (f"; the data measures {best['channel']} at {money_text(best['cac'])} under {model}, "
            "at or below it: the published range does not bind here, so not flagged")
    return flags.with_columns(
        pl.when(beaten).then(False).otherwise(pl.col("flagged")).alias("flagged"),
        pl.when(beaten).then(None).otherwise(pl.col("direction")).alias("direction"),
        pl.when(beaten).then(pl.col("note") + pl.lit(said)).otherwise(pl.col("note"))
        .alias("note"),
        pl.when(beaten).then(pl.lit(best["cac"])).otherwise(pl.col("data_value"))
        .alias("data_value"),
    )
