"""Bounded-memory attribution on one machine: partitions by a hash of the journey key.

:func:`attribute_partitioned` and :func:`run_partitioned` give the results of
:func:`attribution.attribute` while holding one partition of the touch log at a time:

1. **split** -- one streaming pass over each input writes it to ``partitions`` Parquet
   partitions by ``hash(journey key) % partitions`` (``contact_id`` at contact level; at
   account level ``account_id``, filled from the contacts table where a row has only a
   contact, as the journeys do). Every row keeps its global row number, so ties in time,
   ``row-N`` touch ids and error messages are those of the in-memory run. A second streaming
   pass checks that no ``touch_id`` is shared by rows of different partitions (such rows
   differ in their journey key, which the in-memory run reports as an error too).
2. **pass 1**, per partition in turn -- the library's own validation, journey building and
   rule-based models; the rule-based touch credit is written to the work directory; the
   *additive* partials are kept: the path table (``path``, ``conversions``, ``nulls``,
   ``value``), the reconciliation counts and per-channel credit sums.
3. **fit** -- the path-table partials are summed by path (sorted first, so the float
   ``value`` sums are deterministic) and each data-driven model is fitted once on the merged
   table with the library's estimator. Integer counts equal the in-memory table exactly, so
   the fit does too (``value`` sums to the last bits).
4. **pass 2**, per partition -- the fitted estimators allocate each conversion's credit over
   its touches (the same ``allocate`` as in memory) and, at account level, the account outputs
   are computed with a run-wide reference time; the engagement z-score and tiers, which are
   relative to every account of the run, are recomputed on the merged table.

Markov order selection (a held-out split of journeys) is not additive and is refused here.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from attribution.b2b._accounts import (
    ACCOUNT_CREDIT_SCHEMA,
    ACCOUNTS_SCHEMA,
    DEFAULT_REQUIRED_ROLES,
    PIPELINE_SCHEMA,
    _pipeline,
    check_required_roles,
    engagement_z_expr,
    tier_expr,
)
from attribution.b2b._accounts import account_outputs as _account_outputs
from attribution.engine._memory import (
    CHANNEL_CREDIT_SCHEMA,
    DEFAULT_LOOKBACK,
    PATH_TABLE_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
    ModelRequest,
    Progress,
    _account_parameters,
    _channel_credit_from_estimator,
    _concat,
    _estimator_extras,
    _estimator_graphs,
    _estimator_notes,
    _fit,
    _manifest,
    _Timer,
    channel_credit_from_touches,
    conversion_totals,
    path_table,
    prepare_touches,
    reconciliation,
    rename_stages,
    run_parameters,
    touch_credit_columns,
)
from attribution.exceptions import DuplicateKeyError, InputError, ModelParameterError
from attribution.inputs._schema import (
    CONTACTS,
    EVENTS,
    ROW,
    STAGES,
    TOUCHES,
    Table,
    TableSpec,
    load,
    split_events,
)
from attribution.inputs._sources import Source, TableLike, read_source
from attribution.journeys._journeys import (
    DEFAULT_MILESTONES,
    ContactScope,
    Journeys,
    Level,
    _attach_accounts,
    build_journeys,
    parse_duration,
)
from attribution.models._registry import ModelRun, resolve_all
from attribution.models._rules import check_role_multipliers, role_multiplier_expr, with_credit

__all__ = ["attribute_partitioned", "bucket_expr", "run_partitioned"]

BUCKET = "__bucket"
GLOBAL_ROW = "__global_row"
_HASH_SEED = 0
_SUMS_SCHEMA = pl.Schema(
    {"model": pl.String(), "channel": pl.String(), "credit": pl.Float64(), "value": pl.Float64()}
)


def bucket_expr(key: pl.Expr, partitions: int) -> pl.Expr:
    """The partition of a journey key (text): ``hash(key) % partitions`` (null keys too)."""
    return (key.cast(pl.String).hash(seed=_HASH_SEED) % partitions).cast(pl.UInt32)


# --- the split ------------------------------------------------------------------------------


def _raw_column(names: Sequence[str], columns: Mapping[str, str], ours: str) -> pl.Expr | None:
    """The user's column that ``load`` will rename to ``ours`` (as text), if there is one."""
    theirs = columns.get(ours)
    if theirs is None:
        # a user column with our name that the config maps to something else makes way
        if ours in columns.values() and ours not in columns:
            return None
        theirs = ours
    return pl.col(theirs).cast(pl.String) if theirs in names else None


