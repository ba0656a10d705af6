"""Funnel stage rates: one row per entity with its first time at each step, the step rows
(entered, advanced, days in stage), their rates overall, by channel and by cohort, and the
weakest step (the rules are in :mod:`attribution.b2b._funnel`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from attribution.b2b._shared import is_number
from attribution.exceptions import ModelParameterError
from attribution.inputs._benchmarks import Benchmarks, gap_expr, load_benchmarks

if TYPE_CHECKING:
    from attribution.inputs._account_inputs import Accounts

__all__ = [
    "NO_ACCOUNT",
    "attach_segments",
    "DIMENSIONS",
    "FUNNEL_SCHEMA",
    "RANGE_COLUMNS",
    "days",
    "entities",
    "judge_steps",
    "mark_unmeasured",
    "other_stage_lines",
    "out_of_order",
    "stage_rates",
    "step_ranges",
    "step_rows",
    "unmeasured_series",
    "unmeasured_steps",
]

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


_DAY_US = 86_400_000_000.0
#: The segment of an account-level funnel's entity without any account (see
#: :func:`attach_segments`).
NO_ACCOUNT: Final = "(no account)"


def days(delta: pl.Expr) -> pl.Expr:
    """A duration expression in (fractional) days."""
    return delta.dt.total_microseconds().cast(pl.Float64) / _DAY_US


def entities(frame: pl.DataFrame, key: str, steps: list[str], lost: str) -> pl.DataFrame:
    """One row per entity: first time at each step, depth reached, cohort, won value and
    its account (``_account``: the key at account level; else the first ``account_id`` of
    its stage events, null without one)."""
    depth = {s: i for i, s in enumerate(steps)} | {lost: len(steps) - 2}
    value = pl.col("value") if "value" in frame.columns else pl.lit(None, pl.Float64)
    # the entity's account: the key itself, else the first account its stage events name
    account = (
        [pl.col("account_id").drop_nulls().first().alias("_account")]
        if key != "account_id" and "account_id" in frame.columns
        else []
    )
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
            *_opportunity_amount(frame, steps[-2], lost),
            pl.col("timestamp").min().alias("_first_at"),
            pl.col("timestamp").filter(pl.col("stage") == lost).min().alias("_lost_at"),
            *account,
        )
        .with_columns(pl.col("_first_at").dt.strftime("%Y-%m").alias("cohort"))
        .with_columns(*([] if account else [pl.col(key).alias("_account")]))
        .sort(key)
    )


def attach_segments(
    wide: pl.DataFrame,
    accounts: Accounts,
    contacts: pl.DataFrame | None,
    key: str,
    own: bool,
    level: str | None = None,
) -> pl.DataFrame:
    """``wide`` (:func:`entities`) with each entity's ``segment``. With ``contacts`` (the
    run's contacts table) an entity keyed by contact takes its contact's account where its
    stage events (``own``: they have an ``account_id`` column) name none, as the run's
    journeys do; one with no account either way is ``unknown`` at contact level (it has a
    journey), :data:`NO_ACCOUNT` when ``level`` is ``"account"``: the run leaves it out of
    its journeys, so ``unknown`` means what it means in the economics (an account the
    accounts table lacks)."""
    if contacts is None or key != "contact_id":
        return accounts.attach(wide, ("segment",), key="_account")
    mapping = contacts.filter(pl.col("account_id").is_not_null()).select(
        "contact_id", pl.col("account_id").cast(pl.String).alias("_of_contact")
    )
    ours = pl.col("_account") if own else pl.lit(None, pl.String)
    wide = wide.join(
        mapping.unique("contact_id"), on="contact_id", how="left", maintain_order="left"
    ).with_columns(pl.coalesce(ours, pl.col("_of_contact")).alias("_account"))
    found = accounts.attach(wide.drop("_of_contact"), ("segment",), key="_account")
    if level != "account":
        return found
    return found.with_columns(
        pl.when(pl.col("_account").is_null())
        .then(pl.lit(NO_ACCOUNT))
        .otherwise(pl.col("segment"))
        .alias("segment")
    )


def _opportunity_amount(frame: pl.DataFrame, opportunity: str, lost: str) -> list[pl.Expr]:
    """``_opportunity_value`` (in a group-by of one entity): the amount of its opportunity,
    the value of its first opportunity event that has one, else of its lost event (the
    won value is taken later); nothing without a ``value`` column."""
    if "value" not in frame.columns:
        return [pl.lit(None, pl.Float64).alias("_opportunity_value")]
    at_opp = (pl.col("stage") == opportunity) & pl.col("value").is_not_null()
    return [
        pl.coalesce(
            pl.col("value").filter(at_opp).sort_by(pl.col("timestamp").filter(at_opp)).first(),
            pl.col("value").filter(pl.col("stage") == lost).max(),
        ).alias("_opportunity_value")
    ]


def step_rows(wide: pl.DataFrame, steps: list[str]) -> pl.DataFrame:
    """Long form: one row per entity and step it entered, with advanced and days in stage."""
    extra = [c for c in ("channel", "segment", "cohort") if c in wide.columns]
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
                # the later stage dated before the earlier one (a contact added to a deal
                # after it was created): no days in stage (out_of_order counts them)
                pl.when(advanced & (pl.col(f"{b}_at") >= pl.col(f"{a}_at")))
                .then(days(pl.col(f"{b}_at") - pl.col(f"{a}_at")))
                .otherwise(None)
                .alias("days"),
            )
        )
    return pl.concat(parts)


#: the funnel table's dimensions, in their order
DIMENSIONS = {"all": 0, "channel": 1, "segment": 2, "cohort": 3}


def stage_rates(long: pl.DataFrame) -> pl.DataFrame:
    """Entered, advanced, rate and days in stage per step, overall (``all``), by channel and
    by segment (when ``long`` has them) and by cohort, in that order (:data:`FUNNEL_SCHEMA`)."""
    groups: list[tuple[str, pl.Expr]] = [
        (dim, pl.lit("all") if dim == "all" else pl.col(dim))
        for dim in DIMENSIONS
        if dim == "all" or dim in long.columns
    ]
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
    return (
        pl.concat(parts)
        .with_columns(
            pl.when(pl.col("entered") > 0)
            .then(pl.col("advanced") / pl.col("entered"))
            .otherwise(None)
            .alias("rate")
        )
        .sort(
            pl.col("dimension").replace_strict(DIMENSIONS),
            "group",
            "step",
        )
        .select(*FUNNEL_SCHEMA.names())
    )


def step_ranges(steps: list[str], given: Mapping[str, Any] | Benchmarks | None) -> Benchmarks:
    """The benchmark table the steps are judged against: ``given`` as a table, else the
    shipped one with ``given`` (step -> rate, or -> (low, high); keyed ``"mql->sql"`` or by
    the from-stage ``"mql"``) over its step rows."""
    if isinstance(given, Benchmarks):
        return given
    names = {f"{a}->{b}": a for a, b in zip(steps, steps[1:], strict=False)}
    ranges: dict[str, tuple[float | None, float | None]] = {}
    for k, v in (given or {}).items():
        step = names.get(k, k)
        if step not in steps[:-1]:
            raise ModelParameterError(
                f"The 'benchmarks' parameter of funnel has an unknown step {k!r}; use one of "
                f"{list(names)}."
            )
        pair = tuple(v) if isinstance(v, list | tuple) else (v, v)
        if len(pair) != 2 or not all(is_number(x) and 0 < float(x) <= 1 for x in pair):
            raise ModelParameterError(
                "The 'benchmarks' parameter of funnel must hold rates in (0, 1] or (low, high) "
                f"pairs of them. Got {k}={v!r}."
            )
        following = steps[steps.index(step) + 1]
        ranges[f"{step}_to_{following}"] = (float(pair[0]), float(pair[1]))
    return load_benchmarks().with_ranges(ranges, source="the funnel's benchmarks parameter")


def unmeasured_steps(steps: list[str], lost: str, observed: set[str]) -> dict[str, str]:
    """The steps the data cannot measure, by from-stage, each with the reason: a step is
    measured only when the data has events of both its stages (for the step before won, an
    opportunity or a ``lost`` event). Without one, "a later stage implies the earlier ones"
    would make its rate a count of those that reached a later stage: 100% by construction
    (stages with only ``lead`` and ``closed_won`` would read mql -> sql 100%)."""

    def seen(i: int) -> bool:
        return steps[i] in observed or (i == len(steps) - 2 and lost in observed)

    out = {}
    for i, (a, b) in enumerate(zip(steps, steps[1:], strict=False)):
        missing = [s for j, s in ((i, a), (i + 1, b)) if not seen(j)]
        if not missing:
            continue
        named = [
            f"'{x}'" for s in missing for x in ((s, lost) if s == steps[-2] else (s,))
        ]
        names = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
        out[a] = (
            f"not measured: the data has no {names} event (a rate would count every entity "
            "that reached a later stage as passing this step)"
        )
    return out


def mark_unmeasured(
    rates: pl.DataFrame, reasons: Mapping[str, str], seen: set[str]
) -> pl.DataFrame:
    """``rates`` with ``not_measured`` (the reason, null where measured) and, on the steps of
    ``reasons``, no rate, advanced or days, and no entered unless the from-stage is among the
    stages the data has (``seen``)."""
    reason = pl.col("from_stage").replace_strict(
        dict(reasons), default=None, return_dtype=pl.String
    )
    keep = pl.when(reason.is_null())
    return rates.with_columns(
        pl.when(reason.is_null() | pl.col("from_stage").is_in(sorted(seen)))
        .then(pl.col("entered"))
        .alias("entered"),
        *[
            keep.then(pl.col(c)).alias(c)
            for c in ("advanced", "rate", "median_days_in_stage", "p75_days_in_stage")
        ],
        reason.alias("not_measured"),
    )


#: The range columns of the funnel table (see :func:`judge_steps`).
RANGE_COLUMNS = ("benchmark_low", "benchmark_high", "benchmark_gap", "benchmark_source")


def judge_steps(rates: pl.DataFrame, bench: Benchmarks) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``rates`` with each step's range (:data:`RANGE_COLUMNS`: the row of metric
    ``<from>_to_<to>`` for the row's segment or channel, else every scope's) and gap, and
    the weakest step: the step furthest below its range (``all`` rows), else the data's
    lowest rate; the data's own weakest step is always beside it (``data_weakest``)."""
    rates = bench.attach(
        rates,
        pl.col("from_stage") + "_to_" + pl.col("to_stage"),
        segment=pl.when(pl.col("dimension") == "segment").then(pl.col("group")),
        channel=pl.when(pl.col("dimension") == "channel").then(pl.col("group")),
    )
    rates = rates.with_columns(
        gap_expr(
            pl.col("rate"),
            pl.col("benchmark_low"),
            pl.col("benchmark_high"),
            pl.col("benchmark_better"),
        ).alias("benchmark_gap")
    ).drop("benchmark_unit", "benchmark_better")
    overall = rates.filter((pl.col("dimension") == "all") & pl.col("rate").is_not_null())
    if overall.height == 0:
        return rates, {}
    lowest = _step(overall.sort("rate", maintain_order=True).row(0, named=True))
    below = overall.filter(pl.col("benchmark_gap") < 0).sort("benchmark_gap", maintain_order=True)
    judged = overall.filter(pl.col("benchmark_gap").is_not_null()).height
    if below.height:
        weakest = _step(below.row(0, named=True))
        weakest["judged_against"] = (
            "the benchmark ranges: the step furthest below its range (ranked by the gap as a "
            "share of the low end, the figure in brackets after the points); "
            f"{below.height} of {judged} step(s) with a range are below it"
        )
        weakest["below_range"] = True
    else:
        weakest = dict(lowest)
        why = (
            f"none of the {judged} step(s) with a benchmark range is below it"
            if judged
            else "no step has a benchmark range"
        )
        weakest["judged_against"] = (
            "the data's own step rates: the step with the lowest conversion rate, where the "
            f"largest share of those entering is lost ({why})"
        )
        weakest["no_gap"] = why
        weakest["below_range"] = False
    weakest["data_weakest"] = lowest
    # per segment: the step furthest below its range, where one is
    per_segment = (
        rates.filter((pl.col("dimension") == "segment") & (pl.col("benchmark_gap") < 0))
        .sort("group", "benchmark_gap", maintain_order=True)
        .group_by("group", maintain_order=True)
        .first()
    )
    weakest["by_segment"] = {r["group"]: _step(r) for r in per_segment.iter_rows(named=True)}
    return rates, weakest


