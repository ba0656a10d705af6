"""Sales and marketing SLAs: speed to lead, follow-up, SQL acceptance and the time in each
hand-off stage, against targets, overall and per owner team, with every breach listed.

Rules (also written to ``sla.json``):

- **Unit.** One hand-off per ``contact_id`` (``account_id`` when the stages table has no
  contact column), starting at the entity's **first** ``mql`` event (``sql`` for the SQL ->
  opportunity hand-off); a lead recycled to MQL again is judged on its first hand-off.
- **Sales touches** are rows of the touches table whose ``touch_type`` (trimmed, lower
  case) is one of ``sales_touch_types`` (default ``sales_call``, ``sales_email``,
  ``meeting``), matched to the stages by the same key.
- **Owner team** of a hand-off: ``owner_team`` of its stage event when the stages carry one,
  else that of the first sales touch at or after it, else ``(no team)``. Per-team rows are
  written when the data names any team.
- **As of** (``as_of``): the time "still open" and "overdue" are measured at, the run's
  as-of time as the account engagement takes it: the ``as_of`` option (``--as-of``) when
  given, else the latest timestamp of the stages and touches **not after the run's own
  time** (a meeting scheduled for next week does not move it). Stage events and touches
  dated after it are left out (counted: ``rows_after_as_of``; a hand-off done only after it
  is still open). A hand-off whose deadline is after it and which is not yet done is **not
  judged** (neither met nor breached); one never done by a deadline before it is a breach.
- **speed_to_lead**: hours from the MQL to the first sales touch at or after it; compliant
  within ``speed_to_lead_hours``. ``value`` is the median over the MQLs touched.
- **follow_up**: sales touches in ``[MQL, MQL + follow_up_days]``; compliant with at least
  ``follow_up_touches``. ``value`` is the median count over the MQLs judged.
- **sql_acceptance**: share of MQLs reaching SQL within ``sql_acceptance_days`` (of those
  whose window has closed); ``meets_target`` when it is at least ``sql_acceptance_rate``.
  A rate, not a per-lead promise: MQLs not accepted are not breaches.
- **mql_to_sql**, **sql_to_opportunity**: days from the stage's first event to the next
  stage's first event at or after it; compliant within the target days. Only hand-offs
  that advanced are judged; ``value`` is their median.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from attribution.b2b._engagement import check_as_of
from attribution.b2b._shared import jsonable, load_stage_events, pct
from attribution.b2b._sla_metrics import (
    BREACH,
    COMPLIANT,
    ITEM_SCHEMA,
    METRICS,
    NO_TEAM,
    NOT_JUDGED,
    first_events,
    follow_up,
    hand_off,
    next_event,
    sales_touches,
    speed_to_lead,
    sql_acceptance,
    with_team,
)
from attribution.b2b._sla_targets import SLA_DEFAULTS, SLA_SOURCES, check_sla_settings
from attribution.engine._files import RunFiles, write_json_atomic, write_parquet_atomic
from attribution.exceptions import InputError
from attribution.inputs._formats import resolve_formats
from attribution.inputs._schema import TOUCHES, Table, load
from attribution.typing import TableLike

__all__ = ["BREACHES_SCHEMA", "NO_TEAM", "SLA", "SLA_DEFAULTS", "SLA_SCHEMA", "sla"]

SLA_SCHEMA = pl.Schema(
    {
        "metric": pl.String(),
        "owner_team": pl.String(),
        "unit": pl.String(),
        "target": pl.Float64(),
        "target_rule": pl.String(),
        "entered": pl.Int64(),
        "judged": pl.Int64(),
        "not_judged": pl.Int64(),
        "value": pl.Float64(),
        "p90": pl.Float64(),
        "compliant": pl.Int64(),
        "compliance_share": pl.Float64(),
        "breaches": pl.Int64(),
        "meets_target": pl.Boolean(),
    }
)
BREACHES_SCHEMA = pl.Schema(
    {
        "metric": pl.String(),
        "owner_team": pl.String(),
        "contact_id": pl.String(),
        "account_id": pl.String(),
        "started_at": pl.Datetime("us", "UTC"),
        "deadline": pl.Datetime("us", "UTC"),
        "completed_at": pl.Datetime("us", "UTC"),
        "late_hours": pl.Float64(),
        "sales_touches": pl.Int64(),
    }
)


@dataclass
class SLA:
    """What :func:`sla` returns.

    Attributes
    ----------
    table : pl.DataFrame
        One row per metric overall (``owner_team`` null) and per owner team
        (:data:`SLA_SCHEMA`): the target and its rule, hand-offs ``entered``, ``judged`` and
        ``not_judged``, ``value`` (median hours / days / sales touches, or the acceptance
        rate), ``p90``, ``compliant``, ``compliance_share`` (compliant / judged),
        ``breaches`` and, for the acceptance rate, ``meets_target``.
    breaches : pl.DataFrame
        One row per breach (:data:`BREACHES_SCHEMA`): the metric, team, contact / account,
        when the hand-off started, its deadline, when it was done (null: never) and
        ``late_hours`` (done, or the as-of time when never, minus the deadline); longest
        first within each metric.
    settings, notes, counts : dict
        The targets used, the rules and where each default comes from, and the counts.
    """

    table: pl.DataFrame
    breaches: pl.DataFrame
    settings: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, Any] = field(default_factory=dict)

    def overall(self) -> pl.DataFrame:
        """The rows of :attr:`table` over every team (``owner_team`` null)."""
        return self.table.filter(pl.col("owner_team").is_null())

    def write(self, directory: str | Path) -> Path:
        """Write ``sla.parquet``, ``sla_breaches.parquet`` and ``sla.json`` into
        ``directory`` (created if needed); return it."""
        out = Path(directory)
        write_parquet_atomic(out / RunFiles.SLA, self.table)
        write_parquet_atomic(out / RunFiles.SLA_BREACHES, self.breaches)
        write_json_atomic(
            out / RunFiles.SLA_JSON,
            jsonable(
                {
                    "overall": self.overall().to_dicts(),
                    "settings": {
                        k: list(v) if isinstance(v, tuple) else v for k, v in self.settings.items()
                    },
                    "counts": self.counts,
                    "notes": self.notes,
                }
            ),
        )
        return out

    def summary(self) -> str:
        """A few readable lines: each metric against its target, the breaches, the teams."""
        s = self.settings
        lines = ["SLAs (hand-offs from MQL; targets from [sla] or the defaults):"]
        if self.counts.get("as_of_from"):
            after = self.counts.get("rows_after_as_of") or {}
            left = (
                f"; {after.get('stages', 0):,} stage event(s) and {after.get('touches', 0):,} "
                "touch(es) dated after it left out (--as-of sets the time)"
                if after.get("stages") or after.get("touches")
                else ""
            )
            lines.append(
                f"  open and overdue as of {self.counts.get('as_of')} "
                f"({self.counts['as_of_from']}){left}"
            )
        rows = {r["metric"]: r for r in self.overall().iter_rows(named=True)}
        never = self.breaches.filter(
            (pl.col("metric") == "speed_to_lead") & pl.col("completed_at").is_null()
        ).height
        r = rows.get("speed_to_lead")
        if r is not None:
            lines.append(
                f"  speed to lead: median {_num(r['value'], ' h')}, "
                f"{pct(r['compliance_share'])} within the {s['speed_to_lead_hours']:g} h "
                f"target; {_breaches_text(r['breaches'])} ({never:,} never touched), "
                f"{r['not_judged']:,} not yet due"
            )
        r = rows.get("follow_up")
        if r is not None:
            lines.append(
                f"  follow-up: {pct(r['compliance_share'])} of MQLs had >= "
                f"{s['follow_up_touches']} sales touches within {s['follow_up_days']:g} days; "
                f"{_breaches_text(r['breaches'])}"
            )
        r = rows.get("sql_acceptance")
        if r is not None:
            met = {True: "met", False: "missed", None: "not judged"}[r["meets_target"]]
            lines.append(
                f"  SQL acceptance: {pct(r['value'])} of MQLs became SQL within "
                f"{s['sql_acceptance_days']:g} days (target >= {pct(s['sql_acceptance_rate'])}:"
                f" {met}; {r['judged']:,} MQLs judged)"
            )
        for metric, label in (("mql_to_sql", "MQL -> SQL"), ("sql_to_opportunity", "SQL -> opp")):
            r = rows.get(metric)
            if r is not None and r["judged"]:
                lines.append(
                    f"  {label}: median {_num(r['value'], ' days')}, "
                    f"{pct(r['compliance_share'])} within {r['target']:g} days; "
                    f"{_breaches_text(r['breaches'])}"
                )
            elif r is not None:
                lines.append(f"  {label}: none of {r['entered']:,} has advanced yet")
        if self.notes.get("skipped"):
            lines.extend(f"  {note}" for note in self.notes["skipped"])
        teams = self.table.filter(
            (pl.col("metric") == "speed_to_lead") & pl.col("owner_team").is_not_null()
        ).sort("compliance_share", descending=True, nulls_last=True)
        if teams.height:
            lines.append(
                "  speed to lead by owner team: "
                + ", ".join(
                    f"{t['owner_team']} {pct(t['compliance_share'])}"
                    for t in teams.head(6).iter_rows(named=True)
                )
                + (f" (+{teams.height - 6} more)" if teams.height > 6 else "")
            )
        lines.append(
            f"  {self.breaches.height:,} breaches listed in sla_breaches.parquet; per team in "
            "sla.parquet"
        )
        return "\n".join(lines)


def _breaches_text(n: int) -> str:
    return f"{n:,} breach" + ("" if n == 1 else "es")


def _num(x: float | None, unit: str) -> str:
    return "-" if x is None else f"{x:,.1f}{unit}"


def sla(
    stages: TableLike,
    touches: TableLike,
    *,
    settings: Mapping[str, Any] | None = None,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
    as_of: datetime | date | str | None = None,
    now: datetime | None = None,
) -> SLA:
    """Sales and marketing SLAs from stage events and sales touches (rules: module notes).

    Parameters
    ----------
    stages
        CRM stage events (``timestamp``, ``stage``, ``contact_id`` or ``account_id``,
        optional ``owner_team``).
    touches
        The touch log; its rows whose ``touch_type`` is a sales touch type are the sales
        touches (optional ``owner_team``).
    settings
        ``[sla]`` keys, any subset (:data:`SLA_DEFAULTS` for the rest): ``sales_touch_types``,
        ``speed_to_lead_hours``, ``follow_up_touches``, ``follow_up_days``,
        ``sql_acceptance_rate``, ``sql_acceptance_days``, ``mql_to_sql_days``,
        ``sql_to_opportunity_days``.
    stage_names, columns, timestamp_formats
        As for :func:`attribution.funnel`.
    as_of
        The time open and overdue hand-offs are measured at (the run's ``as_of``,
        ``--as-of``; a date alone is the end of that day); default: the latest stage or
        touch time not after ``now``.
    now
        The run's own time (default: the current UTC time).

    Raises
    ------
    InputError
        A bad setting (named), or stages with neither an ``mql`` nor an ``sql`` event.

    Examples
    --------
    >>> import polars as pl
    >>> from attribution import sla
    >>> stages = pl.DataFrame({"contact_id": ["a", "a"], "stage": ["mql", "sql"],
    ...     "timestamp": ["2025-01-01T09:00:00Z", "2025-01-05T09:00:00Z"]})
    >>> touches = pl.DataFrame({"contact_id": ["a"], "channel": ["sales"],
    ...     "touch_type": ["sales_call"], "timestamp": ["2025-01-01T12:00:00Z"]})
    >>> sla(stages, touches).overall().select("metric", "value").row(0)
    ('speed_to_lead', 3.0)
    """
    s = check_sla_settings(settings)
    columns = columns or {}
    stage_table, frame, key = load_stage_events(
        stages, stage_names=stage_names, columns=columns, timestamp_formats=timestamp_formats
    )
    frame = frame.filter(pl.col(key).is_not_null())
    _check_start_stages(stage_table, frame)
    wanted = {"timestamp", "contact_id", "account_id", "touch_type", "owner_team"}
    touch_table = load(
        touches,
        TOUCHES,
        columns=columns.get("touches"),
        formats=resolve_formats(timestamp_formats, "touches"),
        keep=lambda present: wanted,
    )
    touch_frame = touch_table.frame
    if key not in touch_frame.columns:
        raise touch_table.error(
            InputError(
                f"the stages are keyed by '{key}', which the touches do not have",
                table="touches",
                source=touch_table.source.name,
                column=key,
            )
        )
    given = check_as_of(as_of)
    cutoff = given or now or datetime.now(UTC)
    limit = pl.lit(cutoff, pl.Datetime("us", "UTC"))
    ends = pl.concat([frame.select("timestamp"), touch_frame.select("timestamp")])
    reference: datetime | None = given or ends.get_column("timestamp").filter(
        ends.get_column("timestamp") <= cutoff
    ).max()  # type: ignore[assignment]
    # what is dated after the as-of time has not happened yet, as of it: left out, counted
    after = {
        "stages": int(frame.select((pl.col("timestamp") > limit).sum()).item()),
        "touches": int(touch_frame.select((pl.col("timestamp") > limit).sum()).item()),
    }
    if reference is not None and given is None:
        limit = pl.lit(reference, pl.Datetime("us", "UTC"))
    frame = frame.filter(pl.col("timestamp") <= limit)
    touch_frame = touch_frame.filter(pl.col("timestamp") <= limit)
    types: tuple[str, ...] = s["sales_touch_types"]
    sales = (
        sales_touches(touch_frame, key, types)
        if "touch_type" in touch_frame.columns
        else sales_touches(
            touch_frame.with_columns(pl.lit(None, pl.String).alias("touch_type")), key, types
        )
    )
    items, skipped = _all_items(frame, sales, key, s, reference)
    has_teams = items.select((pl.col("owner_team") != NO_TEAM).any()).item() or False
    table = _table(items, s, per_team=bool(has_teams))
    breaches = _breaches(items, key, reference)
    return SLA(
        table=table,
        breaches=breaches,
        settings=s,
        notes={
            "rules": __doc__.split("Rules (also written to ``sla.json``):", 1)[1].strip()
            if __doc__
            else "",
            "defaults_from": dict(SLA_SOURCES),
            "skipped": skipped,
        },
        counts={
            "key": key,
            "stage_rows": stage_table.rows_in,
            "touch_rows": touch_table.rows_in,
            "sales_touches": sales.height,
            "teams": sorted(
                t for t in items.get_column("owner_team").unique().to_list() if t != NO_TEAM
            ),
            "as_of": reference.isoformat() if reference is not None else None,
            "as_of_from": "the as_of option"
            if given is not None
            else "the latest touch or stage time not after the run's time",
            "run_time": cutoff.isoformat(),  # apart: the summary is the same for every run
            "rows_after_as_of": after,
        },
    )


def _check_start_stages(stage_table: Table, frame: pl.DataFrame) -> None:
    """An InputError naming the stages file and its stage column when no event of ``frame``
    (the stage events, names mapped to ours) is an ``mql`` or ``sql``: the SLAs start there.
    No line is named: no row is wrong, one is missing."""
    if frame.height and not frame.select(pl.col("stage").is_in(["mql", "sql"]).any()).item():
        found = frame.get_column("stage").unique().sort().head(8).to_list()
        raise stage_table.error(
            InputError(
                "the SLAs start at an 'mql' or 'sql' stage event, and no event is one; the "
                f"stages found are {found}",
                table="stages",
                source=stage_table.source.name,
                column="stage",
                hint="map your stage names in [stage_names] of the config (ours = 'theirs'), "
                "or run without --sla / [sla]",
            )
        )


def check_sla_stages(
    stages: TableLike,
    *,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    timestamp_formats: Sequence[str] | Mapping[str, str | Sequence[str]] | None = None,
) -> None:
    """What :func:`sla` needs of the stages, checked before a run computes anything
    (``attribution run --sla``): an ``mql`` or ``sql`` event, else the InputError
    :func:`sla` would raise after every model has run."""
    stage_table, frame, key = load_stage_events(
        stages, stage_names=stage_names, columns=columns, timestamp_formats=timestamp_formats
    )
    _check_start_stages(stage_table, frame.filter(pl.col(key).is_not_null()))


def _all_items(
    stages: pl.DataFrame,
    sales: pl.DataFrame,
    key: str,
    s: Mapping[str, Any],
    as_of: datetime | None,
) -> tuple[pl.DataFrame, list[str]]:
    """Every metric's items, and the notes of the metrics not measured (and why)."""
    skipped: list[str] = []
    parts: list[pl.DataFrame] = []
    if as_of is None:
        return pl.DataFrame(schema=ITEM_SCHEMA), ["no stage events: nothing to measure"]
    mqls = first_events(stages, key, "mql")
    sqls = first_events(stages, key, "sql")
    if not mqls.height:
        skipped.append(
            "no 'mql' stage event: speed to lead, follow-up, SQL acceptance and "
            "MQL -> SQL not measured"
        )
    else:
        mqls = with_team(next_event(mqls, stages, key, "sql", "sql_at"), sales, key)
        if sales.height:
            parts.append(speed_to_lead(mqls, key, s["speed_to_lead_hours"], as_of))
            parts.append(
                follow_up(mqls, sales, key, s["follow_up_touches"], s["follow_up_days"], as_of)
            )
        else:
            skipped.append(
                "no sales touch (touch_type "
                + ", ".join(s["sales_touch_types"])
                + "; map yours in [sla] sales_touch_types): speed to lead and follow-up not "
                "measured"
            )
        parts.append(sql_acceptance(mqls, key, s["sql_acceptance_days"], as_of))
        parts.append(hand_off(mqls, key, "mql_to_sql", "sql_at", s["mql_to_sql_days"]))
    if sqls.height:
        sqls = with_team(next_event(sqls, stages, key, "opportunity", "opp_at"), sales, key)
        parts.append(
            hand_off(sqls, key, "sql_to_opportunity", "opp_at", s["sql_to_opportunity_days"])
        )
    else:
        skipped.append("no 'sql' stage event: SQL -> opportunity not measured")
    if not parts:
        return pl.DataFrame(schema=ITEM_SCHEMA), skipped
    return pl.concat(parts, how="vertical"), skipped


