"""``attribution run --keep-runs N``: after a successful run, the runs directory keeps its
newest ``N`` run directories and the older ones are removed, saying which.

A run directory of ours is a directory of the runs directory (not hidden: a run being
written is a hidden temporary one) whose ``manifest.json`` is this package's
(``package.name``) and names the directory (``run_id`` = its name); nothing else is ever
removed (a state directory, a snapshot store, a file, a directory of another tool). Newest
is by the manifest's ``created_at``, then the run id (which starts with the run's UTC time).
The run just written is never removed. A directory is renamed to a hidden name first, then
deleted, so a reader (the service, a BI tool) never sees half of one.

A run directory whose write-back (``--write-to``) did not commit -- its manifest's
``write_back.status`` is ``failed``, ``not_attempted``, ``unknown`` or ``pending`` (killed
while writing) -- is not one of the ``N``: its rows are not in the database (the next night
read them again), so it is removed when older than the run just written, and the runs
directory and the database hold the same runs. A ``pending`` one changed in the last
:data:`STALE_SECONDS` is left alone (another run may be writing it now). A run written
without ``--write-to`` counts as before.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from attribution.engine._files import RunFiles
from attribution.exceptions import ConfigError

__all__ = ["KeptRuns", "keep_runs", "our_runs", "remove_stale_temporaries"]

_PACKAGE = "attribution-engine"
#: a run directory being written (``.<run id>.<random>.tmp``) or removed by ``--keep-runs``
#: (``.<run id>.<pid>.removing``): hidden, named after one of our run ids
_TEMPORARY = re.compile(r"^\.\d{8}T\d{6}Z-[0-9a-f]{8}\.[A-Za-z0-9_]+\.(tmp|removing)$")
#: how long a temporary run directory may go unchanged before a later run removes it
#: (as the service does): a run writing one changes it far more often
STALE_SECONDS = 3600.0


@dataclass
class KeptRuns:
    """What :func:`keep_runs` did: the run directories removed and kept (names, oldest
    first) and the entries left alone because they are not run directories of ours."""

    removed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    not_runs: list[str] = field(default_factory=list)
    #: removed as their write-back did not commit (a subset of ``removed``)
    not_written: list[str] = field(default_factory=list)

    def line(self, runs_dir: Path, keep: int) -> str:
        """One line for the command line."""
        alone = (
            f"; {len(self.not_runs):,} other entr{'y' if len(self.not_runs) == 1 else 'ies'} "
            "(not run directories of ours) left alone"
            if self.not_runs
            else ""
        )
        if not self.removed:
            return (
                f"--keep-runs {keep}: nothing removed from {runs_dir} ({len(self.kept):,} run "
                f"director{'y' if len(self.kept) == 1 else 'ies'}){alone}"
            )
        return (
            f"--keep-runs {keep}: removed {len(self.removed):,} older run "
            f"director{'y' if len(self.removed) == 1 else 'ies'} from {runs_dir}: "
            f"{', '.join(self.removed)}{self._not_written()}; kept {len(self.kept):,} (newest "
            f"{self.kept[-1]}){alone}"
        )

    def _not_written(self) -> str:
        n = len(self.not_written)
        if not n:
            return ""
        return (
            f" ({'it' if len(self.removed) == 1 else f'{n:,} of them'}, "
            f"{', '.join(self.not_written)}: {'its' if n == 1 else 'their'} write-back did not "
            "commit, so the database does not hold "
            f"{'it' if n == 1 else 'them'}; not counted among the runs kept)"
        )


def our_runs(runs_dir: Path) -> tuple[list[Path], list[str]]:
    """The run directories of ours in ``runs_dir``, oldest first, and the names of the other
    (not hidden) entries."""
    runs, others, _ = _runs_and_writes(runs_dir)
    return runs, others


def _runs_and_writes(runs_dir: Path) -> tuple[list[Path], list[str], dict[Path, str | None]]:
    """:func:`our_runs`, and each run's write-back status (None: written without one)."""
    from attribution.engine._writeback import write_back_status

    runs: list[tuple[str, str, Path]] = []
    others: list[str] = []
    status: dict[Path, str | None] = {}
    for entry in sorted(runs_dir.iterdir()):
        if entry.name.startswith("."):
            continue  # a run being written, a store's own files
        manifest = _manifest(entry)
        if manifest is None:
            others.append(entry.name)
            continue
        runs.append((str(manifest.get("created_at") or ""), entry.name, entry))
        status[entry] = write_back_status(manifest)
    return [path for _, _, path in sorted(runs)], others, status


