"""Bounded-memory attribution on one machine: partitions by a hash of the journey key.

:func:`attribute_partitioned` and :func:`run_partitioned` give the results of
:func:`attribution.attribute` while holding one partition of the touch log at a time:

1. **split** -- one streaming pass over each input writes it to ``partitions`` Parquet
   partitions by ``hash(journey key) % partitions`` (``contact_id`` at contact level; at
   account level ``account_id``, filled from the contacts table where a row has only a
   contact, as the journeys do). Every row keeps its global row number, so ties in time,
   ``row-N`` touch ids and error messages are those of the in-memory run. Then no
   ``touch_id`` may be on rows of two partitions (such rows differ in their journey key,
   which the in-memory run reports as an error too): each partition's ids are hashed and
   the hashes of all partitions sorted together
   (:class:`~attribution.engine._merge.TouchIds`).
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
The stages are the engine's own (:mod:`attribution.engine._stages`); this module only splits
the inputs and merges the partials (:mod:`attribution.engine._merge`).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from attribution.b2b._accounts import (
    ACCOUNT_CREDIT_SCHEMA,
    PIPELINE_SCHEMA,
    _pipeline,
    account_outputs,
)
from attribution.b2b._campaigns import campaign_influence
from attribution.engine._campaign_credit import (
    CampaignRows,
    campaign_credit_from_sums,
    conversion_campaigns,
)
from attribution.engine._credit_table import StreamedTouchCredit
from attribution.engine._input_counts import contacts_frame
from attribution.engine._manifest import (
    Timer,
    account_parameters,
    add_totals,
    make_manifest,
    run_parameters,
)
from attribution.engine._memory import refuse_bootstrap, refuse_state
from attribution.engine._merge import (
    GLOBAL_ROW,
    TouchIds,
    bucket_expr,
    channel_sums,
    check_partitions,
    contact_accounts,
    load_with_rows,
    merge_channel_sums,
    merge_counts,
    merge_paths,
    retier,
)
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._segments import load_segments, segments_of
from attribution.engine._stages import (
    Part,
    build_part,
    concat,
    fit_models,
    load_input,
    path_table,
    rule_credit,
)
from attribution.exceptions import ModelParameterError
from attribution.inputs._account_inputs import Accounts
from attribution.inputs._read_errors import unreadable
from attribution.inputs._schema import (
    CONTACTS,
    EVENTS,
    STAGES,
    TOUCHES,
    Table,
    TableSpec,
    check_has_rows,
    load,
)
from attribution.inputs._sources import Source, read_source
from attribution.options import RunOptions
from attribution.typing import Level, Progress, TableLike

__all__ = ["attribute_partitioned", "bucket_expr", "run_partitioned"]

BUCKET = "__bucket"


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
    formats: Mapping[str, Sequence[str]] | None = None

    def load(self, part: int) -> Table:
        """Partition ``part`` through the library's validator, with global row numbers."""
        files = sorted((self.directory / f"{BUCKET}={part}").glob("*.parquet"))
        frame = pl.read_parquet(files) if files else self.empty
        return load_with_rows(frame, self.spec, self.columns, self.source, self.formats)


def _split(
    data: TableLike,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    *,
    level: Level,
    contact_map: pl.DataFrame | None,
    partitions: int,
    directory: Path,
    formats: Mapping[str, Sequence[str]] | None = None,
) -> _Split:
    source = read_source(data, table=spec.name)
    # column and type errors surface here, before any pass over the data (an empty or
    # header-only file too: its first row is read), naming the file
    load(replace(source, frame=source.frame.clear()), spec, columns=columns, formats=formats)
    try:  # a file the reader fails on (not UTF-8, a ragged line): one line naming the line
        return _split_source(source, spec, columns, level, contact_map, partitions, directory,
                             formats)  # fmt: skip
    except pl.exceptions.PolarsError as exc:
        raise unreadable(source, spec.name, exc) from None


def _split_source(
    source: Source,
    spec: TableSpec,
    columns: Mapping[str, str] | None,
    level: Level,
    contact_map: pl.DataFrame | None,
    partitions: int,
    directory: Path,
    formats: Mapping[str, Sequence[str]] | None,
) -> _Split:
    if source.path is not None or source.sql is not None:
        check_has_rows(source, spec)
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
    # work files, read back whole once: lz4 and no statistics (10M touches: the split ~15%
    # faster than zstd, read back ~40% faster)
    lazy.sink_parquet(
        pl.PartitionBy(directory, key=BUCKET, include_key=False, approximate_bytes_per_file=None),
        mkdir=True,
        compression="lz4",
        statistics=False,
    )
    empty = source.frame.with_row_index(GLOBAL_ROW).clear().collect()
    return _Split(source, spec, columns, directory, empty, formats)


# --- the run --------------------------------------------------------------------------------