_TARGETS = {  # metric -> (its [sla] target key, the rule written beside the target)
    "speed_to_lead": ("speed_to_lead_hours", "first sales touch within {:g} h of the MQL"),
    "follow_up": (
        "follow_up_touches",
        "at least {:g} sales touches within {days:g} days of the MQL",
    ),
    "sql_acceptance": (
        "sql_acceptance_rate",
        "at least {:.0%} of MQLs reach SQL within {acceptance:g} days",
    ),
    "mql_to_sql": ("mql_to_sql_days", "MQL to SQL within {:g} days"),
    "sql_to_opportunity": ("sql_to_opportunity_days", "SQL to opportunity within {:g} days"),
}


def _table(items: pl.DataFrame, s: Mapping[str, Any], *, per_team: bool) -> pl.DataFrame:
    """One row per metric (and per team with ``per_team``): :data:`SLA_SCHEMA`."""
    status = pl.col("status")
    judged = status != NOT_JUDGED
    aggs = [
        pl.len().cast(pl.Int64).alias("entered"),
        judged.sum().cast(pl.Int64).alias("judged"),
        (~judged).sum().cast(pl.Int64).alias("not_judged"),
        (status == COMPLIANT).sum().cast(pl.Int64).alias("compliant"),
        (status == BREACH).sum().cast(pl.Int64).alias("breaches"),
        pl.col("measure").median().alias("_median"),
        pl.col("measure").quantile(0.9, "linear").alias("p90"),
    ]
    groups = [
        items.group_by("metric").agg(aggs).with_columns(pl.lit(None, pl.String).alias("owner_team"))
    ]
    if per_team:
        groups.append(items.group_by("metric", "owner_team").agg(aggs))
    targets = {m: float(s[k]) for m, (k, _) in _TARGETS.items()}
    rules = {
        m: rule.format(float(s[k]), days=s["follow_up_days"], acceptance=s["sql_acceptance_days"])
        for m, (k, rule) in _TARGETS.items()
    }
    rate = pl.col("metric") == "sql_acceptance"
    share = pl.when(pl.col("judged") > 0).then(pl.col("compliant") / pl.col("judged"))
    rows = (
        pl.concat([g.select(sorted(g.columns)) for g in groups], how="vertical")
        .with_columns(
            pl.col("metric").replace_strict(METRICS, return_dtype=pl.String).alias("unit"),
            pl.col("metric").replace_strict(targets, return_dtype=pl.Float64).alias("target"),
            pl.col("metric").replace_strict(rules, return_dtype=pl.String).alias("target_rule"),
            share.alias("compliance_share"),
        )
        .with_columns(
            pl.when(rate).then(pl.col("compliance_share")).otherwise("_median").alias("value"),
            pl.when(rate).then(None).otherwise("p90").alias("p90"),
            pl.when(rate).then(None).otherwise("breaches").alias("breaches"),
            pl.when(rate)
            .then(pl.col("compliance_share") >= pl.col("target"))
            .alias("meets_target"),
        )
    )
    order = {m: i for i, m in enumerate(METRICS)}
    return (
        rows.sort(
            pl.col("metric").replace_strict(order, return_dtype=pl.Int64),
            pl.col("owner_team").is_not_null(),
            "owner_team",
        )
        .select(SLA_SCHEMA.names())
        .cast(SLA_SCHEMA)
    )


def _breaches(items: pl.DataFrame, key: str, as_of: datetime | None) -> pl.DataFrame:
    """The breached items, longest first within each metric: :data:`BREACHES_SCHEMA`."""
    if as_of is None or not items.height:
        return pl.DataFrame(schema=BREACHES_SCHEMA)
    late = pl.coalesce("completed_at", pl.lit(as_of)) - pl.col("deadline")
    order = {m: i for i, m in enumerate(METRICS)}
    contact = pl.col("entity") if key == "contact_id" else pl.lit(None, pl.String)
    account = pl.col("account_id") if key == "contact_id" else pl.col("entity")
    return (
        items.filter(pl.col("status") == BREACH)
        .select(
            "metric",
            "owner_team",
            contact.alias("contact_id"),
            account.alias("account_id"),
            "started_at",
            "deadline",
            "completed_at",
            (late.dt.total_microseconds().cast(pl.Float64) / 3.6e9).alias("late_hours"),
            "sales_touches",
        )
        .sort(
            pl.col("metric").replace_strict(order, return_dtype=pl.Int64),
            pl.col("late_hours"),
            "contact_id",
            "account_id",
            descending=[False, True, False, False],
            nulls_last=True,
        )
        .cast(BREACHES_SCHEMA)
    )