@dataclass
class _Split:
    """One input table written as partitions under ``directory``."""

    source: Source
    spec: TableSpec
    columns: Mapping[str, str] | None
    directory: Path
    empty: pl.DataFrame

    def load(self, part: int) -> Table:
        """Partition ``part`` through the library's validator, with global row numbers."""
        files = sorted((self.directory / f"{BUCKET}={part}").glob("*.parquet"))
        frame = pl.read_parquet(files) if files else self.empty
        return load_with_rows(frame, self.spec, self.columns, self.source)


def _with_global_rows(exc: InputError, rows: pl.Series, source: str) -> InputError:
    return type(exc)(
        exc.message,
        table=exc.table,
        source=source,
        column=exc.column,
        rows=[int(rows[r]) for r in exc.rows],
        hint=exc.hint,
    )


def _split(
    data: TableLike,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    *,
    level: Level,
    contact_map: pl.DataFrame | None,
    partitions: int,
    directory: Path,
) -> _Split:
    source = read_source(data, table=spec.name)
    # column and type errors surface here, before any pass over the data
    load(source.frame.clear(), spec, columns=columns)
    lazy = source.frame.with_row_index(GLOBAL_ROW)
    names = lazy.collect_schema().names()
    cols = dict(columns or {})
    contact = _raw_column(names, cols, "contact_id")
    if level == "contact":
        key = contact if contact is not None else pl.lit(None, pl.String)
    else:
        account = _raw_column(names, cols, "account_id")
        if contact_map is not None and contact is not None:
            lazy = lazy.with_columns(contact.alias("__contact")).join(
                contact_map.lazy(), on="__contact", how="left"
            )
            mapped = pl.col("__account")
            key = pl.coalesce(account, mapped) if account is not None else mapped
        else:
            key = account if account is not None else pl.lit(None, pl.String)
    lazy = lazy.with_columns(bucket_expr(key, partitions).alias(BUCKET)).drop(
        "__contact", "__account", strict=False
    )
    lazy.sink_parquet(
        pl.PartitionBy(directory, key=BUCKET, include_key=False, approximate_bytes_per_file=None),
        mkdir=True,
    )
    empty = source.frame.with_row_index(GLOBAL_ROW).clear().collect()
    return _Split(source, spec, columns, directory, empty)


def _check_touch_ids_across(split: _Split, partitions: int, directory: Path) -> None:
    """A ``touch_id`` on rows of two partitions: rows with different journey keys, which the
    in-memory run reports as rows that share a touch_id but differ. Checked by a second
    streaming split, by ``hash(touch_id)``, so memory stays bounded."""
    names = split.source.frame.collect_schema().names()
    touch_id = _raw_column(names, dict(split.columns or {}), "touch_id")
    if touch_id is None or partitions == 1:
        return
    files = sorted(split.directory.glob(f"{BUCKET}=*/*.parquet"))
    if not files:
        return
    parts = [
        pl.scan_parquet(f, hive_partitioning=False).select(
            touch_id.alias("__touch_id"),
            GLOBAL_ROW,
            pl.lit(int(f.parent.name.split("=")[1]), pl.UInt32).alias("__part"),
        )
        for f in files
    ]
    pl.concat(parts).filter(pl.col("__touch_id").is_not_null()).with_columns(
        bucket_expr(pl.col("__touch_id"), partitions).alias(BUCKET)
    ).sink_parquet(
        pl.PartitionBy(directory, key=BUCKET, include_key=False, approximate_bytes_per_file=None),
        mkdir=True,
    )
    clash: list[pl.DataFrame] = []
    for sub in sorted(directory.glob(f"{BUCKET}=*")):
        ids = pl.scan_parquet(sorted(sub.glob("*.parquet")), hive_partitioning=False)
        shared = ids.filter(pl.col("__part").n_unique().over("__touch_id") > 1)
        clash.append(shared.select(GLOBAL_ROW).collect())
    rows = pl.concat(clash).get_column(GLOBAL_ROW).sort()
    if rows.len():
        raise DuplicateKeyError(
            f"{rows.len()} rows share a touch_id but differ in other columns",
            table="touches",
            source=split.source.name,
            column="touch_id",
            rows=rows.head(5).cast(pl.Int64).to_list(),
            hint="touch_id must identify one touch; exact duplicate rows are removed for you",
        )


