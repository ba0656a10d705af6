"""The funnel: stage conversion, time in stage, pipeline velocity and weekly alerts.

Methods (also written to ``funnel.json``):

- **Unit.** One funnel entity per ``contact_id`` (``account_id`` when the stages table has
  no contact column). Rows without the key are counted and left out.
- **Reached a stage.** An entity has reached step *i* when it has an event of that stage or
  of any later step (CRMs skip stages; a later stage implies the earlier ones). A
  ``closed_lost`` event implies the opportunity step. Time in stage is measured only where
  both stage timestamps exist (first event of each stage).
- **Rates** are lifetime-to-date: of those that reached ``from_stage``, the share that
  reached ``to_stage`` by the end of the data. Open deals count as not advanced, so recent
  cohorts look worse (right censoring); the weekly series uses a fixed window instead.
- **Channel** of an entity = the channel of its first touch (sourced channel, as in
  ``b2b.md``); entities without touches are ``(no touch)``.
- **Cohort** = the calendar month (UTC) of the entity's first stage event.
- **Weakest stage**: with ``benchmarks`` (step -> rate), the step with the lowest
  rate / benchmark; without, the step with the lowest conversion rate in the data (where the
  largest share of those entering is lost). The output says which.
- **Pipeline velocity** = opportunities x win rate x average deal / cycle days, where
  opportunities = the average number open on a day over the data's span (the days each
  was open, to its close or the end of the data, summed and divided by the span), win
  rate = won / (won + lost) on closed opportunities, average deal = mean ``value`` of
  ``closed_won`` events and cycle days = mean days from opportunity to ``closed_won``. In
  currency per day.
- **Weekly series and alerts** (weeks start on Monday, UTC; only weeks fully inside the
  data's time span): ``leads``, ``mqls``, each step's rate within ``rate_window_days`` of
  entering (weeks whose window is not complete at the end of the data are left out) and,
  with spend, ``cost_per_lead`` (monthly spend spread evenly over the month's days). A week
  alerts when its robust z-score against the ``trailing_weeks`` weeks before it exceeds
  ``threshold`` in absolute value: ``z = 0.6745 (x - median) / MAD`` (Iglewicz & Hoaglin);
  when MAD is 0, ``z = (x - median) / (1.2533 * mean absolute deviation)``; when both are
  0, z is 0 if x equals the median and infinite otherwise. The first ``trailing_weeks``
  weeks have no baseline and never alert.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._files import write_json_atomic
from attribution.exceptions import InputError, ModelParameterError
from attribution.inputs._schema import ROW, SPEND, STAGES, TOUCHES, load
from attribution.inputs._sources import TableLike
from attribution.inputs._taxonomy import derive_channels, load_rules

DEFAULT_STEPS: tuple[str, ...] = ("lead", "mql", "sql", "opportunity", "closed_won")
NO_TOUCH = "(no touch)"
_DAY_US = 86_400_000_000.0
_MAD_SCALE = 0.6745
_MEANAD_SCALE = 1.253314

FUNNEL_SCHEMA = pl.Schema(
    {
        "dimension": pl.String(),
        "group": pl.String(),
        "from_stage": pl.String(),
        "to_stage": pl.String(),
        "entered": pl.Int64(),
        "advanced": pl.Int64(),
        "rate": pl.Float64(),
        "median_days_in_stage": pl.Float64(),
        "p75_days_in_stage": pl.Float64(),
    }
)
WEEKLY_SCHEMA = pl.Schema(
    {
        "week": pl.Date(),
        "metric": pl.String(),
        "value": pl.Float64(),
        "baseline": pl.Float64(),
        "robust_z": pl.Float64(),
        "alert": pl.Boolean(),
    }
)


@dataclass
class Funnel:
    """What :func:`funnel` returns.

    Attributes
    ----------
    table : pl.DataFrame
        ``dimension`` (``all`` | ``channel`` | ``cohort``), ``group``, ``from_stage``,
        ``to_stage``, ``entered``, ``advanced``, ``rate``, ``median_days_in_stage``,
        ``p75_days_in_stage``; for ``all`` also ``benchmark`` and ``gap_to_benchmark``.
    weekly : pl.DataFrame
        ``week``, ``metric``, ``value``, ``baseline`` (trailing median), ``robust_z``,
        ``alert``.
    velocity : pl.DataFrame
        Pipeline velocity overall and by channel: ``dimension``, ``group``,
        ``opportunities``, ``won``, ``lost``, ``win_rate``, ``average_deal``, ``cycle_days``,
        ``velocity_per_day``.
    weakest : dict
        The weakest step, its rate, what it was judged against.
    parameters, notes : dict
        Parameters used and the method notes (the module docstring, in parts).
    """

    table: pl.DataFrame
    weekly: pl.DataFrame
    velocity: pl.DataFrame
    weakest: dict[str, Any]
    parameters: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    def overall(self) -> pl.DataFrame:
        """The ``all`` rows of :attr:`table`: one row per step."""
        return self.table.filter(pl.col("dimension") == "all")

    def write(self, directory: str | Path) -> Path:
        """Write ``funnel.parquet``, ``funnel_weekly.parquet``, ``funnel_velocity.parquet``
        and ``funnel.json`` into ``directory`` (created if needed); return it."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in (
            ("funnel", self.table),
            ("funnel_weekly", self.weekly),
            ("funnel_velocity", self.velocity),
        ):
            tmp = out / f".{name}.parquet.tmp"
            frame.write_parquet(tmp)
            os.replace(tmp, out / f"{name}.parquet")
        overall_velocity = self.velocity.filter(pl.col("dimension") == "all").to_dicts()
        write_json_atomic(
            out / "funnel.json",
            _jsonable(
                {
                    "weakest_stage": self.weakest,
                    "pipeline_velocity": overall_velocity[0] if overall_velocity else None,
                    "alert_rule": self.notes.get("alert_rule"),
                    "alerts": self.weekly.filter(pl.col("alert"))
                    .select("week", "metric", "value", "baseline", "robust_z")
                    .with_columns(pl.col("week").cast(pl.String))
                    .to_dicts(),
                    "counts": self.counts,
                    "parameters": self.parameters,
                    "notes": self.notes,
                }
            ),
        )
        return out

    def summary(self) -> str:
        """A short readable report: step rates, the weakest stage, velocity and alerts."""
        lines = ["Funnel (lifetime-to-date step rates, median days in stage):"]
        for r in self.overall().iter_rows(named=True):
            days = r["median_days_in_stage"]
            lines.append(
                f"  {r['from_stage']:>12} -> {r['to_stage']:<12} {r['advanced']:>6,} / "
                f"{r['entered']:<6,} {_pct(r['rate']):>6}   "
                + (f"{days:.1f} days" if days is not None else "-")
            )
        w = self.weakest
        if w:
            lines.append(
                f"Weakest stage: {w['from_stage']} -> {w['to_stage']} at {_pct(w['rate'])} "
                f"(judged against {w['judged_against']})."
            )
        overall = self.velocity.filter(pl.col("dimension") == "all")
        if overall.height:
            v = overall.row(0, named=True)
            if v["velocity_per_day"] is not None:
                lines.append(
                    f"Pipeline velocity: {v['opportunities']:,.0f} open opportunities x "
                    f"{_pct(v['win_rate'])} win rate x ${v['average_deal']:,.0f} average deal / "
                    f"{v['cycle_days']:.1f} cycle days = ${v['velocity_per_day']:,.0f} per day."
                )
        alerts = self.weekly.filter(pl.col("alert"))
        lines.append(
            f"Weekly alerts: {alerts.height} ({self.notes.get('alert_rule_short', '')})"
            + (":" if alerts.height else ".")
        )
        lines.extend(
            f"  week of {r['week']}: {r['metric']} = {r['value']:,.3g} "
            f"(trailing median {r['baseline']:,.3g}, robust z {r['robust_z']:+.1f})"
            for r in alerts.sort("week").head(8).iter_rows(named=True)
        )
        if alerts.height > 8:
            lines.append(f"  ... and {alerts.height - 8} more in funnel_weekly.parquet")
        return "\n".join(lines)


