"""Bounded fan-out: submit work elsewhere, consume results in one thread as they complete.

The ingestion engine submits one day at a time to a thread pool (or to Prefect tasks, from
``flows/``) and loads each prepared day in the calling thread, its single writer.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
I = TypeVar("I")  # noqa: E741 - the submitted item
R = TypeVar("R")
R_co = TypeVar("R_co", covariant=True)


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
) -> Iterator[list[tuple[I, R | Exception]]]:
    """Yield, in completion order, every item that has completed since the last group (at least
    one, at most ``max_group``), each with its result or its error.

    A consumer slower than the producers gets larger groups, so it can handle several results at
    once (the ingestion writer loads them in one transaction); a fast one gets single items.
    Replacements are submitted before a group is yielded, so at most ``window`` items are in
    flight or waiting, besides the group being consumed. A :class:`Handoff` is unboxed.
    """
    pending = iter(items)
    done: queue.SimpleQueue[tuple[I, Pending[R | Handoff[R]]]] = queue.SimpleQueue()

    def launch() -> bool:
        for item in pending:  # at most one item per call
            submit(item).add_done_callback(_report_to(done, item))
            return True
        return False

    in_flight = 0
    while in_flight < window and launch():
        in_flight += 1
    while in_flight:
        finished = [done.get()]
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
