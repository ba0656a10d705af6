"""Incremental runs: :func:`attribute_incremental` reads only the rows after the last run's
watermark and re-opens the journeys of the entities they touch; the result equals that of a
full run on all the data read so far.

Why this is exact: everything a journey is made of -- its conversions (ids ``<entity>#k``),
lookback windows, milestones, the non-converting path, duplicates, the touch cap -- depends
on its entity's own rows only. So the state keeps (``RunOptions.state``, a directory):

- ``history/``: every validated input row read so far, with its global row number (ties in
  time and ``row-N`` touch ids are those of a full run over the rows in the order they were
  read, each run's new rows after the earlier ones);
- the *additive* outputs: the path table, the reconciliation counts (with the uncut stage
  counts), and the per-entity outputs: the converting journeys' touches and the conversions;
- each input's **watermark** (its latest timestamp) and row count, and a fingerprint of the
  run options the state was built with.

A run then: (1) reads each input's rows at or after ``watermark - late_window`` (a query is
wrapped in ``WHERE timestamp >= ...``, so the database sends only those; a Parquet file is
filtered as it is scanned), and skips the rows it had already read (compared as a multiset of
row hashes with the history's rows in that window); (2) takes the entities of the new rows,
rebuilds their journeys from their whole history plus the new rows, and also from their
history alone (what the state counted for them); (3) updates the additive outputs by
``old - before + after`` and replaces those entities' journeys and conversions; (4) computes
the credit of every model over the stored journeys: rule-based credit per touch, data-driven
models fitted once on the merged path table and allocated over every journey.

Cases that make a run a **full recompute** (all rows read again from the inputs and the
state rebuilt; the manifest's notes say which): no state yet; run options other than those
the state was built with (models, level, windows, mappings, anything but ``state``,
``late_window``, ``write_to`` and ``allow_empty``); a different contacts table; input columns
other than before; rows older than the late window (the inputs hold more, or fewer, rows at
or before ``watermark - late_window`` than were read: a late arrival beyond the window, or
an update or deletion of old rows); account level and Markov order selection (their outputs
-- engagement tiers relative to every account, the held-out split -- are not per entity:
every run of them is a full recompute). A unified event log (``--events``) is refused: give
touches and stages.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from attribution._version import __version__
from attribution.engine._deltas import (
    combine_counts,
    keyed_paths,
    shown_stage_counts,
    stage_counts_full,
    unkeyed_paths,
    unseen,
    update_paths,
)
from attribution.engine._files import write_json_atomic
from attribution.engine._manifest import Timer, conversion_totals, make_manifest, run_parameters
from attribution.engine._memory import attribute, refuse_bootstrap
from attribution.engine._merge import collect_credit
from attribution.engine._result import (
    AttributionResult,
)
from attribution.engine._stages import (
    Part,
    build_part,
    fit_models,
    load_input,
    path_table,
    rule_credit,
)
from attribution.exceptions import ConfigError
from attribution.inputs._database import SqlTable
from attribution.inputs._schema import CONTACTS, ROW, STAGES, TOUCHES, Table, TableSpec
from attribution.inputs._sources import Source, read_source
from attribution.options import RunOptions
from attribution.typing import Progress, TableLike

__all__ = ["attribute_incremental"]

_VERSION = 1
_STATE = "state.json"
#: run options that do not change a result: the state serves runs that differ only in them
_NOT_FINGERPRINTED = ("state", "late_window", "write_to", "allow_empty")
_TABLES = {"touches": TOUCHES, "stages": STAGES}
_EMPTY_TIME = datetime(1900, 1, 1, tzinfo=UTC)


# --- the state directory --------------------------------------------------------------------


@dataclass
class _State:
    """What ``state.json`` says, and where the state's tables are."""

    directory: Path
    meta: dict[str, Any]
    #: the tables this run wrote, kept in memory
    written: dict[str, pl.DataFrame] = field(default_factory=dict)

    @classmethod
    def read(cls, directory: Path) -> _State | None:
        path = directory / _STATE
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"state '{directory}': cannot read {_STATE}: {exc}") from None
        if meta.get("version") != _VERSION:
            return None
        return cls(directory, meta)

    def table(self, name: str) -> pl.DataFrame:
        if name in self.written:  # this run's own: not read back from disk
            return self.written[name]
        return pl.read_parquet(self.directory / self.meta["files"][name])

    def history(self, table: str) -> list[Path]:
        return [self.directory / f for f in self.meta["history"][table]]


