"""The event log interface, shaped like Kafka's: partition key, offsets, consumer groups,
acknowledgement, redelivery of what a dead consumer held, replay from an offset, retention.

Two engines implement it and pass the same contract tests: an embedded SQLite file in WAL mode
(no server; safe for the gateway and the loader in separate processes) and Redis Streams on a
real ``redis-server``. Delivery is at-least-once; exactly-once comes from the loader's writes
being idempotent on :attr:`Event.event_id`.
"""

from __future__ import annotations

import zlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Self


@dataclass(frozen=True, slots=True)
class Event:
    """One event as the gateway (or the relay) appends it.

    ``event_id`` is the idempotency key (the ``webhook-id`` header, or an id derived from the
    source identity for the relay); ``key`` is the partition key (the customer id as text, or ""
    when the body has none); ``payload`` is the raw body exactly as received and signed;
    ``received_at`` is when the gateway (or relay) received it, timezone-aware (naive means UTC),
    stored to the microsecond.
    ``rejected`` carries the gateway's reason when the body was signed but unusable (not JSON, wrong
    shape): the loader sends such events straight to the dead letters with the raw body.
    """

    event_id: str
    key: str
    payload: bytes
    received_at: datetime
    source: str = "webhook"
    rejected: str | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    """An event handed to a consumer: where it sits in the log and how often it was handed out.

    ``offset`` is the engine's position text (SQLite: the partition's integer offset, ``"0"``,
    ``"1"``, ...; Redis: the stream entry id ``"<ms>-<seq>"``); pass it back to :meth:`EventLog.seek`
    as it is, and do not compare offsets of different engines.
    """

    partition: int
    offset: str
    event: Event
    deliveries: int


class EventLog(ABC):
    """A durable, partitioned, append-only log with consumer groups.

    ``append`` returns only after the events are durable (SQLite: committed with WAL
    ``synchronous=FULL``; Redis: the server runs ``appendfsync always`` and replies after the
    fsync). Each call costs one fsync: append many events per call where throughput matters.
    An ``event_id`` already in the log is not appended again (``append`` reports it as a
    duplicate); an event id is remembered at least as long as the retention. Unavailable storage
    raises :class:`bnpl.errors.EventLogUnavailableError`.

    Events are placed in partition :func:`partition_for` ``(event.key, partitions)``; offsets
    increase with appends within a partition, so one customer's events are read in append order.
    A consumer group is created by its first ``read``, ``claim_stale`` or ``seek`` (not by
    ``stats``) and then starts at the oldest retained event.
    One instance may be shared by threads; separate processes open their own.
    """

    partitions: int
    """Number of partitions (fixed when the log was created)."""

    @abstractmethod
    def append(self, events: Sequence[Event]) -> list[bool]:
        """Append durably; one bool per event, False where its ``event_id`` was already stored."""

    @abstractmethod
    def read(
        self, group: str, consumer: str, *, max_events: int, block_ms: int = 0
    ) -> list[Delivered]:
        """Hand out up to ``max_events`` events not yet delivered to ``group``, waiting at most
        ``block_ms`` for the first one (0: do not wait). They stay pending for ``consumer`` until
        acknowledged; no other consumer of the group gets them from ``read``."""

    @abstractmethod
    def ack(self, group: str, delivered: Sequence[Delivered]) -> None:
        """Acknowledge: these events are done for ``group`` and are never redelivered to it."""

    @abstractmethod
    def claim_stale(
        self, group: str, consumer: str, *, idle_ms: int, max_events: int
    ) -> list[Delivered]:
        """Take over up to ``max_events`` events that a consumer of ``group`` (any, this one
        too) has held unacknowledged for at least ``idle_ms``: a dead consumer's work is
        redelivered to ``consumer``, with ``deliveries`` one higher."""

    @abstractmethod
    def seek(self, group: str, positions: dict[int, str]) -> None:
        """Replay: move ``group`` to just after ``positions`` (partition → offset as
        :attr:`Delivered.offset` gave it; "" = the partition's start). Partitions not named keep
        their position. Events re-read this way are handed out again (if one was still pending,
        its ``deliveries`` count is engine-specific).

        Raises:
            ConfigError: a partition outside ``0..partitions-1``.
        """

    @abstractmethod
    def groups(self) -> list[str]:
        """The consumer groups the log knows, sorted."""

    @abstractmethod
    def stats(self, group: str) -> LogStats:
        """Depth, pending and lag of ``group`` (for ``bnpl live status`` and ``/metrics``)."""

    @abstractmethod
    def trim(self, older_than: datetime) -> int:
        """Retention: drop events appended before ``older_than`` (aware; naive means UTC) that
        every consumer group acknowledged (with no group, every such event); returns how many were
        dropped."""

    @abstractmethod
    def close(self) -> None:
        """Release connections and files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class LogStats:
    """What ``bnpl live status`` shows of the log for one consumer group.

    ``depth``: events in the log (all partitions, acknowledged or not, until trimmed).
    ``pending``: events delivered to the group's consumers and not yet acknowledged.
    ``lag_events``: events the group has not acknowledged (pending plus not yet delivered; Kafka's
    consumer lag). ``oldest_unacked_at``: ``received_at`` of the oldest of those (UTC), None when
    the group is caught up; now minus it is the lag in seconds.
    """

    depth: int
    pending: int
    lag_events: int
    oldest_unacked_at: datetime | None


def partition_for(key: str, partitions: int) -> int:
    """The partition of partition key ``key`` among ``partitions`` (CRC-32 of its UTF-8 bytes:
    stable across processes, machines and engines, unlike ``hash()``)."""
    return zlib.crc32(key.encode()) % partitions
