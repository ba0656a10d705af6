"""One copy of each stage of a touch-log run, whatever executes it.

inputs -> **validate** (:func:`prepare_touches`, :func:`rename_stages`) -> **journeys**
(:func:`build_part`) -> **paths** (:func:`path_table`, :func:`journey_sequences`) ->
**rule-based credit** (:func:`rule_credit`) -> **fit** the data-driven models once
(:func:`fit_models`) -> **allocate** their credit over touches (:meth:`Fitted.allocate`) ->
**channel credit** (:func:`channel_credit_from_touches`). The executors (in memory,
partitioned, Spark, HTTP scoring) call these; they only decide how the data is split and how
the partial results merge (:mod:`attribution.engine._merge`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from attribution._runs import run_start
from attribution.engine._campaign_credit import journey_campaigns, key_units
from attribution.engine._empty import stage_counts
from attribution.engine._files import RunFiles
from attribution.engine._input_counts import input_counts
from attribution.engine._result import CHANNEL_CREDIT_SCHEMA, PATH_TABLE_SCHEMA, TOUCH_CREDIT_SCHEMA
from attribution.exceptions import AttributionError, InputError, ModelParameterError
from attribution.inputs._channels import normalise_channels
from attribution.inputs._database import SqlTable
from attribution.inputs._dedupe import deduplicate_stages, deduplicate_touches
from attribution.inputs._schema import ROW, Table, TableSpec, load
from attribution.inputs._split_events import split_events
from attribution.inputs._stage_names import map_stage_names
from attribution.inputs._taxonomy import derive_touch_channels
from attribution.inputs._validate import check_values, exclude_touch_types
from attribution.journeys._journeys import TOUCH_KEY_COLUMNS, Journeys, build_journeys
from attribution.journeys._milestone_stages import names_found
from attribution.journeys._paths import path_table_of
from attribution.models._allocation import PathSequences
from attribution.models._estimator import PathModel
from attribution.models._registry import ModelRun
from attribution.models._rules import role_multiplier_expr, with_credit
from attribution.options import RunOptions
from attribution.typing import Level, TableLike

__all__ = [
    "Fitted",
    "Part",
    "build_part",
    "channel_credit_from_touches",
    "concat",
    "fit_models",
    "is_file",
    "journey_sequences",
    "load_input",
    "order_selection",
    "path_codes",
    "path_table",
    "prepare_touches",
    "reconciliation",
    "rename_stages",
    "rule_credit",
    "rule_credit_columns",
    "run_stage_columns",
    "run_touch_columns",
    "touch_credit_columns",
]

#: The note of every data-driven model in a run with role multipliers.
_NO_MULTIPLIERS = (
    "{label}: role_multipliers not applied (data-driven models credit channels from path "
    "statistics, not per-touch weights)"
)


# --- load -----------------------------------------------------------------------------------


def is_file(data: object) -> bool:
    """A path or a query: an empty or header-only file, or a query that returns no row, is an
    error (an empty frame is an empty run)."""
    return isinstance(data, str | os.PathLike | SqlTable)


def load_input(
    data: TableLike,
    spec: TableSpec,
    options: RunOptions,
    *,
    keep: Callable[[Sequence[str]], Collection[str]] | None = None,
    prehash: bool = False,
    require_rows: bool | None = None,
) -> Table:
    """The load stage of one input table: read with the run's column mapping and timestamp
    formats for it, checked against ``spec``; a file or a query must hold data rows (unless
    ``require_rows=False``: an incremental run's new rows may be none)."""
    return load(
        data,
        spec,
        columns=options.table_columns(spec.name),
        keep=keep,
        prehash=prehash,
        formats=options.table_formats(spec.name),
        require_rows=is_file(data) if require_rows is None else require_rows,
        currency_rates=options.currency_rates,
    )


# --- validate -------------------------------------------------------------------------------


def run_touch_columns(
    level: Level, *, touch_types: bool = False
) -> Callable[[Sequence[str]], set[str]]:
    """Which touch columns a run reads (``keep`` of :func:`load`): ids, time and channel;
    ``touch_type`` at account level (engagement weights) or when ``touch_types`` (the run
    excludes some); ``utm_source`` / ``utm_medium`` when channels are derived; ``campaign``.
    ``cost`` and the UTM fields beside a channel are type-checked, and read only for rows
    that may be duplicates."""

    def keep(present: Sequence[str]) -> set[str]:
        wanted = {"touch_id", "timestamp", "channel", "contact_id", "account_id", "campaign"}
        if level == "account" or touch_types:
            wanted.add("touch_type")
        if "channel" not in present:  # derived: the UTM tags, else the referrer's host
            wanted |= {"utm_source", "utm_medium", "referrer", "page_url"}
        return wanted

    return keep


def run_stage_columns(level: Level) -> Callable[[Sequence[str]], set[str]]:
    """Which stage columns a run reads (``keep`` of :func:`load`): all but ``account_id`` at
    contact level, where journeys and conversions are keyed by contact."""

    def keep(present: Sequence[str]) -> set[str]:
        return {c for c in present if level == "account" or c != "account_id"}

    return keep


def prepare_touches(
    touch_table: Table, channel_rules: str | Path | None
) -> tuple[pl.DataFrame, int, dict[str, Any]]:
    """The validate stage of :func:`attribute` for a loaded touch table: exact duplicates
    removed, channels derived or checked. Returns the frame, the duplicates removed and the
    counts of the channels derived (:func:`derive_touch_channels`: other, from referrers)."""
    touch_frame, duplicates = deduplicate_touches(touch_table)
    derived: dict[str, Any] = {"touches_channel_other": 0}
    if "channel" not in touch_frame.columns:
        touch_frame, derived = derive_touch_channels(touch_frame, channel_rules)
    elif touch_frame.get_column("channel").null_count():
        raise InputError(
            f"{touch_frame.get_column('channel').null_count()} touches have no channel",
            table="touches",
            source=touch_table.source.name,
            column="channel",
            rows=touch_frame.filter(pl.col("channel").is_null()).get_column(ROW).head(5).to_list(),
            hint="fill the channel (an empty cell and the null tokens 'null', 'N/A', 'NaN', "
            "'None', '-' are missing values), or drop the column to derive channels from "
            "utm_source / utm_medium",
        )
    return touch_frame, duplicates, derived


def rename_stages(
    stage_frame: pl.DataFrame, options: RunOptions
) -> tuple[pl.DataFrame, dict[str, str], int]:
    """Map the data's stage names to the run's (``stage_names``, then the spellings that
    differ from a name the run knows only by case or spaces: see
    :mod:`attribution.inputs._stage_names`); returns the frame, the values renamed and
    their events."""
    known = [options.conversion_stage]
    for names in options.all_milestones.values():
        known.extend([names] if isinstance(names, str) else names)
    return map_stage_names(stage_frame, options.stage_names, known)


def reconciliation(
    journey_counts: Mapping[str, int | dict[str, int]],
    duplicates: int,
    other_channel: int,
    stage_duplicates: int = 0,
    excluded: int = 0,
) -> dict[str, Any]:
    """The manifest's reconciliation counts: the journeys' counts plus the validate stage's
    (``stages_dropped``: stage events dropped before the journeys, by reason)."""
    counts: dict[str, Any] = dict(journey_counts)
    counts["stages_dropped"] = {  # the journeys' own (no entity id) and the duplicates
        **(counts.get("stages_dropped") or {}),
        **({"exact_duplicate": stage_duplicates} if stage_duplicates else {}),
    }
    touches_in = counts["touches_in"]
    assert isinstance(touches_in, int)
    counts["touches_in"] = touches_in + duplicates + excluded
    dropped = dict(counts["touches_dropped"])
    if duplicates:
        dropped["exact_duplicate"] = duplicates
    if excluded:
        dropped["excluded_touch_type"] = excluded
    counts["touches_dropped"] = dropped
    counts["touches_channel_other"] = other_channel
    return counts


# --- journeys -------------------------------------------------------------------------------


@dataclass
class Part:
    """The journeys of one slice of the data (all of it in memory; one partition or Spark
    task otherwise), with the validated tables they were built from."""

    touches: pl.DataFrame
    stages: pl.DataFrame
    journeys: Journeys
    counts: dict[str, Any]
    rows_in: tuple[int, int]
    campaigns: pl.DataFrame | None = None  #: see engine._campaign_credit.journey_campaigns


def build_part(
    touch_table: Table,
    stage_table: Table | None,
    contacts: pl.DataFrame | None,
    options: RunOptions,
    *,
    timer: Any = None,
    segments: pl.DataFrame | None = None,
    campaigns: bool = True,
) -> Part:
    """The validate and journeys stages: exact duplicates removed, channels derived or
    checked, stage names mapped, journeys built, counts reconciled. ``stage_table=None``: the
    touch table is the unified event log. ``timer`` (a :class:`~attribution.engine._manifest.Timer`)
    is told each stage. ``segments`` (``account_id``, ``segment``: :func:`segments_of` the
    accounts from :func:`load_segments`): each account's segment, for a lookback per
    segment. ``campaigns=False``: ``Part.campaigns`` is not built (None)."""
    if stage_table is None:
        try:
            touch_frame, stage_frame = split_events(touch_table.frame, touch_table.source)
        except InputError as exc:
            raise touch_table.error(exc) from None
        rows_in = (touch_table.rows_in, 0)
        events = touch_table
        touch_table, stage_table = (
            Table(f, events.source, events.rows_in, names=events.names, blank_rows=b, trimmed=t)
            for f, b, t in ((touch_frame, events.blank_rows, events.trimmed), (stage_frame, 0, {}))
        )
    else:
        rows_in = (touch_table.rows_in, stage_table.rows_in)
    if timer is not None:
        timer.stage("validate")
    try:  # an error about a table names the user's file, column and 1-based lines
        given = touch_table  # before the exclusion: the touch types found
        touch_table, excluded = exclude_touch_types(touch_table, options.exclude_touch_types)
        touch_frame, duplicates, derived = prepare_touches(touch_table, options.channel_rules)
        touch_frame, renamed, n_renamed, channels = normalise_channels(touch_frame, options.aliases)
        touch_frame, by_touch = key_units(touch_frame, options.key, touch_table)
        check_values(stage_table)
        stage_frame, stages_renamed, n_stages_renamed = rename_stages(stage_table.frame, options)
        stage_frame, stage_duplicates = deduplicate_stages(stage_frame)
        if timer is not None:
            timer.stage("journeys")
        journeys = build_journeys(
            touch_frame,
            stage_frame,
            level=options.level,
            conversion_stage=options.conversion_stage,
            lookback=options.window,
            milestones=options.milestones,
            contacts=contacts,
            contact_scope=options.contact_scope,
            parallel_deals=options.parallel_deals,
            max_touches_per_journey=options.max_touches_per_journey,
            segment_windows=options.segment_windows,
            segments=segments,
            # the validate stage's distinct channels, unless the key made new units of them
            channels=channels if options.key == "channel" else None,
        )
    except InputError as exc:  # about a table (a channel name): say where it came from
        located = {"touches": touch_table, "stages": stage_table}.get(exc.table or "")
        raise (located.error(exc) if located is not None else exc) from None
    counts = reconciliation(journeys.counts, duplicates, 0, stage_duplicates, excluded=excluded)
    counts.update(derived, stage_counts=stage_counts(stage_frame))  # channels other, referred
    counts.update(names_found(given.frame, stage_frame, options))
    counts.update(input_counts(touch_table, stage_table, touch_frame, journeys.conversions))
    counts.update(
        touch_channels=channels, channel_values_renamed=renamed, touches_channel_renamed=n_renamed
    )
    if stages_renamed:
        counts.update(stage_values_renamed=stages_renamed, stage_events_renamed=n_stages_renamed)
    found = journey_campaigns(by_touch, journeys.touches, journeys.rows) if campaigns else None
    return Part(touch_frame, stage_frame, journeys, counts, rows_in, found)


# --- paths ----------------------------------------------------------------------------------


def path_table(journeys: Journeys, *, joined: str | None = None) -> pl.DataFrame:
    """Aggregate converting and non-converting journeys into a path table, grouped on the
    channel codes (the ``Enum`` of the null touches) packed into integer keys
    (:mod:`attribution.journeys._paths`): 0.4 s of CPU for 10M touches instead of 1.5 s.
    ``joined``: each ``path`` one string, its channels joined by it."""
    converting, nulls, names = path_codes(journeys)
    return path_table_of(converting, nulls, names, PATH_TABLE_SCHEMA, joined=joined)


def path_codes(journeys: Journeys) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """The journeys as :func:`~attribution.journeys._paths.path_table_of` takes them: the
    converting and the null paths' touches (``pid``, ``ch``, and ``value`` for the
    converting ones) coded in the channels' ``Enum``, and its names."""
    codes = journeys.null_touches.schema["channel"]
    assert isinstance(codes, pl.Enum)
    converting = journeys.touches.select(
        pl.col("conversion_id").rle_id().alias("pid"),
        pl.col("channel").cast(codes).to_physical().alias("ch"),
        pl.col("conversion_value").alias("value"),
    )
    nulls = journeys.null_touches.select(
        pl.col("path_id").alias("pid"), pl.col("channel").to_physical().alias("ch")
    )
    return converting, nulls, codes.categories.to_list()


def journey_sequences(journeys: Journeys) -> PathSequences:
    """The journeys as coded paths (one per conversion and per null path, weight 1), for
    the models that fit on :class:`PathSequences`: the path table without its lists and
    strings (it takes ~0.1 s at 10M touches where :func:`path_table` takes 0.5 s)."""
    codes = journeys.null_touches.schema["channel"]
    assert isinstance(codes, pl.Enum)
    index = pl.get_index_type()
    converting = journeys.touches.select(
        pl.col("conversion_id").rle_id().cast(index).alias("pid"),
        pl.col("channel").cast(codes).to_physical().cast(pl.UInt32).alias("ch"),
    )
    firsts = journeys.touches.filter(run_start(pl.col("conversion_id")))
    bad = ~pl.col("conversion_value").is_finite() | (pl.col("conversion_value") < 0)
    if firsts.select(bad.any()).item():
        shown = firsts.filter(bad).get_column("conversion_id").head(5).to_list()
        raise ValueError(
            f"conversions {shown} have a negative or non-finite stage 'value' (deal amount); "
            "the data-driven models need finite amounts >= 0"
        )
    n_conv = firsts.height
    per_conversion = firsts.select(
        pl.lit(1.0).alias("conversions"),
        pl.lit(0.0).alias("nulls"),
        pl.col("conversion_value").alias("value"),
    )
    null_rows = journeys.null_touches.select(
        (pl.col("path_id").cast(index) + n_conv).alias("pid"),
        pl.col("channel").to_physical().cast(pl.UInt32).alias("ch"),
    )
    path_ids = journeys.null_touches.get_column("path_id")  # 0..n-1, in order (rle ids)
    n_null = int(path_ids.max()) + 1 if path_ids.len() else 0  # type: ignore[arg-type]
    per_null = pl.select(
        pl.repeat(0.0, n_null, dtype=pl.Float64).alias("conversions"),
        pl.repeat(1.0, n_null, dtype=pl.Float64).alias("nulls"),
        pl.repeat(0.0, n_null, dtype=pl.Float64).alias("value"),
    )
    return PathSequences.from_codes(
        pl.concat([converting, null_rows]),
        pl.concat([per_conversion, per_null]),
        codes.categories.to_list(),
        where="of the conversions (their stage 'value')",
    )


def order_selection(journeys: Journeys) -> tuple[pl.DataFrame, int]:
    from attribution.models._markov import select_order

    per_journey = pl.concat(
        [
            journeys.touches.group_by("conversion_id", maintain_order=True)
            .agg(pl.col("channel").alias("path"))
            .select("path", pl.lit(True).alias("converted")),
            journeys.null_touches.group_by("path_id", maintain_order=True)
            .agg(pl.col("channel").cast(pl.String).alias("path"))
            .select("path", pl.lit(False).alias("converted")),
        ]
    )
    try:
        return select_order(per_journey, seed=0)
    except ValueError as exc:
        raise ModelParameterError(f"markov order selection: {exc}") from exc


# --- credit ---------------------------------------------------------------------------------


def touch_credit_columns(credited: pl.DataFrame, label: str) -> pl.DataFrame:
    """Journey touches with ``credit`` -> the columns of ``touch_credit`` for one model."""
    return credited.select(
        *TOUCH_KEY_COLUMNS,
        pl.lit(label).alias("model"),
        "credit",
        (pl.col("credit") * pl.col("conversion_value")).alias("value"),
    )


def check_finite_credit(channel_credit: pl.DataFrame) -> pl.DataFrame:
    """``channel_credit`` unchanged, or an error when a model's credit is not finite: a run
    never reports NaN or infinite conversions as an answer (the parameter checks make it
    impossible; this is the last guard)."""
    finite = pl.col("conversions").is_finite() & pl.col("value").is_finite()
    bad = channel_credit.filter(~finite.fill_null(False))
    if bad.height:
        models = ", ".join(sorted(bad.get_column("model").unique().to_list()))
        raise AttributionError(
            f"model(s) {models} gave non-finite credit; no result is written. This is a bug: "
            "please report it with the model's parameters"
        )
    return channel_credit


def channel_credit_from_touches(touch_credit: pl.DataFrame) -> pl.DataFrame:
    """Sum per-touch credit by model and channel; ``share`` is within the model."""
    return check_finite_credit(
        touch_credit.group_by("model", "channel")
        .agg(pl.col("credit").sum().alias("conversions"), pl.col("value").sum())
        .with_columns(
            (pl.col("conversions") / pl.col("conversions").sum().over("model"))
            .fill_nan(0.0)
            .alias("share")
        )
        .sort("model", "conversions", "channel", descending=[False, True, False])
        .select(list(CHANNEL_CREDIT_SCHEMA))
    )


def rule_credit_columns(
    journey_touches: pl.DataFrame, options: RunOptions
) -> dict[int, pl.Series]:
    """The credit of every rule-based model over ``journey_touches``, row for row (index in
    ``options.runs`` -> a ``credit`` series), in one pass: Polars computes the models'
    columns in parallel. Role multipliers apply here."""
    runs = options.runs
    rules = {_rule_column(i): r.build() for i, r in enumerate(runs) if r.spec.family == "rule"}
    if not rules:
        return {}
    multipliers = options.multipliers
    if multipliers is not None:
        journey_touches = journey_touches.with_columns(role_multiplier_expr(multipliers))
    multiplier = "role_multiplier" if multipliers is not None else None
    credited = with_credit(journey_touches, rules, multiplier=multiplier)
    return {
        i: credited.get_column(_rule_column(i)).alias("credit")
        for i, run in enumerate(runs)
        if run.spec.family == "rule"
    }


def rule_credit(journey_touches: pl.DataFrame, options: RunOptions) -> dict[int, pl.DataFrame]:
    """Touch credit of every rule-based model (index in ``options.runs`` -> its long touch
    credit rows), from :func:`rule_credit_columns`."""
    runs = options.runs
    return {
        i: touch_credit_columns(journey_touches.with_columns(credit), runs[i].label).cast(
            TOUCH_CREDIT_SCHEMA
        )
        for i, credit in rule_credit_columns(journey_touches, options).items()
    }


def _rule_column(i: int) -> str:
    return f"\x00credit:{i}"


def concat(parts: list[pl.DataFrame], schema: pl.Schema) -> pl.DataFrame:
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat([p.cast(schema) for p in parts], how="vertical")


# --- fit ------------------------------------------------------------------------------------


@dataclass
class Fitted:
    """The data-driven models of a run, each fitted once, with what they report.

    ``estimators`` and ``channel_credit`` are keyed by the model's index in ``options.runs``;
    ``touch_credit`` holds the allocations made while fitting (``allocate_on``)."""

    runs: list[ModelRun]
    estimators: dict[int, PathModel] = field(default_factory=dict)
    channel_credit: dict[int, pl.DataFrame] = field(default_factory=dict)
    touch_credit: dict[int, pl.DataFrame] = field(default_factory=dict)
    extras: dict[str, pl.DataFrame] = field(default_factory=dict)
    graphs: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def allocate(self, journey_touches: pl.DataFrame) -> dict[int, pl.DataFrame]:
        """Each fitted model's credit over ``journey_touches``, as touch-credit rows."""
        return {
            i: _allocate(self.runs[i], estimator, journey_touches)
            for i, estimator in self.estimators.items()
        }


def fit_models(
    options: RunOptions,
    paths: pl.DataFrame | Callable[[], pl.DataFrame],
    *,
    sequences: Callable[[], PathSequences] | None = None,
    allocate_on: pl.DataFrame | None = None,
    timer: Any = None,
    prefit: Callable[[ModelRun], PathModel | None] | None = None,
) -> Fitted:
    """Fit every data-driven model of the run once: on the path table (``paths``, or a
    function building it on first use), or on coded journeys (``sequences``) for the models
    that take them. ``allocate_on``: also allocate each model's credit over these journey
    touches, inside the model's own stage of ``timer``. ``prefit(run)``: a model fitted
    another way (the incremental state's statistics), or None to fit it here."""
    runs = options.runs
    fitted = Fitted(runs)
    for i, run in enumerate(runs):
        if run.spec.family == "rule":
            continue
        if timer is not None:
            timer.stage(f"model:{run.label}")
        if options.multipliers is not None:
            fitted.notes.append(_NO_MULTIPLIERS.format(label=run.label))
        estimator = _fit(run, paths, sequences, prefit)
        fitted.estimators[i] = estimator
        if allocate_on is not None:
            fitted.touch_credit[i] = _allocate(run, estimator, allocate_on)
        fitted.channel_credit[i] = _channel_credit_from_estimator(run.label, estimator)
        fitted.extras.update(_estimator_extras(run.label, estimator))
        fitted.graphs.update(_estimator_graphs(run.label, estimator))
        fitted.notes.extend(_estimator_notes(run.label, estimator))
    return fitted


def _allocate(run: ModelRun, estimator: PathModel, journey_touches: pl.DataFrame) -> pl.DataFrame:
    credited = estimator.allocate(journey_touches)
    return touch_credit_columns(credited, run.label).cast(TOUCH_CREDIT_SCHEMA)


def _channel_credit_from_estimator(label: str, estimator: PathModel) -> pl.DataFrame:
    credit = estimator.channel_credit_
    total = float(credit.get_column("conversions").sum() or 0.0)
    if total <= 0:  # nothing converted: no credit to report, as for the rule-based models
        return pl.DataFrame(schema=CHANNEL_CREDIT_SCHEMA)
    return check_finite_credit(
        credit.select(
            pl.lit(label).alias("model"),
            pl.col("channel").cast(pl.String),
            pl.col("conversions").cast(pl.Float64),
            pl.col("value").cast(pl.Float64),
            (pl.col("conversions") / total if total > 0 else pl.lit(0.0)).alias("share"),
        ).sort("conversions", "channel", descending=[True, False])
    )


def _fit(
    run: ModelRun,
    paths: pl.DataFrame | Callable[[], pl.DataFrame],
    sequences: Callable[[], PathSequences] | None = None,
    prefit: Callable[[ModelRun], PathModel | None] | None = None,
) -> PathModel:
    """Fit a data-driven model on the path table, or on coded journeys (``sequences``) when
    the model takes them (``fits_sequences``), or as ``prefit`` does; its own ValueErrors
    become the library's error type. ``paths`` may be a function building the table."""
    try:
        done = prefit(run) if prefit is not None else None
        if done is not None:
            return done
        estimator = run.build()
        if not isinstance(estimator, PathModel):
            raise TypeError(f"{run.label}: a data-driven model builds a PathModel")
        if sequences is not None and estimator.fits_sequences:
            return estimator.fit(sequences())
        return estimator.fit(paths() if callable(paths) else paths)
    except AttributionError:
        raise
    except ValueError as exc:
        raise ModelParameterError(f"{run.label}: {exc}") from exc


def _estimator_notes(label: str, estimator: PathModel) -> list[str]:
    return [f"{label}: {n}" for n in estimator.fit_notes()]


def _estimator_graphs(label: str, estimator: PathModel) -> dict[str, Any]:
    graph = estimator.graph()
    if graph is None:
        return {}
    return {f"{RunFiles.safe_label(label)}_{estimator.graph_kind}": graph}


def _estimator_extras(label: str, estimator: PathModel) -> dict[str, pl.DataFrame]:
    return {
        f"{RunFiles.safe_label(label)}_{name}": frame
        for name, frame in estimator.extra_tables().items()
    }