def _fingerprint(options: RunOptions, contacts: pl.DataFrame | None) -> str:
    """A hash of everything that shapes a result but the new rows themselves."""
    values = {
        name: getattr(options, name)
        for name in RunOptions.names()
        if name not in _NOT_FINGERPRINTED
    }
    values["models"] = [run.label for run in options.runs]
    values["version"] = __version__  # another release may build journeys otherwise
    rules = options.channel_rules
    if rules is not None and Path(rules).is_file():
        values["channel_rules"] = hashlib.sha256(Path(rules).read_bytes()).hexdigest()
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode())
    if contacts is not None:
        digest.update(contacts.hash_rows(seed=0).to_numpy().tobytes())
    return digest.hexdigest()


# --- reading the new rows -------------------------------------------------------------------


def _their_timestamp(options: RunOptions, table: str) -> str:
    return (options.table_columns(table) or {}).get("timestamp", "timestamp")


def _literal(moment: datetime) -> str:
    return f"CAST('{moment.isoformat()}' AS TIMESTAMP WITH TIME ZONE)"


@dataclass
class _Read:
    """One input's rows at or after the cutoff (validated, ``_row`` local), and how many
    rows the input holds before it."""

    table: Table
    before: int


def _read_after(data: TableLike, spec: TableSpec, options: RunOptions, cutoff: datetime) -> _Read:
    """The rows of ``data`` with a timestamp at or after ``cutoff``, and the count before it:
    a query is wrapped so the database filters; a file whose timestamp column is a datetime
    is filtered as it is scanned; anything else is read whole and filtered once validated."""
    column = _their_timestamp(options, spec.name)
    if isinstance(data, SqlTable):
        inner = f'SELECT * FROM ({data.query}) AS _attribution_q WHERE "{column}"'
        after = SqlTable(data.uri, f"{inner} >= {_literal(cutoff)}")
        count = SqlTable(
            data.uri,
            f'SELECT count(*) AS n FROM ({data.query}) AS _attribution_q WHERE "{column}" < '
            f"{_literal(cutoff)}",
        )
        before = int(count.frame(spec.name).item())
        return _Read(load_input(after, spec, options, require_rows=False), before)
    source = read_source(data, table=spec.name)
    dtype = source.frame.collect_schema().get(column)
    if isinstance(dtype, pl.Datetime):
        moment = pl.lit(cutoff).dt.replace_time_zone(None) if dtype.time_zone is None else None
        bound = (
            moment
            if moment is not None
            else pl.lit(cutoff).dt.convert_time_zone(dtype.time_zone or "UTC")
        )
        before = source.frame.filter(pl.col(column) < bound).select(pl.len()).collect().item()
        filtered = Source(
            source.frame.filter(pl.col(column) >= bound),
            f"{source.name} (rows at or after {cutoff.isoformat()})",
            numbering=None,
        )
        return _Read(load_input(filtered, spec, options), int(before))
    table = load_input(data, spec, options)
    early = table.frame.get_column("timestamp") < cutoff
    before = int(early.sum())
    return _Read(_replace(table, table.frame.filter(~early)), before)


def _replace(table: Table, frame: pl.DataFrame) -> Table:
    return Table(frame, table.source, frame.height, names=table.names, spec=table.spec)


# --- the run --------------------------------------------------------------------------------


def _part(
    touches: pl.DataFrame, stages: pl.DataFrame, options: RunOptions, names: tuple[Table, Table]
) -> Part:
    touch_table = Table(
        touches, names[0].source, touches.height, names=names[0].names, spec=TOUCHES
    )
    stage_table = Table(stages, names[1].source, stages.height, names=names[1].names, spec=STAGES)
    return build_part(touch_table, stage_table, None, options)


def _key(options: RunOptions) -> str:
    return "contact_id" if options.level == "contact" else "account_id"


def _entity_filter(key: str, entities: pl.Series) -> pl.Expr:
    inside = pl.col(key).is_in(entities.drop_nulls().implode())
    return inside | pl.col(key).is_null() if entities.null_count() else inside


