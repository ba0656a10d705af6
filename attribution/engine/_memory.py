"""The in-memory executor: :func:`attribute` (touch logs) and :func:`attribute_paths` (path
tables, :mod:`attribution.engine._path_table_run`), the whole run in one process and one
pass of each stage."""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

import polars as pl

from attribution.b2b._accounts import (
    ACCOUNT_CREDIT_SCHEMA,
    ACCOUNTS_SCHEMA,
    PIPELINE_SCHEMA,
    account_outputs,
)
from attribution.b2b._influence import InfluenceCodes, influence_codes
from attribution.engine._bootstrap import bootstrap_credit, conversion_segments, with_intervals
from attribution.engine._campaign_credit import (
    CampaignRows,
    campaign_credit_from_sums,
    conversion_campaigns,
    conversion_campaigns_wide,
)
from attribution.engine._credit_table import (
    credit_table,
    long_touch_credit,
    wide_channel_credit,
)
from attribution.engine._empty import ids_compared, refuse_empty_frame, require_conversions
from attribution.engine._input_counts import contacts_frame
from attribution.engine._lazy_paths import LazyPaths
from attribution.engine._manifest import (
    Timer,
    account_parameters,
    add_coded_notes,
    add_totals,
    make_manifest,
    run_parameters,
)
from attribution.engine._merge import collect_credit
from attribution.engine._path_table_run import attribute_paths
from attribution.engine._result import (
    CHANNEL_CREDIT_SCHEMA as CHANNEL_CREDIT_SCHEMA,  # re-exported: its importers' name
)
from attribution.engine._result import (
    TOUCH_CREDIT_SCHEMA,
    AttributionResult,
)
from attribution.engine._segments import load_segments, segments_of
from attribution.engine._stages import (
    Fitted,
    build_part,
    fit_models,
    journey_sequences,
    load_input,
    order_selection,
    rule_credit_columns,
    run_stage_columns,
    run_touch_columns,
    touch_credit_columns,
)
from attribution.exceptions import ConfigError, InputError
from attribution.inputs._account_inputs import Accounts
from attribution.inputs._schema import (
    CONTACTS,
    EVENTS,
    STAGES,
    TOUCHES,
    Table,
)
from attribution.inputs._sources import Source
from attribution.inputs._split_events import split_events
from attribution.inputs._time_zones import NAIVE_TIMES, zone_notes
from attribution.journeys._milestone_stages import check_found_names
from attribution.models._channel_params import check_model_channels
from attribution.models._registry import ModelRun
from attribution.options import RunOptions
from attribution.typing import Progress, TableLike

__all__ = ["attribute", "attribute_paths", "load_inputs"]

_T = TypeVar("_T")


@dataclass
class Inputs:
    """The loaded input tables of a run, and each source with the rows it held."""

    touches: Table
    stages: Table
    contacts: pl.DataFrame | None
    sources: dict[str, tuple[Source, int]]
    segments: Accounts | None = None

    def release_logs(self) -> None:
        """Drop the touch and stage frames (keeping their sources and row counts)."""
        self.touches = dataclasses.replace(self.touches, frame=self.touches.frame.clear())
        self.stages = dataclasses.replace(self.stages, frame=self.stages.frame.clear())

    def describe(self) -> dict[str, Any]:
        """The manifest's ``inputs`` (the input files' hashes finish here)."""
        return {name: source.describe(rows) for name, (source, rows) in self.sources.items()}


def load_inputs(
    touches: TableLike,
    stages: TableLike | None,
    contacts: TableLike | None,
    options: RunOptions,
    accounts: Accounts | TableLike | None = None,
) -> Inputs:
    """The load stage: each table read and checked against its schema (``stages=None``:
    ``touches`` is the unified event log), reading only the columns the run needs; the
    accounts table only for a lookback per segment."""
    if stages is None:
        events = load_input(touches, EVENTS, options, prehash=True)
        refuse_empty_frame(events, options.allow_empty)  # as an empty file is
        try:
            frames = split_events(events.frame, events.source)
        except InputError as exc:
            raise events.error(exc) from None
        touch_table, stage_table = (
            Table(frame, events.source, events.rows_in, names=events.names, formats=events.formats,
                  blank_rows=blank, trimmed=trimmed)
            for frame, blank, trimmed in zip(frames, (events.blank_rows, 0), (events.trimmed, {}),
                                             strict=True)
        )
        sources = {"events": (events.source, events.rows_in)}
    else:
        touch_table = load_input(
            touches, TOUCHES, options, keep=run_touch_columns(
                options.level, touch_types=bool(options.exclude_touch_types)
            ),
            prehash=True
        )
        stage_table = load_input(
            stages, STAGES, options, keep=run_stage_columns(options.level), prehash=True
        )
        for table in (touch_table, stage_table):
            refuse_empty_frame(table, options.allow_empty)  # as an empty file is
        sources = {
            "touches": (touch_table.source, touch_table.rows_in),
            "stages": (stage_table.source, stage_table.rows_in),
        }
    contact_table = load_input(contacts, CONTACTS, options) if contacts is not None else None
    contact_frame = contacts_frame(  # checks the roles given too
        contact_table, options, accounts=accounts is not None
    )
    if contact_table is not None:
        sources["contacts"] = (contact_table.source, contact_table.rows_in)
    segments = load_segments(accounts, options)
    if segments is not None:
        sources["accounts"] = (segments.table.source, segments.table.rows_in)
    return Inputs(touch_table, stage_table, contact_frame, sources, segments)