def _not_written(path: Path, status: str | None) -> bool:
    """Whether the run at ``path`` wrote back and that did not commit (a ``pending`` one
    only once unchanged for :data:`STALE_SECONDS`: another process may be writing it)."""
    if status is None or status == "committed":
        return False
    if status != "pending":
        return True
    try:
        age = time.time() - (path / RunFiles.MANIFEST).stat().st_mtime
    except OSError:
        return False
    return age >= STALE_SECONDS


def _manifest(entry: Path) -> dict[str, object] | None:
    """The manifest of ``entry`` when it is a run directory of ours, else None."""
    if entry.is_symlink() or not entry.is_dir():
        return None
    try:
        manifest = json.loads((entry / RunFiles.MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    package = manifest.get("package")
    if not isinstance(package, dict) or package.get("name") != _PACKAGE:
        return None
    return manifest if manifest.get("run_id") == entry.name else None


def keep_runs(runs_dir: Path, keep: int, written: Path) -> KeptRuns:
    """Remove all but the newest ``keep`` run directories of ours in ``runs_dir``, never
    ``written`` (the run just written); see the module. A directory that cannot be removed
    is a :class:`ConfigError` saying what was removed before it."""
    if keep < 1:
        raise ConfigError(f"--keep-runs must be at least 1; got {keep}")
    runs, others, status = _runs_and_writes(runs_dir)
    out = KeptRuns(not_runs=others)
    written = Path(written).resolve()
    at = next((i for i, p in enumerate(runs) if p.resolve() == written), len(runs))
    unwritten = {p for p in runs[:at] if _not_written(p, status[p])}  # older, not committed
    counted = [p for p in runs if p not in unwritten and not (
        status[p] == "pending" and p.resolve() != written)]
    old = set(counted[:-keep] if len(counted) > keep else []) | unwritten
    for path in runs:
        if path in old and path.resolve() != written:
            hidden = path.with_name(f".{path.name}.{os.getpid()}.removing")
            try:
                path.rename(hidden)
            except FileNotFoundError:  # another run's --keep-runs took it first
                continue
            except OSError as exc:
                raise _unremovable(keep, path, exc, out) from None
            out.removed.append(path.name)  # gone from the runs directory from here
            if path in unwritten:
                out.not_written.append(path.name)
            try:
                shutil.rmtree(hidden)
            except OSError as exc:
                raise _unremovable(keep, hidden, exc, out) from None
        else:
            out.kept.append(path.name)
    return out


def _unremovable(keep: int, path: Path, exc: OSError, out: KeptRuns) -> ConfigError:
    done = f"removed {', '.join(out.removed)}" if out.removed else "removed none"
    return ConfigError(
        f"--keep-runs {keep}: the run was written, but '{path}' could not be removed "
        f"({type(exc).__name__}: {exc}); {done}"
    )


def remove_stale_temporaries(runs_dir: Path) -> list[str]:
    """Remove the temporary run directories a killed run left in ``runs_dir`` (named after a
    run id, unchanged for :data:`STALE_SECONDS`), as the service does at startup; their
    names. One that cannot be removed is left (the next run tries again)."""
    removed: list[str] = []
    now = time.time()
    try:
        entries = list(runs_dir.iterdir())
    except OSError:
        return removed
    for entry in entries:
        if not _TEMPORARY.match(entry.name) or entry.is_symlink() or not entry.is_dir():
            continue
        try:
            if now - entry.stat().st_mtime < STALE_SECONDS:
                continue
            shutil.rmtree(entry)
        except OSError:
            continue
        removed.append(entry.name)
    return sorted(removed)
