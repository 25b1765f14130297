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

    At most ``window`` items are submitted and not yet yielded, which bounds the memory held by
    results waiting for the consumer. A :class:`Handoff` result is taken out of its box.
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
        item, future = done.get()
        in_flight -= 1
        outcome: R | Exception
        try:
            value = future.result()
            outcome = value.take() if isinstance(value, Handoff) else value
        except Exception as exc:
            outcome = exc
        del future
        yield item, outcome
        if launch():
            in_flight += 1