def refuse_bootstrap(options: RunOptions, executor: str) -> None:
    """An executor that cannot draw the bootstrap refuses ``options.bootstrap`` rather than
    leave the intervals out in silence."""
    if options.bootstrap:
        raise ConfigError(
            f"bootstrap={options.bootstrap} is not available {executor}: the draws refit every "
            "model on the whole set of journeys, which only the in-memory run holds; run "
            "attribute() (attribution run without --partitions or --state), on a sample if "
            "the data do not fit in memory"
        )


def refuse_state(options: RunOptions) -> None:
    """An executor that keeps no state refuses ``options.state`` rather than ignore it."""
    if options.state is not None:
        raise ConfigError(
            f"state={str(options.state)!r} is for incremental runs: use "
            "attribution.attribute_incremental (attribution run --state)"
        )


def attribute(
    touches: TableLike,
    stages: TableLike | None = None,
    *,
    contacts: TableLike | None = None,
    accounts: Accounts | TableLike | None = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    **keywords: Any,
) -> AttributionResult:
    """Credit conversions to touches and channels under each requested model.

    Parameters
    ----------
    touches
        Touch log (Parquet / CSV / NDJSON path, Polars DataFrame or LazyFrame, Arrow table).
        With ``stages=None`` it may be the unified event log (``event_type`` = ``touch`` /
        ``stage``).
    stages
        CRM lifecycle events (``timestamp``, ``stage``, ``contact_id`` / ``account_id``,
        optional ``opportunity_id``, ``value``).
    contacts
        Contacts table (``contact_id``, ``account_id``, ``role``): maps contacts to accounts.
    accounts
        Accounts table (``account_id``, ``segment``...): read when ``lookback`` is given per
        segment, for each journey's window, and with ``bootstrap``, for the draws' credit
        per segment (which the unit economics' intervals per segment need).
    options
        The run's :class:`~attribution.RunOptions`.
    progress
        Called with the name of each pipeline stage as it starts
        (:attr:`RunOptions.progress_stages`, then ``"done"``).
    **keywords
        The fields of :class:`~attribution.RunOptions` (``models``, ``level``,
        ``conversion_stage``, ``lookback``, ``milestones``, ``stage_names``, ``columns``,
        ``channel_rules``, ``select_markov_order``, ``contact_scope``, ``role_multipliers``,
        ``required_roles``): the options, or changes to ``options``.

    Examples
    --------
    >>> import polars as pl, attribution
    >>> touches = pl.DataFrame({"contact_id": ["c1", "c1"], "channel": ["linkedin", "email"],
    ...     "timestamp": ["2025-01-01", "2025-01-05"]})
    >>> stages = pl.DataFrame({"contact_id": ["c1"], "stage": ["closed_won"],
    ...     "timestamp": ["2025-01-10"], "value": [1000.0]})
    >>> res = attribution.attribute(touches, stages, models=["linear"])
    >>> res.channel_credit.sort("channel").get_column("conversions").to_list()
    [0.5, 0.5]
    """
    timer = Timer(progress)
    options = RunOptions.of(options, **keywords)
    runs = options.runs
    refuse_state(options)

    timer.stage("load")
    inputs = load_inputs(touches, stages, contacts, options, accounts)
    part = build_part(
        inputs.touches,
        inputs.stages,
        inputs.contacts,
        options,
        timer=timer,
        segments=segments_of(inputs.segments, options),
    )
    journeys = part.journeys
    # a milestone no event marks, a touch type no touch has: errors before the models
    check_found_names(part.counts, run_parameters(options), runs)
    units = journeys.null_touches.schema["channel"]  # the channels (units) models credit
    if isinstance(units, pl.Enum) and options.key == "channel":  # as the manifest checks:
        # a model parameter naming no channel is an error, now (a campaign key's units are
        # not channels)
        check_model_channels(runs, units.categories.to_list())
    if not part.counts.get("conversions_attributed", 1) and not options.allow_empty:
        # no answer: say why, with a few ids of each side (in the error, not the manifest,
        # whose reconciliation every executor writes alike)
        ids = ids_compared(journeys.conversions, part.touches, options.level)
        require_conversions({"parameters": run_parameters(options),
                             "reconciliation": {**part.counts, "ids_compared": ids}})
    if options.level != "account":
        # the logs are done with (only account-level outputs read them again): freed before
        # the models, the credit and the run directory are built, the run's peak memory is
        # the journeys stage's (at 12M touches 2.5 GB instead of 3.4 GB at the collect stage)
        part.touches, part.stages = part.touches.clear(), part.stages.clear()
        inputs.release_logs()

    # built on first use: the Markov and Shapley models fit on the coded journeys instead
    paths = LazyPaths(journeys)  # the run directory's writer builds its stored form only
    sequences = functools.cache(functools.partial(journey_sequences, journeys))
    rule_columns: dict[int, pl.Series] = {}
    if any(run.spec.family == "rule" for run in runs):
        timer.stage("models:rule-based")
        rule_columns = rule_credit_columns(journeys.touches, options)
    # without a rule-based model the touch-level credit is not needed for channel credit:
    # each data-driven model's allocation over the journey touches waits for first access
    eager = bool(rule_columns) or options.level == "account" or bool(options.bootstrap)
    fitted = fit_models(
        options,
        paths,
        sequences=sequences,
        allocate_on=journeys.touches if eager else None,
        timer=timer,
    )
    extras, notes = fitted.extras, fitted.notes
    if options.select_markov_order:
        timer.stage("markov order selection")
        table, best = order_selection(journeys)
        extras["markov_order_selection"] = table
        notes.append(f"markov order selection: suggested order {best} (held-out ROC AUC)")

    timer.stage("collect")
    wide: pl.DataFrame | Callable[[], pl.DataFrame]
    touch_credit: pl.DataFrame | Callable[[], pl.DataFrame]
    if eager:
        wide, touch_credit, channel_credit = _touch_outputs(
            journeys.touches, runs, rule_columns, fitted
        )
    else:
        channel_credit = wide_channel_credit(pl.DataFrame(), runs, fitted)  # as fitted
        built = _Once(functools.partial(_allocated_outputs, journeys.touches, runs, fitted))
        wide = lambda: built()[0]  # noqa: E731
        touch_credit = functools.partial(_built_touch_credit, built)
    campaign_credit: pl.DataFrame | Callable[[], pl.DataFrame] = pl.DataFrame()
    influence: pl.DataFrame | Callable[[], pl.DataFrame] = pl.DataFrame()
    influence_wide: pl.DataFrame | Callable[[], pl.DataFrame] = pl.DataFrame()
    if part.campaigns is not None:  # an aggregate of the touch credit above: no model reruns
        # built on first access (or by the run directory's writer, beside the other tables):
        # a run that reads only channel credit does not pay for them
        rows = _Once(functools.partial(_campaign_rows, wide, touch_credit, part.campaigns))
        labels = [run.label for run in runs]
        campaign_credit = lambda: campaign_credit_from_sums(rows().sums(), labels)  # noqa: E731
        codes = _Once(functools.partial(_influence, rows, journeys.conversions))
        influence = lambda: codes().long()  # noqa: E731
        influence_wide = lambda: codes().wide()  # noqa: E731
    conversions = journeys.conversions
    accounts = account_credit = pipeline = pl.DataFrame()
    account: dict[str, Any] = {}
    if options.level == "account":
        timer.stage("accounts")
        if callable(touch_credit):
            touch_credit = touch_credit()
        outputs = account_outputs(
            touches=part.touches,
            stages=part.stages,
            contacts=inputs.contacts,
            journey_touches=journeys.touches,
            conversions=journeys.conversions,
            touch_credit=touch_credit,
            milestones=options.all_milestones,
            conversion_stage=options.conversion_stage,
            required_roles=options.required,
            as_of=options.as_of_time,
        )
        conversions = conversions.join(
            outputs.deals, on="conversion_id", how="left", maintain_order="left"
        )
        accounts = outputs.accounts.cast(ACCOUNTS_SCHEMA)
        account_credit = outputs.account_credit.cast(ACCOUNT_CREDIT_SCHEMA)
        pipeline = outputs.pipeline.cast(PIPELINE_SCHEMA)
        account = account_parameters(options, outputs.clock, accounts, notes)
    boot = None
    if options.bootstrap:
        timer.stage("bootstrap")
        boot = bootstrap_credit(
            journeys,
            options,
            rule_columns,
            groups=conversion_segments(journeys.touches, inputs.segments),
        )
        channel_credit = with_intervals(channel_credit, boot)
    manifest = make_manifest(
        runs,
        inputs=inputs.describe(),  # last: the input files' hashes run in the background
        parameters=run_parameters(options, account),
        counts=part.counts,
        timings=timer.done(),
        notes=notes,
    )
    add_totals(manifest, journeys.conversions, options.level)
    add_coded_notes(manifest, NAIVE_TIMES, zone_notes(  # naive times beside zoned ones
        manifest["inputs"], {n: (s.name, s.zones) for n, (s, _) in inputs.sources.items()}))
    if boot is not None:
        manifest["bootstrap"] = boot.describe()
    return AttributionResult(
        channel_credit,
        cast(pl.DataFrame, touch_credit),  # a builder: the property calls it on first use
        manifest,
        conversions,
        cast(pl.DataFrame, paths),  # a builder: the paths property calls it on first use
        extras,
        fitted.graphs,
        accounts=accounts,
        account_credit=account_credit,
        pipeline=pipeline,
        campaign_credit=cast(pl.DataFrame, campaign_credit),  # builders, as touch_credit
        campaign_influence=cast(pl.DataFrame, influence),
        campaign_influence_wide=cast(pl.DataFrame, influence_wide),
        touch_credit_wide=cast(pl.DataFrame, wide),  # a builder without rule-based models
        bootstrap=boot,
        options=options,
    )


