"""Published model snapshots: what data-driven scoring (Markov, Shapley, counterfactual) is
fitted on, chosen on purpose, never "the latest run".

Publishing a finished run copies what a data-driven model needs to score journeys into a
snapshot store (by default ``<runs dir>/.snapshots``) and makes it the current snapshot::

    .snapshots/
        current.json            {"snapshot_id": ...}: the current snapshot
        <snapshot_id>/          written atomically: complete or absent
            snapshot.json       id, run id, when, channels seen, conversions, the run's
                                models and parameters
            paths.parquet       the fitted path table (``path`` as list[str], conversions,
                                nulls, value)
            manifest.json       the run's manifest, as it was

A snapshot is a copy, so deleting or rewriting the run directory later does not change
what scoring answers. A run without a conversion cannot be published: data-driven models
would learn nothing from it and answer equal splits.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import polars as pl

from attribution.engine._files import (
    RunFiles,
    atomic_directory,
    write_json_atomic,
    write_parquet_atomic,
)
from attribution.engine._manifest import new_run_id
from attribution.engine._run_paths import read_run_paths
from attribution.exceptions import InputError

__all__ = ["ModelSnapshot", "SnapshotStore"]

#: The snapshot store's folder under a runs directory.
SNAPSHOTS_DIR: Final = ".snapshots"
#: The pointer to the current snapshot, in the store.
CURRENT: Final = "current.json"


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive ``flock`` of ``directory`` itself (no lock file among the snapshots),
    waited for; released when the block ends, or by the operating system when the process
    does."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
#: A snapshot's own description, in its folder.
SNAPSHOT: Final = "snapshot.json"
#: Seconds after which a temporary file or folder of a publication counts as abandoned.
ORPHAN_AGE: Final = 3600.0


@dataclass(frozen=True)
class ModelSnapshot:
    """One published snapshot (read from its ``snapshot.json``).

    Attributes
    ----------
    snapshot_id : str
        Its id, sortable by publication time.
    run_id : str
        The run it was published from.
    published_at : str
        ISO 8601, UTC.
    channels : tuple of str
        Every channel of its path table, sorted: what data-driven models learned weights for.
    conversions : float
        Conversions in its path table (always above 0).
    paths : int
        Distinct paths in its path table.
    run : dict
        The run's ``created_at``, ``parameters`` and ``models`` (from its manifest).
    directory : Path
        Its folder in the store.
    """

    snapshot_id: str
    run_id: str
    published_at: str
    channels: tuple[str, ...]
    conversions: float
    paths: int
    run: Mapping[str, Any]
    directory: Path

    def read_paths(self) -> pl.DataFrame:
        """The path table to fit data-driven models on (see :meth:`JourneyScorer.fit`).

        Raises
        ------
        InputError
            The snapshot's copy of it is damaged on disk (cut short, removed, not Parquet):
            the store's to repair, named as ``<store>/<snapshot_id>/paths.parquet`` (never
            the server's path); the hint says how."""
        try:
            return pl.read_parquet(self.directory / RunFiles.PATHS)
        except (OSError, pl.exceptions.PolarsError) as exc:
            where = f"{self.directory.parent.name}/{self.snapshot_id}/{RunFiles.PATHS}"
            raise InputError(
                f"snapshot '{self.snapshot_id}': its path table cannot be read "
                f"({type(exc).__name__}: the store's copy is damaged)",
                table="snapshots", source=where,
                hint="publish the run again (`attribution publish RUN_DIR`, or POST "
                     '/v1/models/snapshots {"run_id": ...}) to make a good copy current, or '
                     "name another snapshot in the request") from None

    def manifest(self) -> dict[str, Any]:
        """The manifest of the run it was published from."""
        manifest: dict[str, Any] = json.loads((self.directory / RunFiles.MANIFEST).read_text())
        return manifest

    def scoring_options(self) -> dict[str, Any]:
        """The run's options that change a journey's credit, as :class:`JourneyScorer` and
        :func:`score_journeys` take them: score with them
        (``JourneyScorer(models=..., **snapshot.scoring_options())``) and a journey sent
        back gets the credit the run gave it.

        ``channel_aliases`` and ``stage_names`` (each None when the run had none), ``key``,
        ``conversion_stage``, ``milestones``, ``lookback`` (per segment: the segments'
        windows and ``default``), ``max_touches_per_journey``, ``level`` and
        ``role_multipliers`` (from the manifest's ``parameters``); ``run_models``, the
        run's models as requests (``{"name", "params"}``, the parameters resolved); and
        ``notes``: what the run did that a journey sent cannot
        carry (touch types it left out, a time zone for times without an offset, a
        narrowed contact scope), said in every answer. A snapshot of a run from before a
        parameter was recorded leaves that one at the scorer's default."""
        parameters = self.run.get("parameters") or {}
        options: dict[str, Any] = {
            "channel_aliases": parameters.get("channel_aliases") or None,
            "stage_names": parameters.get("stage_names") or None,
        }
        for name in ("key", "conversion_stage", "milestones", "level"):
            if parameters.get(name):
                options[name] = parameters[name]
        if "max_touches_per_journey" in parameters:
            options["max_touches_per_journey"] = parameters["max_touches_per_journey"]
        seconds = parameters.get("lookback_seconds")
        if isinstance(seconds, int | float):
            window = timedelta(seconds=seconds)
            by_segment = parameters.get("lookback_by_segment_seconds")
            options["lookback"] = (
                {**{k: timedelta(seconds=v) for k, v in by_segment.items()}, "default": window}
                if isinstance(by_segment, Mapping) else window)
        if parameters.get("role_multipliers") and options.get("level") == "account":
            options["role_multipliers"] = parameters["role_multipliers"]
        try:
            models = self.manifest().get("models")
        except (OSError, ValueError, AttributeError):  # a snapshot without its manifest
            models = None
        if isinstance(models, list):
            options["run_models"] = [{"name": m["name"], "params": m.get("params") or {}}
                                     for m in models if isinstance(m, Mapping) and "name" in m]
        options["notes"] = _run_notes(parameters)
        return options

    def describe(self) -> dict[str, Any]:
        """JSON-ready description (no file-system path)."""
        return {"snapshot_id": self.snapshot_id, "run_id": self.run_id,
                "published_at": self.published_at, "channels": list(self.channels),
                "conversions": self.conversions, "paths": self.paths, "run": dict(self.run)}

    @classmethod
    def read(cls, directory: Path) -> ModelSnapshot:
        info = json.loads((directory / SNAPSHOT).read_text())
        return cls(snapshot_id=info["snapshot_id"], run_id=info["run_id"],
                   published_at=info["published_at"], channels=tuple(info["channels"]),
                   conversions=float(info["conversions"]), paths=int(info["paths"]),
                   run=info.get("run") or {}, directory=directory)


