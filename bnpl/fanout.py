"""Bounded fan-out: submit work elsewhere, consume results in one thread as they complete.

The ingestion engine submits days to a thread pool (or to Prefect tasks, from ``bnpl_flows/``) a
slice at a time (:class:`SlicedSubmit`), gets each day back as soon as it is prepared, and loads
it in the calling thread, its single writer.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import suppress
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the submitted item
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)

STOP_POLL_S = 0.1
"""Seconds between checks of a fan-out's stop condition while it waits for results."""


class Handoff(Generic[T]):
    """A box handed over once: :meth:`take` returns the value and leaves the box empty.

    A Prefect future and its result sit in a reference cycle until Python's cyclic garbage
    collector runs, which can take hundreds of days' worth of frames with Polars (few Python
    allocations, so few collections). A task that returns its day in a Handoff lets the writer
    take the frames; the cycle then keeps only an empty box.
    """

    __slots__ = ("_value",)

    def __init__(self, value: T) -> None:
        self._value: T | None = value

    def take(self) -> T:
        """The value; the box is empty afterwards.

        Raises:
            RuntimeError: the value was taken already.
        """
        value, self._value = self._value, None
        if value is None:
            raise RuntimeError("this Handoff was taken already")
        return value


class Pending(Protocol[R_co]):
    """A unit of work in flight: a ``concurrent.futures.Future`` or a Prefect future."""

    def result(self) -> R_co: ...
    def add_done_callback(self, fn: Callable[[Any], None]) -> None: ...


def _report_to(
    done: queue.SimpleQueue[tuple[I, Pending[R]]], item: I
) -> Callable[[Pending[R]], None]:
    """A done-callback that queues ``(item, finished future)`` for the consuming thread."""

    def on_done(finished: Pending[R]) -> None:
        done.put((item, finished))

    return on_done


def iter_completed(
    items: Iterable[I], submit: Callable[[I], Pending[R | Handoff[R]]], *, window: int
) -> Iterator[tuple[I, R | Exception]]:
    """Yield each item with its result (or its error) in completion order.

    At most ``window`` items are in flight or waiting besides the one being consumed, which
    bounds the memory held by results. A :class:`Handoff` result is taken out of its box.
    """
    for group in iter_completed_groups(items, submit, window=window):
        yield from group


def iter_completed_groups(
    items: Iterable[I],
    submit: Callable[[I], Pending[R | Handoff[R]]],
    *,
    window: int,
    max_group: int | None = None,
    stopped: Callable[[], bool] | None = None,
) -> Iterator[list[tuple[I, R | Exception]]]:
    """Yield, in completion order, every item that has completed since the last group (at least
    one, at most ``max_group``), each with its result or its error.

    A consumer slower than the producers gets larger groups, so it can handle several results at
    once (the ingestion writer loads them in one transaction); a fast one gets single items.
    Replacements are submitted before a group is yielded, so at most ``window`` items are in
    flight or waiting, besides the group being consumed. A :class:`Handoff` is unboxed.

    Once ``stopped()`` is true (checked at least every :data:`STOP_POLL_S`), nothing more is
    submitted or yielded: the items in flight are abandoned to their workers.
    """
    pending = iter(items)
    done: queue.SimpleQueue[tuple[I, Pending[R | Handoff[R]]]] = queue.SimpleQueue()

    def launch() -> bool:
        if stopped is not None and stopped():
            return False
        for item in pending:  # at most one item per call
            submit(item).add_done_callback(_report_to(done, item))
            return True
        return False

    in_flight = 0
    while in_flight < window and launch():
        in_flight += 1
    while in_flight:
        if stopped is None:
            finished = [done.get()]
        else:
            try:
                finished = [done.get(timeout=STOP_POLL_S)]
            except queue.Empty:
                finished = []
            if stopped():
                return
            if not finished:
                continue
        while max_group is None or len(finished) < max_group:
            try:
                finished.append(done.get_nowait())
            except queue.Empty:
                break
        in_flight -= len(finished)
        group: list[tuple[I, R | Exception]] = []
        for item, future in finished:
            outcome: R | Exception
            try:
                value = future.result()
                outcome = value.take() if isinstance(value, Handoff) else value
            except Exception as exc:
                outcome = exc
            group.append((item, outcome))
        del finished
        for _ in group:  # refill before the consumer works on the group, so fetching goes on
            if launch():
                in_flight += 1
        yield group