class _Once(Generic[_T]):
    """``build()`` called once, whichever thread asks first (the run directory's writer
    builds the campaign outputs in parallel threads: both read the same rows)."""

    def __init__(self, build: Callable[[], _T]) -> None:
        self._build: Callable[[], _T] | None = build
        self._value: _T | None = None
        self._lock = threading.Lock()

    def __call__(self) -> _T:
        with self._lock:
            if self._build is not None:
                self._value, self._build = self._build(), None
            assert self._value is not None
            return self._value


_Built = tuple[pl.DataFrame, "pl.DataFrame | Callable[[], pl.DataFrame]", pl.DataFrame]


def _touch_outputs(
    journey_touches: pl.DataFrame,
    runs: list[ModelRun],
    rule_columns: dict[int, pl.Series],
    fitted: Fitted,
) -> _Built:
    """The wide touch credit (empty when a model's credit is not row for row over the
    journeys), the long touch credit (a builder of it from the wide table) and the channel
    credit."""
    # one row per journey touch, a credit column per model: the long layout (a row per
    # touch and model) is built only when asked for (AttributionResult.touch_credit)
    wide = credit_table(journey_touches, runs, rule_columns, fitted)
    if wide is not None:
        labels = [run.label for run in runs]
        return (
            wide,
            functools.partial(long_touch_credit, wide, labels),
            wide_channel_credit(wide, runs, fitted),
        )
    # a model's credit is not row for row over the journeys: the long layout as built
    rules = {
        i: touch_credit_columns(journey_touches.with_columns(credit), runs[i].label).cast(
            TOUCH_CREDIT_SCHEMA
        )
        for i, credit in rule_columns.items()
    }
    touch_credit, channel_credit = collect_credit(len(runs), rules, fitted)
    return pl.DataFrame(), touch_credit, channel_credit