class _Partitions:
    def __init__(
        self,
        touches: _Split,
        stages: _Split | None,
        contacts: pl.DataFrame | None,
        options: RunOptions,
        segments: pl.DataFrame | None = None,
    ) -> None:
        self.touches, self.stages, self.contacts, self.options = touches, stages, contacts, options
        self.segments = segments

    def part(self, p: int) -> Part:
        stage_table = None if self.stages is None else self.stages.load(p)
        return build_part(
            self.touches.load(p), stage_table, self.contacts, self.options, segments=self.segments
        )


def _write(frame: pl.DataFrame, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_parquet(path, compression="lz4", statistics=False)  # a work file
    return path


@contextmanager
def _run_in_workspace(
    workdir: str | Path | None, *args: Any, **kwargs: Any
) -> Iterator[tuple[AttributionResult, list[Path]]]:
    """``_run(*args, **kwargs)`` in a temporary working directory (under ``workdir``),
    removed on exit: the touch credit files it returns live until then."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp(prefix="attribution-partitioned-", dir=workdir))
    try:
        yield _run(*args, work=path, **kwargs)
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _run(
    touches: TableLike,
    stages: TableLike | None,
    contacts: TableLike | None,
    options: RunOptions,
    *,
    partitions: int,
    progress: Progress | None,
    work: Path,
    account_table: Accounts | TableLike | None = None,
) -> tuple[AttributionResult, list[Path]]:
    """The partitioned run: the result without ``touch_credit``, and the Parquet files that
    hold it (model by model, in the order of the run's models)."""
    timer = Timer(progress)
    check_partitions(partitions)
    refuse_state(options)
    refuse_bootstrap(options, "in partitioned mode")
    if options.select_markov_order:
        raise ModelParameterError(
            "select_markov_order is not available in partitioned mode: its held-out split of "
            "journeys is not an additive partial result; run attribute() on a sample for it"
        )
    runs = options.runs
    level = options.level

    timer.stage("split")
    inputs: dict[str, Any] = {}
    contact_frame = None
    if contacts is not None:
        contact_table = load_input(contacts, CONTACTS, options)
        contact_frame = contacts_frame(contact_table, options.level)
        inputs["contacts"] = contact_table.source.describe(contact_table.rows_in)
    contact_map = contact_accounts(contact_frame, options)
    segments = load_segments(account_table, options)
    if segments is not None:
        inputs["accounts"] = segments.table.source.describe(segments.table.rows_in)

    def split(data: TableLike, spec: TableSpec) -> _Split:
        return _split(
            data,
            spec,
            options.table_columns(spec.name),
            level=level,
            contact_map=contact_map,
            partitions=partitions,
            directory=work / spec.name,
            formats=options.table_formats(spec.name),
        )

    stage_split = None
    if stages is None:
        touch_split = split(touches, EVENTS)
    else:
        touch_split = split(touches, TOUCHES)
        stage_split = split(stages, STAGES)
    names = touch_split.source.frame.collect_schema().names()
    touch_ids = TouchIds(
        touch_split.directory,
        BUCKET,
        _raw_column(names, dict(touch_split.columns or {}), "touch_id"),
        touch_split.source.name,
        partitions,
    )
    for p in range(partitions):  # before any partition's own checks, as in memory
        touch_ids.add(p)
    touch_ids.check()
    parts = _Partitions(
        touch_split, stage_split, contact_frame, options, segments_of(segments, options)
    )

    timer.stage("partitions: journeys and rule-based models")
    counts: list[dict[str, Any]] = []
    path_partials: list[pl.DataFrame] = []
    conversion_parts: list[pl.DataFrame] = []
    sums: dict[int, list[pl.DataFrame]] = {i: [] for i in range(len(runs))}
    campaign_parts: list[CampaignRows] = []
    has_campaigns = False
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
        has_campaigns = part.campaigns is not None  # the same in every partition
        if part.campaigns is not None and data_driven:
            _write(part.campaigns, work / "campaigns" / f"{p:05d}.parquet")
        for i, credit in rule_credit(journeys.touches, options).items():
            files[i].append(_write(credit, work / "credit" / f"{i:03d}" / f"{p:05d}.parquet"))
            sums[i].append(channel_sums(credit))
            campaign_parts.append(conversion_campaigns(credit, part.campaigns))
        del part, journeys

    timer.stage("paths")
    paths = merge_paths(path_partials)
    del path_partials

    fitted = fit_models(options, paths, timer=timer)
    notes = [f"partitioned run: {partitions} partition(s) by hash of the journey key"]
    notes += fitted.notes
    conversions = pl.concat(conversion_parts).sort("conversion_id")
    del conversion_parts
    reference = max(latest) if latest else None
    accounts = account_credit = pipeline = pl.DataFrame()
    account: dict[str, Any] = {}
    if data_driven or level == "account":
        timer.stage(
            "partitions: data-driven allocation" + (" and accounts" if level == "account" else "")
        )
        account_parts: list[pl.DataFrame] = []
        credit_parts: list[pl.DataFrame] = []
        deal_parts: list[pl.DataFrame] = []
        for p in range(partitions):
            journey_touches = pl.read_parquet(work / "journeys" / f"{p:05d}.parquet")
            campaign_file = work / "campaigns" / f"{p:05d}.parquet"
            campaigns = pl.read_parquet(campaign_file) if campaign_file.exists() else None
            for i, credit in fitted.allocate(journey_touches).items():
                files[i].append(_write(credit, work / "credit" / f"{i:03d}" / f"{p:05d}.parquet"))
                campaign_parts.append(conversion_campaigns(credit, campaigns))
            if level == "account":
                part = parts.part(p)
                touch_credit = (
                    pl.concat([pl.read_parquet(files[i][p]) for i in range(len(runs))])
                    if runs
                    else pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA)
                )
                outputs = account_outputs(
                    touches=part.touches,
                    stages=part.stages,
                    contacts=contact_frame,
                    journey_touches=journey_touches,
                    conversions=part.journeys.conversions,
                    touch_credit=touch_credit,
                    milestones=options.all_milestones,
                    conversion_stage=options.conversion_stage,
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
            accounts = retier(pl.concat(account_parts))
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
            account = account_parameters(options, reference)

    timer.stage("collect")
    by_conversion = CampaignRows.concat(campaign_parts)
    del campaign_parts
    channel_credit = concat(
        [
            merge_channel_sums(sums[i])
            if i not in fitted.channel_credit
            else fitted.channel_credit[i]
            for i in range(len(runs))
        ],
        CHANNEL_CREDIT_SCHEMA,
    )
    if stage_split is None:
        inputs = {"events": touch_split.source.describe(rows_in[0]), **inputs}
    else:
        inputs = {
            "touches": touch_split.source.describe(rows_in[0]),
            "stages": stage_split.source.describe(rows_in[1]),
            **inputs,
        }
    parameters = run_parameters(options, account)
    parameters["partitions"] = partitions
    manifest = make_manifest(
        runs,
        inputs=inputs,
        parameters=parameters,
        counts=merge_counts(counts),
        timings=timer.done(),
        notes=notes,
    )
    add_totals(manifest, conversions, options.level)
    result = AttributionResult(
        channel_credit,
        pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
        manifest,
        conversions,
        paths,
        fitted.extras,
        fitted.graphs,
        accounts=accounts,
        account_credit=account_credit,
        pipeline=pipeline,
        campaign_credit=campaign_credit_from_sums(
            by_conversion.sums(), [run.label for run in runs]
        )
        if has_campaigns
        else pl.DataFrame(),
        campaign_influence=campaign_influence(by_conversion, conversions)
        if has_campaigns
        else pl.DataFrame(),
    )
    return result, [f for i in range(len(runs)) for f in files[i]]


_RUN_DOC = """
    Parameters
    ----------
    touches, stages, contacts, accounts, options, progress, **keywords
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
    partitions: int,
    contacts: TableLike | None = None,
    accounts: Accounts | TableLike | None = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
    **keywords: Any,
) -> AttributionResult:
    """:func:`attribution.attribute`, one partition of journeys at a time.

    The result equals the in-memory one: the same channel credit (rule-based sums to the
    last bits of float addition order; data-driven models fitted on the same path table),
    the same touch credit (grouped by model, then partition), conversions, path table, extras
    and reconciliation counts. The touch credit is collected in memory at the end: when it is
    too big for that, use :func:`run_partitioned`, which streams it into the run directory.
    """
    options = RunOptions.of(options, **keywords)
    with _run_in_workspace(
        workdir, touches, stages, contacts, options,
        partitions=partitions, progress=progress, account_table=accounts,
    ) as (result, files):
        if files:
            result.touch_credit = pl.read_parquet(files, hive_partitioning=False)
    return result


def run_partitioned(
    touches: TableLike,
    stages: TableLike | None = None,
    *,
    runs_dir: str | Path,
    partitions: int,
    run_id: str | None = None,
    contacts: TableLike | None = None,
    accounts: Accounts | TableLike | None = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    workdir: str | Path | None = None,
    also: Sequence[Any] = (),
    extras_for: Callable[[AttributionResult], Iterable[Any]] | None = None,
    **keywords: Any,
) -> Path:
    """Run :func:`attribute_partitioned` and write the run directory ``runs_dir/<run_id>``
    (the files of :meth:`AttributionResult.write`), streaming ``touch_credit.parquet`` from
    the partitions so the touch credit is never held in memory. Returns the directory.

    ``also`` is passed to :meth:`AttributionResult.write` (objects with ``.write(directory)``,
    e.g. a survey benchmark); ``extras_for(result)`` may return more, computed from the
    result before it is written (its ``touch_credit`` is empty: the credit is on disk).
    """
    options = RunOptions.of(options, **keywords)
    with _run_in_workspace(
        workdir, touches, stages, contacts, options,
        partitions=partitions, progress=progress, account_table=accounts,
    ) as (result, files):
        more = list(extras_for(result)) if extras_for is not None else []
        return result.write(
            runs_dir,
            run_id=run_id,
            also=[StreamedTouchCredit(files, result, options.touch_credit_layout), *also, *more],
        )


for _function in (attribute_partitioned, run_partitioned):
    _function.__doc__ = (_function.__doc__ or "") + _RUN_DOC
