"""The runs directory as storage: usable at startup, ready (writable, not full) while serving.

Messages name the setting (``ATTRIBUTION_RUNS_DIR``), not the server's absolute path: the
readiness reason is served over HTTP. The startup error goes to the operator's terminal and
names the directory as configured.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import attribution

#: the status files' folder inside the runs directory
STATUS_DIR = ".status"


def _probe(folder: Path) -> None:
    """Create, write, flush and remove a small file in ``folder``: raises OSError if any
    step fails (read-only, no permission, no space)."""
    fd, name = tempfile.mkstemp(prefix=".probe.", suffix=".tmp", dir=folder)
    try:
        os.write(fd, b"ok\n")
        os.fsync(fd)
    finally:
        os.close(fd)
        os.unlink(name)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_runs_dir(runs_dir: Path) -> None:
    """At startup: create the runs directory (and its status folder) and write to it.

    Raises
    ------
    attribution.ConfigError
        One line naming the directory, the setting and the operating system's reason.
    """
    try:
        (runs_dir / STATUS_DIR).mkdir(parents=True, exist_ok=True)
        _probe(runs_dir / STATUS_DIR)
        _probe(runs_dir)  # where runs are written: its own permissions, its own flags
    except OSError as exc:
        raise attribution.ConfigError(
            f"the runs directory '{runs_dir}' (ATTRIBUTION_RUNS_DIR) cannot be created or "
            f"written: {_reason(exc)}") from None


def not_ready(runs_dir: Path, min_free_bytes: int) -> str | None:
    """Why the runs directory cannot take a run now (read-only, missing, full), or None."""
    folder = runs_dir / STATUS_DIR
    try:
        stats = os.statvfs(folder)
    except OSError as exc:
        return f"the runs directory (ATTRIBUTION_RUNS_DIR) is not usable: {_reason(exc)}"
    free = stats.f_bavail * stats.f_frsize
    if free < min_free_bytes:
        return (f"the runs directory (ATTRIBUTION_RUNS_DIR) has {free:,} bytes free, below "
                f"ATTRIBUTION_RUNS_MIN_FREE_BYTES ({min_free_bytes:,})")
    try:
        _probe(folder)
        # runs are written beside the status folder, not in it: a runs directory made
        # immutable (chattr +i) or read-only to this user with a writable .status in it took
        # runs that failed at their last step
        _probe(runs_dir)
    except OSError as exc:
        return f"the runs directory (ATTRIBUTION_RUNS_DIR) cannot be written: {_reason(exc)}"
    return None


def data_dir_problem(data_dir: Path) -> str | None:
    """Why batch runs cannot read their inputs from the data directory (missing, not a
    directory, not readable), or None. Scoring needs no data directory, so this is a warning
    (at startup, in ``/readyz``, and in a run's 400), not a reason to refuse to serve."""
    try:
        if not data_dir.exists():
            why = "does not exist"
        elif not data_dir.is_dir():
            why = "is not a directory"
        elif not os.access(data_dir, os.R_OK | os.X_OK):
            why = "cannot be read"
        else:
            return None
    except OSError as exc:
        why = f"is not usable: {_reason(exc)}"
    return f"the data directory (ATTRIBUTION_DATA_DIR) {why}: batch runs cannot read inputs"


class SnapshotReadiness:
    """Whether data-driven scoring can find its model snapshot: the store's pointer to the
    current one resolves and its ``snapshot.json`` reads (``SnapshotStore.current``), as
    scoring reads it. Cheap enough to poll: while the pointer file is unchanged (one
    ``stat``: inode, mtime, size) and the store still holds that snapshot (one more), the
    last good answer stands; a damaged pointer is read again at each check (it is what an
    operator is repairing)."""

    def __init__(self, store: attribution.SnapshotStore) -> None:
        self.store = store
        self._good: tuple[tuple[int, int, int], str] | None = None

    def current(self) -> str | None:
        """The current snapshot's id; None when nothing was ever published.

        Raises
        ------
        attribution.InputError
            The pointer is damaged (unreadable, or naming a snapshot the store does not
            hold): the message scoring's 503 ``snapshot_store`` gives.
        """
        marker = self.store.current_marker()
        good = self._good
        if good is not None and marker == good[0] and self.store.holds(good[1]):
            return good[1]
        snapshot = self.store.current()
        self._good = (marker, snapshot.snapshot_id) if snapshot and marker else None
        return snapshot.snapshot_id if snapshot else None