def _allocated_outputs(
    journey_touches: pl.DataFrame, runs: list[ModelRun], fitted: Fitted
) -> _Built:
    """:func:`_touch_outputs` of a run without rule-based models, allocating the fitted
    models' credit over the journey touches first."""
    fitted.touch_credit.update(fitted.allocate(journey_touches))
    return _touch_outputs(journey_touches, runs, {}, fitted)


def _built_touch_credit(built: Callable[[], _Built]) -> pl.DataFrame:
    touch_credit = built()[1]
    return touch_credit() if callable(touch_credit) else touch_credit


def _campaign_rows(
    wide: pl.DataFrame | Callable[[], pl.DataFrame],
    touch_credit: pl.DataFrame | Callable[[], pl.DataFrame],
    campaigns: pl.DataFrame,
) -> CampaignRows:
    """Touch credit summed by model, conversion and campaign, from the wide touch credit or
    else the long one."""
    wide = wide() if callable(wide) else wide
    if wide.width:
        return conversion_campaigns_wide(wide, campaigns)
    frame = touch_credit() if callable(touch_credit) else touch_credit
    return conversion_campaigns(frame, campaigns)


def _influence(rows: Callable[[], CampaignRows], conversions: pl.DataFrame) -> InfluenceCodes:
    """The campaign influence on codes: both layouts are laid out from it."""
    return influence_codes(rows(), conversions)
