"""What the command line prints: the consoles (results on stdout, progress and errors on
stderr) and the summary of a run's credit."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from attribution._reporting_currency import sign
from attribution.b2b._deals import committee_line
from attribution.engine._manifest import MODEL_CHANNELS, coded_notes
from attribution.engine._result import AttributionResult

#: Width of the output when it is not a terminal (a log, a pipe, CI): wide enough that no
#: table row or message breaks across lines; tables take only the width they need.
LOG_WIDTH = 400


def _console(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr: a terminal's own width, else :data:`LOG_WIDTH` and no
    soft wrapping, so lines in logs stay whole."""
    found = Console(stderr=stderr)
    if found.is_terminal:
        return found
    return Console(stderr=stderr, width=LOG_WIDTH, soft_wrap=True)


console = _console()
err = _console(stderr=True)


def rule(title: str) -> None:
    """A section title: a rule across a terminal, a plain line in logs."""
    if console.is_terminal:
        console.rule(escape(title))
    else:
        console.print(f"--- {title} ---", markup=False, highlight=False)


def print_summary(result: AttributionResult, *, top: int = 3) -> None:
    """Per model: the top channels and their share; then the spread of each channel's share
    across models (where the models disagree). The full table is in channel_credit.parquet."""
    cc = result.channel_credit
    if cc.height == 0:
        console.print("[yellow]No attributed conversions.[/yellow]")
        return
    ci = "ci_low" in cc.columns and cc.get_column("ci_low").null_count() < cc.height
    by_model = Table(
        title="Top channels by model (share of credited conversions"
        + (", 90% interval" if ci else "")
        + ")"
    )
    by_model.add_column("model", style="bold", no_wrap=True)
    by_model.add_column("conversions", justify="right")
    by_model.add_column("top channels")
    for model in dict.fromkeys(cc.get_column("model").to_list()):
        rows = cc.filter(pl.col("model") == model).sort("share", descending=True)
        best = " · ".join(
            f"{escape(r['channel'])} {r['share']:.0%}" + (_interval(r) if ci else "")
            for r in rows.filter(pl.col("share") > 0).head(top).iter_rows(named=True)
        )  # a channel of 0% is no top channel
        by_model.add_row(escape(model), f"{rows.get_column('conversions').sum():,.1f}", best)
    console.print(by_model)
    spread = (
        cc.group_by("channel")
        .agg(
            pl.col("share").min().alias("lo"),
            pl.col("share").median().alias("mid"),
            pl.col("share").max().alias("hi"),
        )
        .sort("mid", descending=True)
    )
    by_channel = Table(title="Channel share across models")
    for col in ("channel", "min", "median", "max"):
        by_channel.add_column(col, justify="left" if col == "channel" else "right")
    for r in spread.iter_rows(named=True):
        by_channel.add_row(
            escape(r["channel"]), f"{r['lo']:.1%}", f"{r['mid']:.1%}", f"{r['hi']:.1%}"
        )
    if cc.get_column("model").n_unique() > 1:  # one model: min = median = max, no spread
        console.print(by_channel)
        console.print(top_channel_line(cc), markup=False, highlight=False)
    for note in coded_notes(result.manifest, MODEL_CHANNELS):  # last_non_direct is last_touch
        console.print(f"Note: {note}.", markup=False, highlight=False)
    if boot := result.manifest.get("bootstrap"):
        console.print(
            f"Bootstrap: {boot['draws']} draws over {boot['unit']}s ({boot['units']:,}; seed "
            f"{boot['seed']}; every model refitted per draw, {boot['seconds']:.1f} s): 90% "
            "intervals in channel_credit.parquet (ci_low, ci_high) and economics.parquet, "
            "every draw in credit_draws.parquet and economics_draws.parquet",
            markup=False,
            highlight=False,
        )
    if "markov_order_selection" in result.extras:
        order_table = Table(title="Markov order selection (held-out ROC AUC)")
        for col in ("order", "auc", "n_states"):
            order_table.add_column(col, justify="right")
        for r in result.extras["markov_order_selection"].iter_rows(named=True):
            order_table.add_row(str(r["order"]), f"{r['auc']:.4f}", f"{r['n_states']:,}")
        console.print(order_table)
    if result.accounts.width:
        _print_accounts(result)
    cap = result.manifest.get("parameters", {}).get("max_touches_per_journey")
    for line in reconciliation_lines(result.manifest.get("reconciliation", {}), cap):
        console.print(line, markup=False, highlight=False)
    if shared := result.manifest.get("shared_opportunities"):
        console.print(f"warning: {shared['warning']}", markup=False, highlight=False)


