"""bnpl.fanout: bounded submission, completion order, errors, and the one-time Handoff."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from bnpl.fanout import Handoff, SlicedSubmit, iter_completed, iter_completed_groups


def test_iter_completed_bounds_the_work_in_flight():
    """At most ``window`` items are in flight or waiting, besides the group being consumed."""
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
    assert outstanding["max"] <= 2 * 3


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


def test_groups_hold_everything_completed_so_far():
    """A slow consumer gets every result completed meanwhile in one group (at most max_group),
    in completion order, each item exactly once; replacements are submitted before a group is
    handed over."""
    submitted: list[int] = []
    boom = ValueError("boom")

    def submit(item: int) -> Future[int]:
        submitted.append(item)
        future: Future[int] = Future()
        if item == 1:
            future.set_exception(boom)
        else:
            future.set_result(item * 10)
        return future

    groups = iter_completed_groups(range(7), submit, window=5, max_group=3)
    assert next(groups) == [(0, 0), (1, boom), (2, 20)]
    assert submitted == list(range(7))  # 5 at once, then 2 replacements before the first group
    assert next(groups) == [(3, 30), (4, 40), (5, 50)]
    assert next(groups) == [(6, 60)]
    assert next(groups, None) is None


# --- slices --------------------------------------------------------------------------------------


def test_sliced_submit_launches_one_job_per_slice_and_resolves_items_as_delivered():
    """Submitting a slice's first item launches the slice; each item resolves when delivered,
    before the slice's job ends."""
    launched: list[list[str]] = []
    delivers = []
    jobs: list[Future[None]] = []

    def launch(items, deliver):
        launched.append(list(items))
        delivers.append(deliver)
        jobs.append(Future())
        return jobs[-1]

    items = ["a", "b", "c", "d", "e"]
    submit = SlicedSubmit(items, launch, size=2)
    a, b = submit("a"), submit("b")
    assert launched == [["a", "b"]]
    c = submit("c")
    assert launched == [["a", "b"], ["c", "d"]]
    delivers[0](1, "B")
    assert b.result(timeout=0).take() == "B" and not a.done()  # values come in a Handoff
    error = ValueError("bad a")
    delivers[0](0, error)
    assert a.exception(timeout=0) is error
    delivers[0](0, "late")  # the first outcome stands
    assert a.exception(timeout=0) is error
    d, e = submit("d"), submit("e")
    assert launched[-1] == ["e"]
    delivers[1](0, "C")
    taken = c.result(timeout=0)
    jobs[1].set_exception(RuntimeError("worker died"))  # d was never delivered
    assert str(d.exception(timeout=0)) == "worker died"
    assert taken.take() == "C"
    jobs[2].set_result(None)  # e's job ended without delivering it
    assert "without delivering" in str(e.exception(timeout=0))


def test_sliced_submit_refuses_items_out_of_order_and_bad_sizes():
    """Submitting an item before its predecessors, or a slice size of 0, is a ValueError."""

    def launch(items, deliver):
        return Future()

    submit = SlicedSubmit(["a", "b"], launch, size=1)
    with pytest.raises(ValueError, match="in the order given"):
        submit("b")
    with pytest.raises(ValueError, match="positive"):
        SlicedSubmit(["a"], launch, size=0)


@pytest.mark.parametrize("size", [1, 3, 7])
def test_sliced_submit_with_a_thread_pool_yields_every_item_once(size):
    """Slices on real threads, through iter_completed_groups: each item comes back once, with
    its own result."""
    items = list(range(100))

    def work(chunk, deliver):
        for position, item in enumerate(chunk):
            deliver(position, ValueError(item) if item % 10 == 0 else item * 2)

    with ThreadPoolExecutor(3) as pool:
        submit = SlicedSubmit(
            items, lambda chunk, deliver: pool.submit(work, chunk, deliver), size=size
        )
        got = [pair for group in iter_completed_groups(items, submit, window=9) for pair in group]
    assert sorted(i for i, _ in got) == items
    for item, outcome in got:
        if item % 10 == 0:
            assert isinstance(outcome, ValueError) and outcome.args == (item,)
        else:
            assert outcome == item * 2


def test_a_slice_whose_worker_dies_of_a_base_exception_fails_its_items_not_hangs():
    """SystemExit in a worker reaches the consumer instead of leaving it waiting for ever."""
    items = list(range(8))

    def work(chunk, deliver):
        for position, item in enumerate(chunk):
            if item == 5:
                raise SystemExit("worker killed")
            deliver(position, item)

    got: list[int] = []
    with ThreadPoolExecutor(2) as pool:
        submit = SlicedSubmit(
            items, lambda chunk, deliver: pool.submit(work, chunk, deliver), size=4
        )
        with pytest.raises(SystemExit, match="worker killed"):
            for group in iter_completed_groups(items, submit, window=8):
                got += [item for item, _ in group]
    assert set(got) <= {0, 1, 2, 3, 4}


def test_a_launch_that_raises_fails_its_slice_and_the_others_go_on():
    """A slice that cannot be started fails its own items; later slices still run."""
    items = list(range(6))

    def launch(chunk, deliver):
        if chunk[0] == 2:
            raise RuntimeError("task runner is not started")
        job: Future[None] = Future()
        for position, item in enumerate(chunk):
            deliver(position, item)
        job.set_result(None)
        return job

    outcomes = dict(iter_completed(items, SlicedSubmit(items, launch, size=2), window=2))
    assert {i: o for i, o in outcomes.items() if not isinstance(o, Exception)} == {
        0: 0,
        1: 1,
        4: 4,
        5: 5,
    }
    assert all(str(outcomes[i]) == "task runner is not started" for i in (2, 3))


def test_sliced_submit_checks_every_item_against_the_order_given():
    """Skipping an item inside a slice is refused, not only at a slice's first item."""

    def launch(chunk, deliver):
        return Future()

    submit = SlicedSubmit(["a", "b", "c"], launch, size=3)
    submit("a")
    with pytest.raises(ValueError, match="in the order given"):
        submit("c")