# --- the run --------------------------------------------------------------------------------


@dataclass
class _Options:
    level: Level
    conversion_stage: str
    window: timedelta
    milestones: Mapping[str, Sequence[str]] | None
    stage_names: Mapping[str, str | Sequence[str]] | None
    channel_rules: str | Path | None
    contact_scope: ContactScope
    multipliers: dict[str, float] | None
    required: tuple[str, ...]


def make_options(
    *,
    level: Level,
    conversion_stage: str,
    lookback: str | int | float | timedelta | None,
    milestones: Mapping[str, Sequence[str]] | None,
    stage_names: Mapping[str, str | Sequence[str]] | None,
    channel_rules: str | Path | None,
    contact_scope: ContactScope,
    role_multipliers: Mapping[str, float] | None,
    required_roles: Sequence[str],
) -> _Options:
    """Check the run options once (as :func:`attribution.attribute` does)."""
    if level not in DEFAULT_LOOKBACK:
        raise InputError(f"level must be 'contact' or 'account'; got {level!r}")
    if level != "account" and role_multipliers is not None:
        raise InputError(
            "role_multipliers need level='account' (a contact's journey has one contact, so "
            "they would change nothing)"
        )
    return _Options(
        level=level,
        conversion_stage=conversion_stage,
        window=parse_duration(lookback if lookback is not None else DEFAULT_LOOKBACK[level]),
        milestones=milestones,
        stage_names=stage_names,
        channel_rules=channel_rules,
        contact_scope=contact_scope,
        multipliers=check_role_multipliers(role_multipliers) if role_multipliers else None,
        required=check_required_roles(required_roles),
    )


@dataclass
class _Part:
    touches: pl.DataFrame
    stages: pl.DataFrame
    journeys: Journeys
    counts: dict[str, Any]
    rows_in: tuple[int, int]


def load_with_rows(
    frame: pl.DataFrame, spec: TableSpec, columns: Mapping[str, str] | None, source: Source
) -> Table:
    """``frame`` (raw columns plus :data:`GLOBAL_ROW`) through the library's validator, with
    the global row numbers as ``_row``, so ties, ``row-N`` ids and errors are the run's."""
    frame = frame.sort(GLOBAL_ROW, maintain_order=True)  # source order: duplicates keep the first
    rows = frame.get_column(GLOBAL_ROW).cast(pl.Int64)
    try:
        table = load(frame.drop(GLOBAL_ROW), spec, columns=columns)
    except InputError as exc:
        raise _with_global_rows(exc, rows, source.name) from None
    assert table.frame.height == rows.len()  # the validator drops no row
    return Table(table.frame.with_columns(rows.alias(ROW)), source, table.rows_in)


