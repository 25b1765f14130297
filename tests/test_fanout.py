"""bnpl.fanout: bounded submission, completion order, errors, and the one-time Handoff."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from bnpl.fanout import Handoff, iter_completed


def test_iter_completed_bounds_the_work_in_flight():
    """No more than ``window`` items are submitted and not yet consumed."""
    outstanding = {"now": 0, "max": 0}

    def submit(item: int) -> Future[int]:
        outstanding["now"] += 1
        outstanding["max"] = max(outstanding["max"], outstanding["now"])
        future: Future[int] = Future()
        future.set_result(item * 10)
        return future

    seen = []
    for item, outcome in iter_completed(range(10), submit, window=3):
        outstanding["now"] -= 1
        assert outcome == item * 10
        seen.append(item)
    assert sorted(seen) == list(range(10))
    assert outstanding["max"] == 3


def test_iter_completed_yields_in_completion_order_with_errors():
    """Outcomes come as futures finish; a failed future yields its exception."""
    pending: dict[str, Future[str]] = {}

    def submit(item: str) -> Future[str]:
        pending[item] = Future()
        return pending[item]

    it = iter_completed(["a", "b", "c"], submit, window=3)
    boom = ValueError("boom")
    threading.Timer(0.05, lambda: pending["c"].set_result("third")).start()
    assert next(it) == ("c", "third")
    pending["a"].set_exception(boom)
    assert next(it) == ("a", boom)
    pending["b"].set_result("second")
    assert next(it) == ("b", "second")
    assert next(it, None) is None


def test_iter_completed_with_a_thread_pool_yields_every_item_once():
    """With real threads, each of many items comes back exactly once."""
    with ThreadPoolExecutor(4) as pool:
        got = [i for i, _ in iter_completed(range(200), lambda i: pool.submit(pow, i, 2), window=8)]
    assert sorted(got) == list(range(200))


def test_a_handoff_is_taken_out_and_left_empty():
    """A Handoff result is unboxed; the box is empty afterwards."""
    boxes: list[Handoff[int]] = []

    def submit(item: int) -> Future[Handoff[int]]:
        future: Future[Handoff[int]] = Future()
        boxes.append(Handoff(item + 1))
        future.set_result(boxes[-1])
        return future

    assert [o for _, o in iter_completed([1, 2], submit, window=2)] == [2, 3]
    with pytest.raises(RuntimeError, match="taken already"):
        boxes[0].take()
