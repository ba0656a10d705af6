"""The state directory of incremental runs (:mod:`attribution.engine._incremental`): what
``state.json`` says, and the per-entity tables kept as **generations**.

A generation is what one run wrote of the per-entity tables (the converting journeys'
touches, the conversions, the journey touches' campaigns): the first run (a full build) all
entities, each later run only the entities it re-opened, with the list of them. An
entity's current rows are those of the latest generation that holds it, so a nightly run
appends a few files instead of rewriting the journeys of every entity; the current tables
are assembled only when read (:meth:`State.current`). When the later generations hold as
many rows as the first, or there are more than :data:`MAX_GENERATIONS`, a run compacts
them into one (its cost then is that of the journeys, once in a while).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from attribution.engine._deltas import apply_path_delta, merge_path_deltas
from attribution.engine._files import write_json_atomic
from attribution.engine._history import MAX_FILES, index_path, merge_history, write_history
from attribution.engine._stages import Part
from attribution.exceptions import ConfigError

__all__ = [
    "EMPTY_TIME",
    "ahead_notes",
    "append_history",
    "compact",
    "new_directory",
    "write_generation",
    "ENTITY_TABLES",
    "MAX_GENERATIONS",
    "PATH_DELTA_SHARE",
    "STATE_FILE",
    "STATE_VERSION",
    "State",
    "commit",
    "entity_filter",
    "write_table",
]

STATE_VERSION = 10  # 3: the history as indexed Arrow IPC files; 4: the path table as a
#                       table written whole plus the path deltas of the nights since; 5: each
#                       input's source positions (rows numbered as a full run numbers them);
#                       6: history files ordered by their entities' latest time, each with an
#                       index file; 7: under a campaign key, the journeys' touches keep their
#                       channel (the models' channel parameters match it); 8: a conversion's
#                       opportunity milestone is its own opportunity's (the stored journeys'
#                       roles were built by the entity rule); 9: the counts hold the
#                       parallel deals left without touches; 10: channel names with '_'
#                       between their words (inputs/_channels.py: 'google ads' is google_ads)
STATE_FILE = "state.json"
#: the per-entity tables, kept as generations
ENTITY_TABLES = ("journeys", "conversions", "campaigns")
#: more generations than this are compacted into one (and more path deltas than this are
#: merged into the path table)
MAX_GENERATIONS = 16
#: the path deltas are merged into the path table when they hold more rows than this share
#: of it
PATH_DELTA_SHARE = 0.25
#: the watermark of an input with no row yet
EMPTY_TIME = datetime(1900, 1, 1, tzinfo=UTC)


def entity_filter(key: str, entities: pl.Series) -> pl.Expr:
    """Rows whose ``key`` is among ``entities`` (a null key too, when they hold a null)."""
    inside = pl.col(key).is_in(entities.drop_nulls().implode())
    return inside | pl.col(key).is_null() if entities.null_count() else inside


@dataclass
class State:
    """What ``state.json`` says, and where the state's tables are."""

    directory: Path
    meta: dict[str, Any]
    #: tables this run wrote, kept in memory (not read back from disk)
    written: dict[str, pl.DataFrame] = field(default_factory=dict)
    #: the path table with its deltas added, once read (:meth:`paths`)
    _merged: list[tuple[pl.DataFrame, bool]] = field(default_factory=list)

    @classmethod
    def read(cls, directory: Path) -> State | None:
        """The state in ``directory``; None when there is none. A state of another layout
        (``version``) is returned as it is: the caller rebuilds it, saying so."""
        path = directory / STATE_FILE
        if not path.is_file():
            return None
        try:
            meta = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"state '{directory}': cannot read {STATE_FILE}: {exc}. A run writes it in one "
                "atomic step, so something else damaged it (a partial copy or restore, a full "
                "disk): restore the whole directory, or delete it or pass a new --state, and "
                "the next run reads everything and rebuilds it"
            ) from None
        return cls(directory, meta)

    def table(self, name: str) -> pl.DataFrame:
        """One of the state's whole tables (``paths``, ``rule_sums``)."""
        if name in self.written:
            return self.written[name]
        path = self._file(self.meta["files"][name])
        return pl.read_ipc(path) if path.suffix == ".arrow" else pl.read_parquet(path)

    def paths(self) -> tuple[pl.DataFrame, bool]:
        """The coded path table as it stands (:mod:`attribution.engine._deltas`) and whether
        its hashes are unique: the table last written whole plus the path deltas of the runs
        since, added when first asked for (a night that only refits the models from their
        statistics never reads it)."""
        if not self._merged:
            base = self.table("paths")
            unique = bool(self.meta["paths_hash_unique"])
            deltas = [pl.read_ipc(self._file(d["file"])) for d in self.meta["path_deltas"]]
            if deltas:
                base, unique = apply_path_delta(base, merge_path_deltas(deltas), unique=unique)
            self._merged.append((base, unique))
        return self._merged[0]

    def history(self, table: str) -> list[Path]:
        return [self.directory / f for f in self.meta["history"][table]]

    def _file(self, relative: str) -> Path:
        path = self.directory / relative
        if not path.exists():
            raise ConfigError(
                f"state '{self.directory}': {relative} is gone: a later incremental run on "
                "this state compacted it. Read a result's per-touch tables (or write it) "
                "before the next run on the same state"
            )
        return path

    def current(self, name: str, key: str) -> pl.DataFrame | None:
        """The per-entity table ``name`` as it stands: each entity's rows from the latest
        generation holding it, generations in order (each conversion's rows as written);
        None when the run has no such table (``campaigns`` without a campaign column)."""
        if name in self.written:  # this run built it whole
            return self.written[name]
        generations = self.meta["generations"]
        if generations[0]["tables"].get(name) is None:
            return None
        frames: list[pl.LazyFrame] = []
        later: list[pl.Series] = []
        for generation in reversed(generations):
            frame = pl.scan_parquet(self._file(generation["tables"][name]))
            if later:
                frame = frame.filter(~entity_filter(key, pl.concat(later)))
            frames.append(frame)
            if generation["entities"] is None:  # a full build: every entity before it
                break
            later.append(pl.read_parquet(self._file(generation["entities"])).to_series())
        return pl.concat(frames[::-1]).collect()

    def generation_rows(self) -> tuple[int, int]:
        """Rows of journeys in the first generation and in the later ones."""
        rows = [int(g["rows"]) for g in self.meta["generations"]]
        return rows[0], sum(rows[1:])


