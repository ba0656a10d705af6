"""Batch runs: a bounded queue, worker threads, and status files that never lie.

Layout under ``runs_dir``::

    <run_id>/               the run directory, written atomically by the library
                            (AttributionResult.write): it exists only when complete
    .<run_id>.<x>.tmp/      that directory while it is being written
    .status/<run_id>.json   status, progress, timings, the request, the error if it failed,
                            and the lease of the server instance running it

The status file lives beside the run directory, not in it, because the library creates the
run directory in one rename at the end. Every status write is atomic (temporary file, then
``os.replace``). A run directory with a manifest is authoritative: that run succeeded, even
when the process died before it could write its final status.

Liveness is a lease (:mod:`.lease`), renewed every ``heartbeat`` seconds while a run is
queued or running. At startup and whenever a status is read, a queued or running run whose
owner is gone is marked ``failed`` with the error type ``interrupted`` (and its temporary
directory removed). On shutdown (SIGTERM) queued runs are interrupted at once and running
ones get ``shutdown(grace)`` seconds to finish; the rest are interrupted, and their worker
threads, which die with the process, can no longer write their status.

A run is the command line's ``attribution run``: :func:`attribution.attribute`, then the
B2B stage :func:`attribution.analyse` (decision model, economics, funnel, plan check...) on
the job's :class:`attribution.B2BInputs`, written into the run directory together.

Progress counts finished steps (each library stage, its summary, the B2B stage and writing
the run directory); its fraction reaches 1.0 only together with ``succeeded``.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import json
import logging
import math
import queue
import re
import shutil
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attribution
from attribution import AttributionError, new_run_id, write_json_atomic

from .errors import ServiceError, describe_library_error, for_http
from .lease import Instance, verdict
from .redact import PathRedactor
from .storage import STATUS_DIR, check_runs_dir, not_ready

log = logging.getLogger("attribution.service")

RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_=.-]{0,127}$")
TERMINAL = ("succeeded", "failed")
#: a temporary run directory with no status file (``attribution run`` writing into the runs
#: directory) is removed at startup once it has not changed for this long
ORPHAN_AGE_SECONDS = 3600.0
#: Retry-After of a 429 before any run has finished here
DEFAULT_RETRY_AFTER = 10


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _epoch(text: Any) -> float | None:
    try:
        return datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def _finished_at(run_dir: Path) -> str:
    """When a run finished: its manifest's write time. The status file and a status read
    from the manifest alone (before the worker's last update lands) then agree."""
    return _iso((run_dir / "manifest.json").stat().st_mtime)


def _done(progress: dict[str, Any] | None) -> dict[str, Any]:
    total = (progress or {}).get("total")
    return {**(progress or {}), "stage": "done", "completed": total, "total": total,
            "fraction": 1.0}


_ID_SECOND = re.compile(r"\d{8}T\d{6}Z-")


def _second_of(run_id: str) -> str:
    """The creation second a run id begins with (``20261207T105229Z``), else the id."""
    return run_id[:16] if _ID_SECOND.match(run_id) else run_id


def _by(request_id: Any) -> str:
    """The log lines' tail naming the request that started a run, when known."""
    return f" (request {request_id})" if request_id else ""


class _Lost(Exception):
    """This instance no longer owns the run (shut down past its grace, or another instance
    declared it interrupted): its worker must not write anything more."""


class _WriteFailed(Exception):
    """The run was computed but its directory could not be written into the runs directory
    (read-only, immutable, full): the message names the setting and the system's reason,
    never the server's path."""

    def __init__(self, exc: OSError) -> None:
        super().__init__(
            "the run was computed but could not be written into the runs directory "
            f"(ATTRIBUTION_RUNS_DIR): {exc.strerror or type(exc).__name__}; GET /readyz says "
            "whether it can take runs now")


@dataclass
class RunJob:
    """What to run: the inputs and options of :func:`attribution.attribute`, and the B2B
    inputs of :func:`attribution.analyse`."""

    touches: Path
    stages: Path | None
    contacts: Path | None
    options: attribution.RunOptions
    request: dict[str, Any]  # as sent, for the status file
    accounts: Path | None = None  # read for a lookback per segment (and by the B2B stage)
    #: the inputs of the B2B stage (attribution.analyse), as the command line's run takes them
    b2b: attribution.B2BInputs = field(default_factory=attribution.B2BInputs)
    #: the request's fields naming tables (``touches``, ``spend``): a failed run's error
    #: about one of them names that field, not the file's column (new-user report 12 #6)
    tables: tuple[str, ...] = ()
    #: the id of the request that started the run (X-Request-ID), in its log lines
    request_id: str | None = None

    @property
    def steps(self) -> int:
        """Progress steps: each stage attribute() reports, its closing 'done' (shown as
        'summary'), the B2B stage ('analysis') and the service's own 'write'."""
        return len(self.options.progress_stages) + 3


def gone_message(run_id: str) -> str:
    """What a succeeded run whose directory was removed since (a retention job, a manual
    clean-up; its status file stays) says when asked for its files."""
    return (f"run '{run_id}' succeeded, but its run directory $ATTRIBUTION_RUNS_DIR/{run_id} "
            "is gone (removed after the run): its files cannot be read; start the run again")


@dataclass
class RunStore:
    """Starts runs, tracks their status files and leases, and finds finished runs.

    ``workers`` runs execute at once and at most ``max_queued`` more wait; ``heartbeat`` and
    ``lease`` are seconds (see :mod:`.lease`); ``data_dir`` is where the inputs live, so
    responses can name files relative to it.
    """

    runs_dir: Path
    workers: int = 2
    max_queued: int = 4
    heartbeat: float = 5.0
    lease: float = 30.0
    data_dir: Path = Path("data")
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)
    _cond: threading.Condition = field(init=False, default_factory=threading.Condition)
    _pending: dict[str, str] = field(init=False, default_factory=dict)
    _lost: set[str] = field(init=False, default_factory=set)
    _queue: queue.SimpleQueue[tuple[str, RunJob] | None] = field(
        init=False, default_factory=queue.SimpleQueue)
    _durations: deque[float] = field(init=False, default_factory=lambda: deque(maxlen=20))
    _stop: threading.Event = field(init=False, default_factory=threading.Event)
    _closing: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.runs_dir = Path(self.runs_dir)
        check_runs_dir(self.runs_dir)  # a one-line ConfigError when unusable
        self.redact = PathRedactor(Path(self.data_dir), self.runs_dir)
        self._me = Instance.current()
        # the owner record: this process, and this store in it (two apps in one process,
        # as in tests, are two owners; the lease tells about the other one)
        self._owner = self._me.record() | {"store": uuid.uuid4().hex}
        self._recover()
        self._threads: list[threading.Thread] = []
        self.start()

    def start(self) -> None:
        """Take runs (again, after :meth:`shutdown`: an app's lifespan starts it each time)."""
        with self._cond:
            self._closing = False
            if self._threads and not self._stop.is_set():
                return  # already taking runs
            self._stop = threading.Event()
            self._queue = queue.SimpleQueue()
            # daemon threads: a run still going when the process exits dies with it (its
            # status already says interrupted) instead of holding the exit
            self._threads = [
                threading.Thread(target=self._work, args=(self._queue,), daemon=True,
                                 name=f"attribution-run-{n}") for n in range(self.workers)
            ] + [threading.Thread(target=self._beat, args=(self._stop,), daemon=True,
                                  name="attribution-run-lease")]
            for thread in self._threads:
                thread.start()

    # --- paths -----------------------------------------------------------------------------

    def status_path(self, run_id: str) -> Path:
        return self.runs_dir / STATUS_DIR / f"{run_id}.json"

    def run_dir(self, run_id: str) -> Path | None:
        """The complete run directory, or None (unknown, unfinished or failed run)."""
        if not RUN_ID.match(run_id):
            return None
        path = self.runs_dir / run_id
        return path if (path / "manifest.json").is_file() else None

    def not_ready(self, min_free_bytes: int) -> str | None:
        """Why a run cannot be taken now (shutting down, runs directory unusable), or None."""
        if self._closing:
            return "the service is shutting down"
        return not_ready(self.runs_dir, min_free_bytes)

    # --- status ----------------------------------------------------------------------------

    def _read(self, run_id: str) -> dict[str, Any] | None:
        try:
            status: dict[str, Any] = json.loads(self.status_path(run_id).read_text())
        except (OSError, ValueError):
            return None
        return status

    def _update(self, key: str, /, **changes: Any) -> dict[str, Any]:
        with self._lock:
            status = self._read(key) or {}
            status.update(changes)
            write_json_atomic(self.status_path(key), status)
            return status

    def _own(self, run_id: str, /, **changes: Any) -> dict[str, Any]:
        """A status update by the run's own worker: refused once the run is not ours."""
        with self._lock:
            status = self._read(run_id) or {}
            if run_id in self._lost or status.get("status") in TERMINAL:
                self._lost.add(run_id)
                raise _Lost(run_id)
            status.update(changes)
            write_json_atomic(self.status_path(run_id), status)
            return status

    def recent(self, *, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The runs of the runs directory (those with a status file, and run directories
        written there by ``attribution run``), newest run id first (ids begin with their UTC
        creation time), as :meth:`get` reads them without their manifest and request; only
        those of ``status`` when given; at most ``limit``."""
        ids: set[str] = set()
        with contextlib.suppress(OSError):
            ids.update(p.stem for p in (self.runs_dir / STATUS_DIR).glob("*.json"))
        with contextlib.suppress(OSError):
            ids.update(p.name for p in self.runs_dir.iterdir()
                       if not p.name.startswith(".") and (p / "manifest.json").is_file())
        found: list[dict[str, Any]] = []
        ordered = sorted((i for i in ids if RUN_ID.match(i)), reverse=True)
        # ids tell the second only (then a random suffix): the runs of one second are read
        # together and put in order by their creation time (new-user report 12 #9)
        for _, same_second in itertools.groupby(ordered, key=_second_of):
            reads = [(run_id, self.get(run_id)) for run_id in same_second]
            reads.sort(key=lambda r: (str((r[1] or {}).get("created_at") or ""), r[0]),
                       reverse=True)
            for _, read in reads:
                if read is None or (status is not None and read.get("status") != status):
                    continue
                found.append({k: v for k, v in read.items()
                              if k not in ("manifest", "request")})
                if len(found) >= limit:
                    return found
        return found

    def get(self, run_id: str) -> dict[str, Any] | None:
        """Status of a run, with its manifest when it succeeded; None when unknown.

        Paths in it are relative to the data directory (see :mod:`.redact`)."""
        if not RUN_ID.match(run_id):
            return None
        status = self._read(run_id)
        done = self.run_dir(run_id)
        if done is not None:
            manifest = json.loads((done / "manifest.json").read_text())
            status = status or {"run_id": run_id, "created_at": manifest.get("created_at")}
            if status.get("status") != "succeeded":
                # the worker's last update has not landed yet: say what it will say
                status.update(status="succeeded", error=None, finished_at=_finished_at(done),
                              progress=_done(status.get("progress")))
            # its notes as an HTTP client reads them: the request's fields, not the flags
            if isinstance(manifest.get("notes"), list):
                manifest["notes"] = [for_http(n) if isinstance(n, str) else n
                                     for n in manifest["notes"]]
            status["manifest"] = manifest
            # a run of `attribution run --write-to`: whether its rows reached the database
            status["write_back"] = manifest.get("write_back")
        elif status is None:
            return None
        elif status.get("status") == "succeeded":  # its directory was removed since
            status["error"] = {"type": "gone", "message": gone_message(run_id)}
        elif status.get("status") not in TERMINAL:
            status = self._check(run_id, status)
        return dict(self.redact(status))

    def _gone(self, run_id: str, status: dict[str, Any]) -> str | None:
        """Why the instance owning a queued or running run is gone, or None."""
        lease = status.get("lease") or {}
        owner = lease.get("owner") or status.get("owner") or {}
        if owner == self._owner:
            with self._cond:
                if run_id in self._pending and run_id not in self._lost:
                    return None
            return "this server lost track of it"
        if lease:
            expires = _epoch(lease.get("expires_at"))
        else:  # an older status file: its last write stands in for the last renewal
            try:
                expires = self.status_path(run_id).stat().st_mtime + self.lease
            except OSError:
                expires = None
        return verdict(owner, expires, self._me, time.time())

    def _check(self, run_id: str, status: dict[str, Any]) -> dict[str, Any]:
        reason = self._gone(run_id, status)
        if reason is None:
            return status
        return self._interrupt(run_id, f"the run was interrupted ({reason}); start it again")

    def _interrupt(self, run_id: str, message: str, *, mine: bool = False) -> dict[str, Any]:
        """Mark a queued or running run failed (``interrupted``) unless it finished meanwhile;
        remove its temporary directory."""
        with self._lock:
            status = self._read(run_id) or {"run_id": run_id}
            if status.get("status") not in TERMINAL and self.run_dir(run_id) is None:
                if mine or self._gone(run_id, status) is not None:
                    status.update(status="failed", finished_at=_now(),
                                  error={"type": "interrupted", "message": message})
                    log.warning("run %s interrupted: %s%s", run_id, message,
                                _by(status.get("request_id")))
                    try:
                        write_json_atomic(self.status_path(run_id), status)
                    except OSError as exc:  # say so anyway; the next read writes it
                        log.warning("cannot record run %s as interrupted: %s", run_id, exc)
        if status.get("status") == "failed":
            for tmp in self.runs_dir.glob(f".{glob.escape(run_id)}.*.tmp"):
                shutil.rmtree(tmp, ignore_errors=True)
        return status

    def _recover(self) -> None:
        """At startup: interrupt runs whose owner is gone; remove orphaned temporary files."""
        now = time.time()
        for path in (self.runs_dir / STATUS_DIR).glob("*.json"):
            run_id = path.stem
            status = self._read(run_id)
            if status is not None and status.get("status") not in TERMINAL:
                self._check(run_id, status)
        for tmp in [*self.runs_dir.glob(".*.tmp"), *(self.runs_dir / STATUS_DIR).glob(".*.tmp")]:
            try:
                age = now - tmp.stat().st_mtime
            except OSError:
                continue
            run_id = tmp.name[1:].rsplit(".", 2)[0]
            owner = self._read(run_id) if tmp.is_dir() and RUN_ID.match(run_id) else None
            if owner is not None:
                orphan = owner.get("status") in TERMINAL
            else:  # a status file's or probe's temporary file lives for milliseconds
                orphan = age > (ORPHAN_AGE_SECONDS if tmp.is_dir() else self.lease)
            if orphan:
                log.warning("removing the orphaned temporary %s", tmp.name)
                if tmp.is_dir():
                    shutil.rmtree(tmp, ignore_errors=True)
                else:
                    tmp.unlink(missing_ok=True)

    # --- leases ----------------------------------------------------------------------------

    def _lease(self) -> dict[str, Any]:
        now = time.time()
        return {"owner": self._owner, "renewed_at": _iso(now),
                "expires_at": _iso(now + self.lease)}

    def _beat(self, stop: threading.Event) -> None:
        """Renew the lease of every run this instance has queued or running."""
        while not stop.wait(self.heartbeat):
            with self._cond:
                mine = [r for r in self._pending if r not in self._lost]
            for run_id in mine:
                try:
                    self._renew(run_id)
                except OSError as exc:  # e.g. a full disk: retried at the next beat
                    log.warning("cannot renew the lease of run %s: %s", run_id, exc)

    def _renew(self, run_id: str) -> None:
        with self._lock:
            status = self._read(run_id)
            # a run that ended has no lease to renew; one another server interrupted is
            # noticed by its worker at its next update
            if status is not None and status.get("status") not in TERMINAL:
                status["lease"] = self._lease()
                write_json_atomic(self.status_path(run_id), status)

    # --- running ---------------------------------------------------------------------------

    def submit(self, job: RunJob) -> dict[str, Any]:
        """Queue a run; 429 when ``workers + max_queued`` runs are already pending, 503 when
        shutting down or when its status cannot be written."""
        with self._cond:
            if self._closing:
                raise ServiceError(503, "not_ready", "the service is shutting down; start the "
                                   "run again once it is back")
            if len(self._pending) >= self.workers + self.max_queued:
                retry = self._retry_after()
                raise ServiceError(
                    429, "too_many_runs",
                    f"{len(self._pending)} runs are running or queued, the most this server "
                    f"takes ({self.workers} running, ATTRIBUTION_RUN_WORKERS, + {self.max_queued} "
                    f"queued, ATTRIBUTION_MAX_QUEUED_RUNS); retry in {retry} s",
                    headers={"Retry-After": str(retry)})
            run_id = new_run_id()
            others = len(self._pending)  # running or queued before it, for its log line
            self._pending[run_id] = "queued"
        total = job.steps
        try:
            status = self._update(
                run_id, run_id=run_id, status="queued", created_at=_now(), started_at=None,
                finished_at=None, request=job.request, lease=self._lease(), error=None,
                progress={"stage": "queued", "completed": 0, "total": total, "fraction": 0.0},
                request_id=job.request_id,
            )
        except OSError as exc:
            with self._cond:
                self._pending.pop(run_id, None)
            raise ServiceError(503, "not_ready", "the run's status cannot be written to the "
                               f"runs directory: {exc.strerror or exc}") from None
        self._queue.put((run_id, job))
        log.info("run %s accepted, %d other run(s) running or queued%s", run_id, others,
                 _by(job.request_id))
        return dict(self.redact(status))

    def _retry_after(self) -> int:
        if not self._durations:
            return DEFAULT_RETRY_AFTER
        typical = sum(self._durations) / len(self._durations) / self.workers
        return max(1, min(300, math.ceil(typical)))

    def _work(self, jobs: queue.SimpleQueue[tuple[str, RunJob] | None]) -> None:
        while (item := jobs.get()) is not None:
            run_id, job = item
            with self._cond:
                if self._pending.get(run_id) != "queued":  # interrupted by a shutdown
                    continue
                self._pending[run_id] = "running"
            started = time.monotonic()
            try:
                self._execute(run_id, job)
            except _Lost:
                log.warning("run %s stopped: this server no longer owns it", run_id)
            except Exception:  # its status could not be written (disk full): the lease expires
                log.exception("run %s: cannot record its outcome", run_id)
            finally:
                self._durations.append(time.monotonic() - started)
                with self._cond:
                    self._pending.pop(run_id, None)
                    self._lost.discard(run_id)  # its worker writes nothing more
                    self._cond.notify_all()

    def _execute(self, run_id: str, job: RunJob) -> None:
        total = job.steps
        done = 0

        def progress(stage: str) -> None:
            nonlocal done
            done += stage != "load"  # each later stage starts when the one before finished
            stage = "summary" if stage == "done" else stage  # the library's last timing stage
            self._own(run_id, progress={"stage": stage, "completed": done, "total": total,
                                        "fraction": round(done / total, 4)})

        self._own(run_id, status="running", started_at=_now())
        started = time.monotonic()
        log.info("run %s started%s", run_id, _by(job.request_id))
        try:
            result = attribution.attribute(job.touches, job.stages, contacts=job.contacts,
                                           accounts=job.accounts, options=job.options,
                                           progress=progress)
            result.require_conversions()  # no conversion: failed, saying why (allow_empty)
            progress("analysis")  # the command line's B2B stage, the same copy of it
            # its tables read (and held) as the command line's run reads them, so what the
            # reading said ('$7,880.74' read as money) is in the manifest's notes too
            b2b = job.b2b.read(job.options)
            analysis = attribution.analyse(result, b2b, options=job.options)
            progress("write")
            try:
                result.write(self.runs_dir, run_id=run_id, also=analysis.outputs)
            except OSError as exc:
                raise _WriteFailed(exc) from exc
        except Exception as exc:  # a crash must end as "failed" with its error, whatever it is
            if isinstance(exc, _Lost) or run_id in self._lost:
                raise _Lost(run_id) from exc
            if isinstance(exc, _WriteFailed):  # the storage, not a bug: said as /readyz says it
                error = {"type": "runs_dir", "message": str(exc)}
            elif isinstance(exc, AttributionError):
                kind, message, fld = describe_library_error(exc, job.tables)
                error = {"type": kind, "message": message, **({"field": fld} if fld else {})}
            else:
                log.exception("run %s crashed", run_id)
                error = {"type": "internal", "message": f"{type(exc).__name__}: {exc}"}
            error = self.redact(error)
            # logged before the status says it: a client that reads "failed" finds the line
            # (the fresh-clone check's suite read the status first and missed the line)
            log.warning("run %s failed after %.1f s: %s: %s%s", run_id,
                        time.monotonic() - started, error["type"],
                        " ".join(str(error["message"]).split()), _by(job.request_id))
            self._own(run_id, status="failed", finished_at=_now(), error=error)
            return
        status = self._read(run_id) or {}
        counts = result.manifest.get("reconciliation") or {}
        log.info("run %s succeeded in %.1f s: %s of %s conversion(s) attributed, %d model(s)%s",
                 run_id, time.monotonic() - started, counts.get("conversions_attributed"),
                 counts.get("conversions"), len(result.manifest.get("models") or ()),
                 _by(job.request_id))
        self._update(run_id, status="succeeded", finished_at=_finished_at(self.runs_dir / run_id),
                     progress=_done(status.get("progress")))

    def wait(self, run_id: str, timeout: float | None = None) -> None:
        """Block until a run started by this store is no longer queued or running."""
        with self._cond:
            self._cond.wait_for(lambda: run_id not in self._pending, timeout)

    def shutdown(self, grace: float = 0.0) -> list[str]:
        """Stop taking runs: queued runs are interrupted now, running ones get ``grace``
        seconds to finish and are interrupted after that. Returns the interrupted run ids."""
        with self._cond:
            self._closing = True
            queued = [r for r, state in self._pending.items() if state == "queued"]
            for run_id in queued:
                self._pending.pop(run_id)
        for run_id in queued:
            self._interrupt(run_id, "the service shut down before this run started; start it "
                            "again", mine=True)
        with self._cond:
            self._cond.wait_for(lambda: not self._pending, grace)
            late = list(self._pending)
            self._lost.update(late)
        for run_id in late:
            self._interrupt(run_id, "the service shut down and this run did not finish within "
                            f"its shutdown grace period of {grace:g} s "
                            "(ATTRIBUTION_SHUTDOWN_GRACE_SECONDS); start it again", mine=True)
        self._stop.set()
        for _ in range(self.workers):
            self._queue.put(None)
        return queued + late