Deliver = Callable[[int, R | Exception], None]
"""Called by a slice's worker with each item's position in the slice and its result or error."""

Launch = Callable[[Sequence[I], Deliver[R]], Pending[object]]
"""Starts the work on a slice of items somewhere else; returns the slice's own future."""


class SlicedSubmit(Generic[I, R]):
    """A per-item ``submit`` for :func:`iter_completed_groups` over work launched a slice at a
    time: one launch (one thread-pool job or one Prefect task) for up to ``size`` consecutive
    items, each item's future resolved as soon as the worker delivers it.

    Items must be submitted once each, in the order of ``items`` (as
    :func:`iter_completed_groups` does); submitting an item launches its whole slice. When a
    slice's own future finishes, every item it did not deliver fails with the slice's error
    (whatever it is, ``BaseException`` included), and a launch that raises fails its slice's
    items with that error, so no item waits for ever. Up to ``size - 1`` items beyond the
    caller's window may be in flight. Values come in a :class:`Handoff`, which
    :func:`iter_completed_groups` unboxes.
    """

    def __init__(self, items: Sequence[I], launch: Launch[I, R], *, size: int) -> None:
        if size < 1:
            raise ValueError(f"slice size {size} is not a positive number of items")
        self._items = list(items)
        self._launch = launch
        self._size = size
        self._next = 0
        self._ready: deque[tuple[I, Future[Handoff[R]]]] = deque()

    def __call__(self, item: I) -> Pending[R | Handoff[R]]:
        if not self._ready:
            chunk = self._items[self._next : self._next + self._size]
            if not chunk or chunk[0] is not item:
                raise ValueError("items must be submitted once each, in the order given")
            self._next += len(chunk)
            futures: list[Future[Handoff[R]]] = [Future() for _ in chunk]
            self._ready.extend(zip(chunk, futures, strict=True))
            try:
                started = self._launch(chunk, _deliver_to(futures))
            except Exception as exc:  # the slice never started: its items fail, the run goes on
                _fail_undelivered(futures, exc)
            else:
                started.add_done_callback(_settle_rest(futures))
        expected, future = self._ready[0]
        if expected is not item:
            raise ValueError("items must be submitted once each, in the order given")
        self._ready.popleft()
        return future


def _deliver_to(futures: list[Future[Handoff[R]]]) -> Deliver[R]:
    """Resolve the item's future. A value goes in a :class:`Handoff`: the slice's worker (a
    Prefect task's parameters among them) keeps ``futures`` alive, in a reference cycle until the
    garbage collector runs, and the consumer's taking the value must free it at once."""

    def deliver(position: int, outcome: R | Exception) -> None:
        with suppress(InvalidStateError):  # the first outcome of an item stands
            if isinstance(outcome, Exception):
                futures[position].set_exception(outcome)
            else:
                futures[position].set_result(Handoff(outcome))

    return deliver


def _fail_undelivered(futures: Sequence[Future[Handoff[R]]], reason: BaseException) -> None:
    for future in futures:
        with suppress(InvalidStateError):  # delivered already
            future.set_exception(reason)


def _settle_rest(futures: list[Future[Handoff[R]]]) -> Callable[[Pending[object]], None]:
    """A done-callback for a slice: fail the items its worker did not deliver."""

    def settle(finished: Pending[object]) -> None:
        try:
            finished.result()
        except BaseException as exc:  # a worker killed by SystemExit too: nobody may wait for ever
            reason: BaseException = exc
        else:
            reason = RuntimeError("the slice's worker ended without delivering this item")
        _fail_undelivered(futures, reason)

    return settle