def write_table(directory: Path, name: str, frame: pl.DataFrame, *, ipc: bool = False) -> str:
    """Write one of a run's state tables into its new directory (Parquet, or ``ipc``: Arrow
    IPC, for a table read and written whole every run); the path to record."""
    if ipc:  # uncompressed: read back by mapping the file, 15x faster than lz4 at 680k paths
        frame.write_ipc(directory / f"{name}.arrow", compression="uncompressed")
        return f"{directory.name}/{name}.arrow"
    frame.write_parquet(directory / f"{name}.parquet", compression="lz4")
    return f"{directory.name}/{name}.parquet"


def commit(directory: Path, meta: dict[str, Any]) -> None:
    """Point ``state.json`` at the new files (one atomic replace: a run that stops before it
    leaves the old state whole), then remove what no longer belongs to the state."""
    write_json_atomic(directory / STATE_FILE, meta)
    used = set(meta["files"].values())
    histories = [f for files in meta["history"].values() for f in files]
    used |= {*histories, *(str(index_path(Path(f))) for f in histories)}
    used |= {d["file"] for d in meta.get("path_deltas", ())}
    for generation in meta["generations"]:
        used |= {f for f in generation["tables"].values() if f is not None}
        if generation["entities"] is not None:
            used.add(generation["entities"])
    for entry in directory.iterdir():
        if not entry.is_dir():
            continue
        for file in entry.iterdir():
            if f"{entry.name}/{file.name}" not in used:
                file.unlink(missing_ok=True)
        if not any(entry.iterdir()):
            shutil.rmtree(entry, ignore_errors=True)


def new_directory(state: Path) -> Path:
    # visible: these directories are the state (a backup or `mv state/*` must take them)
    fresh = state / f"tables-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}"
    fresh.mkdir(parents=True, exist_ok=True)
    return fresh


