"""Incremental runs: :func:`attribute_incremental` reads only the rows after the last run's
watermark and re-opens the journeys of the entities they touch; the result equals that of a
full run on all the data read so far.

Why this is exact: everything a journey is made of -- its conversions (ids ``<entity>#k``),
lookback windows, milestones, the non-converting path, duplicates, the touch cap -- depends
on its entity's own rows only. So the state keeps (``RunOptions.state``, a directory):

- the **history**: every validated input row read so far, with its global row number (ties
  in time and ``row-N`` touch ids are those of a full run over the rows in the order they
  were read, each run's new rows after the earlier ones), one file per run, indexed by
  entity (:mod:`attribution.engine._history`: a night gathers only the re-opened entities'
  rows);
- the *additive* outputs: the path table (coded, :mod:`attribution.engine._deltas`), the
  rule-based credit summed per model and channel, the reconciliation counts (with the uncut
  stage counts) and the conversion totals;
- the per-entity outputs -- the converting journeys' touches, the conversions and the
  journey touches' campaigns -- as generations (:mod:`attribution.engine._generations`):
  each run appends those of the entities it re-opened;
- each input's **watermark** (its latest timestamp) and row count, and a fingerprint of the
  run options the state was built with.

A run then: (1) reads each input's rows at or after ``watermark - late_window`` (a query is
wrapped in ``WHERE timestamp >= ...``, so the database sends only those; a Parquet file is
filtered as it is scanned), and skips the rows it had already read (compared as a multiset of
row hashes with the history's rows in that window); (2) takes the entities of the new rows,
rebuilds their journeys from their whole history plus the new rows, and also from their
history alone (what the state counted for them); (3) updates the additive outputs by
``old - before + after`` and appends those entities' journeys and conversions as a
generation; (4) fits the data-driven models once on the path table and reports the
channel credit (:mod:`attribution.engine._state_answer`).
The per-touch tables (touch credit, conversions, campaign credit and influence) are built
from the state's journeys when first read, exactly as a full run builds them. So a run's
cost follows its new rows and the re-opened entities' history (gathered through the
index), except for the data-driven models' fit on the path table (one row per distinct
path).

Cases that make a run a **full recompute** (all rows read again from the inputs and the
state rebuilt; the manifest's notes say which): no state yet; run options other than those
the state was built with (models, level, windows, mappings, anything but ``state``,
``late_window``, ``write_to``, ``allow_empty``, ``touch_credit_layout`` and
``decision_model``, which shape no credit: the reason names the options that differ); input
columns other than before; rows older than the late window (the inputs hold more, or fewer, rows at
or before ``watermark - late_window`` than were read: a late arrival beyond the window, or
an update or deletion of old rows); account level and Markov order selection (their outputs
-- engagement tiers relative to every account, the held-out split -- are not per entity:
every run of them is a full recompute). A unified event log (``--events``) is refused: give
touches and stages.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._deltas import (
    apply_path_delta,
    coded_paths,
    combine_counts,
    hashes_unique,
    path_delta,
    recode,
    rule_sums,
    shown_stage_counts,
    stage_counts_full,
    update_rule_sums,
)
from attribution.engine._fit_stats import STATISTICS, statistics, update_statistics
from attribution.engine._generations import (
    MAX_GENERATIONS,
    PATH_DELTA_SHARE,
    STATE_VERSION,
    State,
    ahead_notes,
    append_history,
    commit,
    compact,
    new_directory,
    write_generation,
    write_table,
)
from attribution.engine._history import rows_of
from attribution.engine._incremental_read import Read, described, sql_mark
from attribution.engine._input_counts import count_blank_rows
from attribution.engine._manifest import (
    WATERMARK_HELD,
    Timer,
    add_coded_notes,
    conversion_totals,
)
from attribution.engine._memory import attribute, refuse_bootstrap
from attribution.engine._night_contacts import NightContacts
from attribution.engine._night_rows import TABLES, cutoff, number_rows, read_night
from attribution.engine._old_rows import file_mark
from attribution.engine._result import AttributionResult
from attribution.engine._stages import (
    Part,
    build_part,
    load_input,
    path_table,
    rule_credit,
)
from attribution.engine._state_answer import answer
from attribution.engine._state_checks import unreconciled
from attribution.engine._state_lock import state_lock
from attribution.engine._state_options import fingerprint, option_values, options_differ
from attribution.engine._together import together
from attribution.exceptions import ConfigError
from attribution.inputs._database import SqlTable
from attribution.inputs._referrers import add_unread
from attribution.inputs._schema import ROW, STAGES, TOUCHES, Table
from attribution.inputs._time_zones import NAIVE_TIMES, zone_notes
from attribution.options import RunOptions
from attribution.typing import Progress, TableLike

__all__ = ["attribute_incremental"]

_PATH_SUMS = ["conversions", "nulls", "value"]


# --- the run --------------------------------------------------------------------------------


def _part(
    touches: pl.DataFrame,
    stages: pl.DataFrame,
    options: RunOptions,
    names: tuple[Table, Table],
    *,
    campaigns: bool = True,
) -> Part:
    touch_table = Table(
        touches, names[0].source, touches.height, names=names[0].names, spec=TOUCHES
    )
    stage_table = Table(stages, names[1].source, stages.height, names=names[1].names, spec=STAGES)
    return build_part(touch_table, stage_table, None, options, campaigns=campaigns)


def _key(options: RunOptions) -> str:
    return "contact_id" if options.level == "contact" else "account_id"


def attribute_incremental(
    touches: TableLike,
    stages: TableLike,
    *,
    contacts: TableLike | None = None,
    accounts: Any = None,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    full: bool = False,
    commit: bool = True,
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
    recompute). ``commit=False``: the new state is written beside the old one but not
    committed; :meth:`AttributionResult.commit_state` commits it (the command line does once
    the run directory and the write-back are written: a night stopped before leaves the
    state as it was). A ``touch_id`` that a new row shares with a row of another entity read in
    an earlier run is not reported (a full run reports it).
    """
    options = RunOptions.of(options, **keywords)
    if options.state is None:
        raise ConfigError("an incremental run needs a state directory (state / --state)")
    refuse_bootstrap(options, "in incremental runs")
    if stages is None:
        raise ConfigError(
            "an incremental run takes touches and stages, not a unified event log (--events)"
        )
    # a query runs once per SqlTable object, then keeps its result: a job that makes its
    # queries once and runs a night a day in one process would read the first night's rows
    # again whenever a night recomputes in full; every night runs them anew
    touches, stages, contacts = (
        SqlTable(data.uri, data.query) if isinstance(data, SqlTable) else data
        for data in (touches, stages, contacts)
    )
    with state_lock(options.state):
        result = _attribute_incremental(
            touches, stages, contacts, accounts, options, full, Timer(progress)
        )
    if commit:
        result.commit_state()
    return result