def funnel(
    stages: TableLike,
    touches: TableLike | None = None,
    spend: TableLike | None = None,
    *,
    steps: Sequence[str] = DEFAULT_STEPS,
    lost_stage: str = "closed_lost",
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    benchmarks: Mapping[str, float] | None = None,
    trailing_weeks: int = 12,
    threshold: float = 3.5,
    rate_window_days: int = 30,
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
        Step rate benchmarks, keyed ``"mql->sql"`` (or ``"mql"``, the from-stage); the
        weakest stage is then judged against them.
    trailing_weeks, threshold
        Alert rule: robust z against the previous ``trailing_weeks`` weeks, alert when
        ``|z| > threshold``.
    rate_window_days
        Weekly step rates count advances within this many days of entering.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution.b2b._funnel import funnel
    >>> stages = pl.DataFrame({"contact_id": ["a", "a", "b"], "stage": ["lead", "mql", "lead"],
    ...     "timestamp": ["2025-01-01", "2025-01-03", "2025-01-02"]})
    >>> f = funnel(stages)
    >>> f.overall().select("from_stage", "entered", "advanced", "rate").row(0)
    ('lead', 2, 1, 0.5)
    """
    steps = list(steps)
    _check_params(steps, trailing_weeks, threshold, rate_window_days)
    columns = columns or {}
    table = load(stages, STAGES, columns=columns.get("stages"))
    frame = table.frame
    renames = {
        theirs: ours
        for ours, names in (stage_names or {}).items()
        for theirs in ([names] if isinstance(names, str) else names)
    }
    if renames:
        frame = frame.with_columns(pl.col("stage").replace(renames))
    key = "contact_id" if "contact_id" in frame.columns else "account_id"
    without_key = int(frame.get_column(key).null_count())
    frame = frame.filter(pl.col(key).is_not_null())
    known = [*steps, lost_stage]
    unknown = frame.filter(~pl.col("stage").is_in(known))
    if frame.height and unknown.height == frame.height:
        raise InputError(
            f"no stage matches the funnel steps {known}; found "
            f"{unknown.get_column('stage').unique().sort().head(8).to_list()}",
            table="stages",
            source=table.source.name,
            column="stage",
            rows=unknown.get_column(ROW).head(5).to_list(),
            hint="map your stage names in [stage_names] of the config (ours = 'theirs')",
        )
    wide = _entities(frame, key, steps, lost_stage)
    channel_of = _sourced_channels(touches, key, columns.get("touches"))
    if channel_of is not None:
        wide = wide.join(channel_of, on=key, how="left").with_columns(
            pl.col("channel").fill_null(NO_TOUCH)
        )
    long = _step_rows(wide, steps)
    groups: list[tuple[str, pl.Expr]] = [
        ("all", pl.lit("all")),
        ("cohort", pl.col("cohort")),
    ]
    if channel_of is not None:
        groups.insert(1, ("channel", pl.col("channel")))
    parts = [
        long.with_columns(pl.lit(dim).alias("dimension"), expr.cast(pl.String).alias("group"))
        .group_by("dimension", "group", "step", "from_stage", "to_stage")
        .agg(
            pl.col("entered").sum().cast(pl.Int64),
            pl.col("advanced").sum().cast(pl.Int64),
            pl.col("days").median().alias("median_days_in_stage"),
            pl.col("days").quantile(0.75, "linear").alias("p75_days_in_stage"),
        )
        for dim, expr in groups
    ]
    rates = (
        pl.concat(parts)
        .with_columns(
            pl.when(pl.col("entered") > 0)
            .then(pl.col("advanced") / pl.col("entered"))
            .otherwise(None)
            .alias("rate")
        )
        .sort(
            pl.col("dimension").replace_strict({"all": 0, "channel": 1, "cohort": 2}),
            "group",
            "step",
        )
        .select(*FUNNEL_SCHEMA.names())
    )
    rates, weakest = _weakest(rates, steps, benchmarks)
    span: tuple[Any, Any] = (
        frame.get_column("timestamp").min(),
        frame.get_column("timestamp").max(),
    )
    velocity = _velocity(wide, steps, span[1], has_channel=channel_of is not None)
    spend_frame = None
    if spend is not None:
        spend_frame = load(spend, SPEND, columns=columns.get("spend")).frame
    weekly = _weekly(wide, steps, span, spend_frame, trailing_weeks, threshold, rate_window_days)
    rule = (
        f"a week alerts when |robust z| > {threshold}, z = 0.6745 x (value - median) / MAD over "
        f"the previous {trailing_weeks} weeks (Iglewicz-Hoaglin modified z-score); when MAD = 0, "
        f"z = (value - median) / (1.2533 x mean absolute deviation); when both are 0, z = 0 if "
        f"value = median else infinite. The first {trailing_weeks} weeks have no baseline. "
        f"Weeks start on Monday (UTC); partial weeks at the edges of the data are left out."
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
        "velocity": "opportunities x win rate x average deal / cycle days, in currency per "
        "day; opportunities = the average number open on a day over the data's span (days "
        "each was open, to its close or the end of the data, summed, / days in the span); "
        "win rate = won / (won + lost) on closed opportunities; average deal = mean "
        "closed_won value; cycle days = mean days from opportunity to closed_won",
        "weekly_rates": f"<from>_to_<to>_{rate_window_days}d = share of the week's entrants to "
        f"<from> that reach <to> within {rate_window_days} days; weeks whose window is not "
        "complete at the end of the data are left out",
        "cost_per_lead": "weekly spend (each month's spend spread evenly over its days, all "
        "channels) / leads entering that week",
        "alert_rule": rule,
        "alert_rule_short": f"|robust z| > {threshold} vs the trailing {trailing_weeks} weeks",
    }
    return Funnel(
        table=rates,
        weekly=weekly,
        velocity=velocity,
        weakest=weakest,
        parameters={
            "steps": steps,
            "lost_stage": lost_stage,
            "benchmarks": dict(benchmarks or {}),
            "trailing_weeks": trailing_weeks,
            "threshold": threshold,
            "rate_window_days": rate_window_days,
            "key": key,
        },
        notes=notes,
        counts={
            "entities": wide.height,
            "stage_rows": table.rows_in,
            "rows_without_key": without_key,
            "rows_with_other_stages": unknown.height,
            "span": [str(span[0]), str(span[1])],
        },
    )


def _check_params(steps: list[str], trailing: int, threshold: float, window: int) -> None:
    if len(steps) < 2 or len(set(steps)) != len(steps):
        raise ModelParameterError(
            f"The 'steps' parameter of funnel must list 2 or more distinct stages. Got {steps}."
        )
    if not isinstance(trailing, int) or isinstance(trailing, bool) or trailing < 3:
        raise ModelParameterError(
            f"The 'trailing_weeks' parameter of funnel must be an int >= 3. Got {trailing!r}."
        )
    if not (isinstance(threshold, int | float) and threshold > 0):
        raise ModelParameterError(
            f"The 'threshold' parameter of funnel must be a number > 0. Got {threshold!r}."
        )
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise ModelParameterError(
            f"The 'rate_window_days' parameter of funnel must be an int >= 1. Got {window!r}."
        )


def _entities(frame: pl.DataFrame, key: str, steps: list[str], lost: str) -> pl.DataFrame:
    """One row per entity: first time at each step, depth reached, cohort, won value."""
    depth = {s: i for i, s in enumerate(steps)} | {lost: len(steps) - 2}
    value = pl.col("value") if "value" in frame.columns else pl.lit(None, pl.Float64)
    return (
        frame.with_columns(pl.col("stage").replace_strict(depth, default=-1).alias("_depth"))
        .group_by(key)
        .agg(
            *[
                pl.col("timestamp").filter(pl.col("stage") == s).min().alias(f"{s}_at")
                for s in steps
            ],
            pl.col("_depth").max().alias("depth"),
            (pl.col("stage") == lost).any().alias("lost"),
            value.filter(pl.col("stage") == steps[-1]).max().alias("won_value"),
            pl.col("timestamp").min().alias("_first_at"),
            pl.col("timestamp").filter(pl.col("stage") == lost).min().alias("_lost_at"),
        )
        .with_columns(pl.col("_first_at").dt.strftime("%Y-%m").alias("cohort"))
        .sort(key)
    )


def _sourced_channels(
    touches: TableLike | None, key: str, columns: Mapping[str, str] | None
) -> pl.DataFrame | None:
    if touches is None:
        return None
    frame = load(touches, TOUCHES, columns=columns).frame
    if key not in frame.columns:
        raise InputError(
            f"the stages are keyed by '{key}', which the touches do not have",
            table="touches",
            column=key,
        )
    if "channel" not in frame.columns:
        frame, _ = derive_channels(frame, load_rules(None))
    return (
        frame.filter(pl.col(key).is_not_null())
        .group_by(key)
        .agg(pl.col("channel").sort_by("timestamp", ROW).first())
        .with_columns(pl.col("channel").fill_null(NO_TOUCH))
    )


def _step_rows(wide: pl.DataFrame, steps: list[str]) -> pl.DataFrame:
    """Long form: one row per entity and step it entered, with advanced and days in stage."""
    extra = [c for c in ("channel", "cohort") if c in wide.columns]
    parts = []
    for i, (a, b) in enumerate(zip(steps, steps[1:], strict=False)):
        advanced = pl.col("depth") >= i + 1
        parts.append(
            wide.filter(pl.col("depth") >= i).select(
                *extra,
                pl.lit(i).alias("step"),
                pl.lit(a).alias("from_stage"),
                pl.lit(b).alias("to_stage"),
                pl.lit(1).alias("entered"),
                advanced.cast(pl.Int64).alias("advanced"),
                pl.when(advanced)
                .then(_days(pl.col(f"{b}_at") - pl.col(f"{a}_at")))
                .otherwise(None)
                .alias("days"),
            )
        )
    return pl.concat(parts)


def _days(delta: pl.Expr) -> pl.Expr:
    return delta.dt.total_microseconds().cast(pl.Float64) / _DAY_US


def _weakest(
    rates: pl.DataFrame, steps: list[str], benchmarks: Mapping[str, float] | None
) -> tuple[pl.DataFrame, dict[str, Any]]:
    names = {f"{a}->{b}": a for a, b in zip(steps, steps[1:], strict=False)}
    bench: dict[str, float] = {}
    for k, v in (benchmarks or {}).items():
        step = names.get(k, k)
        if step not in steps[:-1]:
            raise ModelParameterError(
                f"The 'benchmarks' parameter of funnel has an unknown step {k!r}; use one of "
                f"{list(names)}."
            )
        if not 0 < float(v) <= 1:
            raise ModelParameterError(
                f"The 'benchmarks' parameter of funnel must hold rates in (0, 1]. Got {k}={v!r}."
            )
        bench[step] = float(v)
    is_all = pl.col("dimension") == "all"
    rates = rates.with_columns(
        pl.when(is_all)
        .then(pl.col("from_stage").replace_strict(bench, default=None, return_dtype=pl.Float64))
        .alias("benchmark")
    ).with_columns((pl.col("rate") / pl.col("benchmark") - 1).alias("gap_to_benchmark"))
    overall = rates.filter(is_all & pl.col("rate").is_not_null())
    if overall.height == 0:
        return rates, {}
    if bench:
        judged = overall.filter(pl.col("benchmark").is_not_null()).sort(
            "gap_to_benchmark", maintain_order=True
        )
        against = "the given benchmarks (lowest rate / benchmark): " + ", ".join(
            f"{k}->{steps[steps.index(k) + 1]} {v:.0%}" for k, v in bench.items()
        )
    else:
        judged = overall.sort("rate", maintain_order=True)
        against = (
            "the data's own step rates, no benchmark given: the step with the lowest "
            "conversion rate, where the largest share of those entering is lost"
        )
    if judged.height == 0:
        return rates, {}
    row = judged.row(0, named=True)
    return rates, {
        "from_stage": row["from_stage"],
        "to_stage": row["to_stage"],
        "rate": row["rate"],
        "entered": row["entered"],
        "advanced": row["advanced"],
        "benchmark": row["benchmark"],
        "gap_to_benchmark": row["gap_to_benchmark"],
        "judged_against": against,
    }


def _velocity(
    wide: pl.DataFrame, steps: list[str], end: datetime | None, *, has_channel: bool
) -> pl.DataFrame:
    opp, won = steps[-2], steps[-1]
    opp_i = len(steps) - 2
    is_opp = pl.col("depth") >= opp_i
    is_won = pl.col("depth") >= opp_i + 1
    opp_at = pl.col(f"{opp}_at")
    # days each opportunity was open within the span: to its close, or to the data's end
    closed_at = pl.coalesce(pl.col(f"{won}_at"), pl.col("_lost_at"), pl.lit(end))
    open_days = _days(closed_at - opp_at).clip(lower_bound=0.0).filter(opp_at.is_not_null())
    aggs = [
        is_opp.sum().cast(pl.Int64).alias("opportunities_total"),
        (open_days.sum() / pl.col("_span_days").first()).alias("opportunities"),
        is_won.sum().cast(pl.Int64).alias("won"),
        (pl.col("lost") & ~is_won).sum().cast(pl.Int64).alias("lost"),
        pl.col("won_value").filter(is_won).mean().alias("average_deal"),
        _days(pl.col(f"{won}_at") - opp_at).filter(is_won).mean().alias("cycle_days"),
    ]
    frame = wide.with_columns(_days(pl.lit(end) - pl.col("_first_at").min()).alias("_span_days"))
    parts = [frame.group_by(pl.lit("all").alias("group")).agg(aggs)]
    if has_channel:
        parts.append(frame.group_by(pl.col("channel").alias("group")).agg(aggs))
    out = pl.concat(
        [
            p.with_columns(pl.lit(d).alias("dimension"))
            for p, d in zip(parts, ["all", "channel"], strict=False)
        ]
    )
    closed = pl.col("won") + pl.col("lost")
    return (
        out.with_columns(
            pl.when(closed > 0).then(pl.col("won") / closed).alias("win_rate"),
        )
        .with_columns(
            pl.when(pl.col("cycle_days") > 0)
            .then(
                pl.col("opportunities")
                * pl.col("win_rate")
                * pl.col("average_deal")
                / pl.col("cycle_days")
            )
            .alias("velocity_per_day")
        )
        .select(
            "dimension",
            "group",
            "opportunities",
            "opportunities_total",
            "won",
            "lost",
            "win_rate",
            "average_deal",
            "cycle_days",
            "velocity_per_day",
        )
        .sort(pl.col("dimension") != "all", "group")
    )


def _weekly(
    wide: pl.DataFrame,
    steps: list[str],
    span: tuple[Any, Any],
    spend: pl.DataFrame | None,
    trailing: int,
    threshold: float,
    window_days: int,
) -> pl.DataFrame:
    start, end = span
    if start is None or wide.height == 0:
        return pl.DataFrame(schema=WEEKLY_SCHEMA)
    first_week, last_week = _full_weeks(start, end)
    if last_week < first_week:
        return pl.DataFrame(schema=WEEKLY_SCHEMA)
    weeks = pl.date_range(first_week, last_week, "1w", eager=True).alias("week")
    series: list[pl.DataFrame] = []
    for metric, stage in (("leads", steps[0]), ("mqls", steps[1])):
        counts = (
            wide.filter(pl.col(f"{stage}_at").is_not_null())
            .group_by(_week_of(f"{stage}_at").alias("week"))
            .agg(pl.len().cast(pl.Float64).alias("value"))
        )
        series.append(
            weeks.to_frame()
            .join(counts, on="week", how="left")
            .select("week", pl.lit(metric).alias("metric"), pl.col("value").fill_null(0.0))
        )
    window = timedelta(days=window_days)
    for a, b in zip(steps, steps[1:], strict=False):
        rate = (
            wide.filter(pl.col(f"{a}_at").is_not_null())
            .group_by(_week_of(f"{a}_at").alias("week"))
            .agg(
                (
                    pl.col(f"{b}_at").is_not_null()
                    & (pl.col(f"{b}_at") - pl.col(f"{a}_at") <= window)
                )
                .mean()
                .alias("value")
            )
        )
        complete = weeks.filter(weeks + timedelta(days=7) + window <= end.date())
        series.append(
            complete.to_frame()
            .join(rate, on="week", how="left")
            .select("week", pl.lit(f"{a}_to_{b}_{window_days}d").alias("metric"), "value")
        )
    if spend is not None:
        series.append(_cost_per_lead(spend, series[0], weeks))
    values = pl.concat(series).sort("metric", "week")
    return _alerts(values, trailing, threshold)


def _full_weeks(start: datetime, end: datetime) -> tuple[date, date]:
    """First and last Monday of the weeks that lie wholly inside ``[start, end]``."""
    day = start.date()
    at_midnight = start == datetime.combine(day, time(0), tzinfo=start.tzinfo)
    first = day if at_midnight and day.weekday() == 0 else day + timedelta(7 - day.weekday())
    last_day = (end - timedelta(days=7)).date()
    return first, last_day - timedelta(days=last_day.weekday())


def _week_of(column: str) -> pl.Expr:
    return pl.col(column).dt.date().dt.truncate("1w")


def _cost_per_lead(spend: pl.DataFrame, leads: pl.DataFrame, weeks: pl.Series) -> pl.DataFrame:
    date_col = "date" if "date" in spend.columns else "month"
    if date_col == "month":
        # monthly amounts spread evenly over the days of the month
        days = spend.select(
            pl.date_ranges(
                pl.col("month").dt.month_start(), pl.col("month").dt.month_end(), "1d"
            ).alias("day"),
            (pl.col("amount") / pl.col("month").dt.days_in_month()).alias("amount"),
        ).explode("day")
    else:
        days = spend.select(pl.col("date").alias("day"), "amount")
    weekly = days.group_by(pl.col("day").dt.truncate("1w").alias("week")).agg(
        pl.col("amount").sum().alias("spend")
    )
    return (
        weeks.to_frame()
        .join(weekly, on="week", how="left")
        .join(leads.select("week", pl.col("value").alias("leads")), on="week", how="left")
        .select(
            "week",
            pl.lit("cost_per_lead").alias("metric"),
            pl.when(pl.col("leads") > 0)
            .then(pl.col("spend").fill_null(0.0) / pl.col("leads"))
            .alias("value"),
        )
    )


def _alerts(values: pl.DataFrame, trailing: int, threshold: float) -> pl.DataFrame:
    """Robust z of each week against the ``trailing`` weeks before it (see module notes)."""
    indexed = values.with_columns(pl.int_range(pl.len()).over("metric").alias("_i"))
    hist = pl.col("value").drop_nulls()
    baseline = indexed.rolling(
        index_column="_i", period=f"{trailing}i", offset=f"-{trailing + 1}i", group_by="metric"
    ).agg(
        hist.median().alias("baseline"),
        (hist - hist.median()).abs().median().alias("_mad"),
        (hist - hist.median()).abs().mean().alias("_meanad"),
        hist.len().alias("_n"),
    )
    diff = pl.col("value") - pl.col("baseline")
    z = (
        pl.when(pl.col("_n") < trailing)
        .then(None)
        .when(pl.col("_mad") > 0)
        .then(_MAD_SCALE * diff / pl.col("_mad"))
        .when(pl.col("_meanad") > 0)
        .then(diff / (_MEANAD_SCALE * pl.col("_meanad")))
        .when(diff == 0)
        .then(0.0)
        .otherwise(diff.sign() * math.inf)
    )
    return (
        indexed.join(baseline, on=["metric", "_i"], how="left")
        .with_columns(
            pl.when(pl.col("_n") >= trailing).then(pl.col("baseline")).alias("baseline"),
            z.alias("robust_z"),
        )
        .with_columns(
            (pl.col("value").is_not_null() & (pl.col("robust_z").abs() > threshold))
            .fill_null(False)
            .alias("alert")
        )
        .select(*WEEKLY_SCHEMA.names())
        .sort("metric", "week")
    )


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1%}"


def _jsonable(value: Any) -> Any:
    """Floats that JSON cannot hold (inf, nan) become null; dates become text."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
