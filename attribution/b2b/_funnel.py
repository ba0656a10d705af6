"""The funnel: stage conversion, time in stage, pipeline velocity and weekly alerts.

Methods (also written to ``funnel.json``):

- **Unit** (:mod:`attribution.b2b._funnel_unit`): one funnel entity per account at account
  level, else per ``contact_id`` (``account_id`` without one), a deal's events on one
  contact only. Rows without the key are counted and left out.
- **Reached a stage.** An entity has reached step *i* when it has an event of that stage or
  of any later step (CRMs skip stages; a later stage implies the earlier ones). A
  ``closed_lost`` event implies the opportunity step. Time in stage is measured only where
  both stage timestamps exist (first event of each stage).
- **Not measured.** A step is measured only when the data has events of both its stages (for
  the step into won, an opportunity or a lost event). A stage the data never records would
  otherwise be "reached" by everyone who reached a later one, and its step read 100% by
  construction (stages with only lead and closed_won gave mql -> sql 100%): such a step has
  no rate and ``not_measured`` says why; the win rate and pipeline velocity need lost
  events, the pipeline KPIs (marketing-sourced and -influenced shares, created pipeline)
  an opportunity or lost event, a channel's MQL rate, SQL conversion and costs per lead /
  MQL their stages. None is judged against a range.
- **Rates** are lifetime-to-date: of those that reached ``from_stage``, the share that
  reached ``to_stage`` by the end of the data. Open deals count as not advanced, so recent
  cohorts look worse (right censoring); the weekly series uses a fixed window instead.
- **Channel** of an entity = the channel of its first touch (sourced channel, as in
  ``b2b.md``); entities without touches are ``(no touch)``.
- **Cohort** = the calendar month (UTC) of the entity's first stage event.
- **Segment** (with an accounts table) = the segment of the entity's account (the key at
  account level, else the first ``account_id`` of its stage events); ``unknown`` without one.
- **Benchmark ranges**: every row of the table (overall, by channel, segment and cohort)
  gets the range of its step from the benchmark table (metric ``<from>_to_<to>``; the
  segment's or channel's own row where there is one): ``benchmark_low``, ``benchmark_high``,
  ``benchmark_source`` and ``benchmark_gap`` (:func:`attribution.inputs._benchmarks.gap`:
  how far the rate lies beyond the range, as a share of the end it passes; negative below,
  0 inside, positive above).
- **The biggest conversion gap** (the weakest stage): the overall step furthest below its
  range (most negative ``benchmark_gap``); when no step is below its range, the step with
  the lowest conversion rate in the data. The data's own weakest step (lowest rate) is
  always given beside it (``data_weakest``). The output says which.
- **KPIs** (``funnel_kpis.parquet``, :mod:`attribution.b2b._funnel_kpis`): average deal
  size, time to close, sales cycle, win rate, pipeline velocity, customer concentration,
  marketing-sourced and -influenced shares and NRR, overall and per segment, each beside
  its range.
- **Pipeline velocity** = opportunities x win rate x average deal / cycle days, where
  opportunities = the average number open on a day over the data's span (the days each
  was open, to its close or the end of the data, summed and divided by the span), win
  rate = won / (won + lost) on closed opportunities, average deal = mean ``value`` of
  ``closed_won`` events and cycle days = mean days from opportunity to ``closed_won``. In
  currency per day.
- **Weekly series and alerts**: pipeline and channel metrics per week, overall and per
  sourced channel, each tested against its own trailing weeks with statistics that know its
  counts; step rates whose outcome is not yet mature are provisional and never alert (the
  rules are in :mod:`attribution.b2b._alerts`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from attribution.b2b._alerts import ALERTS_SCHEMA, AlertSettings, detect_alerts
from attribution.b2b._alerts import SERIES_SCHEMA as WEEKLY_SCHEMA
from attribution.b2b._alerts_score import score_alerts
from attribution.b2b._funnel_channels import NO_TOUCH, RulesPath, sourced_channels
from attribution.b2b._funnel_kpis import funnel_kpis, gap_lines, kpi_lines, win_rate_line
from attribution.b2b._funnel_notes import funnel_notes, funnel_spend
from attribution.b2b._funnel_pipeline import PIPELINE_SCHEMA, created_pipeline
from attribution.b2b._funnel_stages import (
    FUNNEL_SCHEMA,
    attach_segments,
    entities,
    judge_steps,
    mark_unmeasured,
    other_stage_lines,
    out_of_order,
    stage_rates,
    step_ranges,
    step_rows,
    unmeasured_series,
    unmeasured_steps,
)
from attribution.b2b._funnel_unit import deal_table, funnel_key, unit_lines
from attribution.b2b._funnel_velocity import pipeline_velocity
from attribution.b2b._retention import Retention
from attribution.b2b._shared import jsonable, load_stage_events, money_text, pct, rows_error
from attribution.b2b._sla_targets import DEFAULT_SALES_TOUCH_TYPES
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import ModelParameterError
from attribution.inputs._account_inputs import Accounts, as_accounts
from attribution.inputs._benchmarks import Benchmarks
from attribution.inputs._formats import resolve_formats
from attribution.typing import TableLike

__all__ = [
    "DEFAULT_STEPS",
    "LOST_STAGE",
    "FUNNEL_SCHEMA",
    "NO_TOUCH",
    "WEEKLY_SCHEMA",
    "Funnel",
    "funnel",
]

DEFAULT_STEPS: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "closed_won")
#: the stage of a lost deal (it implies the opportunity step)
LOST_STAGE = "closed_lost"


@dataclass
class Funnel:
    """What :func:`funnel` returns.

    Attributes
    ----------
    table : pl.DataFrame
        ``dimension`` (``all`` | ``channel`` | ``segment`` | ``cohort``), ``group``,
        ``from_stage``, ``to_stage``, ``entered``, ``advanced``, ``rate``,
        ``median_days_in_stage``, ``p75_days_in_stage``, ``not_measured`` (why a step is
        not measured: null where it is), ``benchmark_low``, ``benchmark_high``,
        ``benchmark_gap``, ``benchmark_source``.
    weekly : pl.DataFrame
        Every weekly series the alerts test (``week``, ``metric``, ``family``, ``channel``
        (null: overall), ``value``, ``entrants``, ``expected``, ``low``, ``high``, ``score``,
        ``provisional``, ``alert``); see :data:`attribution.b2b._alerts.SERIES_SCHEMA`.
    velocity : pl.DataFrame
        Pipeline velocity overall, by channel and by segment: ``dimension``, ``group``,
        ``opportunities``, ``won``, ``lost``, ``win_rate``, ``average_deal``, ``cycle_days``,
        ``velocity_per_day``.
    weakest : dict
        The biggest conversion gap (the step furthest below its range, else the lowest
        rate): its rate, range, gap, what it was judged against, ``below_range``, and the
        data's own weakest step (``data_weakest``).
    kpis : pl.DataFrame
        :data:`attribution.b2b._funnel_kpis.KPI_COLUMNS`: ``dimension`` (``all`` |
        ``segment``), ``group``, ``kpi``, ``value``, ``unit``, ``detail`` and the range.
    pipeline : pl.DataFrame
        The created pipeline per ``segment`` (``all`` too) and sourced ``channel``:
        ``opportunities`` and their amounts (``pipeline``), for the economics' pipeline per
        dollar (:mod:`attribution.b2b._funnel_pipeline`; empty without touches; None when the
        stages have no opportunity and no lost event: only won deals, no pipeline).
    parameters, notes : dict
        Parameters used and the method notes (the module docstring, in parts).
    alerts : pl.DataFrame
        One row per alert (``alerts.parquet``, :data:`attribution.b2b._alerts.ALERTS_SCHEMA`).
    injected : pl.DataFrame or None
        With a truth that lists anomalies injected on purpose (:meth:`score_injected`): the
        table of :func:`attribution.score_alerts`, one row per anomaly with ``found``.
    """

    table: pl.DataFrame
    weekly: pl.DataFrame
    velocity: pl.DataFrame
    weakest: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)
    alerts: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=ALERTS_SCHEMA))
    kpis: pl.DataFrame = field(default_factory=pl.DataFrame)
    pipeline: pl.DataFrame | None = field(
        default_factory=lambda: pl.DataFrame(schema=PIPELINE_SCHEMA)
    )
    injected: pl.DataFrame | None = None

    def score_injected(self, anomalies: list[dict[str, Any]]) -> None:
        """Score the alerts against ``anomalies`` injected on purpose (``truth.json``'s
        ``anomalies``): :attr:`injected`, in the summary and ``funnel.json``."""
        self.injected = score_alerts(self.alerts, anomalies).anomalies

    def overall(self) -> pl.DataFrame:
        """The ``all`` rows of :attr:`table`: one row per step."""
        return self.table.filter(pl.col("dimension") == "all")

    def write(self, directory: str | Path) -> Path:
        """Write ``funnel.parquet``, ``funnel_weekly.parquet``, ``funnel_velocity.parquet``,
        ``funnel_kpis.parquet``, ``alerts.parquet`` and ``funnel.json`` into ``directory``
        (created if needed); return it."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.FUNNEL, self.table)
        write_parquet_atomic(out / RunFiles.FUNNEL_WEEKLY, self.weekly)
        write_parquet_atomic(out / RunFiles.FUNNEL_VELOCITY, self.velocity)
        write_parquet_atomic(out / RunFiles.ALERTS, self.alerts)
        write_parquet_atomic(out / RunFiles.FUNNEL_KPIS, self.kpis)
        overall_velocity = self.velocity.filter(pl.col("dimension") == "all").to_dicts()
        write_json_atomic(
            out / RunFiles.FUNNEL_JSON,
            jsonable(
                {
                    "weakest_stage": self.weakest,
                    "not_measured_steps": {
                        f"{r['from_stage']} -> {r['to_stage']}": r["not_measured"]
                        for r in self.overall().iter_rows(named=True)
                        if r.get("not_measured")
                    },
                    "pipeline_velocity": overall_velocity[0] if overall_velocity else None,
                    "kpis": self.kpis.filter(pl.col("dimension") == "all").to_dicts(),
                    "alert_rule": self.notes.get("alert_rule"),
                    "alerts": self.alerts.with_columns(pl.col("week").cast(pl.String)).to_dicts(),
                    "injected_anomalies": None
                    if self.injected is None
                    else self.injected.with_columns(pl.col("week").cast(pl.String)).to_dicts(),
                    "counts": self.counts,
                    "parameters": self.parameters,
                    "notes": self.notes,
                }
            ),
        )
        return out

    def alert_lines(self, limit: int = 10) -> list[str]:
        """The alerts, most severe first, one line each (at most ``limit``)."""
        rank = pl.col("severity").replace_strict({"high": 0, "medium": 1, "low": 2})
        top = self.alerts.sort(rank, pl.col("score").abs(), descending=[False, True])
        n = self.alerts.height
        lines = [f"Alerts: {n} ({self.notes.get('alert_rule_short', '')})" + (":" if n else ".")]
        lines += [
            f"  [{r['severity']}] {r['message']}" for r in top.head(limit).iter_rows(named=True)
        ]
        if n > limit:
            lines.append(f"  ... and {n - limit} more in alerts.parquet")
        if self.injected is not None and self.injected.height:
            found = int(self.injected.get_column("found").sum())
            lines.append(
                f"Anomalies injected on purpose (truth): {found} of {self.injected.height} "
                "found (an alert of the anomaly's family and channel within a week of it):"
            )
            for r in self.injected.iter_rows(named=True):  # a handful of anomalies
                where = r["channel"] or "overall"
                lines.append(
                    f"  [{'found' if r['found'] else 'missed'}] {r['metric']} {where} from "
                    f"{r['week']} (size {r['size']:+g})" + (f": {r['alert']}" if r["alert"] else "")
                )
        return lines

    def summary(self) -> str:
        """A short readable report: step rates, the weakest stage, velocity and alerts."""
        unit = {"account_id": "accounts", "contact_id": "contacts"}.get(self.parameters["key"])
        lines = [f"Funnel of {unit} (lifetime-to-date step rates, median days in stage):"]
        for r in self.overall().iter_rows(named=True):
            days = r["median_days_in_stage"]
            if r.get("not_measured"):
                lines.append(f"  {r['from_stage']:>12} -> {r['to_stage']:<12} {r['not_measured']}")
                continue
            lines.append(
                f"  {r['from_stage']:>12} -> {r['to_stage']:<12} {r['advanced']:>6,} / "
                f"{r['entered']:<6,} {pct(r['rate']):>6}   "
                + (f"{days:.1f} days" if days is not None else "-")
            )
        if late := self.counts.get("steps_out_of_order"):
            lines.append(
                "  Left out of the days in stage (the later stage dated before the earlier "
                "one, e.g. a contact added to a deal after its creation): "
                + ", ".join(f"{step} {n:,}" for step, n in late.items())
            )
        won = self.parameters["steps"][-1]
        lines.extend(unit_lines(self.counts, self.parameters["key"]))
        lines.extend(
            other_stage_lines(self.counts, self.parameters["steps"], self.parameters["lost_stage"])
        )
        lines.extend(
            gap_lines(self.weakest, win_rate_line(self.weakest, self.kpis, won))
            if self.weakest
            else []
        )
        overall = self.velocity.filter(pl.col("dimension") == "all")
        if overall.height:
            if (v := overall.row(0, named=True))["velocity_per_day"] is not None:
                lines.append(
                    f"Pipeline velocity: {v['opportunities']:,.0f} open opportunities (avg) x "
                    f"{pct(v['win_rate'])} win rate x {money_text(v['average_deal'])} average "
                    f"deal / {v['cycle_days']:.1f} cycle days = "
                    f"{money_text(v['velocity_per_day'])} per day."
                )
        lines.extend(kpi_lines(self.kpis))
        lines.extend(self.alert_lines())
        return "\n".join(lines)


