"""Independent steps of an incremental night run side by side on threads.

A night's work is many small Polars and NumPy steps on a few hundred thousand rows: each
runs on one core for most of its time (too small for Polars to split), so a night used one
core where the full run it replaces uses every core. Its independent steps -- the two
inputs read, their history gathered, the re-opened entities' journeys built as they were and
with the night's rows, the state's files written -- run on threads instead: Polars and NumPy
release the GIL while they compute, so the steps overlap. The answer is the same: each step
computes what it computed alone, and the results are put together in a fixed order.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = ["together"]


def together(*steps: Callable[[], Any]) -> list[Any]:
    """Run ``steps`` on threads (one each) and return their results in their order; an
    exception of a step is raised here (the first step's first) once every step has
    ended."""
    if len(steps) < 2:
        return [step() for step in steps]
    with ThreadPoolExecutor(max_workers=len(steps), thread_name_prefix="night") as pool:
        futures = [pool.submit(step) for step in steps]
        errors = [f.exception() for f in futures]
    for error in errors:
        if error is not None:
            raise error
    return [f.result() for f in futures]
