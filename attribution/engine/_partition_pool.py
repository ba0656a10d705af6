"""Partitions of a partitioned run processed two at a time, in threads.

Polars and NumPy release the GIL in their kernels, so two partitions' validation, journeys
and models run side by side on the machine's cores (one partition at a time used about 1.4
of 2 cores: its Python-side steps and Polars' single-threaded kernels leave the other one
idle). Results come back in partition order, so everything merged from them (float sums
included) is made in the same order as one at a time; the first error in partition order
is raised, as one at a time. Peak memory holds :data:`AT_A_TIME` partitions.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

__all__ = ["AT_A_TIME", "in_order"]

#: How many partitions are processed at once.
AT_A_TIME = 2

T = TypeVar("T")


def in_order(
    function: Callable[[int], T], count: int, at_a_time: int | None = None
) -> Iterator[T]:
    """``function(0)``, ``function(1)``, ... ``function(count - 1)``, yielded in that order,
    ``at_a_time`` (default :data:`AT_A_TIME`) of them running at once (a result waits for
    the ones before it: at most ``at_a_time`` are held)."""
    at_a_time = AT_A_TIME if at_a_time is None else at_a_time
    if count <= 1 or at_a_time <= 1:
        yield from map(function, range(count))
        return
    pool = ThreadPoolExecutor(at_a_time, thread_name_prefix="partition")
    running: deque[Future[T]] = deque()
    try:
        for i in range(count):
            running.append(pool.submit(function, i))
            if len(running) >= at_a_time:
                yield running.popleft().result()
        while running:
            yield running.popleft().result()
    finally:
        for future in running:
            future.cancel()
        pool.shutdown(wait=True)
