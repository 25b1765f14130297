"""The loader: a consumer of the event log that writes micro-batches to the warehouse.

One step (:meth:`Loader.step`): take over what dead consumers of the group held
(``claim_stale``), read new events until ``batch_max_events`` or ``batch_max_ms`` after the
first, prepare them (:func:`bnpl.live.records.prepare_events`: the batch path's parse, keys and
contract), write rows, dead letters and offsets as one unit
(:meth:`~bnpl.warehouse.base.Warehouse.write_live_batch`), and only then acknowledge them in the
log. Delivery is at-least-once and every write is idempotent on the event id, so a loader killed
at any point (before the commit, between the commit and the acknowledgement) loses and duplicates
nothing: what it held is redelivered and written again to the same rows.

Retention: at start and every ``log_trim_interval_s`` the loader trims the log
(:func:`bnpl.live.retention.trim_log`).

A poison event never blocks the stream: an event handed out more than ``max_deliveries`` times is
dead-lettered (``delivery_limit``) without being parsed, and a batch whose write fails is written
again event by event, so that only the events that fail alone stay unacknowledged (to be
redelivered, and dead-lettered at the limit).

The DuckDB file is held for one batch's write only (``Warehouse.session``), so notebooks
(``bnpl.read_table``) and ``bnpl build`` get their turns between batches.

What the events become is the loader's :class:`Sink`: by default the webhook events'
transactions (:class:`TransactionsSink`, ``bnpl_raw.live_transactions``); the scores stream uses
:class:`bnpl.serving.scores.ScoresSink` (``bnpl_raw.scores``) with the same consumer, offsets and
acknowledgement.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import polars as pl

from bnpl import timeutil
from bnpl.contracts import polars_schema
from bnpl.errors import EventLogUnavailableError, WarehouseError, WarehouseLockedError
from bnpl.live.log import Delivered, Event, EventLog
from bnpl.live.records import DELIVERY_LIMIT, dead_letter_frame, prepare_events
from bnpl.live.retention import trim_log
from bnpl.settings import LiveSettings
from bnpl.stopping import STOP, StopRequest
from bnpl.warehouse import Warehouse, names
from bnpl.warehouse.live import LiveBatch, read_offsets

logger = logging.getLogger(__name__)

_LOCKED_PAUSE_S = 1.0
"""Pause after the warehouse file stayed locked past its timeout, before the next batch."""

_LOG_PAUSE_S = 2.0
"""Pause after the event log was unavailable, before trying again."""


class Sink(Protocol):
    """What a loader makes of the events of one micro-batch, and the batch it writes."""

    def prepare(
        self, events: Sequence[Event], *, loaded_at: datetime
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The rows and the dead letters (``bnpl_raw.quarantine`` rows) of ``events``."""
        ...

    def batch(self, rows: pl.DataFrame, dead: pl.DataFrame, offsets: pl.DataFrame) -> LiveBatch:
        """The micro-batch the warehouse writes as one unit."""
        ...