def _run_notes(parameters: Mapping[str, Any]) -> list[str]:
    """What a run did that scoring a journey cannot: the notes of its scoring options."""
    notes = []
    excluded = parameters.get("exclude_touch_types") or []
    if excluded:
        notes.append(
            f"the run left out touches of type {', '.join(map(str, excluded))} "
            "(exclude_touch_types); a journey sent has no touch type: send only the touches "
            "to credit")
    zone = parameters.get("timezone")
    if zone and zone != "UTC":
        notes.append(
            f"the run read its files' times without an offset as {zone}; a request's time "
            "without an offset is UTC: send times with their offset")
    scope = parameters.get("contact_scope")
    if parameters.get("level") == "account" and scope and scope != "account":
        notes.append(
            f"the run's journeys held only some contacts' touches (contact_scope {scope}); "
            "a journey sent is credited as sent: send only those contacts' touches")
    return notes


class SnapshotStore:
    """The published snapshots in a folder: publish a run, list them, find one or the
    current one.

    Parameters
    ----------
    root
        The store's folder; created on the first publish. :meth:`beside` gives the default
        one of a runs directory.

    Examples
    --------
    >>> import tempfile, attribution
    >>> from attribution import SnapshotStore
    >>> runs = tempfile.mkdtemp()
    >>> result = attribution.attribute("sample_data/touches.parquet",
    ...                                "sample_data/stages.parquet", models=["linear"])
    >>> run_dir = result.write(runs)
    >>> store = SnapshotStore.beside(runs)
    >>> snapshot = store.publish(run_dir)
    >>> store.current() == snapshot, snapshot.run_id == run_dir.name
    (True, True)
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @classmethod
    def beside(cls, runs_dir: str | Path) -> SnapshotStore:
        """The store of a runs directory: ``<runs_dir>/.snapshots``."""
        return cls(Path(runs_dir) / SNAPSHOTS_DIR)

    def publish(self, run_dir: str | Path) -> ModelSnapshot:
        """Copy a finished run's path table and manifest into a new snapshot and make it
        the current one.

        Raises
        ------
        InputError
            Not a finished run directory (no manifest), an unreadable path table, or a run
            without a conversion.
        """
        run_dir = Path(run_dir)
        name = run_dir.name
        try:
            manifest = json.loads((run_dir / RunFiles.MANIFEST).read_text())
        except (OSError, ValueError) as exc:
            raise InputError(f"run '{name}' is not a finished run directory: its "
                             f"{RunFiles.MANIFEST} cannot be read ({type(exc).__name__})",
                             table="run", source=name,
                             hint="publish a run directory written by `attribution run` or "
                                  "a succeeded POST /v1/runs") from None
        try:
            paths = read_run_paths(run_dir)
        except InputError:  # its message holds the file's full path: name the run instead
            raise InputError(f"run '{name}' has no readable path table ({RunFiles.PATHS})",
                             table="paths", source=name) from None
        summary = paths.select(
            pl.col("conversions").sum().alias("conversions"),
            pl.len().alias("paths"),
            pl.col("path").explode().drop_nulls().unique().sort().implode().alias("channels"),
        ).row(0, named=True)
        if not summary["conversions"] > 0:
            raise InputError(
                f"run '{name}' has no conversion in its path table: data-driven models "
                "would learn nothing from it; publish a run over data with conversions",
                table="paths", source=name)
        self.remove_orphans()
        snapshot_id = new_run_id()
        info = {
            "snapshot_id": snapshot_id,
            "run_id": str(manifest.get("run_id") or name),
            "published_at": datetime.now(UTC).isoformat(),
            "channels": summary["channels"],
            "conversions": float(summary["conversions"]),
            "paths": int(summary["paths"]),
            "run": {"created_at": manifest.get("created_at"),
                    "parameters": manifest.get("parameters") or {},
                    "models": [m.get("label") for m in manifest.get("models") or ()]},
        }
        final = self.root / snapshot_id
        with atomic_directory(final) as tmp:
            write_parquet_atomic(tmp / RunFiles.PATHS, paths)
            shutil.copyfile(run_dir / RunFiles.MANIFEST, tmp / RunFiles.MANIFEST)
            write_json_atomic(tmp / SNAPSHOT, info)
        snapshot = ModelSnapshot.read(final)
        self._point_at(snapshot)
        return snapshot

    def _point_at(self, snapshot: ModelSnapshot) -> bool:
        """Make ``snapshot`` the current one unless a newer publication already is (the
        newest publication is the current snapshot, whichever write finishes last: several
        publications at once, from two servers on one store too, each under an exclusive
        ``flock`` of the store's directory); whether it did."""
        with _locked(self.root):
            current = self.get(self.current_id() or "")
            if current is not None and (current.published_at, current.snapshot_id) > (
                    snapshot.published_at, snapshot.snapshot_id):
                return False
            write_json_atomic(self.root / CURRENT, {"snapshot_id": snapshot.snapshot_id})
            return True

    def remove_orphans(self, older_than: float = ORPHAN_AGE) -> int:
        """Remove what publications killed mid-write left (temporary ``.*.tmp`` folders and
        files) once older than ``older_than`` seconds; how many. Each publish calls it."""
        removed = 0
        now = time.time()
        try:
            leftovers = [p for p in self.root.iterdir()
                         if p.name.startswith(".") and p.name.endswith(".tmp")]
        except OSError:
            return 0
        for path in leftovers:
            try:
                if now - path.lstat().st_mtime < older_than:
                    continue  # perhaps a publication under way in another process
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
                removed += 1
            except OSError:  # gone meanwhile, or not ours to remove: leave it
                continue
        return removed

    def get(self, snapshot_id: str) -> ModelSnapshot | None:
        """The snapshot ``snapshot_id``, or None when there is no such snapshot."""
        if not snapshot_id or snapshot_id.startswith(".") or Path(snapshot_id).name != snapshot_id:
            return None
        directory = self.root / snapshot_id
        try:
            return ModelSnapshot.read(directory)
        except (OSError, ValueError, KeyError):
            return None

    def holds(self, snapshot_id: str) -> bool:
        """Whether the store holds the snapshot ``snapshot_id`` (one ``stat``, no read)."""
        if not snapshot_id or snapshot_id.startswith(".") or Path(snapshot_id).name != snapshot_id:
            return False
        return (self.root / snapshot_id / SNAPSHOT).is_file()

    def current_id(self) -> str | None:
        """The id of the current snapshot (the last published), or None."""
        try:
            current = json.loads((self.root / CURRENT).read_text()).get("snapshot_id")
        except (OSError, ValueError, AttributeError):
            return None
        return current if isinstance(current, str) else None

    def current_marker(self) -> tuple[int, int, int] | None:
        """A token that changes whenever the current pointer does (one ``stat``, no read),
        or None when nothing is published. Publishing replaces the pointer atomically (a new
        file), so a cache keyed by the id read after an unchanged marker stays right."""
        try:
            st = os.stat(self.root / CURRENT)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def current(self) -> ModelSnapshot | None:
        """The current snapshot, or None when nothing was published (no pointer).

        Raises
        ------
        InputError
            The pointer (``current.json``) is there but cannot be read, is not what a
            publication writes, or names a snapshot the store does not hold (removed, or
            the file edited by hand): the message says which and lists the published
            snapshots. A damaged pointer is never read as "nothing published".
        """
        pointer = self.root / CURRENT
        try:
            text = pointer.read_text()
        except FileNotFoundError:
            if self.all():  # published snapshots without a pointer: not "none published"
                raise self._damaged("is missing") from None
            return None
        except (OSError, UnicodeDecodeError) as exc:
            why = getattr(exc, "strerror", None) or type(exc).__name__
            raise self._damaged(f"cannot be read ({why})") from None
        try:
            current = json.loads(text).get("snapshot_id")
        except (ValueError, AttributeError):
            current = None
        if not isinstance(current, str) or not current:
            raise self._damaged('is not the {"snapshot_id": "..."} a publication writes')
        snapshot = self.get(current)
        if snapshot is None:
            raise self._damaged(f"names snapshot '{current[:128]}', which the store does not "
                                "hold (removed, or its snapshot.json cannot be read)")
        return snapshot

    def _damaged(self, problem: str) -> InputError:
        """The error of a damaged pointer: what is wrong, the snapshots there are, the fix."""
        names = [s.snapshot_id for s in self.all()]
        there = (f"published snapshots (newest first): {', '.join(names[:10])}"
                 + (f" and {len(names) - 10} more" if len(names) > 10 else "")
                 if names else "no complete snapshot is in the store")
        return InputError(
            f"the pointer to the current snapshot {problem}; {there}",
            table="snapshots", source=f"{self.root.name}/{CURRENT}",
            hint="publish a run again to make it current (`attribution publish RUN_DIR`, "
                 'or POST /v1/models/snapshots {"run_id": ...}), or name a snapshot in the '
                 "request")

    def all(self) -> list[ModelSnapshot]:
        """Every complete snapshot, newest first."""
        try:
            names = [p.name for p in self.root.iterdir()
                     if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            return []
        found = (self.get(name) for name in names)
        return sorted((s for s in found if s is not None),
                      key=lambda s: (s.published_at, s.snapshot_id), reverse=True)
