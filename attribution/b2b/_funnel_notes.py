"""The funnel's method notes (``funnel.json``'s ``notes``, the alert rule among them) and the
spend table it reads for the weekly costs per lead and the spend alerts
(:func:`attribution.b2b._funnel.funnel`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from attribution.b2b import _funnel_kpis as _kpis_module
from attribution.b2b import _funnel_pipeline as _pipeline_module
from attribution.b2b._alerts import Alerts, AlertSettings
from attribution.b2b._alerts_weekly import monthly_threshold
from attribution.b2b._funnel_channels import NO_TOUCH
from attribution.b2b._shared import doc_text, money_text, rows_error
from attribution.inputs._account_inputs import Accounts
from attribution.inputs._channels import check_channel_aliases, normalise_channels
from attribution.inputs._formats import resolve_formats
from attribution.inputs._schema import SPEND, load
from attribution.typing import TableLike


def funnel_spend(
    spend: TableLike | None,
    columns: Mapping[str, str] | None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None,
    channel_aliases: Mapping[str, str | Sequence[str]] | None,
) -> pl.DataFrame | None:
    """The spend table (``channel``, ``month`` or ``date``, ``amount``, maybe impressions and
    clicks, which are counts >= 0) with its channels in their one spelling; None without one."""
    if spend is None:
        return None
    spend_table = load(
        spend,
        SPEND,
        columns=columns,
        formats=resolve_formats(timestamp_formats, "spend"),
    )
    for count in ("impressions", "clicks"):
        if count in spend_table.frame.columns:
            negative = spend_table.frame.filter(pl.col(count) < 0)
            if negative.height:
                raise rows_error(
                    f"{negative.height} negative {count}",
                    spend_table,
                    negative,
                    column=count,
                    hint="impressions and clicks are counts >= 0; leave a row blank "
                    "when the platform reports none",
                )
    return normalise_channels(spend_table.frame, check_channel_aliases(channel_aliases))[0]


def funnel_notes(
    key: str,
    steps: list[str],
    lost_stage: str,
    settings: AlertSettings,
    detected: Alerts,
    weakest: Mapping[str, Any],
    account_table: Accounts | None,
    *,
    monthly: bool,
) -> dict[str, str]:
    """The method notes of a funnel by ``key``; ``monthly``: its spend table is by month."""
    thresholds = f"|z| >= {settings.threshold:g}" + (
        " (" + ", ".join(f"{m} {t:g}" for m, t in settings.thresholds.items()) + ")"
        if settings.thresholds
        else ""
    )
    spend_weeks = max(settings.trailing_weeks, settings.spend_trailing_weeks)
    spend_z = monthly_threshold(settings.thresholds.get("spend", settings.threshold))
    by_month = f"; spend by month: z >= {spend_z:.2f} vs {spend_weeks} weeks" if monthly else ""
    rule = (
        f"each week, and the last two weeks pooled, against the {settings.trailing_weeks} weeks "
        "before them with a week of guard: volumes, touches, spend, costs per lead / MQL and "
        "the sales cycle on the log scale against the baseline's median with the series' own "
        "robust spread, counts scored by their Poisson deviance (a channel's spend against the "
        "median move of the other channels' spend; a spend table by month against "
        f"{spend_weeks} weeks, its spread pooled with the other channels', tested once a month "
        "(a channel by month beside daily rows likewise, against its own months alone) "
        "at the threshold that gives a month the false-alert chances of its 52 / 12 weeks, two "
        "tests each: 3.5 -> 2.88); step and win rates "
        "beta-binomial against the baseline's pooled rate. An alert needs "
        f"{thresholds}, a change of at least {settings.min_change:.0%} (rates: "
        f"{settings.min_points * 100:g} points) and volume: an expected {settings.min_volume:g} "
        f"a week for counts, {settings.min_entrants} entrants for a rate, "
        f"{settings.min_deals} closed deals for the sales cycle, {money_text(settings.min_spend)} "
        "of spend. A step rate's week is provisional until the step's horizon (the "
        f"{settings.horizon_quantile:.0%} quantile of its time in stage, at most "
        f"{settings.max_horizon_days} days: {detected.horizons}) has passed; provisional weeks "
        "never alert. Consecutive alerting weeks are one alert. Weeks start on Monday (UTC); "
        "partial weeks at the edges of the data are left out."
    )
    notes = {
        "unit": f"one funnel entity per {key}",
        "reached": "an entity reached a step if it has that stage or any later step (a "
        f"'{lost_stage}' implies '{steps[-2]}'); time in stage only where both timestamps exist",
        "rates": "lifetime-to-date: open deals count as not advanced, so recent cohorts look "
        "worse (right censoring)",
        "channel": "the channel of the entity's first touch (sourced channel); "
        f"'{NO_TOUCH}' when it has none",
        "cohort": "calendar month (UTC) of the entity's first stage event",
        "weakest": weakest.get("judged_against", ""),
        "not_measured": "a step is measured only when the data has events of both its stages "
        f"(for '{steps[-2]} -> {steps[-1]}': a '{steps[-2]}' or '{lost_stage}' event); else a "
        "later stage, which implies the earlier ones, would make its rate a count of those "
        "that reached a later stage (100% by construction): its rate, advanced count and days "
        "are null and not_measured says why. Likewise the win rate (and pipeline velocity) "
        f"needs '{lost_stage}' events, the pipeline KPIs an opportunity or lost event, a "
        "channel's MQL rate, SQL conversion and costs per lead / MQL their stages",
        "velocity": "opportunities x win rate x average deal / cycle days, in currency per "
        "day; opportunities = the average number open on a day over the data's span (days "
        "each was open, to its close or the end of the data, summed, / days in the span); "
        "win rate = won / (won + lost) on closed opportunities; average deal = mean "
        "closed_won value; cycle days = mean days from opportunity to closed_won",
        "weekly_rates": "<from>_to_<to> = share of the week's entrants to <from> that reach "
        f"<to> within the step's horizon in days {detected.horizons}; win_rate = won / closed of "
        "the opportunities closed in the week",
        "cost_per_lead": "weekly spend of the channel (each month's spend spread evenly over "
        "its days; overall: every channel) / the leads (MQLs) it sourced that week",
        "alert_rule": rule,
        "alert_rule_short": f"{thresholds} vs the trailing {settings.trailing_weeks} weeks"
        f"{by_month}{detected.spend_note()}, provisional weeks excluded",
    }
    notes["kpis"] = doc_text(_kpis_module.__doc__).split("Definitions", 1)[-1].strip()
    notes["segment"] = (
        f"the segment of the entity's account in '{account_table.source}'; 'unknown' without one"
        if account_table is not None
        else "no accounts table: no segment rows"
    )
    notes["pipeline"] = doc_text(_pipeline_module.__doc__).split("\n\n", 1)[-1].strip()
    return notes