class TransactionsSink:
    """The webhook events' sink: :func:`prepare_events`, into ``bnpl_raw.live_transactions``."""

    def prepare(
        self, events: Sequence[Event], *, loaded_at: datetime
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        prepared = prepare_events(events, loaded_at=loaded_at)
        return prepared.rows, prepared.dead_letters

    def batch(self, rows: pl.DataFrame, dead: pl.DataFrame, offsets: pl.DataFrame) -> LiveBatch:
        return LiveBatch(rows, dead, offsets)


def consumer_name(settings: LiveSettings) -> str:
    """This loader's name in its group: the setting, else the host name."""
    return settings.loader_consumer or socket.gethostname()


def offset_order(offset: str) -> tuple[int, tuple[int, ...], str]:
    """A sort key for an engine's offset text: ``"42"`` and Redis's ``"1700000000000-3"`` as
    integers, anything else as text (after every numeric offset)."""
    parts = offset.split("-")
    if all(p.isdigit() for p in parts):
        return (0, tuple(int(p) for p in parts), "")
    return (1, (), offset)


@dataclass(frozen=True)
class BatchOutcome:
    """What one step did: events handed out, written (rows, dead letters), left for later."""

    delivered: int
    rows: int
    dead_letters: int
    left: int
    by_reason: dict[str, int]


@dataclass
class LoadStats:
    """Totals of a :meth:`Loader.run`."""

    batches: int = 0
    events: int = 0
    rows: int = 0
    dead_letters: int = 0
    left: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    def add(self, outcome: BatchOutcome) -> None:
        self.batches += 1
        self.events += outcome.delivered
        self.rows += outcome.rows
        self.dead_letters += outcome.dead_letters
        self.left += outcome.left
        self.by_reason.update(outcome.by_reason)


class Loader:
    """One consumer of ``settings.loader_group`` writing to ``warehouse``.

    Args:
        log: the event log (any engine).
        warehouse: where the rows go.
        settings: batch size and time, claim idle time, delivery limit.
        consumer: the consumer's name (default :func:`consumer_name`).
        clock: the current instant (tests pin it).
        after_commit: called with each committed micro-batch's rows (the online store's update).
        sink: what the events become (default :class:`TransactionsSink`).
        group: the consumer group (default ``settings.loader_group``).
    """

    def __init__(
        self,
        log: EventLog,
        warehouse: Warehouse,
        settings: LiveSettings,
        *,
        consumer: str | None = None,
        clock: Callable[[], datetime] = timeutil.utc_now,
        after_commit: Callable[[pl.DataFrame], None] | None = None,
        sink: Sink | None = None,
        group: str | None = None,
    ) -> None:
        self.log = log
        self.after_commit = after_commit
        self.sink: Sink = sink or TransactionsSink()
        self.warehouse = warehouse
        self.settings = settings
        self.group = group or settings.loader_group
        self.consumer = consumer or consumer_name(settings)
        self._clock = clock
        self._offsets: dict[int, tuple[str, datetime]] | None = None
        self._next_trim = time.monotonic()  # the first trim comes with the first step

    # --- one micro-batch ----------------------------------------------------------------------

    def collect(self) -> list[Delivered]:
        """The next micro-batch: stale events of dead consumers first, then new ones, until
        ``batch_max_events`` or ``batch_max_ms`` after the first event; distinct event ids."""
        limit = self.settings.batch_max_events
        batch = self.log.claim_stale(
            self.group, self.consumer, idle_ms=self.settings.claim_idle_ms, max_events=limit
        )
        deadline: float | None = (
            time.monotonic() + self.settings.batch_max_ms / 1000 if batch else None
        )
        while len(batch) < limit:
            if deadline is None:
                wait_ms = self.settings.batch_max_ms
            else:
                wait_ms = int((deadline - time.monotonic()) * 1000)
                if wait_ms <= 0:
                    break
            more = self.log.read(
                self.group, self.consumer, max_events=limit - len(batch), block_ms=wait_ms
            )
            if not more:
                break
            batch += more
            if deadline is None:
                deadline = time.monotonic() + self.settings.batch_max_ms / 1000
        return batch

    def step(self) -> BatchOutcome:
        """Collect, prepare, write and acknowledge one micro-batch (possibly empty)."""
        delivered = self.collect()
        if not delivered:
            return BatchOutcome(0, 0, 0, 0, {})
        firsts: dict[str, Delivered] = {}
        for d in delivered:  # one event handed out twice in one batch is written once
            firsts.setdefault(d.event.event_id, d)
        unique = list(firsts.values())
        written, outcome = self._write(unique)
        if written:
            ids = {d.event.event_id for d in written}
            self.log.ack(self.group, [d for d in delivered if d.event.event_id in ids])
        return outcome

    def _write(self, batch: Sequence[Delivered]) -> tuple[list[Delivered], BatchOutcome]:
        """Write ``batch`` as one unit; if that fails (not for a lock), event by event.
        Returns what was written and the outcome."""
        try:
            frames = self._frames(batch)
            self._commit(frames, batch)
        except WarehouseLockedError as exc:
            logger.warning(
                "warehouse locked; %d events wait for the next turn: %s", len(batch), exc
            )
            time.sleep(_LOCKED_PAUSE_S)
            return [], BatchOutcome(len(batch), 0, 0, len(batch), {})
        except WarehouseError as exc:
            if len(batch) == 1:
                logger.error(
                    "event %s (delivery %d) was not written: %s",
                    batch[0].event.event_id,
                    batch[0].deliveries,
                    exc,
                )
                return [], BatchOutcome(1, 0, 0, 1, {})
            logger.warning(
                "a micro-batch of %d events failed (%s); writing them one by one", len(batch), exc
            )
            written: list[Delivered] = []
            total = BatchOutcome(len(batch), 0, 0, 0, {})
            for one in batch:
                done, outcome = self._write([one])
                written += done
                total = _sum(total, outcome)
            return written, total
        rows, dead = frames
        by_reason = dict(Counter(dead["check_name"].to_list()))
        return list(batch), BatchOutcome(len(batch), rows.height, dead.height, 0, by_reason)

    def _frames(self, batch: Sequence[Delivered]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Rows and dead letters of ``batch``: events past the delivery limit are dead letters
        unparsed; the rest go through :func:`prepare_events`."""
        now = self._clock()
        limit = self.settings.max_deliveries
        poison = [d for d in batch if d.deliveries > limit]
        fresh = [d.event for d in batch if d.deliveries <= limit]
        rows, dead = self.sink.prepare(fresh, loaded_at=now)
        if poison:
            reasons = [
                (
                    DELIVERY_LIMIT,
                    f"handed out {d.deliveries} times (limit {limit}) without being written",
                )
                for d in poison
            ]
            dead = pl.concat(
                [
                    dead,
                    dead_letter_frame(
                        [d.event for d in poison], reasons, at=now, first_line=len(fresh) + 1
                    ),
                ]
            )
            for d in poison:
                logger.error(
                    "event %s dead-lettered after %d deliveries", d.event.event_id, d.deliveries
                )
        return rows, dead

    def _commit(
        self, frames: tuple[pl.DataFrame, pl.DataFrame], batch: Sequence[Delivered]
    ) -> None:
        rows, dead = frames
        offsets = self._advance(batch)
        live = self.sink.batch(rows, dead, self._offsets_frame(offsets, batch))
        with self.warehouse.session():  # the DuckDB file is held for this write only
            self.warehouse.write_live_batch(live)
        self._offsets = offsets
        if self.after_commit is not None:  # e.g. bnpl.serving.hook.store_updater (online store)
            self.after_commit(rows)

    # --- offsets ------------------------------------------------------------------------------

    def _known_offsets(self) -> dict[int, tuple[str, datetime]]:
        if self._offsets is None:
            with self.warehouse.session():
                found = read_offsets(self.warehouse).filter(
                    (pl.col("consumer_group") == self.group) & (pl.col("consumer") == self.consumer)
                )
            self._offsets = {
                int(r["log_partition"]): (str(r["last_offset"]), r["last_received_at"])
                for r in found.iter_rows(named=True)
            }
        return self._offsets

    def _advance(self, batch: Sequence[Delivered]) -> dict[int, tuple[str, datetime]]:
        """The newest offset per partition after ``batch`` (never moving back: a redelivered
        old event does not lower it)."""
        offsets = dict(self._known_offsets())
        for d in batch:
            current = offsets.get(d.partition)
            if current is None or offset_order(d.offset) > offset_order(current[0]):
                offsets[d.partition] = (d.offset, d.event.received_at)
        return offsets

    def _offsets_frame(
        self, offsets: dict[int, tuple[str, datetime]], batch: Sequence[Delivered]
    ) -> pl.DataFrame:
        counts = Counter(d.partition for d in batch)
        now = timeutil.as_utc(self._clock())
        rows = [
            {
                "consumer_group": self.group,
                "consumer": self.consumer,
                "log_partition": partition,
                "last_offset": offsets[partition][0],
                "last_received_at": timeutil.as_utc(offsets[partition][1]),
                "events": count,
                "committed_at": now,
            }
            for partition, count in sorted(counts.items())
        ]
        return pl.DataFrame(rows, schema=polars_schema(names.LIVE_OFFSETS.table), orient="row")

    def trim(self) -> int:
        """Trim the log now (:func:`bnpl.live.retention.trim_log`); the count dropped."""
        return trim_log(self.log, self.settings, now=self._clock())

    # --- the service loop ---------------------------------------------------------------------

    def run(
        self,
        *,
        once: bool = False,
        max_events: int | None = None,
        stop: StopRequest = STOP,
    ) -> LoadStats:
        """Load until stopped (SIGINT/SIGTERM through ``stop``: after the current batch), or with
        ``once`` until a batch comes back empty, or after ``max_events`` events."""
        stats = LoadStats()
        logger.info(
            "loader %s of group %s started (batches of %d events or %d ms)",
            self.consumer,
            self.group,
            self.settings.batch_max_events,
            self.settings.batch_max_ms,
        )
        while not stop.is_set():
            if time.monotonic() >= self._next_trim:
                self._next_trim = time.monotonic() + self.settings.log_trim_interval_s
                self.trim()
            try:
                outcome = self.step()
            except EventLogUnavailableError as exc:  # the log comes back; nothing was acked
                logger.warning("event log unavailable, retrying in %.0f s: %s", _LOG_PAUSE_S, exc)
                _pause(stop, _LOG_PAUSE_S)
                continue
            if outcome.delivered:
                stats.add(outcome)
                logger.debug(
                    "batch: %d events, %d rows, %d dead letters, %d left",
                    outcome.delivered,
                    outcome.rows,
                    outcome.dead_letters,
                    outcome.left,
                )
            elif once:
                break
            if max_events is not None and stats.events >= max_events:
                break
        logger.info(
            "loader %s stopped: %d events in %d batches, %d rows, %d dead letters %s",
            self.consumer,
            stats.events,
            stats.batches,
            stats.rows,
            stats.dead_letters,
            dict(stats.by_reason),
        )
        return stats


def _pause(stop: StopRequest, seconds: float) -> None:
    """Sleep ``seconds``, or less if a stop is requested."""
    deadline = time.monotonic() + seconds
    while not stop.is_set() and time.monotonic() < deadline:
        time.sleep(0.1)


def _sum(a: BatchOutcome, b: BatchOutcome) -> BatchOutcome:
    reasons = Counter(a.by_reason)
    reasons.update(b.by_reason)
    return BatchOutcome(
        a.delivered,
        a.rows + b.rows,
        a.dead_letters + b.dead_letters,
        a.left + b.left,
        dict(reasons),
    )