def top_channel_line(cc: pl.DataFrame) -> str:
    """Whether the top channel changes with the model (the report's finding, said here
    too): ``The top channel depends on the model: email (shapley), google_ads (last_touch,
    time_decay), linkedin (first_touch, ...)``, else the one channel every model puts first.
    Channels tied at a model's top (within 1e-12) are named together, ``ads = email``: a tie
    is not a leader."""
    credited = cc.filter(pl.col("share") > 0)
    leaders = credited.filter(
        pl.col("share") >= pl.col("share").max().over("model") - _TIE
    ).group_by("model", maintain_order=True).agg(pl.col("channel").sort())
    by_leader: dict[str, list[str]] = {}
    for model, channels in leaders.iter_rows():
        by_leader.setdefault(" = ".join(map(str, channels)), []).append(str(model))
    if len(by_leader) == 1:
        (leader,) = by_leader
        if " = " in leader:
            return f"Top channels tied under every model: {leader}."
        return f"Top channel under every model: {leader}."
    shown = ", ".join(f"{c} ({', '.join(ms)})" for c, ms in sorted(by_leader.items()))
    return f"The top channel depends on the model: {shown}."


#: Shares this close are a tie at a model's top (credit sums carry rounding of ~1e-16).
_TIE = 1e-12


def _interval(r: dict[str, Any]) -> str:
    """`` (17-20%)``: a share's interval, empty without one."""
    if r.get("ci_low") is None or r.get("ci_high") is None:
        return ""
    return f" ({r['ci_low']:.0%}-{r['ci_high']:.0%})"


def reconciliation_lines(rec: dict[str, Any], cap: Any = None) -> list[str]:
    """The summary's count lines: where every touch and conversion went, and what a user
    needs to check (touches mapped to ``other``, conversions without a value, values
    renamed, duplicates dropped)."""
    if "touches_in" not in rec:
        return []
    dropped = rec["touches_dropped"]
    lines = [
        f"touches in {rec['touches_in']:,} = in journeys {rec['touches_in_journeys']:,} + "
        f"in null paths {rec['touches_in_null_paths']:,} + dropped "
        f"{sum(dropped.values()):,}"
        + (f" {dropped}" if dropped else "")
        + (
            f"; and {n:,} of them again in {rec.get('conversions_sharing_touches', 0):,} "
            "parallel deal(s), credited in each deal (--parallel-deals share)"
            if (n := rec.get("journey_touches_shared"))
            else ""
        ),
        f"conversions {rec['conversions']:,}: attributed {rec['conversions_attributed']:,}, "
        f"without touches {rec['conversions_unattributed']:,}"
        + (
            f", at the same time as an earlier conversion of the entity "
            f"{rec['conversions_same_timestamp']:,}"
            if rec.get("conversions_same_timestamp")
            else ""
        )
        + (
            f"; of them {rec['conversions_parallel_without_touches']:,} parallel deal(s), "
            "opened before the entity's previous conversion, whose touches went to it (a touch "
            "belongs to the earliest conversion at or after it; --parallel-deals share gives "
            "them those touches too)"
            if rec.get("conversions_parallel_without_touches")
            else ""
        )
        + f"; without a value {rec.get('conversions_without_value', 0):,}"
        + (
            f" (value taken from the deal's opportunity event {n:,})"
            if (n := rec.get("conversions_value_from_opportunity"))
            else ""
        ),
    ]
    checks = [
        f"touches mapped to 'other' {rec.get('touches_channel_other', 0):,}",
        f"channel values renamed {len(rec.get('channel_values_renamed') or {}):,} "
        f"({rec.get('touches_channel_renamed', 0):,} touches)",
    ]
    if rec.get("stage_values_renamed"):
        checks.append(
            f"stage values renamed {len(rec['stage_values_renamed']):,} "
            f"({rec.get('stage_events_renamed', 0):,} events: "
            + ", ".join(f"{k!r} -> {v!r}" for k, v in list(rec["stage_values_renamed"].items())[:5])
            + ")"
        )
    stages_dropped = rec.get("stages_dropped") or {}
    if stages_dropped:
        checks.append(f"stage events dropped {stages_dropped}")
    blank = rec.get("blank_rows_dropped") or {}
    if blank:
        checks.append(f"blank rows dropped {blank}")
    if rec.get("ids_trimmed"):
        checks.append(f"ids trimmed of surrounding spaces {rec['ids_trimmed']}")
    future = rec.get("dated_in_the_future") or {}
    if future:
        checks.append(f"dated in the future (kept: check the year) {future}")
    past = rec.get("dated_before_1990") or {}
    if past:
        checks.append(f"dated before 1990 (kept: check the year) {past}")
    lines.append("; ".join(checks))
    from attribution.journeys._cap import cut_journey_note
    from attribution.journeys._long import long_journey_note

    if cut := cut_journey_note(rec, cap):  # cut by the cap: the count, the longest
        lines.append(f"note: {cut}")
    if long := long_journey_note(rec):  # far longer than the others: the count, the longest
        lines.append(f"note: {long}")
    from attribution.inputs._referrers import referrer_note

    if referred := referrer_note(rec):  # channels taken from the referrers' hosts
        lines.append(f"note: {referred}")
    return lines


