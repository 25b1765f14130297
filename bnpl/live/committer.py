"""Group commit: many concurrent requests, one durable append per batch.

Each request hands its event to :meth:`GroupCommitter.append` and awaits its own verdict. One
writer thread takes whatever events are waiting (at most ``max_batch``), appends them to the
event log in one call (one transaction and one fsync for SQLite, one round trip for Redis) and
settles every request of the batch at once. While it writes, the next batch gathers, so the
batch size grows with the load and the number of fsyncs per second stays bounded.

The log is opened by the writer thread on first use and again after a failed open, so a gateway
started while its log is unreachable answers 503 until the log comes back, then 2xx.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from bnpl.errors import EventLogUnavailableError
from bnpl.live.log import Event, EventLog

log = logging.getLogger(__name__)

_STOP = None


@dataclass(frozen=True, slots=True)
class BatchStats:
    """One append as the writer saw it (for metrics)."""

    events: int
    seconds: float
    ok: bool


class GroupCommitter:
    """Batches :meth:`append` calls from an event loop into durable ``EventLog.append`` calls.

    Args:
        open_log: opens the event log (called in the writer thread; again after a failure).
        max_batch: most events in one append.
        on_batch: called in the writer thread after every append attempt.
    """

    def __init__(
        self,
        open_log: Callable[[], EventLog],
        *,
        max_batch: int,
        on_batch: Callable[[BatchStats], None] | None = None,
    ) -> None:
        self._open_log = open_log
        self._max_batch = max_batch
        self._on_batch = on_batch
        self._queue: queue.SimpleQueue[tuple[Event, asyncio.Future[bool]] | None] = (
            queue.SimpleQueue()
        )
        self._log: EventLog | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self.available = True
        """False after the last open or append failed, True after the last one succeeded."""

    def start(self) -> None:
        """Start the writer thread; call from the event loop that will await :meth:`append`."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="event-log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Let the writer finish the events already handed in, then close the log."""
        if self._thread is None:
            return
        self._queue.put(_STOP)
        self._thread.join()
        self._thread = None

    async def append(self, event: Event) -> bool:
        """True once ``event`` is durable in the log, False if its id was already there.

        Raises:
            EventLogUnavailableError: the log could not be opened or written; nothing of this
                event counts as stored.
        """
        assert self._loop is not None, "start() first"
        future: asyncio.Future[bool] = self._loop.create_future()
        self._queue.put((event, future))
        return await future

    # --- the writer thread ------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while True:
                first = self._queue.get()
                if first is _STOP:
                    return
                batch = [first]
                stopping = False
                while len(batch) < self._max_batch:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is _STOP:
                        stopping = True
                        break
                    batch.append(item)
                self._commit(batch)
                if stopping:
                    return
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None

    def _commit(self, batch: list[tuple[Event, asyncio.Future[bool]]]) -> None:
        # The same event id twice in one batch (a provider's concurrent retry): append it once;
        # the later copies are duplicates of the first.
        first_of: dict[str, int] = {}
        unique: list[Event] = []
        for event, _ in batch:
            if event.event_id not in first_of:
                first_of[event.event_id] = len(unique)
                unique.append(event)
        started = time.perf_counter()
        outcome: list[bool] | BaseException
        try:
            if self._log is None:
                self._log = self._open_log()
            stored = self._log.append(unique)
            seen: set[str] = set()
            outcome = []
            for event, _ in batch:
                new = event.event_id not in seen and stored[first_of[event.event_id]]
                seen.add(event.event_id)
                outcome.append(new)
            self.available = True
        except EventLogUnavailableError as exc:
            outcome = exc
            self.available = False
            log.warning("event log unavailable, %d events refused: %s", len(batch), exc)
        except Exception as exc:  # the request must not hang; it answers 503 and is retried
            outcome = EventLogUnavailableError(f"event log append failed: {exc!r}")
            self.available = False
            log.exception("event log append failed, %d events refused", len(batch))
        if self._on_batch is not None:
            self._on_batch(BatchStats(len(unique), time.perf_counter() - started, self.available))
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, batch, outcome)


def _settle(
    batch: list[tuple[Event, asyncio.Future[bool]]], outcome: list[bool] | BaseException
) -> None:
    for position, (_, future) in enumerate(batch):
        if future.done():  # the client went away; the event may still have been stored
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome[position])
