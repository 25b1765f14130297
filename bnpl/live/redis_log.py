"""The production event log engine: Redis Streams on a ``redis-server`` (redis-py client).

One stream per partition (``<prefix>:p<n>``); an event is one entry whose id (``<ms>-<seq>``,
the server's append time) is its offset. Consumer groups, pending entries, acknowledgement,
claiming and replay are Redis's own (``XREADGROUP``, ``XACK``, ``XAUTOCLAIM``, ``XGROUP SETID``).

Idempotency: one Lua script per append sets ``<prefix>:id:<event_id>`` with ``NX`` and the
retention as its TTL, and adds the entry only when the key was new; the script runs atomically,
so two gateways appending the same id at once store it once. (Redis 8.6's ``XADD IDMP`` keeps at
most 10,000 ids per producer for at most a day, less than the retention; Debian ships 7.0.)

Durability: the server must run with ``appendonly yes`` and ``appendfsync always``; then Redis
answers the script only after its writes are fsynced to the append-only file, so an event
:meth:`RedisEventLog.append` returned True for survives a SIGKILL of the server or a power cut.
The engine warns once at open when the server says otherwise (or hides its config).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

import redis
from redis.exceptions import RedisError, ResponseError

from bnpl.errors import ConfigError, EventLogUnavailableError
from bnpl.live.log import Delivered, Event, EventLog, LogStats, partition_for

logger = logging.getLogger(__name__)

_T = TypeVar("_T")
_Entries = list[tuple[bytes, dict[bytes, bytes]]]
"""Stream entries as the client returns them (``decode_responses`` off): id, fields."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_APPEND = """
local ttl = ARGV[1]
local added = {}
for i = 1, #KEYS / 2 do
  local a = 1 + (i - 1) * 7
  if redis.call('SET', KEYS[2 * i - 1], '1', 'NX', 'PX', ttl) then
    local fields = {'id', ARGV[a + 1], 'key', ARGV[a + 2], 'payload', ARGV[a + 3],
                    'received_us', ARGV[a + 4], 'source', ARGV[a + 5]}
    if ARGV[a + 6] == '1' then
      table.insert(fields, 'rejected')
      table.insert(fields, ARGV[a + 7])
    end
    redis.call('XADD', KEYS[2 * i], '*', unpack(fields))
    added[i] = 1
  else
    added[i] = 0
  end
end
return added
"""


def _sync(value: _T | Awaitable[_T]) -> _T:
    """redis-py's sync client returns values; its annotations also allow awaitables."""
    return cast(_T, value)


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _id(text: bytes | str) -> tuple[int, int]:
    ms, _, seq = (text.decode() if isinstance(text, bytes) else text).partition("-")
    return int(ms), int(seq or 0)


def _text(entry_id: tuple[int, int]) -> str:
    return f"{entry_id[0]}-{entry_id[1]}"