def _print_accounts(result: AttributionResult) -> None:
    accounts = result.accounts
    tiers = accounts.group_by("tier").len().sort("tier").rows()
    engagement = result.manifest.get("parameters", {}).get("engagement") or {}
    as_of = engagement.get("reference_time")
    console.print(
        f"accounts: {accounts.height:,} (tiers "
        + " · ".join(f"{t} {n:,}" for t, n in tiers)
        + (f"; engagement as of {as_of}" if as_of else "")
        + ")",
        markup=False,
    )
    for note in engagement.get("notes") or ():
        console.print(f"  {note}", markup=False)
    if committee := committee_line(result.conversions):
        console.print(f"  {committee}", markup=False)
    cols: list[str] = [
        c
        for c in ("account_id", "coverage", "engagement_score", "tier", "conversions")
        if c in accounts.columns
    ]
    top = Table(title="Most engaged accounts")
    for name in cols:
        top.add_column(
            name, justify="left" if name in ("account_id", "coverage", "tier") else "right"
        )
    sort_col = "engagement_score" if "engagement_score" in cols else cols[0]
    for r in accounts.sort(sort_col, descending=True).head(10).iter_rows(named=True):
        top.add_row(
            *(f"{r[k]:,.1f}" if isinstance(r[k], float) else escape(str(r[k])) for k in cols)
        )
    console.print(top)
    pipe = result.pipeline
    if pipe.height:
        deals = result.manifest.get("parameters", {}).get("pipeline_deals")
        table = Table(
            title="Sourced vs influenced pipeline"
            + (f" of {escape(deals)}" if deals else "")
            + " (influenced does NOT sum to 100%)"
        )
        pipe_cols: list[str] = [
            c
            for c in ("measure", "channel", "deals", "pipeline", "pipeline_share")
            if c in pipe.columns
        ]
        for name in pipe_cols:
            table.add_column(name, justify="left" if name in ("measure", "channel") else "right")
        for r in pipe.iter_rows(named=True):
            cells = []
            for name in pipe_cols:
                v = r[name]
                if name == "pipeline_share":
                    cells.append(f"{v:.1%}")
                elif isinstance(v, float):
                    cells.append(f"{v:,.0f}")
                else:
                    cells.append(escape(str(v)))
            table.add_row(*cells)
        console.print(table)
        if deals == "closed-won deals only":
            console.print(
                "  pipeline = the opportunity amounts of the run's won deals; every "
                "opportunity's (open and lost too) is the economics' pipeline_created "
                f"(pipeline per {sign()}) and the funnel's",
                markup=False,
            )