def attribute_incremental(
    touches: TableLike,
    stages: TableLike,
    *,
    contacts: TableLike | None = None,
    accounts: Any = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    full: bool = False,
    **keywords: Any,
) -> AttributionResult:
    """:func:`attribution.attribute` on everything read so far, reading only what is new.

    ``options.state`` (or ``state=`` among ``keywords``) is the state directory; the first
    run (an empty or missing directory) reads everything and fills it. Each later run reads
    each input's rows at or after its watermark minus ``late_window`` and re-opens the
    journeys of the entities with new rows; the result equals that of
    :func:`attribution.attribute` on all the rows read (tested to 1e-12). ``full=True``
    forces a full recompute. The module docstring lists what else forces one; the
    manifest's ``parameters.incremental`` says what the run did.

    Assumes inputs that only grow (rows are added, never changed or deleted; a change to
    old rows is noticed by the row counts before the late window and forces a full
    recompute). A ``touch_id`` that a new row shares with a row of another entity read in
    an earlier run is not reported (a full run reports it).
    """
    timer = Timer(progress)
    options = RunOptions.of(options, **keywords)
    if options.state is None:
        raise ConfigError("an incremental run needs a state directory (state / --state)")
    refuse_bootstrap(options, "in incremental runs")
    if stages is None:
        raise ConfigError(
            "an incremental run takes touches and stages, not a unified event log (--events)"
        )
    directory = Path(options.state)
    timer.stage("load")
    contact_frame = load_input(contacts, CONTACTS, options).frame if contacts is not None else None
    fingerprint = _fingerprint(options, contact_frame)
    state = None if full else _State.read(directory)
    reason: str | None = None
    if full:
        reason = "asked for (full=True)"
    elif state is None:
        reason = "no state yet"
    elif state.meta["fingerprint"] != fingerprint:
        reason = "the run options or the contacts table differ from the state's"
    elif options.level != "contact":
        reason = "account level (engagement tiers are relative to every account)"
    elif options.select_markov_order:
        reason = "Markov order selection (its held-out split is not per entity)"
    elif options.segment_windows is not None:
        reason = "a lookback per segment (it reads the accounts table)"
    reads: dict[str, _Read] = {}
    if reason is None:
        assert state is not None
        for name, data in (("touches", touches), ("stages", stages)):
            seen = state.meta["inputs"][name]
            cutoff = _cutoff(seen, options)
            read = _read_after(data, _TABLES[name], options, cutoff)
            known = _history_count_before(state, name, cutoff)
            if read.before != known:
                reason = (
                    f"{name}: the input holds {read.before:,} rows before {cutoff.isoformat()} "
                    f"where {known:,} were read (rows arrived later than the late window, or "
                    "old rows changed)"
                )
                break
            if list(read.table.frame.columns) != seen["columns"]:
                reason = f"{name}: the input's columns differ from those read before"
                break
            reads[name] = read
    if reason is not None:
        return _full(
            touches,
            stages,
            (contacts, accounts),
            contact_frame,
            options,
            fingerprint,
            reason,
            timer,
        )
    assert state is not None
    return _incremental(state, reads, options, fingerprint, timer)


def _cutoff(seen: Mapping[str, Any], options: RunOptions) -> datetime:
    """Where an input's new rows start: its watermark less the late window."""
    watermark = datetime.fromisoformat(seen["watermark"])
    return max(watermark - options.late, _EMPTY_TIME) if watermark > _EMPTY_TIME else watermark


def _history_count_before(state: _State, name: str, cutoff: datetime) -> int:
    files = state.history(name)
    if not files:
        return 0
    return int(
        pl.scan_parquet(files)
        .filter(pl.col("timestamp") < cutoff)
        .select(pl.len())
        .collect()
        .item()
    )