def build_part(
    touch_table: Table, stage_table: Table | None, contacts: pl.DataFrame | None, o: _Options
) -> _Part:
    """One partition's journeys, by the library's own functions; ``stage_table=None``: the
    touch table is the unified event log."""
    if stage_table is None:
        touch_frame, stage_frame = split_events(touch_table.frame, touch_table.source)
        rows_in = (touch_table.rows_in, 0)
        touch_table = Table(touch_frame, touch_table.source, touch_table.rows_in)
        stage_table = Table(stage_frame, touch_table.source, touch_table.rows_in)
    else:
        rows_in = (touch_table.rows_in, stage_table.rows_in)
    touch_frame, duplicates, other_channel = prepare_touches(touch_table, o.channel_rules)
    stage_frame = rename_stages(stage_table.frame, o.stage_names)
    journeys = build_journeys(
        touch_frame,
        stage_frame,
        level=o.level,
        conversion_stage=o.conversion_stage,
        lookback=o.window,
        milestones=o.milestones,
        contacts=contacts,
        contact_scope=o.contact_scope,
    )
    counts = reconciliation(journeys.counts, duplicates, other_channel)
    return _Part(touch_frame, stage_frame, journeys, counts, rows_in)


class _Partitions:
    def __init__(
        self,
        touches: _Split,
        stages: _Split | None,
        contacts: pl.DataFrame | None,
        options: _Options,
    ) -> None:
        self.touches, self.stages, self.contacts, self.options = touches, stages, contacts, options

    def part(self, p: int) -> _Part:
        stage_table = None if self.stages is None else self.stages.load(p)
        return build_part(self.touches.load(p), stage_table, self.contacts, self.options)


def rule_credit(
    journey_touches: pl.DataFrame, runs: Sequence[ModelRun], o: _Options
) -> dict[int, pl.DataFrame]:
    """Touch credit of every rule-based model (index in ``runs`` -> credit), in one pass."""
    if o.multipliers is not None:
        journey_touches = journey_touches.with_columns(role_multiplier_expr(o.multipliers))
    multiplier = "role_multiplier" if o.multipliers is not None else None
    rules = {f"__credit{i}": r.build() for i, r in enumerate(runs) if r.spec.family == "rule"}
    if not rules:
        return {}
    credited = with_credit(journey_touches, rules, multiplier=multiplier)
    out = {}
    for i, run in enumerate(runs):
        if run.spec.family == "rule":
            one = credited.rename({f"__credit{i}": "credit"}).drop(
                [c for c in rules if c != f"__credit{i}"]
            )
            out[i] = touch_credit_columns(one, run.label).cast(TOUCH_CREDIT_SCHEMA)
    return out


def channel_sums(credit: pl.DataFrame) -> pl.DataFrame:
    """Per model and channel, the sums of ``credit`` and ``value``: an additive partial."""
    return credit.group_by("model", "channel").agg(pl.col("credit").sum(), pl.col("value").sum())


def merge_channel_sums(sums: list[pl.DataFrame]) -> pl.DataFrame:
    """Channel credit of a rule-based model from its partials (as ``attribute`` reports it)."""
    merged = _concat(sums, _SUMS_SCHEMA)
    return channel_credit_from_touches(merged) if merged.height else merged


