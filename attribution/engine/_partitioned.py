"""Bounded-memory attribution on one machine: partitions by a hash of the journey key.

:func:`attribute_partitioned` and :func:`run_partitioned` give the results of
:func:`attribution.attribute` while holding two partitions of the touch log at a time
(:mod:`attribution.engine._partition_pool`: threads, results merged in partition order):

1. **split** -- one streaming pass over each input writes it to ``partitions`` partition
   files (Arrow IPC, uncompressed: :mod:`attribution.engine._split`) by
   ``hash(journey key) % partitions`` (``contact_id`` at contact level; at account level
   ``account_id``, filled from the contacts table where a row has only a contact, as the
   journeys do). Every row keeps its global row number, so ties in time,
   ``row-N`` touch ids and error messages are those of the in-memory run. Then no
   ``touch_id`` may be on rows of two partitions (such rows differ in their journey key,
   which the in-memory run reports as an error too): each partition's ids are hashed and
   the hashes of all partitions sorted together
   (:class:`~attribution.engine._merge.TouchIds`).
2. **pass 1**, per partition, two at a time -- the library's own validation, journey building and
   rule-based models; the journey touches with the rule-based credit (a ``credit:<model>``
   column per model, as the wide touch credit has them) are written to the work directory;
   the *additive* partials are kept: the path table on integer codes
   (:class:`~attribution.engine._path_partials.PathPartial`: ``conversions``, ``nulls``,
   ``value`` by packed path key), the reconciliation counts, per-channel credit sums and the
   conversions (one row each).
3. **fit** -- the path-table partials are recoded to the run's channels and summed by key
   (in partition order, so the float ``value`` sums are deterministic), and each
   data-driven model is fitted once on the distinct paths as codes with the library's
   estimator (:class:`~attribution.engine._path_partials.MergedPaths`; the table of channel
   lists is built only if asked for). Integer counts equal the in-memory table exactly, so
   the fit does too (``value`` sums to the last bits).
4. **pass 2**, per partition, two at a time -- the fitted estimators allocate each
   conversion's credit over its touches (the same ``allocate`` as in memory); the
   partition's wide touch credit is written to a work file, its campaign rows summed
   (campaign credit) and written by range of opportunity ids
   (:mod:`attribution.engine._partition_outputs`); at account level the account outputs
   are computed with a run-wide reference time; the engagement z-score and tiers, which are
   relative to every account of the run, are recomputed on the merged table.
5. **campaign influence** -- built range by range of the sorted opportunity ids (two
   ranges at a time).

The touch credit and the campaign influence are never held whole: :func:`run_partitioned`
streams them from the work files into the run directory.

Markov order selection (a held-out split of journeys) is not additive and is refused here.
The stages are the engine's own (:mod:`attribution.engine._stages`); this module only splits
the inputs and merges the partials (:mod:`attribution.engine._merge`).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import polars as pl

from attribution.b2b._accounts import (
    ACCOUNT_CREDIT_SCHEMA,
    PIPELINE_SCHEMA,
    _pipeline,
    account_outputs,
)
from attribution.b2b._deals import deal_scope
from attribution.b2b._engagement import ClockPart, clock_part, engagement_clock
from attribution.engine._campaign_credit import (
    campaign_credit_from_sums,
    conversion_campaigns_wide,
)
from attribution.engine._credit_table import (
    credit_column,
    long_touch_credit,
)
from attribution.engine._input_counts import contacts_frame
from attribution.engine._manifest import (
    Timer,
    account_parameters,
    add_coded_notes,
    add_totals,
    make_manifest,
    run_parameters,
)
from attribution.engine._memory import refuse_bootstrap, refuse_state
from attribution.engine._merge import (
    TouchIds,
    bucket_expr,
    check_partitions,
    contact_accounts,
    merge_channel_sums,
    merge_counts,
    retier,
)
from attribution.engine._partition_credit import rule_sums, wide_table
from attribution.engine._partition_outputs import (
    InfluenceBuckets,
    StreamedOutputs,
    read_wide,
    read_work,
    write_work,
)
from attribution.engine._partition_pool import in_order
from attribution.engine._path_partials import PathPartial, merge_path_partials, path_partial
from attribution.engine._result import (
    CAMPAIGN_SUMS_SCHEMA,
    CHANNEL_CREDIT_SCHEMA,
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._segments import load_segments, segments_of
from attribution.engine._split import BUCKET, Split, raw_column
from attribution.engine._split import split as split_table
from attribution.engine._stages import (
    Part,
    build_part,
    concat,
    fit_models,
    load_input,
    rule_credit_columns,
    run_stage_columns,
    run_touch_columns,
)
from attribution.exceptions import InputError, ModelParameterError
from attribution.inputs._account_inputs import Accounts
from attribution.inputs._schema import CONTACTS, EVENTS, STAGES, TOUCHES, TableSpec
from attribution.inputs._separator import check_touch_channels
from attribution.inputs._time_zones import NAIVE_TIMES, merge_zones, zone_notes
from attribution.inputs._validate import check_values
from attribution.options import RunOptions
from attribution.typing import Progress, TableLike

__all__ = ["attribute_partitioned", "bucket_expr", "run_partitioned"]


# --- the run --------------------------------------------------------------------------------


class _Partitions:
    def __init__(
        self,
        touches: Split,
        stages: Split | None,
        contacts: pl.DataFrame | None,
        options: RunOptions,
        segments: pl.DataFrame | None = None,
    ) -> None:
        self.touches, self.stages, self.contacts, self.options = touches, stages, contacts, options
        self.segments = segments
        self.zones: dict[int, tuple[Any, ...]] = {}  # each partition's tables' Source.zones

    def part(self, p: int) -> Part:
        touch_table = self.touches.load(p)
        stage_table = None if self.stages is None else self.stages.load(p)
        self.zones[p] = tuple(t.source.zones for t in (touch_table, stage_table) if t is not None)
        try:
            return build_part(
                touch_table, stage_table, self.contacts, self.options, segments=self.segments
            )
        except InputError as exc:  # of this partition's rows: said of the whole file's
            events = self.stages is None  # an event log: its touch and stage rows split later
            if exc.table == "stages" and self.stages is not None:
                raise self.stages.whole_error(exc, check_values) from None
            if exc.table == "stages":
                raise
            raise self.touches.whole_error(  # its duplicates are told by their touch_id; a
                # '>' in a channel is found when journeys are built: checked here so too
                exc, functools.partial(check_touch_channels, options=self.options,
                                       events=events), also=("touch_id",)) from None


@contextmanager
def _run_in_workspace(workdir: str | Path | None, *args: Any, **kwargs: Any) -> Iterator[_Outputs]:
    """``_run(*args, **kwargs)`` in a temporary working directory (under ``workdir``),
    removed on exit: the work files it returns live until then."""
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
) -> _Outputs:
    """The partitioned run: the result without ``touch_credit`` and ``campaign_influence``,
    and the work files that hold them."""
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
    cutoff = options.as_of_time or datetime.now(UTC)  # one engagement clock for every partition

    timer.stage("split")
    inputs: dict[str, Any] = {}
    contact_table = load_input(contacts, CONTACTS, options) if contacts is not None else None
    contact_frame = contacts_frame(  # checks the roles given too
        contact_table, options, accounts=account_table is not None
    )
    if contact_table is not None:
        inputs["contacts"] = contact_table.source.describe(contact_table.rows_in)
    contact_map = contact_accounts(contact_frame, options, accounts=account_table is not None)
    segments = load_segments(account_table, options)
    if segments is not None:
        inputs["accounts"] = segments.table.source.describe(segments.table.rows_in)

    def split(data: TableLike, spec: TableSpec, keep: Any = None) -> Split:
        shutil.rmtree(work / spec.name, ignore_errors=True)
        return split_table(
            data,
            spec,
            options.table_columns(spec.name),
            level=level,
            contact_map=contact_map,
            partitions=partitions,
            directory=work / spec.name,
            formats=options.table_formats(spec.name),
            keep=keep if partitions > 1 else None,  # one partition: no id check (below)
            currency_rates=options.currency_rates,
        )

    stage_split = None
    touch_columns = run_touch_columns(level, touch_types=bool(options.exclude_touch_types))
    if stages is None:
        touch_split = split(touches, EVENTS)
    else:
        touch_split = split(touches, TOUCHES, touch_columns)
        stage_split = split(stages, STAGES, run_stage_columns(level))
    names = touch_split.source.frame.collect_schema().names()
    touch_ids = TouchIds(
        touch_split.directory,
        BUCKET,
        raw_column(names, dict(touch_split.columns or {}), "touch_id"),
        touch_split.source.name,
        partitions,
    )
    touch_ids.add(*range(partitions))  # before any partition's own checks, as in memory
    touch_ids.check()
    if touch_split.left_out and touch_ids.repeated is not False:
        # some touch id is on two rows: exact duplicates are told by every column of the
        # source, so the partitions need them all (the split runs again with every column)
        touch_split = split(touches, TOUCHES)
    parts = _Partitions(
        touch_split, stage_split, contact_frame, options, segments_of(segments, options)
    )

    timer.stage("partitions: journeys and rule-based models")
    labels = [run.label for run in runs]

    def first_pass(p: int) -> _FirstPass:
        part = parts.part(p)
        journeys = part.journeys
        latest: ClockPart | None = None
        if level == "account":
            latest = clock_part(part.touches, part.stages, cutoff)
        rules = rule_credit_columns(journeys.touches, options)
        # the journey touches with their rule-based credit, a column per model (as the
        # wide touch credit has them): pass 2 adds the data-driven models' and writes it
        touches = journeys.touches.with_columns(
            credit.alias(credit_column(runs[i].label)) for i, credit in rules.items()
        )
        write_work(touches, work / "journeys" / f"{p:05d}.arrow")
        pairs = None
        if part.campaigns is not None:
            write_work(part.campaigns, work / "campaigns" / f"{p:05d}.arrow")
            pairs = part.campaigns.select("channel", "campaign").unique()
        return _FirstPass(
            part.counts, part.rows_in, path_partial(journeys), journeys.conversions,
            latest, rule_sums(touches, runs, rules), part.campaigns is not None, pairs,
        )  # fmt: skip

    counts: list[dict[str, Any]] = []
    path_partials: list[PathPartial] = []
    conversion_parts: list[pl.DataFrame] = []
    sums: dict[int, list[pl.DataFrame]] = {i: [] for i in range(len(runs))}
    has_campaigns = False
    pair_parts: list[pl.DataFrame] = []
    rows_in = [0, 0]
    latest: list[ClockPart] = []
    for done in in_order(first_pass, partitions):  # two partitions at a time, in order
        counts.append(done.counts)
        rows_in = [rows_in[0] + done.rows_in[0], rows_in[1] + done.rows_in[1]]
        path_partials.append(done.paths)
        conversion_parts.append(done.conversions)
        if done.latest is not None:
            latest.append(done.latest)
        for i, frame in done.sums.items():
            sums[i].append(frame)
        has_campaigns = done.has_campaigns  # the same in every partition
        if done.pairs is not None:
            pair_parts.append(done.pairs)
        del done

    timer.stage("paths")
    paths = merge_path_partials(path_partials)
    del path_partials

    # fitted on the distinct paths as codes; the table of lists is built only if asked for
    fitted = fit_models(options, paths, sequences=functools.cache(paths.sequences), timer=timer)
    notes = [f"partitioned run: {partitions} partition(s) by hash of the journey key"]
    notes += fitted.notes
    conversions = pl.concat(conversion_parts).sort("conversion_id")
    del conversion_parts
    clock = engagement_clock(latest, as_of=options.as_of_time, cutoff=cutoff)
    accounts = account_credit = pipeline = pl.DataFrame()
    account: dict[str, Any] = {}
    timer.stage("partitions: touch credit" + (" and accounts" if level == "account" else ""))
    influence = (
        InfluenceBuckets(conversions, labels, pl.concat(pair_parts), work / "influence")
        if has_campaigns
        else None
    )
    rule_labels = {
        i: credit_column(runs[i].label) for i in range(len(runs)) if i not in fitted.estimators
    }

    def second_pass(p: int) -> tuple[Path, pl.DataFrame | None, Any]:
        touches = read_work(work / "journeys" / f"{p:05d}.arrow")
        journey_touches = touches.drop(rule_labels.values())
        rules = {i: touches.get_column(name).alias("credit") for i, name in rule_labels.items()}
        # this partition's allocations (a copy of ``fitted``: two partitions run at once)
        mine = replace(fitted, touch_credit=fitted.allocate(journey_touches))
        table = wide_table(journey_touches, runs, rules, mine, conversions)
        del touches, rules, mine
        wide = write_work(table, work / "wide" / f"{p:05d}.arrow")
        summed = None
        campaign_file = work / "campaigns" / f"{p:05d}.arrow"
        if influence is not None and campaign_file.exists():
            rows = conversion_campaigns_wide(table, read_work(campaign_file))
            summed = rows.sums()
            influence.add(rows, p)
            del rows
        outputs = None
        if level == "account":
            part = parts.part(p)
            outputs = account_outputs(
                touches=part.touches,
                stages=part.stages,
                contacts=contact_frame,
                journey_touches=journey_touches,
                conversions=part.journeys.conversions,
                touch_credit=long_touch_credit(table, labels),
                milestones=options.all_milestones,
                conversion_stage=options.conversion_stage,
                required_roles=options.required,
                clock=clock,
            )
        return wide, summed, outputs

    campaign_sums: list[pl.DataFrame] = []
    wide_files: list[Path] = []
    account_parts: list[pl.DataFrame] = []
    credit_parts: list[pl.DataFrame] = []
    deal_parts: list[pl.DataFrame] = []
    for p, (wide, summed, outputs) in enumerate(in_order(second_pass, partitions)):
        wide_files.append(wide)
        if summed is not None:
            campaign_sums.append(summed)
        if outputs is not None:
            # every account of the contacts table shows in every partition: keep its own
            mine = bucket_expr(pl.col("account_id"), partitions) == p
            account_parts.append(outputs.accounts.filter(mine))
            credit_parts.append(outputs.account_credit)
            deal_parts.append(outputs.deals)
        del outputs
    if level == "account":
        timer.stage("accounts")
        deals = pl.concat(deal_parts)
        accounts = retier(pl.concat(account_parts))
        account_credit = (
            pl.concat(credit_parts)
            .sort("conversion_id", maintain_order=True)
            .cast(ACCOUNT_CREDIT_SCHEMA)
        )
        scope = deal_scope(options.conversion_stage, options.all_milestones)
        pipeline = _pipeline(conversions.join(deals, on="conversion_id", how="left"), scope).cast(
            PIPELINE_SCHEMA
        )
        conversions = conversions.join(
            deals, on="conversion_id", how="left", maintain_order="left"
        )
        account = account_parameters(options, clock, accounts, notes)
    if influence is not None:
        timer.stage("campaign influence")
        influence.build(options.influence_layout)

    timer.stage("collect")
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
    splits = [touch_split] if stage_split is None else [touch_split, stage_split]
    zones: dict[str, tuple[str, Any]] = {s.spec.name: (s.source.name, merge_zones(
        parts.zones[p][i] for p in sorted(parts.zones))) for i, s in enumerate(splits)}
    if contact_table is not None:  # naive times beside zoned ones, as in memory
        zones["contacts"] = (contact_table.source.name, contact_table.source.zones)
    add_coded_notes(manifest, NAIVE_TIMES, zone_notes(manifest["inputs"], zones))
    result = AttributionResult(
        channel_credit,
        pl.DataFrame(schema=TOUCH_CREDIT_SCHEMA),
        manifest,
        conversions,
        cast(pl.DataFrame, paths),  # a builder: the paths property calls it on first use
        fitted.extras,
        fitted.graphs,
        accounts=accounts,
        account_credit=account_credit,
        pipeline=pipeline,
        campaign_credit=campaign_credit_from_sums(
            concat(campaign_sums, CAMPAIGN_SUMS_SCHEMA), labels
        )
        if has_campaigns
        else pl.DataFrame(),
        options=options,
    )
    return _Outputs(result, wide_files, labels, influence)


@dataclass
class _FirstPass:
    """What pass 1 keeps of a partition (its journeys and rule credit are work files)."""

    counts: dict[str, Any]
    rows_in: tuple[int, int]
    paths: PathPartial
    conversions: pl.DataFrame
    latest: ClockPart | None  #: the engagement clock's figures of the partition (account level)
    sums: dict[int, pl.DataFrame]  #: per rule-based model, credit and value by channel
    has_campaigns: bool
    pairs: pl.DataFrame | None  #: the (channel, campaign) pairs of its journey touches


@dataclass
class _Outputs:
    """A partitioned run's result (without its per-touch outputs) and the work files that
    hold them: the wide touch credit per partition, the campaign influence per range."""

    result: AttributionResult
    wide: list[Path]
    labels: list[str]
    influence: InfluenceBuckets | None


_RUN_DOC = """
    Parameters
    ----------
    touches, stages, contacts, accounts, options, progress, **keywords
        As for :func:`attribution.attribute` (``select_markov_order`` is refused: order
        selection is not additive).
    partitions
        How many partitions (by hash of the journey key); two are processed at a time. Peak
        memory is about that of an in-memory run on ``2 / partitions`` of the data (plus the
        merged path table and one row per conversion).
    workdir
        Where the partition files go (a temporary directory inside it, removed at the end);
        default the system's temporary directory. Its files are uncompressed: it needs
        about the size in memory of the columns the run reads (for the synthetic log about
        65 bytes a touch and 55 a stage row, 10 GB at 100M touches), plus the journey
        touches, touch credit and campaign rows (1.5 GB in all at 10M touches).
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
    ) as outputs:
        result = outputs.result
        wide = read_wide(outputs.wide, outputs.labels)
        result.touch_credit_wide = wide
        result.touch_credit = long_touch_credit(wide, outputs.labels)
        if outputs.influence is not None:
            result.campaign_influence = outputs.influence.read()
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
    result before it is written (its ``touch_credit`` is empty: the credit is on disk; its
    ``campaign_influence`` is read from disk if it is asked for).
    """
    options = RunOptions.of(options, **keywords)
    with _run_in_workspace(
        workdir, touches, stages, contacts, options,
        partitions=partitions, progress=progress, account_table=accounts,
    ) as outputs:
        result, influence = outputs.result, outputs.influence
        if influence is not None:
            result.campaign_influence = influence.read  # type: ignore[assignment]
        more = list(extras_for(result)) if extras_for is not None else []
        streamed = StreamedOutputs(
            outputs.wide,
            outputs.labels,
            options.touch_credit_layout,
            influence.outputs if influence is not None else None,
        )
        # the per-touch outputs are streamed from the work files, never held whole; set
        # on the result itself: dataclasses.replace would read every field, building the
        # merged path table's lists that the run directory never needs (1.0 s and
        # +0.62 GB at 10M in 8 partitions; about 21 s and 5 GB at 100M)
        result.campaign_influence = pl.DataFrame()
        return result.write(
            runs_dir,
            run_id=run_id,
            also=[streamed, *also, *more],
            touch_credit_layout=options.touch_credit_layout,
        )


for _function in (attribute_partitioned, run_partitioned):
    _function.__doc__ = (_function.__doc__ or "") + _RUN_DOC
