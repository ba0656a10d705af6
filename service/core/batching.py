"""Scoring in bounded lanes, so that a large request never holds up a small one.

:class:`ScoringPool` is what the routes use: a request of up to :data:`SMALL_ROWS` rows of
touch credit (touches x models) goes to the :class:`ScoringBatcher`, a larger one to one of
``workers`` niced child processes; at most ``waiting`` large requests wait for one, the next
is refused (429, ``Retry-After``). Memory and CPU taken by large requests are so bounded by
``workers`` x the per-request budget (``ATTRIBUTION_MAX_CREDIT_ROWS``).

Scoring concurrent requests together: one thread, batches of whatever is waiting.

A scoring request costs nearly nothing but Polars per-query overhead (a few ms), whatever
its size, so scoring the requests that arrive while a batch is running as one batch
(:meth:`attribution.JourneyScorer.score_many`) multiplies throughput under load,
without adding latency when there is none: a lone request is scored at once. A batch that
fails (one bad request) is re-scored request by request, so each gets its own result or
error. The thread also serialises the responses, off the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import queue
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from attribution import JourneyScorer, JourneyScores

log = logging.getLogger("attribution.service")

Render = Callable[[JourneyScores], bytes]
T = TypeVar("T")

#: Requests of at most this many rows of touch credit (touches x models) are "small".
SMALL_ROWS = 2_000


@dataclass
class _Item:
    scorer: JourneyScorer
    journeys: Sequence[Any]
    render: Render
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[bytes]


def _resolve(future: asyncio.Future[bytes], result: bytes | None,
             error: BaseException | None) -> None:
    if future.done():  # the client went away
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert result is not None
        future.set_result(result)


class ScoringBatcher:
    """Queue of scoring requests served by one worker thread in batches."""

    def __init__(self, max_journeys: int = 256) -> None:
        self.max_journeys = max_journeys
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def score(self, scorer: JourneyScorer, journeys: Sequence[Any], render: Render) -> bytes:
        """The rendered response for ``journeys``; raises what scoring them raises."""
        self._start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self._queue.put(_Item(scorer, journeys, render, loop, future))
        return await future

    def _start(self) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, daemon=True,
                                                    name="attribution-scoring")
                    self._thread.start()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None

    def _serve(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch, size, stop = [item], len(item.journeys), False
            while size < self.max_journeys:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
                size += len(more.journeys)
            groups: dict[int, list[_Item]] = {}
            for queued in batch:
                groups.setdefault(id(queued.scorer), []).append(queued)
            for group in groups.values():
                self._score(group)
            if stop:
                return

    def _score(self, group: list[_Item]) -> None:
        scorer = group[0].scorer
        try:
            results: list[JourneyScores | BaseException] = list(
                scorer.score_many([item.journeys for item in group]))
        except Exception as exc:
            if len(group) == 1:
                results = [exc]
            else:  # find whose request it was: each alone, with its own field paths
                results = []
                for item in group:
                    try:
                        results.append(scorer.score(item.journeys))
                    except Exception as one:  # noqa: PERF203 - rare path, one per request
                        results.append(one)
        for item, result in zip(group, results, strict=True):
            payload: bytes | None = None
            error: BaseException | None = None
            if isinstance(result, BaseException):
                error = result
            else:
                try:
                    payload = item.render(result)
                except Exception as exc:
                    error = exc
            item.loop.call_soon_threadsafe(_resolve, item.future, payload, error)


def _exit_with(parent: int) -> None:
    """End this scoring process when the service that started it is gone (even kill -9)."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


class ScoringBusy(Exception):
    """Every large-request process is busy and ``waiting`` requests already wait."""


class ScoringPool:
    """Small requests to a :class:`ScoringBatcher` (a thread of this process), large ones
    to ``workers`` child processes.

    The children are niced (priority 10) and have interpreters of their own: a large
    request's parsing, scoring and rendering take neither this process's GIL nor CPU that a
    small request wants. :meth:`spool_dir` is where they may leave large results as files,
    for the server to send in chunks rather than unpickle whole. They start on the first
    large request, run ``initializer(*initargs)`` once, and then ``fn(*args)`` per request
    (both importable, their arguments picklable).
    """

    def __init__(self, workers: int = 2, waiting: int = 8, small_rows: int = SMALL_ROWS,
                 initializer: Callable[..., None] | None = None,
                 initargs: tuple[Any, ...] = ()) -> None:
        self.workers = workers
        self.waiting = waiting
        self.small_rows = small_rows
        self.batcher = ScoringBatcher()
        self._initializer = initializer
        self._initargs = initargs
        self._executor: ProcessPoolExecutor | None = None
        self._slots = threading.BoundedSemaphore(workers + waiting)
        self._lock = threading.Lock()
        self._spool: str | None = None

    async def small(self, scorer: JourneyScorer, journeys: Sequence[Any], render: Render) -> bytes:
        """The rendered response of a small request, scored in the batcher's thread."""
        return await self.batcher.score(scorer, journeys, render)

    async def large(self, fn: Callable[..., T], *args: Any,
                    discard: Callable[[T], None] | None = None) -> T:
        """``fn(*args)`` in a child process; ``discard(result)`` when it ends after the
        caller stopped waiting (the client went away).

        Raises
        ------
        ScoringBusy
            ``workers`` requests run and ``waiting`` more wait already.
        """
        if not self._slots.acquire(blocking=False):
            raise ScoringBusy
        try:
            future = self._processes().submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        # the slot is freed when the work ends, not when a client that went away stops waiting
        future.add_done_callback(lambda _: self._slots.release())
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            if discard is not None:
                future.add_done_callback(
                    lambda done: None if done.cancelled() or done.exception() is not None
                    else discard(done.result()))
            raise

    def spool_dir(self) -> str:
        """A directory of this pool's own, for large results passed as files (in memory,
        ``/dev/shm``, where there is one); removed by :meth:`close`."""
        with self._lock:
            if self._spool is None:
                shm = "/dev/shm"
                memory = shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None
                self._spool = tempfile.mkdtemp(prefix="attribution-spool-", dir=memory)
            return self._spool

    def _processes(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ProcessPoolExecutor(
                    self.workers, mp_context=multiprocessing.get_context("spawn"),
                    initializer=_child_init,
                    initargs=(os.getpid(), self._initializer, self._initargs))
                # start every process now (one is started per task waiting for one): their
                # imports then happen once, not in the middle of later work
                for _ in range(self.workers):
                    self._executor.submit(time.sleep, 0.2)
            return self._executor

    def close(self) -> None:
        self.batcher.close()
        with self._lock:
            if self._executor is not None:
                # waits for requests being scored (bounded: one request each), so that no
                # process outlives the service
                self._executor.shutdown(wait=True, cancel_futures=True)
                self._executor = None
            if self._spool is not None:
                shutil.rmtree(self._spool, ignore_errors=True)
                self._spool = None


def _child_init(parent: int, initializer: Callable[..., None] | None,
                initargs: tuple[Any, ...]) -> None:
    try:
        os.nice(10)  # below the server's own threads: small requests come first
    except (AttributeError, OSError):
        pass
    threading.Thread(target=_exit_with, args=(parent,), daemon=True,
                     name="attribution-parent-watch").start()
    if initializer is not None:
        initializer(*initargs)