def _merge_counts(parts: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for counts in parts:
        for key, value in counts.items():
            if isinstance(value, Mapping):
                merged = out.setdefault(key, {})
                for reason, n in value.items():
                    merged[reason] = merged.get(reason, 0) + n
            else:
                out[key] = out.get(key, 0) + value
    return out


def _merge_paths(partials: list[pl.DataFrame]) -> pl.DataFrame:
    """Sum path-table partials by path. Rows are sorted by path (then partition) first, so the
    float ``value`` sums are made in one deterministic order."""
    if not partials:
        return pl.DataFrame(schema=PATH_TABLE_SCHEMA)
    both = pl.concat(
        [p.with_columns(pl.lit(i, pl.UInt32).alias("__p")) for i, p in enumerate(partials)]
    )
    return (
        both.sort("path", "__p")
        .group_by("path", maintain_order=True)
        .agg(pl.col("conversions").sum(), pl.col("nulls").sum(), pl.col("value").sum())
        .sort(["conversions", "nulls"], descending=True, maintain_order=True)
        .select(list(PATH_TABLE_SCHEMA))
        .cast(PATH_TABLE_SCHEMA)
    )


def _retier(accounts: pl.DataFrame) -> pl.DataFrame:
    """Engagement z-score and tier over every account of the run (as ``_accounts`` does
    within one frame), then the run's account order."""
    return (
        accounts.with_columns(engagement_z_expr().alias("engagement_z"))
        .with_columns(tier_expr().alias("tier"))
        .sort(["engagement_score", "account_id"], descending=[True, False])
        .select(list(ACCOUNTS_SCHEMA))
        .cast(ACCOUNTS_SCHEMA)
    )


def check_partitions(partitions: object) -> int:
    """The partition count, or an InputError when it is not a positive integer."""
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise InputError(f"partitions must be a positive integer; got {partitions!r}")
    return partitions


def _write(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path)
    return path


@contextmanager
def _workspace(workdir: str | Path | None) -> Iterator[Path]:
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="attribution-partitioned-", dir=workdir))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(
    touches: TableLike,
    stages: TableLike | None,
    *,
    models: Iterable[ModelRequest],
    partitions: int,
    level: Level,
    conversion_stage: str,
    lookback: str | int | float | timedelta | None,
    contacts: TableLike | None,
    milestones: Mapping[str, Sequence[str]] | None,
    stage_names: Mapping[str, str | Sequence[str]] | None,
    columns: Mapping[str, Mapping[str, str]] | None,
    channel_rules: str | Path | None,
    select_markov_order: bool,
    contact_scope: ContactScope,
    role_multipliers: Mapping[str, float] | None,
    required_roles: Sequence[str],
    progress: Progress | None,
    work: Path,
) -> tuple[AttributionResult, list[Path]]:
    """The partitioned run: the result without ``touch_credit``, and the Parquet files that
    hold it (model by model, in the order of ``models``)."""
    timer = _Timer(progress)
    check_partitions(partitions)
    if select_markov_order:
        raise ModelParameterError(
            "select_markov_order is not available in partitioned mode: its held-out split of "
            "journeys is not an additive partial result; run attribute() on a sample for it"
        )
    runs = resolve_all(models)
    options = make_options(
        level=level,
        conversion_stage=conversion_stage,
        lookback=lookback,
        milestones=milestones,
        stage_names=stage_names,
        channel_rules=channel_rules,
        contact_scope=contact_scope,
        role_multipliers=role_multipliers,
        required_roles=required_roles,
    )
    columns = columns or {}

    timer.stage("split")
    inputs: dict[str, Any] = {}
    contact_frame = None
    contact_map = None
    if contacts is not None:
        contact_table = load(contacts, CONTACTS, columns=columns.get("contacts"))
        contact_frame = contact_table.frame
        inputs["contacts"] = contact_table.source.describe(contact_table.rows_in)
        if level == "account":
            # a contact of two accounts is an error (raised here, before any partition)
            _attach_accounts(pl.DataFrame(schema={"contact_id": pl.String}), contact_frame, "")
            contact_map = (
                contact_frame.filter(pl.col("account_id").is_not_null())
                .select(
                    pl.col("contact_id").alias("__contact"), pl.col("account_id").alias("__account")
                )
                .unique("__contact")
            )

    def split(data: TableLike, spec: TableSpec, cols: Mapping[str, str] | None) -> _Split:
        return _split(
            data,
            spec,
            cols,
            level=level,
            contact_map=contact_map,
            partitions=partitions,
            directory=work / spec.name,
        )

    stage_split = None
    if stages is None:
        touch_split = split(touches, EVENTS, columns.get("events") or columns.get("touches"))
    else:
        touch_split = split(touches, TOUCHES, columns.get("touches"))
        stage_split = split(stages, STAGES, columns.get("stages"))
    _check_touch_ids_across(touch_split, partitions, work / "touch_ids")
    shutil.rmtree(work / "touch_ids", ignore_errors=True)
    parts = _Partitions(touch_split, stage_split, contact_frame, options)

    timer.stage("partitions: journeys and rule-based models")
    counts: list[dict[str, Any]] = []
    path_partials: list[pl.DataFrame] = []
    conversion_parts: list[pl.DataFrame] = []
    sums: dict[int, list[pl.DataFrame]] = {i: [] for i in range(len(runs))}
    files: dict[int, list[Path]] = {i: [] for i in range(len(runs))}
    rows_in = [0, 0]
    latest: list[datetime] = []
    data_driven = [i for i, run in enumerate(runs) if run.spec.family != "rule"]
    for p in range(partitions):
        part = parts.part(p)
        journeys = part.journeys
        counts.append(part.counts)
        rows_in = [rows_in[0] + part.rows_in[0], rows_in[1] + part.rows_in[1]]
        path_partials.append(path_table(journeys))
        conversion_parts.append(journeys.conversions)
        if level == "account":
            stamps = pl.concat([f.select("timestamp") for f in (part.touches, part.stages)])
            if stamps.height:
                latest.append(stamps.get_column("timestamp").max())  # type: ignore[arg-type]
        if data_driven or level == "account":
            _write(journeys.touches, work / "journeys" / f"{p:05d}.parquet")
        for i, credit in rule_credit(journeys.touches, runs, options).items():
            files[i].append(_write(credit, work / "credit" / f"{i:03d}" / f"{p:05d}.parquet"))
            sums[i].append(channel_sums(credit))
        del part, journeys

    timer.stage("paths")
    paths = _merge_paths(path_partials)
    del path_partials

    channel_parts: list[pl.DataFrame] = []
    extras: dict[str, pl.DataFrame] = {}
    graphs: dict[str, Any] = {}
    notes: list[str] = [f"partitioned run: {partitions} partition(s) by hash of the journey key"]
    estimators: dict[int, Any] = {}
    for i, run in enumerate(runs):
        if run.spec.family == "rule":
            channel_parts.append(merge_channel_sums(sums[i]))
            continue
        timer.stage(f"model:{run.label}")
        if options.multipliers is not None:
            notes.append(
                f"{run.label}: role_multipliers not applied (data-driven models credit "
                "channels from path statistics, not per-touch weights)"
            )
        estimator = _fit(run, paths)
        estimators[i] = estimator
        channel_parts.append(_channel_credit_from_estimator(run.label, estimator))
        extras.update(_estimator_extras(run.label, estimator))
        graphs.update(_estimator_graphs(run.label, estimator))
        notes.extend(_estimator_notes(run.label, estimator))

    conversions = pl.concat(conversion_parts).sort("conversion_id")
    del conversion_parts
    reference = max(latest) if latest else None
    accounts = account_credit = pipeline = pl.DataFrame()
    account_parameters: dict[str, Any] = {}
    if data_driven or level == "account":
        timer.stage(
            "partitions: data-driven allocation" + (" and accounts" if level == "account" else "")
        )
        account_parts: list[pl.DataFrame] = []
        credit_parts: list[pl.DataFrame] = []
        deal_parts: list[pl.DataFrame] = []
        for p in range(partitions):
            journey_touches = pl.read_parquet(work / "journeys" / f"{p:05d}.parquet")
            for i, estimator in estimators.items():
                credit = touch_credit_columns(
                    estimator.allocate(journey_touches), runs[i].label
                ).cast(TOUCH_CREDIT_SCHEMA)
                files[i].append(_write(credit, work / "credit" / f"{i:03d}" / f"{p:05d}.parquet"))
            if level == "account":
                part = parts.part(p)
                touch_credit = (
                    pl.concat([pl.read_parquet(files[i][p]) for i in range(len(runs))])
                    if runs
                    else pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA)
                )
                outputs = _account_outputs(
                    touches=part.touches,
                    stages=part.stages,
                    contacts=contact_frame,
                    journey_touches=journey_touches,
                    conversions=part.journeys.conversions,
                    touch_credit=touch_credit,
                    milestones={**DEFAULT_MILESTONES, **(milestones or {})},
                    conversion_stage=conversion_stage,
                    required_roles=options.required,
                    reference_time=reference,
                )
                # every account of the contacts table shows in every partition: keep its own
                mine = bucket_expr(pl.col("account_id"), partitions) == p
                account_parts.append(outputs.accounts.filter(mine))
                credit_parts.append(outputs.account_credit)
                deal_parts.append(outputs.deals)
                del part, touch_credit, outputs
        if level == "account":
            timer.stage("accounts")
            deals = pl.concat(deal_parts)
            accounts = _retier(pl.concat(account_parts))
            account_credit = (
                pl.concat(credit_parts)
                .sort("conversion_id", maintain_order=True)
                .cast(ACCOUNT_CREDIT_SCHEMA)
            )
            pipeline = _pipeline(conversions.join(deals, on="conversion_id", how="left")).cast(
                PIPELINE_SCHEMA
            )
            conversions = conversions.join(
                deals, on="conversion_id", how="left", maintain_order="left"
            )
            account_parameters = _account_parameters(
                contact_scope, options.multipliers, options.required, reference
            )

    timer.stage("collect")
    channel_credit = _concat(channel_parts, CHANNEL_CREDIT_SCHEMA)
    if stage_split is None:
        inputs = {"events": touch_split.source.describe(rows_in[0]), **inputs}
    else:
        inputs = {
            "touches": touch_split.source.describe(rows_in[0]),
            "stages": stage_split.source.describe(rows_in[1]),
            **inputs,
        }
    parameters = run_parameters(
        level=level,
        conversion_stage=conversion_stage,
        window=options.window,
        milestones=milestones,
        stage_names=stage_names,
        account_parameters=account_parameters,
    )
    parameters["partitions"] = partitions
    manifest = _manifest(
        runs,
        inputs=inputs,
        parameters=parameters,
        counts=_merge_counts(counts),
        timings=timer.done(),
        notes=notes,
    )
    manifest["totals"] = conversion_totals(conversions)
    result = AttributionResult(
        channel_credit,
        pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
        manifest,
        conversions,
        paths,
        extras,
        graphs,
        accounts=accounts,
        account_credit=account_credit,
        pipeline=pipeline,
    )
    return result, [f for i in range(len(runs)) for f in files[i]]


