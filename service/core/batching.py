"""Scoring concurrent requests together: one thread, batches of whatever is waiting.

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
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from attribution import JourneyScorer, JourneyScores

log = logging.getLogger("attribution.service")

Render = Callable[[JourneyScores], bytes]


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
