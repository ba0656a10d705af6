"""The incremental night's steps side by side (attribution.engine._together)."""

from __future__ import annotations

import threading

import pytest

from attribution.engine._together import together


def test_results_come_in_the_order_of_the_steps_run_off_the_calling_thread() -> None:
    threads: list[int] = []

    def step(value: int) -> int:
        threads.append(threading.get_ident())
        return value * 10

    assert together(*(lambda v=v: step(v) for v in range(5))) == [0, 10, 20, 30, 40]
    assert len(threads) == 5
    assert threading.get_ident() not in threads


def test_a_failing_step_raises_after_every_step_has_ended() -> None:
    ended = []

    def fails() -> None:
        raise ValueError("first")

    def later() -> None:
        raise KeyError("second")

    def slow() -> int:
        ended.append(True)
        return 1

    with pytest.raises(ValueError, match="first"):
        together(fails, slow, later)
    assert ended == [True]


def test_one_step_runs_on_the_calling_thread() -> None:
    assert together(threading.get_ident) == [threading.get_ident()]
    assert together() == []
