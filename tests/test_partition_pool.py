"""Tests of attribution.engine._partition_pool: partitions two at a time, results in order."""

from __future__ import annotations

import threading
import time

import pytest

from attribution.engine._partition_pool import AT_A_TIME, in_order


def test_results_in_order_at_most_two_at_once() -> None:
    running, most = 0, 0
    lock = threading.Lock()

    def work(i: int) -> int:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.02 if i % 2 == 0 else 0.001)  # odd ones finish first
        with lock:
            running -= 1
        return i * i

    assert list(in_order(work, 9)) == [i * i for i in range(9)]
    assert AT_A_TIME == 2
    assert most == 2  # side by side, never more


def test_the_first_error_in_order_is_raised() -> None:
    started: list[int] = []

    def work(i: int) -> int:
        started.append(i)
        if i == 1:
            time.sleep(0.05)
            raise ValueError("partition 1")
        if i == 2:
            raise ValueError("partition 2")  # fails first in time, later in order
        return i

    results = in_order(work, 6)
    assert next(results) == 0
    with pytest.raises(ValueError, match="partition 1"):
        next(results)
    assert set(started) == {0, 1, 2}  # none past the window of two was started


@pytest.mark.parametrize("count", [0, 1])
def test_none_or_one(count: int) -> None:
    assert list(in_order(lambda i: i + 1, count)) == list(range(1, count + 1))


def test_one_at_a_time() -> None:
    order: list[int] = []
    assert list(in_order(lambda i: order.append(i) or i, 4, at_a_time=1)) == [0, 1, 2, 3]
    assert order == [0, 1, 2, 3]