class RedisEventLog(EventLog):
    """The event log on Redis Streams (see the module docstring).

    Raises:
        ConfigError: the log was created with another partition count.
        EventLogUnavailableError: the server cannot be reached or refuses the command.
    """

    def __init__(
        self,
        url: str,
        *,
        partitions: int,
        prefix: str = "bnpl:live",
        retention_s: float = 7 * 86400,
        timeout_s: float = 10.0,
    ) -> None:
        self.partitions = partitions
        self._prefix = prefix
        self._retention_ms = max(1, int(retention_s * 1000))
        self._streams = [f"{prefix}:p{n}" for n in range(partitions)]
        self._known_groups: set[str] = set()
        self._turn = 0
        self._lock = threading.Lock()
        try:
            self._redis = redis.Redis.from_url(
                url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
            )
        except ValueError as exc:
            raise ConfigError(f"BNPL_LIVE__LOG_REDIS_URL is not a Redis URL ({exc})") from None
        self._append = self._redis.register_script(_APPEND)
        with self._call("open"):
            key = f"{prefix}:partitions"
            self._redis.set(key, partitions, nx=True)
            stored = int(_sync(self._redis.get(key)) or partitions)
            self._check_durability()
        if stored != partitions:
            self.close()
            raise ConfigError(
                f"event log {prefix!r} on Redis has {stored} partitions, settings say "
                f"{partitions} (BNPL_LIVE__LOG_PARTITIONS); keys would move: use {stored} or "
                "another BNPL_LIVE__LOG_REDIS_PREFIX"
            )

    def _check_durability(self) -> None:
        try:
            config = _sync(self._redis.config_get("append*"))
        except ResponseError:  # managed services may hide CONFIG
            logger.warning("event log: Redis hides CONFIG; cannot check appendfsync always")
            return
        got = {k.decode() if isinstance(k, bytes) else k: v for k, v in config.items()}
        values = {k: v.decode() if isinstance(v, bytes) else v for k, v in got.items()}
        if values.get("appendonly") != "yes" or values.get("appendfsync") != "always":
            logger.warning(
                "event log: Redis runs with appendonly=%s appendfsync=%s; an acknowledged event "
                "can be lost on a crash (see docs/live.md, 'Event log')",
                values.get("appendonly"),
                values.get("appendfsync"),
            )

    @contextmanager
    def _call(self, what: str) -> Iterator[None]:
        try:
            yield
        except RedisError as exc:
            raise EventLogUnavailableError(
                f"event log on Redis cannot {what}: {type(exc).__name__}: {exc}; check the server "
                "(BNPL_LIVE__LOG_REDIS_URL), then retry"
            ) from exc

    def _ensure_group(self, group: str) -> None:
        if group in self._known_groups:
            return
        for stream in self._streams:
            try:
                self._redis.xgroup_create(stream, group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise
        self._known_groups.add(group)

    def append(self, events: Sequence[Event]) -> list[bool]:
        if not events:
            return []
        keys: list[str] = []
        args: list[bytes | str | int] = [self._retention_ms]
        for event in events:
            keys += [
                f"{self._prefix}:id:{event.event_id}",
                self._streams[partition_for(event.key, self.partitions)],
            ]
            args += [
                event.event_id,
                event.key,
                event.payload,
                _us(event.received_at),
                event.source,
                0 if event.rejected is None else 1,
                event.rejected or "",
            ]
        with self._call("append"):
            added = self._append(keys=keys, args=args)
        return [flag == 1 for flag in added]

    def read(
        self, group: str, consumer: str, *, max_events: int, block_ms: int = 0
    ) -> list[Delivered]:
        deadline = time.monotonic() + block_ms / 1000
        with self._call("read"):
            self._ensure_group(group)
            while True:
                if block_ms > 0:  # the tails before the read, so nothing slips between
                    pipe = self._redis.pipeline(transaction=False)
                    for stream in self._streams:
                        pipe.xrevrange(stream, count=1)
                    tails: dict[
                        str | bytes | memoryview[int], int | str | bytes | memoryview[int]
                    ] = {
                        s: (t[0][0] if t else b"0-0")
                        for s, t in zip(self._streams, pipe.execute(), strict=True)
                    }
                got = self._read_new(group, consumer, max_events)
                left_ms = int((deadline - time.monotonic()) * 1000)
                if got or left_ms <= 0:
                    return got
                self._redis.xread(tails, count=1, block=left_ms)

    def _read_new(self, group: str, consumer: str, max_events: int) -> list[Delivered]:
        with self._lock:
            start, self._turn = self._turn, (self._turn + 1) % self.partitions
        got: list[Delivered] = []
        for n in range(self.partitions):
            partition = (start + n) % self.partitions
            left = max_events - len(got)
            if left <= 0:
                break
            reply = cast(
                list[tuple[bytes, _Entries]] | None,
                self._redis.xreadgroup(
                    group, consumer, {self._streams[partition]: ">"}, count=left
                ),
            )
            for _stream, entries in reply or []:
                got += [self._delivered(partition, i, f, 1) for i, f in entries]
        return got

    def _delivered(
        self, partition: int, entry_id: bytes, fields: dict[bytes, bytes], deliveries: int
    ) -> Delivered:
        rejected = fields.get(b"rejected")
        event = Event(
            event_id=fields[b"id"].decode(),
            key=fields[b"key"].decode(),
            payload=fields[b"payload"],
            received_at=_EPOCH + timedelta(microseconds=int(fields[b"received_us"])),
            source=fields[b"source"].decode(),
            rejected=None if rejected is None else rejected.decode(),
        )
        return Delivered(partition, entry_id.decode(), event, deliveries)

    def ack(self, group: str, delivered: Sequence[Delivered]) -> None:
        if not delivered:
            return
        by_partition: dict[int, list[str]] = {}
        for d in delivered:
            by_partition.setdefault(d.partition, []).append(d.offset)
        with self._call("ack"):
            pipe = self._redis.pipeline(transaction=False)
            for partition, offsets in by_partition.items():
                pipe.xack(self._streams[partition], group, *offsets)
            pipe.execute()

    def claim_stale(
        self, group: str, consumer: str, *, idle_ms: int, max_events: int
    ) -> list[Delivered]:
        claimed: list[Delivered] = []
        with self._call("claim"):
            self._ensure_group(group)
            for partition, stream in enumerate(self._streams):
                cursor: bytes | str = "0-0"
                mine: list[tuple[bytes, dict[bytes, bytes]]] = []
                while len(claimed) + len(mine) < max_events:
                    left = max_events - len(claimed) - len(mine)
                    cursor, entries, *_ = _sync(
                        self._redis.xautoclaim(stream, group, consumer, idle_ms, cursor, count=left)
                    )
                    mine += [(i, f) for i, f in entries if f is not None]
                    if _id(cursor) == (0, 0):
                        break
                if mine:
                    counts = self._deliveries(stream, group, consumer, [i for i, _ in mine])
                    claimed += [self._delivered(partition, i, f, counts[i]) for i, f in mine]
        return claimed

    def _deliveries(
        self, stream: str, group: str, consumer: str, ids: list[bytes]
    ) -> dict[bytes, int]:
        rows = _sync(
            self._redis.xpending_range(
                stream, group, min=ids[0], max=ids[-1], count=len(ids), consumername=consumer
            )
        )
        counts = {row["message_id"]: int(row["times_delivered"]) for row in rows}
        return {i: counts.get(i, 1) for i in ids}

    def seek(self, group: str, positions: dict[int, str]) -> None:
        for partition in positions:
            if not 0 <= partition < self.partitions:
                raise ConfigError(f"partition {partition} is not in 0..{self.partitions - 1}")
        with self._call("seek"):
            self._ensure_group(group)
            for partition, offset in positions.items():
                self._redis.xgroup_setid(self._streams[partition], group, offset or "0")

    def groups(self) -> list[str]:
        with self._call("list groups"):
            if not self._redis.exists(self._streams[0]):
                return []
            return sorted(
                g["name"].decode() for g in _sync(self._redis.xinfo_groups(self._streams[0]))
            )

    def _group_info(self, stream: str, group: str) -> dict[str, Any]:
        """The group's XINFO GROUPS entry; an unknown group as if it were new (not created: it
        would hold trim back)."""
        for info in _sync(self._redis.xinfo_groups(stream)):
            if info["name"].decode() == group:
                return info
        return {"pending": 0, "last-delivered-id": b"0-0", "lag": None}

    def stats(self, group: str) -> LogStats:
        depth = pending = undelivered = 0
        oldest: int | None = None
        with self._call("stats"):
            for stream in self._streams:
                if not self._redis.exists(stream):
                    continue
                depth += int(_sync(self._redis.xlen(stream)))
                info = self._group_info(stream, group)
                pending += int(info["pending"])
                last = info["last-delivered-id"]
                lag = info.get("lag")
                first_new = self._range(stream, f"({last.decode()}", "+", count=1)
                undelivered += int(lag) if lag is not None else self._count_after(stream, last)
                candidates = [first_new[0][1]] if first_new else []
                if int(info["pending"]):
                    lowest = _sync(self._redis.xpending(stream, group))["min"]
                    candidates += [f for _, f in self._range(stream, lowest, lowest)]
                for fields in candidates:
                    at = int(fields[b"received_us"])
                    oldest = at if oldest is None else min(oldest, at)
        return LogStats(
            depth=depth,
            pending=pending,
            lag_events=pending + undelivered,
            oldest_unacked_at=None if oldest is None else _EPOCH + timedelta(microseconds=oldest),
        )

    def _range(
        self, stream: str, low: str | bytes, high: str | bytes, count: int | None = None
    ) -> _Entries:
        return cast(_Entries, self._redis.xrange(stream, low, high, count=count) or [])

    def _count_after(self, stream: str, last: bytes) -> int:
        """Entries after ``last`` (when Redis cannot tell a group's lag, e.g. after SETID)."""
        count, start = 0, f"({last.decode()}"
        while entries := self._range(stream, start, "+", count=1000):
            count += len(entries)
            start = f"({entries[-1][0].decode()}"
        return count

    def trim(self, older_than: datetime) -> int:
        cutoff = (_us(older_than) // 1000, 0)
        dropped = 0
        with self._call("trim"):
            for stream in self._streams:
                if not _sync(self._redis.exists(stream)):  # no event ever went to this partition
                    continue
                boundary = cutoff
                for info in _sync(self._redis.xinfo_groups(stream)):
                    ms, seq = _id(info["last-delivered-id"])
                    boundary = min(boundary, (ms, seq + 1))  # everything up to it was handed out
                    if int(info["pending"]):
                        lowest = _sync(self._redis.xpending(stream, info["name"]))["min"]
                        boundary = min(boundary, _id(lowest))
                dropped += int(
                    _sync(self._redis.xtrim(stream, minid=_text(boundary), approximate=False))
                )
        return dropped

    def close(self) -> None:
        self._redis.close()