class _StreamedTouchCredit:
    """Writes ``touch_credit.parquet`` from the partition files, streaming (``also=`` of
    :meth:`AttributionResult.write`, which calls it after its own, empty, file)."""

    def __init__(self, files: list[Path]) -> None:
        self.files = files

    def write(self, directory: Path) -> None:
        target = directory / "touch_credit.parquet"
        if self.files:
            pl.scan_parquet(self.files, hive_partitioning=False).sink_parquet(target)
        else:
            pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA).write_parquet(target)


_RUN_DOC = """
    Parameters
    ----------
    touches, stages, models, level, conversion_stage, lookback, contacts, milestones,
    stage_names, columns, channel_rules, contact_scope, role_multipliers, required_roles,
    progress
        As for :func:`attribution.attribute` (``select_markov_order`` is refused: order
        selection is not additive).
    partitions
        How many partitions (by hash of the journey key) to process in turn. Peak memory is
        about that of an in-memory run on ``1 / partitions`` of the data (plus the merged path
        table and one row per conversion).
    workdir
        Where the partition files go (a temporary directory inside it, removed at the end);
        default the system's temporary directory. It needs about the size of the inputs plus
        the touch credit, as Parquet.
"""


def attribute_partitioned(
    touches: TableLike,
    stages: TableLike | None = None,
    *,
    models: Iterable[ModelRequest],
    partitions: int,
    level: Level = "contact",
    conversion_stage: str = "closed_won",
    lookback: str | int | float | timedelta | None = None,
    contacts: TableLike | None = None,
    milestones: Mapping[str, Sequence[str]] | None = None,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    channel_rules: str | Path | None = None,
    select_markov_order: bool = False,
    contact_scope: ContactScope = "account",
    role_multipliers: Mapping[str, float] | None = None,
    required_roles: Sequence[str] = DEFAULT_REQUIRED_ROLES,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
) -> AttributionResult:
    """:func:`attribution.attribute`, one partition of journeys at a time.

    The result equals the in-memory one: the same channel credit (rule-based sums to the
    last bits of float addition order; data-driven models fitted on the same path table),
    the same touch credit (grouped by model, then partition), conversions, path table, extras
    and reconciliation counts. The touch credit is collected in memory at the end: when it is
    too big for that, use :func:`run_partitioned`, which streams it into the run directory.
    """
    with _workspace(workdir) as work:
        result, files = _run(
            touches,
            stages,
            models=models,
            partitions=partitions,
            level=level,
            conversion_stage=conversion_stage,
            lookback=lookback,
            contacts=contacts,
            milestones=milestones,
            stage_names=stage_names,
            columns=columns,
            channel_rules=channel_rules,
            select_markov_order=select_markov_order,
            contact_scope=contact_scope,
            role_multipliers=role_multipliers,
            required_roles=required_roles,
            progress=progress,
            work=work,
        )
        if files:
            result.touch_credit = pl.read_parquet(files, hive_partitioning=False)
    return result