def funnel(
    stages: TableLike,
    touches: TableLike | None = None,
    spend: TableLike | None = None,
    *,
    steps: Sequence[str] = DEFAULT_STEPS,
    lost_stage: str = LOST_STAGE,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    benchmarks: Benchmarks | Mapping[str, float | tuple[float, float]] | None = None,
    accounts: Accounts | TableLike | None = None,
    nrr: Retention | Mapping[str, float | None] | None = None,
    top_customers: int = 10,
    sales_touch_types: Sequence[str] = DEFAULT_SALES_TOUCH_TYPES,
    alerts: AlertSettings | Mapping[str, Any] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    channel_aliases: Mapping[str, str | Sequence[str]] | None = None,
    contacts: pl.DataFrame | None = None,
    level: str | None = None,
    channel_rules: RulesPath = None,
) -> Funnel:
    """Stage conversion rates, time in stage, pipeline velocity and weekly alerts.

    Parameters
    ----------
    stages
        CRM stage events (``timestamp``, ``stage``, ``contact_id`` or ``account_id``,
        optional ``value``).
    touches
        Touch log, for the sourced (first-touch) channel of each contact; ``None``: no
        ``channel`` rows.
    spend
        Spend table (``channel``, ``month`` or ``date``, ``amount``), for weekly cost per lead.
    steps
        The funnel stages in order; the last is the won stage.
    lost_stage
        The stage of lost deals (implies the step before the last).
    stage_names
        Our stage name -> the data's name(s), as in the config's ``[stage_names]``.
    columns
        Per table (``stages``, ``touches``, ``spend``), our column -> the data's column.
    benchmarks
        The benchmark table (:func:`attribution.load_benchmarks`; default: the shipped
        one), or step rates over the shipped table's, keyed ``"mql->sql"`` (or ``"mql"``,
        the from-stage), each a rate or ``(low, high)``. Every step is judged against its
        range; the biggest conversion gap is the step furthest below its range.
    accounts
        The accounts table (:func:`attribution.inputs.load_accounts`): adds ``segment``
        rows to the funnel, velocity and KPIs, judged against the segment's ranges.
    nrr
        Net revenue retention by segment (a :class:`Retention` from the subscriptions
        table, or segment -> NRR): the ``nrr`` KPI. Not computed here.
    top_customers
        Customer concentration = share of won revenue from this many largest customers.
    sales_touch_types
        Touch types that are sales touches; every other touch is a marketing touch (for the
        marketing-sourced and -influenced shares).
    alerts
        Thresholds and muted metrics of the weekly alerts (:class:`AlertSettings`, or a
        mapping of its fields as in the config's ``[alerts]``); ``None``: the defaults.
    timestamp_formats
        strftime patterns for dates written as text, as
        :attr:`attribution.RunOptions.timestamp_formats` (a list, or a mapping by column).
    channel_aliases
        Our channel -> the data's names for it, as
        :attr:`attribution.RunOptions.channel_aliases`; channel values are put in their one
        spelling (trimmed, whitespace folded, lower case) either way.
    channel_rules
        The run's channel rules file (``None``: the shipped one), for a touch log without a
        ``channel`` column: its channels derived as the run's journeys derive them.
    contacts
        The run's contacts table: a contact's account where its stage events name none (at
        account level also the funnel's key); an entity without one is segment ``unknown``
        at contact level, ``(no account)`` at account level.
    level
        The funnel's unit (:mod:`attribution.b2b._funnel_unit`): ``"account"`` (each
        account once: the run at account level), ``"contact"``, or ``None``: the stages'
        own key (``contact_id``, else ``account_id``); either way a deal counts once.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution import funnel
    >>> stages = pl.DataFrame({"contact_id": ["a", "a", "b"], "stage": ["lead", "mql", "lead"],
    ...     "timestamp": ["2025-01-01", "2025-01-03", "2025-01-02"]})
    >>> f = funnel(stages)
    >>> f.overall().select("from_stage", "entered", "advanced", "rate").row(0)
    ('lead', 2, 1, 0.5)
    """
    steps = list(steps)
    _check_params(steps)
    if not isinstance(top_customers, int) or isinstance(top_customers, bool) or top_customers < 1:
        raise ModelParameterError(
            f"The 'top_customers' parameter of funnel must be an int >= 1. Got {top_customers!r}."
        )
    settings = AlertSettings.of(alerts)
    bench = step_ranges(steps, benchmarks)
    account_table = as_accounts(accounts)
    columns = columns or {}
    table, frame, key = load_stage_events(
        stages, stage_names=stage_names, columns=columns, timestamp_formats=timestamp_formats
    )
    frame, key = funnel_key(frame, key, level, contacts)
    without_key = int(frame.get_column(key).null_count())
    frame = frame.filter(pl.col(key).is_not_null())
    known = [*steps, lost_stage]
    unknown = frame.filter(~pl.col("stage").is_in(known))
    if frame.height and unknown.height == frame.height:
        found = unknown.get_column("stage").unique().sort().head(8).to_list()
        raise rows_error(
            f"no stage matches the funnel steps {known}; found {found}",
            table,
            unknown,
            column="stage",
            hint="map your stage names in [stage_names] of the config (ours = 'theirs')",
        )
    wide = entities(frame, key, steps, lost_stage)
    channel_of, touch_frame = sourced_channels(
        touches, key, columns.get("touches"), resolve_formats(timestamp_formats, "touches"),
        channel_aliases, sales_touch_types,
        contacts if key == "account_id" and level == "account" else None, channel_rules,
    )  # fmt: skip
    if channel_of is not None:
        wide = wide.join(channel_of, on=key, how="left", maintain_order="left").with_columns(
            pl.col("channel").fill_null(NO_TOUCH)
        )
    if account_table is not None:
        own = "account_id" in frame.columns
        wide = attach_segments(wide, account_table, contacts, key, own, level)
    # the stages the data has: a step without events of both its stages is not measured
    seen = set(frame.get_column("stage").unique().drop_nulls().to_list()) & set(known)
    not_measured = unmeasured_steps(steps, lost_stage, seen)
    rates, weakest = judge_steps(
        mark_unmeasured(stage_rates(step_rows(wide, steps)), not_measured, seen), bench
    )
    if weakest and not_measured:
        weakest["not_measured_steps"] = {
            f"{a} -> {steps[steps.index(a) + 1]}": why for a, why in not_measured.items()
        }
    span: tuple[Any, Any] = (
        frame.get_column("timestamp").min(),
        frame.get_column("timestamp").max(),
    )
    deals, several = deal_table(frame, wide, key, steps, lost_stage)
    velocity = pipeline_velocity(
        deals, steps, span, lost_seen=lost_stage in seen, opportunity_seen=steps[-2] in seen
    )
    spend_frame = funnel_spend(spend, columns.get("spend"), timestamp_formats, channel_aliases)
    kpis = funnel_kpis(
        wide,
        velocity,
        steps,
        bench,
        top_customers=top_customers,
        nrr=_nrr_of(nrr),
        spend=spend_frame,
        seen=seen,
        lost_stage=lost_stage,
        deals=deals,
    )
    detected = detect_alerts(
        wide, steps, span, touches=touch_frame, spend=spend_frame, settings=settings
    )
    unmeasured = unmeasured_series(steps, lost_stage, seen, not_measured)
    monthly = spend_frame is not None and "date" not in spend_frame.columns
    notes = funnel_notes(
        key, steps, lost_stage, settings, detected, weakest, account_table, monthly=monthly
    )
    return Funnel(
        table=rates,
        kpis=kpis,
        # only won deals, no opportunity or lost event: the pipeline is not in the data
        pipeline=created_pipeline(deals, steps, NO_TOUCH)
        if steps[-2] in seen or lost_stage in seen
        else None,
        # a weekly series of a step or KPI the data cannot measure is not tested either
        weekly=detected.series.filter(~pl.col("metric").is_in(unmeasured)),
        alerts=detected.table.filter(~pl.col("metric").is_in(unmeasured)),
        velocity=velocity,
        weakest=weakest,
        parameters={
            "steps": steps,
            "lost_stage": lost_stage,
            "benchmarks": sorted(bench.table.get_column("origin").unique().to_list()),
            "top_customers": top_customers,
            "sales_touch_types": list(sales_touch_types),
            "alerts": detected.parameters(),
            "key": key,
        },
        notes=notes,
        counts={
            "entities": wide.height,
            "stage_rows": table.rows_in,
            "rows_without_key": without_key,
            "deals": deals.height,
            "deals_on_several_entities": several,
            "rows_with_other_stages": unknown.height,
            "steps_out_of_order": out_of_order(wide, steps),
            # the stages the funnel does not know, most events first (the summary names them)
            "other_stages": dict(
                unknown.group_by("stage").len().sort(["len", "stage"], descending=[True, False])
                .head(10).iter_rows()
            ),
            "entities_without_account": int(wide.get_column("_account").null_count()),
            "stages_seen": [x for x in known if x in seen],
            # entities that reached each step, for the steps the data has (None otherwise)
            "reached": {
                x: int((wide.get_column("depth") >= i).sum())
                if x in seen or (i == len(steps) - 2 and lost_stage in seen)
                else None
                for i, x in enumerate(steps)
            },
            "span": [str(span[0]), str(span[1])],
        },
    )


def _nrr_of(nrr: Retention | Mapping[str, float | None] | None) -> dict[str, float | None]:
    """NRR by segment, as the retention stage gives it (never computed here)."""
    if nrr is None:
        return {}
    if isinstance(nrr, Retention):
        return {s: nrr.nrr(s) for s in nrr.table.get_column("segment").to_list()}
    return dict(nrr)


def _check_params(steps: list[str]) -> None:
    if len(steps) < 2 or len(set(steps)) != len(steps):
        raise ModelParameterError(
            f"The 'steps' parameter of funnel must list 2 or more distinct stages. Got {steps}."
        )