def _attribute_incremental(
    touches: TableLike,
    stages: TableLike,
    contacts: TableLike | None,
    accounts: Any,
    options: RunOptions,
    full: bool,
    timer: Timer,
) -> AttributionResult:
    assert options.state is not None
    directory = Path(options.state)
    timer.stage("load")
    values = option_values(options)
    state = None if full else State.read(directory)
    reason: str | None = None
    if full:
        reason = "asked for (full=True)"
    elif state is None:
        reason = "no state yet"
    elif state.meta.get("version") != STATE_VERSION:
        reason = (
            f"the state was written in layout version {state.meta.get('version')}; this "
            f"engine keeps version {STATE_VERSION}: the state is rebuilt"
        )
    elif state.meta.get("fingerprint") != fingerprint(values):
        reason = options_differ(state.meta, values)
    elif options.level != "contact":
        reason = "account level (engagement tiers are relative to every account)"
    elif options.select_markov_order:
        reason = "Markov order selection (its held-out split is not per entity)"
    elif options.segment_windows is not None:
        reason = "a lookback per segment (it reads the accounts table)"
    else:
        reason = unreconciled(state)
    reads: dict[str, Read] = {}
    if reason is None:
        assert state is not None
        inputs = {"touches": touches, "stages": stages}
        found = together(
            *(functools.partial(read_night, state, n, d, options) for n, d in inputs.items())
        )
        for name, (read, why) in zip(inputs, found, strict=True):
            if why is not None:
                reason = f"{name}: {why}"
                break
            reads[name] = read
    if reason is not None:
        return _full(
            touches,
            stages,
            (contacts, accounts),
            options,
            values,
            reason,
            timer,
        )
    assert state is not None
    return _incremental(
        state, reads, options, values, timer, NightContacts.read(contacts, accounts, options)
    )