def run_partitioned(
    touches: TableLike,
    stages: TableLike | None = None,
    *,
    runs_dir: str | Path,
    models: Iterable[ModelRequest],
    partitions: int,
    run_id: str | None = None,
    level: Level = "contact",
    conversion_stage: str = "closed_won",
    lookback: str | int | float | timedelta | None = None,
    contacts: TableLike | None = None,
    milestones: Mapping[str, Sequence[str]] | None = None,
    stage_names: Mapping[str, str | Sequence[str]] | None = None,
    columns: Mapping[str, Mapping[str, str]] | None = None,
    channel_rules: str | Path | None = None,
    select_markov_order: bool = False,
    contact_scope: ContactScope = "account",
    role_multipliers: Mapping[str, float] | None = None,
    required_roles: Sequence[str] = DEFAULT_REQUIRED_ROLES,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
    also: Sequence[Any] = (),
    extras_for: Callable[[AttributionResult], Iterable[Any]] | None = None,
) -> Path:
    """Run :func:`attribute_partitioned` and write the run directory ``runs_dir/<run_id>``
    (the files of :meth:`AttributionResult.write`), streaming ``touch_credit.parquet`` from
    the partitions so the touch credit is never held in memory. Returns the directory.

    ``also`` is passed to :meth:`AttributionResult.write` (objects with ``.write(directory)``,
    e.g. a survey benchmark); ``extras_for(result)`` may return more, computed from the
    result before it is written (its ``touch_credit`` is empty: the credit is on disk).
    """
    with _workspace(workdir) as work:
        result, files = _run(
            touches,
            stages,
            models=models,
            partitions=partitions,
            level=level,
            conversion_stage=conversion_stage,
            lookback=lookback,
            contacts=contacts,
            milestones=milestones,
            stage_names=stage_names,
            columns=columns,
            channel_rules=channel_rules,
            select_markov_order=select_markov_order,
            contact_scope=contact_scope,
            role_multipliers=role_multipliers,
            required_roles=required_roles,
            progress=progress,
            work=work,
        )
        more = list(extras_for(result)) if extras_for is not None else []
        return result.write(
            runs_dir, run_id=run_id, also=[_StreamedTouchCredit(files), *also, *more]
        )


for _function in (attribute_partitioned, run_partitioned):
    _function.__doc__ = (_function.__doc__ or "") + _RUN_DOC