def _full(
    touches: TableLike,
    stages: TableLike,
    others: tuple[TableLike | None, Any],
    contact_frame: pl.DataFrame | None,
    options: RunOptions,
    fingerprint: str,
    reason: str,
    timer: Timer,
) -> AttributionResult:
    """Read everything, rebuild the state, and answer from it (or, for the cases that are
    never per entity, run in memory and keep only the history and watermarks)."""
    tables = {
        "touches": load_input(touches, TOUCHES, options),
        "stages": load_input(stages, STAGES, options),
    }
    directory = Path(options.state or "")
    fresh = directory / f".build-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    fresh.mkdir(parents=True, exist_ok=True)
    meta: dict[str, Any] = {
        "version": _VERSION,
        "fingerprint": fingerprint,
        "inputs": {},
        "history": {},
        "files": {},
        "runs": 1,
    }
    for name, table in tables.items():
        _append_history(fresh, meta, name, table.frame, 0)
    per_entity = (
        options.level == "contact"
        and not options.select_markov_order
        and options.segment_windows is None
    )
    if not per_entity:
        contacts, accounts = others
        result = attribute(
            touches,
            stages,
            contacts=contacts,
            accounts=accounts,
            options=options.replace(state=None),
        )
        _commit(directory, fresh, meta)
        result.manifest["notes"].append(f"incremental run: full recompute ({reason})")
        result.manifest["parameters"]["incremental"] = {"mode": "full", "reason": reason}
        return result
    part = _part(
        tables["touches"].frame,
        tables["stages"].frame,
        options,
        (tables["touches"], tables["stages"]),
    )
    counts = dict(part.counts)
    meta["stage_counts_full"] = stage_counts_full(part.stages)
    meta["counts"] = counts
    written = {
        "journeys": part.journeys.touches,
        "conversions": part.journeys.conversions,
        "paths": keyed_paths(path_table(part.journeys)),
    }
    for name, frame in written.items():
        _write(fresh, meta, name, frame)
    _commit(directory, fresh, meta)
    state = _State(directory, meta, written)
    rows = {n: t.rows_in for n, t in tables.items()}
    return _answer(
        state,
        options,
        timer,
        {"mode": "full", "reason": reason, "rows_read": rows, "entities_reopened": None},
    )