def _step(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("from_stage", "to_stage", "rate", "entered", "advanced", *RANGE_COLUMNS)
    return {k: row[k] for k in keys}


def other_stage_lines(counts: Mapping[str, Any], steps: list[str], lost_stage: str) -> list[str]:
    """The summary's lines on the stage events the funnel left out (``counts``: the
    funnel's): their names with a ``[stage_names]`` line to map them -- but an import's
    lifecycle ``customer`` date beside the deals' won events, a second record of the same
    wins that mapping would count twice, which is said apart and never suggested."""
    won = steps[-1]
    others = dict(counts.get("other_stages") or {})
    lifecycle = others.pop("customer", None) if won in counts.get("stages_seen", ()) else None
    lines = []
    if lifecycle:
        lines.append(
            f"  'customer' ({lifecycle:,} events, the contacts' lifecycle date) is left out: "
            f"the deals' {won} events are the won step (mapping both would count each win "
            "twice)."
        )
    if others:
        shown = ", ".join(f"{name!r} ({n:,})" for name, n in others.items())
        more = counts["rows_with_other_stages"] - sum(others.values()) - (lifecycle or 0)
        lines.append(
            f"  Stage events the funnel does not know, left out: {shown}"
            + (f" and {more:,} more" if more else "")
            + f"; the funnel's stages are {', '.join(steps)} and {lost_stage}: map yours to "
            f'them in the config ([stage_names] <our stage> = ["{next(iter(others))}"]).'
        )
    return lines


def out_of_order(wide: pl.DataFrame, steps: list[str]) -> dict[str, int]:
    """Per step (``"a -> b"``), the entities that reached ``b`` at a time before they
    reached ``a``: left out of the step's days in stage (:func:`step_rows`), counted."""
    found = {}
    for a, b in zip(steps, steps[1:], strict=False):
        if f"{a}_at" in wide.columns and f"{b}_at" in wide.columns:
            n = int(wide.select((pl.col(f"{b}_at") < pl.col(f"{a}_at")).sum()).item())
            if n:
                found[f"{a} -> {b}"] = n
    return found


def unmeasured_series(
    steps: list[str], lost: str, seen: set[str], not_measured: Mapping[str, str]
) -> list[str]:
    """The weekly series whose stages the data does not have (the alerts' metric names):
    the steps not measured, the win rate without lost events, the sales cycle without
    opportunity events, volumes and costs of a stage the data never records."""
    out = [f"{a}_to_{steps[steps.index(a) + 1]}" for a in not_measured]
    if lost not in seen:
        out.append("win_rate")
    if steps[-2] not in seen:
        out.append("sales_cycle_days")
    for stage in steps[:2]:
        if stage not in seen:
            out += [f"{stage}_volume", f"cost_per_{stage}"]
    return out