def _statistics(
    state: State,
    meta: Mapping[str, Any],
    paths: Callable[[], pl.DataFrame],
    delta: pl.DataFrame,
    channels: list[str],
    options: RunOptions,
) -> dict[str, pl.DataFrame]:
    """The data-driven models' statistics (:mod:`attribution.engine._fit_stats`) after this
    run: the state's plus those of the changed paths (``delta``: the path table's change,
    signed); built from the whole path table (``paths()``) when the channel list grew or the
    state has none."""
    names = [n for n in meta["files"] if n.startswith(STATISTICS)]
    if channels != meta["channels"] or not names:
        built = statistics(paths(), channels, options)
    else:
        total = {n.removeprefix(STATISTICS): state.table(n) for n in names}
        built = update_statistics(total, statistics(delta, channels, options, delta=True))
    return {STATISTICS + name: frame for name, frame in built.items()}


def _path_totals(coded: pl.DataFrame, plus: Mapping[str, float] | None = None) -> dict[str, float]:
    """The path table's conversions, nulls and value summed (``plus``: added to those)."""
    sums = coded.select(pl.col(_PATH_SUMS).sum()).row(0, named=True)
    return {c: float(sums[c]) + float((plus or {}).get(c, 0.0)) for c in _PATH_SUMS}