def _incremental(
    state: _State,
    reads: dict[str, _Read],
    options: RunOptions,
    fingerprint: str,
    timer: Timer,
) -> AttributionResult:
    key = _key(options)
    meta = json.loads(json.dumps(state.meta))
    new: dict[str, pl.DataFrame] = {}
    old: dict[str, pl.DataFrame] = {}
    timer.stage("validate")
    for name, read in reads.items():
        seen_meta = meta["inputs"][name]
        cutoff = _cutoff(seen_meta, options)
        history = pl.scan_parquet(state.history(name)) if state.history(name) else None
        recent = (
            history.filter(pl.col("timestamp") >= cutoff).collect()
            if history is not None
            else read.table.frame.clear()
        )
        fresh = unseen(read.table.frame, recent.select(read.table.frame.columns))
        offset = int(seen_meta["rows"])
        new[name] = fresh.with_columns((pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias(ROW))
    entities = (
        pl.concat([new[n].select(key) for n in new if key in new[n].columns])
        .get_column(key)
        .unique()
    )
    timer.stage("history of the entities with new rows")
    for name in reads:
        files = state.history(name)
        if files and key in pl.scan_parquet(files).collect_schema().names():
            old[name] = pl.scan_parquet(files).filter(_entity_filter(key, entities)).collect()
        else:
            old[name] = new[name].clear()
    tables = (reads["touches"].table, reads["stages"].table)
    timer.stage("journeys")
    before = _part(old["touches"], old["stages"], options, tables)
    after = _part(
        pl.concat([old["touches"], new["touches"]]).sort(ROW),
        pl.concat([old["stages"], new["stages"]]).sort(ROW),
        options,
        tables,
    )
    timer.stage("state")
    affected = set(entities.to_list())
    meta["counts"] = combine_counts(meta["counts"], before.counts, after.counts, affected, key)
    full_stages = dict(meta["stage_counts_full"])
    for s, n in stage_counts_full(before.stages).items():
        full_stages[s] = full_stages.get(s, 0) - n
    for s, n in stage_counts_full(after.stages).items():
        full_stages[s] = full_stages.get(s, 0) + n
    meta["stage_counts_full"] = {s: n for s, n in full_stages.items() if n}
    meta["counts"]["stage_counts"] = shown_stage_counts(meta["stage_counts_full"])
    mine = _entity_filter(key, entities)
    journeys = pl.concat(
        [state.table("journeys").filter(~mine), after.journeys.touches], how="vertical_relaxed"
    ).sort("conversion_id", "position")
    conversions = pl.concat(
        [state.table("conversions").filter(~mine), after.journeys.conversions],
        how="vertical_relaxed",
    ).sort("conversion_id")
    paths = update_paths(
        state.table("paths"), path_table(before.journeys), path_table(after.journeys)
    )
    fresh_dir = state.directory / f".build-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    fresh_dir.mkdir(parents=True)
    meta["runs"] = int(meta["runs"]) + 1
    for name in reads:
        _append_history(
            fresh_dir,
            meta,
            name,
            new[name],
            int(meta["inputs"][name]["rows"]),
            keep=meta["history"][name],
        )
    written = {"journeys": journeys, "conversions": conversions, "paths": paths}
    for name, frame in written.items():
        _write(fresh_dir, meta, name, frame)
    meta["fingerprint"] = fingerprint
    _commit(state.directory, fresh_dir, meta)
    rows = {n: new[n].height for n in new}
    return _answer(
        _State(state.directory, meta, written),
        options,
        timer,
        {
            "mode": "incremental",
            "reason": None,
            "rows_read": rows,
            "entities_reopened": len(affected),
        },
    )


def _append_history(
    directory: Path,
    meta: dict[str, Any],
    name: str,
    frame: pl.DataFrame,
    offset: int,
    keep: list[str] | None = None,
) -> None:
    """Record ``frame`` (validated rows, global ``_row``) in the history and the watermark."""
    files = list(keep or [])
    if frame.height:
        target = f"history-{name}-{meta['runs']:06d}.parquet"
        frame.write_parquet(directory / target, compression="lz4")
        files.append(f"{directory.name}/{target}")
    meta["history"][name] = files
    previous = meta["inputs"].get(name, {})
    watermark = datetime.fromisoformat(previous.get("watermark", _EMPTY_TIME.isoformat()))
    latest = frame.get_column("timestamp").max() if frame.height else None
    if isinstance(latest, datetime):
        watermark = max(watermark, latest)
    meta["inputs"][name] = {
        "watermark": watermark.isoformat(),
        "rows": offset + frame.height,
        "columns": list(frame.columns),
    }


def _write(directory: Path, meta: dict[str, Any], name: str, frame: pl.DataFrame) -> None:
    frame.write_parquet(directory / f"{name}.parquet", compression="lz4")
    meta["files"][name] = f"{directory.name}/{name}.parquet"


def _commit(directory: Path, fresh: Path, meta: dict[str, Any]) -> None:
    """Point ``state.json`` at the new files (one atomic replace: a run that stops before it
    leaves the old state whole), then remove what no longer belongs to the state."""
    write_json_atomic(directory / _STATE, meta)
    used = {Path(f).parts[0] for f in meta["files"].values()}
    used |= {Path(f).parts[0] for files in meta["history"].values() for f in files}
    for entry in directory.iterdir():
        if entry.is_dir() and entry.name not in used:
            shutil.rmtree(entry, ignore_errors=True)


def _answer(
    state: _State, options: RunOptions, timer: Timer, incremental: dict[str, Any]
) -> AttributionResult:
    """Credit of every model over the state's journeys, as :func:`attribute` gives it."""
    runs = options.runs
    # stored in (conversion_id, position) order: saying so halves the rule-based credit's time
    journeys = state.table("journeys").with_columns(pl.col("conversion_id").set_sorted())
    paths = unkeyed_paths(state.table("paths"))
    rules: dict[int, pl.DataFrame] = {}
    if any(run.spec.family == "rule" for run in runs):
        timer.stage("models:rule-based")
        rules = rule_credit(journeys, options)
    fitted = fit_models(options, paths, allocate_on=journeys, timer=timer)
    timer.stage("collect")
    touch_credit, channel_credit = collect_credit(len(runs), rules, fitted)
    conversions = state.table("conversions")
    parameters = run_parameters(options)
    parameters["incremental"] = incremental
    notes = [*fitted.notes]
    if incremental["mode"] == "full":
        notes.append(f"incremental run: full recompute ({incremental['reason']})")
    else:
        notes.append(
            f"incremental run: {incremental['entities_reopened']:,} entities re-opened, "
            f"rows read {incremental['rows_read']}"
        )
    inputs = {
        name: {"rows": seen["rows"], "watermark": seen["watermark"]}
        for name, seen in state.meta["inputs"].items()
    }
    manifest = make_manifest(
        runs,
        inputs=inputs,
        parameters=parameters,
        counts=dict(state.meta["counts"]),
        timings=timer.done(),
        notes=notes,
    )
    manifest["totals"] = conversion_totals(conversions)
    return AttributionResult(
        channel_credit, touch_credit, manifest, conversions, paths, fitted.extras, fitted.graphs
    )