def write_generation(
    directory: Path, meta: dict[str, Any], part: Part, key: str, entities: pl.Series | None
) -> dict[str, pl.DataFrame]:
    """Write ``part``'s per-entity tables as a new generation (of ``entities``; None: all of
    them) and record it; returns the tables."""
    journeys = part.journeys
    tables: dict[str, pl.DataFrame | None] = {
        "journeys": journeys.touches,
        "conversions": journeys.conversions,
        "campaigns": None
        if part.campaigns is None
        else part.campaigns.join(
            journeys.conversions.select("conversion_id", key).unique("conversion_id"),
            on="conversion_id",
            how="left",
            maintain_order="left",
        ),
    }
    run = int(meta["runs"])
    suffix = f"{run:06d}" if entities is not None else f"{run:06d}-all"
    generation: dict[str, Any] = {
        "run": run,
        "rows": journeys.touches.height,
        "entities": None,
        "tables": {
            name: None if frame is None else write_table(directory, f"{name}-{suffix}", frame)
            for name, frame in tables.items()
        },
    }
    if entities is not None:
        generation["entities"] = write_table(
            directory, f"entities-{suffix}", entities.to_frame(key)
        )
        meta["generations"].append(generation)
    else:
        meta["generations"] = [generation]
    return {name: frame for name, frame in tables.items() if frame is not None}


def compact(state: State, directory: Path, key: str, written: dict[str, pl.DataFrame]) -> None:
    """Replace the state's generations by one holding every entity's current rows."""
    meta = state.meta
    run = int(meta["runs"])
    generation: dict[str, Any] = {"run": run, "rows": 0, "entities": None, "tables": {}}
    for name in ENTITY_TABLES:
        frame = state.current(name, key)
        if frame is not None:
            written[name] = frame
        generation["tables"][name] = (
            None if frame is None else write_table(directory, f"{name}-{run:06d}-all", frame)
        )
    generation["rows"] = written["journeys"].height
    meta["generations"] = [generation]


def append_history(
    directory: Path,
    meta: dict[str, Any],
    name: str,
    frame: pl.DataFrame,
    offset: int,
    key: str,
    numbered: tuple[int, int | None],
    keep: list[str] | None = None,
) -> None:
    """Record ``frame`` (validated rows, global ``_row``) in the history (a file indexed by
    ``key``, :mod:`attribution.engine._history`) and the watermark; past
    :data:`~attribution.engine._history.MAX_FILES` files, all but the first are merged.
    ``numbered``: the input's next row number (a night's new rows are numbered from it) and
    how many source positions, blank rows included, it held (None: not known)."""
    files = list(keep or [])
    if frame.height:
        target = f"history-{name}-{meta['runs']:06d}.arrow"
        write_history(directory / target, frame, key)
        files.append(f"{directory.name}/{target}")
    if len(files) > MAX_FILES:
        target = f"history-{name}-{meta['runs']:06d}-merged.arrow"
        state = directory.parent
        merge_history([state / f for f in files[1:]], directory / target, key)
        files = [files[0], f"{directory.name}/{target}"]
    meta["history"][name] = files
    previous = meta["inputs"].get(name, {})
    watermark = datetime.fromisoformat(previous.get("watermark", EMPTY_TIME.isoformat()))
    # rows dated after this run's time (a scheduled meeting, a typo year) do not move the
    # watermark: one would make every later night a full recompute until its date came
    now = pl.lit(datetime.now(UTC), pl.Datetime("us", "UTC"))
    ahead_rows, ahead_latest, latest = (
        frame.select(
            (pl.col("timestamp") > now).sum().alias("rows"),
            pl.col("timestamp").filter(pl.col("timestamp") > now).max().alias("ahead"),
            pl.col("timestamp").filter(pl.col("timestamp") <= now).max().alias("latest"),
        ).row(0)
        if frame.height
        else (0, None, None)
    )
    if isinstance(latest, datetime):
        watermark = max(watermark, latest)
    meta["inputs"][name] = {
        "watermark": watermark.isoformat(),
        "rows": offset + frame.height,
        "next_row": numbered[0],
        "positions": numbered[1],
        "columns": list(frame.columns),
    }
    if ahead_rows:
        ahead = {"rows": int(ahead_rows), "latest": ahead_latest.isoformat()}
        meta["inputs"][name]["ahead"] = ahead


def ahead_notes(meta: dict[str, Any]) -> list[str]:
    """The notes of a run that read rows dated after its own time (:func:`append_history`)."""
    return [
        f"incremental run: the {name} watermark stays at {seen['watermark']}: "
        f"{seen['ahead']['rows']:,} row(s) read tonight are dated after this run's time "
        f"(latest {seen['ahead']['latest']}) and do not move it (else every later night would "
        "be a full recompute until then); they are read again each night until their time"
        for name, seen in meta["inputs"].items()
        if seen.get("ahead")
    ]