def _full(
    touches: TableLike,
    stages: TableLike,
    others: tuple[TableLike | None, Any],
    options: RunOptions,
    values: dict[str, Any],
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
    fresh = new_directory(directory)
    meta: dict[str, Any] = {
        "version": STATE_VERSION,
        "fingerprint": fingerprint(values),
        "options": values,
        "inputs": {},
        "history": {},
        "files": {},
        "generations": [],
        "runs": 1,
    }
    for name, table in tables.items():
        # the rows are numbered by source position: the next is past every position
        # (trailing blank rows too), as a full run numbers rows appended to the source
        numbered = (table.rows_in, table.rows_in)
        append_history(fresh, meta, name, table.frame, 0, _key(options), numbered)
        data = touches if name == "touches" else stages
        # a query's old rows are summed by the database now, so the next night can compare
        # them (without it, an edit made before that night would never be seen)
        meta["inputs"][name]["old_rows"] = file_mark(data) or sql_mark(
            data, TABLES[name], options, cutoff(meta["inputs"][name], options)
        )
        meta["inputs"][name]["read"] = described(data, table.frame)
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
        result.state_commit = functools.partial(commit, directory, meta)
        result.manifest["notes"].append(f"incremental run: full recompute ({reason})")
        add_coded_notes(result.manifest, WATERMARK_HELD, ahead_notes(meta))
        result.manifest["parameters"]["incremental"] = {
            "mode": "full",
            "reason": reason,
            "rows_read": {n: t.rows_in for n, t in tables.items()},
        }
        return result
    people = NightContacts.read(*others, options)
    part = _part(
        tables["touches"].frame,
        tables["stages"].frame,
        options,
        (tables["touches"], tables["stages"]),
    )
    timer.stage("state")
    side = _Side.of(part, options, [])  # everything's additive outputs, as a night's
    meta["stage_counts_full"] = side.stages
    meta["counts"] = dict(part.counts)
    count_blank_rows(meta["counts"], tables)  # as a full run counts them
    meta["totals"] = side.totals
    written = write_generation(fresh, meta, part, _key(options), None)
    written["paths"], meta["channels"] = side.paths, side.channels
    meta["paths_hash_unique"] = hashes_unique(written["paths"])
    meta["path_deltas"] = []
    meta["paths_rows"] = written["paths"].height
    meta["path_totals"] = _path_totals(written["paths"])
    written["rule_sums"] = side.rules
    for name, frame in statistics(written["paths"], meta["channels"], options).items():
        written[STATISTICS + name] = frame
    for name in written:
        if name == "paths" or name == "rule_sums" or name.startswith(STATISTICS):
            meta["files"][name] = write_table(fresh, name, written[name], ipc=True)
    rows = {n: t.rows_in for n, t in tables.items()}
    result = answer(
        State(directory, meta, written),
        options,
        timer,
        {"mode": "full", "reason": reason, "rows_read": rows, "entities_reopened": None},
        contacts=people.frame,
    )
    people.answered(result)
    add_coded_notes(result.manifest, NAIVE_TIMES, zone_notes(result.manifest["inputs"], {
        n: (t.source.name, t.source.zones) for n, t in tables.items()}))  # as in memory
    add_unread(result.manifest["inputs"], {n: t.source for n, t in tables.items()})
    result.state_commit = functools.partial(commit, directory, meta)
    return result


@dataclass
class _Side:
    """The re-opened entities' journeys (as the state counted them, or with the night's
    rows) and what they add to the state's additive outputs: their stage events counted,
    conversion totals, path table (coded into ``channels``: the state's, extended by the
    channels the night brings) and rule-based sums."""

    part: Part
    stages: dict[str, int]
    totals: dict[str, float]
    paths: pl.DataFrame
    channels: list[str]
    rules: pl.DataFrame

    @classmethod
    def of(cls, part: Part, options: RunOptions, channels: list[str]) -> _Side:
        paths, extended = coded_paths(path_table(part.journeys), channels)
        return cls(
            part,
            stage_counts_full(part.stages),
            conversion_totals(part.journeys.conversions),
            paths,
            extended,
            rule_sums(rule_credit(part.journeys.touches, options)),
        )


def _incremental(
    state: State,
    reads: dict[str, Read],
    options: RunOptions,
    values: dict[str, Any],
    timer: Timer,
    people: NightContacts,
) -> AttributionResult:
    key = _key(options)
    meta = json.loads(json.dumps(state.meta))
    new: dict[str, pl.DataFrame] = {}
    numbered: dict[str, tuple[int, int | None]] = {}
    timer.stage("validate")
    for name, read in reads.items():
        assert read.fresh is not None
        new[name], numbered[name] = number_rows(read.fresh, read, meta["inputs"][name])
    entities = (
        pl.concat([new[n].select(key) for n in new if key in new[n].columns])
        .get_column(key)
        .unique()
        .sort()
    )
    timer.stage("history of the entities with new rows")

    def history(name: str) -> pl.DataFrame:
        found = rows_of(state.history(name), key, entities) if entities.len() else None
        schema = new[name].schema
        return new[name].clear() if found is None else found.select(list(schema)).cast(schema)

    old = dict(zip(reads, together(*(functools.partial(history, n) for n in reads)), strict=True))
    tables = (reads["touches"].table, reads["stages"].table)
    timer.stage("journeys")
    # what the state counted for them (its campaigns are never read: the generation written
    # is that of after), and what they count now -- in row order already: the history's rows
    # come sorted, the new ones after them
    before, after = together(
        lambda: _Side.of(
            _part(old["touches"], old["stages"], options, tables, campaigns=False),
            options,
            meta["channels"],
        ),
        lambda: _Side.of(
            _part(
                pl.concat([old["touches"], new["touches"]]).with_columns(pl.col(ROW).set_sorted()),
                pl.concat([old["stages"], new["stages"]]).with_columns(pl.col(ROW).set_sorted()),
                options,
                tables,
            ),
            options,
            meta["channels"],
        ),
    )
    timer.stage("state")
    affected = set(entities.to_list())
    meta["counts"] = combine_counts(
        meta["counts"], before.part.counts, after.part.counts, affected, key
    )
    count_blank_rows(meta["counts"], {n: r.table for n, r in reads.items() if r.whole})
    for name, read in reads.items():  # a filtered read's blank rows: those past the last read
        if not read.whole and read.table.blank_rows:
            blank = meta["counts"].setdefault("blank_rows_dropped", {})
            blank[name] = blank.get(name, 0) + read.table.blank_rows
    full_stages = dict(meta["stage_counts_full"])
    for s, n in before.stages.items():
        full_stages[s] = full_stages.get(s, 0) - n
    for s, n in after.stages.items():
        full_stages[s] = full_stages.get(s, 0) + n
    meta["stage_counts_full"] = {s: n for s, n in full_stages.items() if n}
    meta["counts"]["stage_counts"] = shown_stage_counts(meta["stage_counts_full"])
    meta["totals"] = {
        name: value - before.totals[name] + after.totals[name]
        for name, value in meta["totals"].items()
    }
    channels = sorted({*before.channels, *after.channels})
    delta = path_delta(
        recode(before.paths, before.channels, channels),
        recode(after.paths, after.channels, channels),
    )
    written = {"rule_sums": update_rule_sums(state.table("rule_sums"), before.rules, after.rules)}
    # the path table: this run's change appended as a delta file, or -- when the channel
    # list grew (the codes renumber) or the deltas grew past their share -- everything
    # merged and written whole
    deltas = list(meta["path_deltas"])
    pending = sum(int(d["rows"]) for d in deltas) + delta.height
    merge = (
        channels != meta["channels"]
        or len(deltas) >= MAX_GENERATIONS
        or pending > PATH_DELTA_SHARE * int(meta["paths_rows"])
    )
    if merge:
        total, unique = state.paths()
        paths, meta["paths_hash_unique"] = apply_path_delta(
            recode(total, meta["channels"], channels), delta, unique=unique
        )
        written["paths"] = paths
        meta["path_deltas"] = []
        meta["paths_rows"] = paths.height
        meta["path_totals"] = _path_totals(paths)
    else:
        meta["path_totals"] = _path_totals(delta, meta["path_totals"])
    timer.stage("state: model statistics")

    def whole() -> pl.DataFrame:  # the path table now (channels unchanged unless merged)
        if "paths" in written:
            return written["paths"]
        total, unique = state.paths()
        return apply_path_delta(total, delta, unique=unique)[0]

    written.update(_statistics(state, meta, whole, delta, channels, options))
    meta["files"] = {n: f for n, f in meta["files"].items() if not n.startswith(STATISTICS)}
    meta["channels"] = channels
    timer.stage("state: write")
    fresh_dir = new_directory(state.directory)
    meta["runs"] = int(meta["runs"]) + 1

    def history_file(name: str) -> None:
        append_history(
            fresh_dir,
            meta,
            name,
            new[name],
            int(meta["inputs"][name]["rows"]),
            key,
            numbered[name],
            keep=meta["history"][name],
        )

    def table_file(name: str, frame: pl.DataFrame) -> tuple[str, str]:
        return name, write_table(fresh_dir, name, frame, ipc=True)

    delta_file = None if merge or not delta.height else f"paths-delta-{meta['runs']:06d}"
    files = together(
        *(functools.partial(history_file, n) for n in reads),
        *(functools.partial(table_file, n, f) for n, f in written.items()),
        *([functools.partial(table_file, delta_file, delta)] if delta_file else []),
        *(
            [functools.partial(write_generation, fresh_dir, meta, after.part, key, entities)]
            if entities.len()
            else []
        ),
    )
    for name in reads:
        meta["inputs"][name]["old_rows"] = reads[name].mark
        meta["inputs"][name]["read"] = reads[name].described
    for found in files:
        if isinstance(found, tuple) and found[0] == delta_file:
            meta["path_deltas"].append({"file": found[1], "rows": delta.height})
        elif isinstance(found, tuple):
            meta["files"][found[0]] = found[1]
    first, later = State(state.directory, meta).generation_rows()
    if len(meta["generations"]) > MAX_GENERATIONS or later > first:
        timer.stage("state: compaction")
        compact(State(state.directory, meta), fresh_dir, key, written)
    meta["fingerprint"] = fingerprint(values)
    meta["options"] = values
    rows = {n: new[n].height for n in new}
    result = answer(
        State(state.directory, meta, written),
        options,
        timer,
        {
            "mode": "incremental",
            "reason": None,
            "rows_read": rows,
            "entities_reopened": len(affected),
        },
        contacts=people.frame,
    )
    people.answered(result)
    add_coded_notes(result.manifest, NAIVE_TIMES, zone_notes(result.manifest["inputs"], {
        n: (r.table.source.name, r.table.source.zones) for n, r in reads.items()}))  # tonight's
    add_unread(result.manifest["inputs"], {n: r.table.source for n, r in reads.items()})
    result.state_commit = functools.partial(commit, state.directory, meta)
    return result
