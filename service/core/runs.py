"""Batch runs: started in a thread pool, with a status file that survives a restart.

Layout under ``runs_dir``::

    <run_id>/               the run directory, written atomically by the library
                            (AttributionResult.write): it exists only when complete
    .status/<run_id>.json   status, progress, timings, the request, the error if it failed

The status file lives beside the run directory, not in it, because the library creates the
run directory in one rename at the end. Every status write is atomic (temporary file, then
``os.replace``). A run directory with a manifest is authoritative: that run succeeded, even
when the process died before it could write its final status. A run still marked queued or
running whose process is gone is reported as failed ("interrupted").
"""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import threading
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attribution
from attribution import AttributionError, new_run_id, write_json_atomic

from .errors import describe_library_error

log = logging.getLogger("attribution.service")

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_=.-]{0,127}$")
STATUS_DIR = ".status"
TERMINAL = ("succeeded", "failed")


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _finished_at(run_dir: Path) -> str:
    """When a run finished: its manifest's write time. The status file and a status read
    from the manifest alone (before the worker's last update lands) then agree."""
    return datetime.fromtimestamp((run_dir / "manifest.json").stat().st_mtime, UTC).isoformat()


def _done(progress: dict[str, Any] | None) -> dict[str, Any]:
    total = (progress or {}).get("total")
    return {**(progress or {}), "stage": "done", "completed": total, "total": total,
            "fraction": 1.0}


@dataclass
class RunJob:
    """What to run: the inputs and options of :func:`attribution.attribute`."""

    touches: Path
    stages: Path | None
    contacts: Path | None
    options: attribution.RunOptions
    request: dict[str, Any]  # as sent, for the status file

    @property
    def steps(self) -> int:
        """Progress steps: the stages attribute() reports after 'load', its closing 'done'
        (shown as 'summary') and the service's own 'write'."""
        return len(self.options.progress_stages) + 1


@dataclass
class RunStore:
    """Starts runs, tracks their status files and finds finished runs."""

    runs_dir: Path
    workers: int = 2
    _executor: ThreadPoolExecutor = field(init=False)
    _futures: dict[str, Future[None]] = field(init=False, default_factory=dict)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.runs_dir = Path(self.runs_dir)
        (self.runs_dir / STATUS_DIR).mkdir(parents=True, exist_ok=True)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="attribution-run")
        self._owner = {"host": socket.gethostname(), "pid": os.getpid()}

    # --- paths -----------------------------------------------------------------------------

    def status_path(self, run_id: str) -> Path:
        return self.runs_dir / STATUS_DIR / f"{run_id}.json"

    def run_dir(self, run_id: str) -> Path | None:
        """The complete run directory, or None (unknown, unfinished or failed run)."""
        if not RUN_ID.match(run_id):
            return None
        path = self.runs_dir / run_id
        return path if (path / "manifest.json").is_file() else None

    def latest_succeeded(self) -> str | None:
        """The most recently finished run (also runs written by ``attribution run``)."""
        best: tuple[float, str] | None = None
        for entry in os.scandir(self.runs_dir):
            if entry.name.startswith(".") or not entry.is_dir():
                continue
            try:
                finished = os.stat(Path(entry.path) / "manifest.json").st_mtime
            except OSError:
                continue
            if best is None or (finished, entry.name) > best:
                best = (finished, entry.name)
        return best[1] if best else None

    # --- status ----------------------------------------------------------------------------

    def _update(self, key: str, /, **changes: Any) -> dict[str, Any]:
        with self._lock:
            path = self.status_path(key)
            status = json.loads(path.read_text()) if path.exists() else {}
            status.update(changes)
            write_json_atomic(path, status)
            return status

    def get(self, run_id: str) -> dict[str, Any] | None:
        """Status of a run, with its manifest when it succeeded; None when unknown."""
        if not RUN_ID.match(run_id):
            return None
        path = self.status_path(run_id)
        try:
            status: dict[str, Any] | None = json.loads(path.read_text())
        except (OSError, ValueError):
            status = None
        done = self.run_dir(run_id)
        if done is not None:
            manifest = json.loads((done / "manifest.json").read_text())
            status = status or {"run_id": run_id, "created_at": manifest.get("created_at")}
            if status.get("status") != "succeeded":
                # the worker's last update has not landed yet: say what it will say
                status.update(status="succeeded", error=None, finished_at=_finished_at(done),
                              progress=_done(status.get("progress")))
            status["manifest"] = manifest
            return status
        if status is None:
            return None
        if status.get("status") not in TERMINAL and not self._alive(status):
            status = self._update(
                run_id, status="failed", finished_at=_now(),
                error={"type": "interrupted",
                       "message": "the service stopped while this run was in progress; "
                                  "start it again"},
            )
        return status

    def _alive(self, status: dict[str, Any]) -> bool:
        owner = status.get("owner") or {}
        if owner.get("host") != self._owner["host"]:
            return True  # another machine's run: cannot tell, so do not declare it dead
        pid = owner.get("pid")
        if pid == os.getpid():
            return True
        try:
            os.kill(int(str(pid)), 0)
        except (OSError, TypeError, ValueError):
            return False
        return True

    # --- running ---------------------------------------------------------------------------

    def submit(self, job: RunJob) -> dict[str, Any]:
        run_id = new_run_id()
        steps = job.steps
        status = self._update(
            run_id, run_id=run_id, status="queued", created_at=_now(), started_at=None,
            finished_at=None, request=job.request, owner=self._owner, error=None,
            progress={"stage": "queued", "completed": 0, "total": steps, "fraction": 0.0},
        )
        future = self._executor.submit(self._execute, run_id, job, steps)
        self._futures[run_id] = future
        future.add_done_callback(lambda _: self._futures.pop(run_id, None))
        return status

    def _execute(self, run_id: str, job: RunJob, steps: int) -> None:
        done = 0

        def progress(stage: str) -> None:
            nonlocal done
            done += stage != "load"  # the first stage starts the count
            stage = "summary" if stage == "done" else stage  # the library's last timing stage
            self._update(run_id, progress={"stage": stage, "completed": done, "total": steps,
                                           "fraction": round(done / steps, 4)})

        self._update(run_id, status="running", started_at=_now())
        try:
            result = attribution.attribute(job.touches, job.stages, contacts=job.contacts,
                                           options=job.options, progress=progress)
            progress("write")
            result.write(self.runs_dir, run_id=run_id)
        except Exception as exc:  # a crash must end as "failed" with its error, whatever it is
            if isinstance(exc, AttributionError):
                kind, message, fld = describe_library_error(exc)
                error = {"type": kind, "message": message, **({"field": fld} if fld else {})}
            else:
                log.exception("run %s crashed", run_id)
                error = {"type": "internal", "message": f"{type(exc).__name__}: {exc}"}
            self._update(run_id, status="failed", finished_at=_now(), error=error)
            return
        status = json.loads(self.status_path(run_id).read_text())
        self._update(run_id, status="succeeded", finished_at=_finished_at(self.runs_dir / run_id),
                     progress=_done(status.get("progress")))

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Block until a run started by this store finishes (tests, scripts)."""
        future = self._futures.get(run_id)
        if future is not None:
            try:
                future.result(timeout)
            except CancelledError:
                pass

    def shutdown(self) -> None:
        """Stop taking runs; queued runs are marked failed, running ones finish."""
        for run_id, future in list(self._futures.items()):
            if future.cancel():
                self._update(run_id, status="failed", finished_at=_now(),
                             error={"type": "cancelled",
                                    "message": "the service shut down before this run started"})
        self._executor.shutdown(wait=False, cancel_futures=True)
