"""The embedded event log engine: one SQLite file in WAL mode, no server.

Every process (gateway, relay, loaders) opens the file itself. Writers take SQLite's one write
lock for a short ``BEGIN IMMEDIATE`` transaction and wait up to the busy timeout for it; readers
of a WAL file never block writers. ``synchronous=FULL`` makes a commit durable before it returns
(the WAL is fsynced at every commit), so an event :meth:`SQLiteEventLog.append` returned True for
survives SIGKILL and power loss. Commits never checkpoint the WAL themselves: a thread of each
open log does, off the commit path (:mod:`bnpl.live.sqlite_checkpoint`).

Tables: ``events`` (partition, offset, event id, the event), ``heads`` (the next offset of each
partition, so that trimmed offsets are never reused), ``cursors`` (per group and partition, the
last offset handed out) and ``pending`` (per group: delivered and not yet acknowledged, with the
consumer, the delivery time and the delivery count). An event is acknowledged by a group when
its offset is at or below the group's cursor and it is not pending.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bnpl.errors import ConfigError, EventLogUnavailableError
from bnpl.live.log import Delivered, Event, EventLog, LogStats, partition_for
from bnpl.live.sqlite_checkpoint import WalCheckpointer
from bnpl.live.sqlite_schema import PAGE_SIZE, SCHEMA, EventRow, insert_rows

logger = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_POLL_S = 0.01  # idle wait of a blocking read between checks of PRAGMA data_version


_READ_AFTER = (
    "SELECT e.partition, e.offset, e.appended_us, "
    "e.event_id, e.key, e.payload, e.received_us, e.source, e.rejected "
    "FROM events e WHERE e.partition = ? AND e.offset > ? ORDER BY e.offset LIMIT ?"
)
"""A partition's next events after its cursor, oldest first."""
_READ_AT = (
    "SELECT e.event_id, e.key, e.payload, e.received_us, e.source, e.rejected "
    "FROM events e WHERE e.partition = ? AND e.offset = ?"
)
"""One event by its position."""


def _to_us(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _now_us() -> int:
    return time.time_ns() // 1000


class SQLiteEventLog(EventLog):
    """The event log in one SQLite file (see the module docstring).

    Raises:
        ConfigError: the file was created with another partition count.
        EventLogUnavailableError: the file cannot be created, read or written.
    """

    def __init__(self, path: Path, *, partitions: int, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self.partitions = partitions
        self._lock = threading.Lock()
        self._own_commits = 0  # PRAGMA data_version does not count this connection's commits
        self._checkpointer = WalCheckpointer(path, self._lock, busy_timeout_s=busy_timeout_s)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, timeout=busy_timeout_s, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise self._unavailable("open", exc) from exc
        try:
            self._setup()
        except BaseException:
            self._db.close()
            raise
        self._known_groups: set[str] = set()

    def _unavailable(self, what: str, exc: BaseException) -> EventLogUnavailableError:
        return EventLogUnavailableError(
            f"event log {self.path} cannot {what}: {exc}; check the disk and the file "
            "(BNPL_LIVE__LOG_PATH), then retry"
        )

    def _setup(self) -> None:
        with self._write("open") as db:
            stored = db.execute("SELECT value FROM meta WHERE name = 'partitions'").fetchone()
            if stored is None:
                db.execute("INSERT INTO meta VALUES ('partitions', ?)", (str(self.partitions),))
                db.executemany(
                    "INSERT OR IGNORE INTO heads VALUES (?, 0)",
                    [(p,) for p in range(self.partitions)],
                )
            elif int(stored[0]) != self.partitions:
                raise ConfigError(
                    f"event log {self.path} has {stored[0]} partitions, settings say "
                    f"{self.partitions} (BNPL_LIVE__LOG_PARTITIONS); keys would move: use "
                    f"{stored[0]} or a new log file"
                )

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """One short write transaction under the process's lock; SQLite errors become
        :class:`EventLogUnavailableError` after a rollback."""
        with self._lock:
            db = self._db
            try:
                if what == "open":  # page_size: before the file's first page (else a no-op)
                    db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                    db.execute("PRAGMA journal_mode=WAL")
                    db.execute("PRAGMA synchronous=FULL")
                    db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's thread does it
                    db.executescript(SCHEMA)
                db.execute("BEGIN IMMEDIATE")
                try:
                    yield db
                    db.execute("COMMIT")
                    self._checkpointer.notify()
                    if what in ("append", "seek"):  # what can make events readable
                        self._own_commits += 1
                except BaseException:
                    if db.in_transaction:
                        db.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise self._unavailable(what, exc) from exc

    @contextmanager
    def _read(self, what: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN")
                try:
                    yield self._db
                finally:
                    self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise self._unavailable(what, exc) from exc

    def _ensure_group(self, db: sqlite3.Connection, group: str) -> None:
        if group in self._known_groups:
            return
        db.executemany(
            "INSERT OR IGNORE INTO cursors VALUES (?, ?, -1)",
            [(group, p) for p in range(self.partitions)],
        )
        self._known_groups.add(group)

    def append(self, events: Sequence[Event]) -> list[bool]:
        if not events:
            return []
        # A fixed number of statements per call, whatever its size (not one per event): each
        # statement lets go of the GIL and takes it back, and under load each take-back can
        # wait a switch interval (5 ms) for the gateway's event loop, so per-event statements
        # made a batch's commit as slow as the loop was busy. The id check is one query, the
        # rows go in with a few multi-row INSERTs (chunk sizes powers of two: the statements
        # stay in the connection's cache), the heads with one more.
        first: dict[str, Event] = {}
        for event in events:
            first.setdefault(event.event_id, event)
        with self._write("append") as db:
            now = _now_us()  # under the write lock: appended_us rises with the offsets
            heads = dict(db.execute("SELECT partition, next_offset FROM heads").fetchall())
            present = {
                event_id
                for (event_id,) in db.execute(
                    "SELECT event_id FROM events WHERE event_id IN "
                    "(SELECT value FROM json_each(?))",
                    (json.dumps(list(first)),),
                )
            }
            rows: list[EventRow] = []
            for event_id, event in first.items():
                if event_id in present:
                    continue
                partition = partition_for(event.key, self.partitions)
                rows.append(
                    (
                        partition,
                        heads[partition],
                        event_id,
                        event.key,
                        event.payload,
                        _to_us(event.received_at),
                        now,
                        event.source,
                        event.rejected,
                    )
                )
                heads[partition] += 1
            insert_rows(db, rows)
            if rows:
                moved = {row[0] for row in rows}
                db.execute(
                    "INSERT OR REPLACE INTO heads VALUES "  # noqa: S608 (placeholders only)
                    + ", ".join(["(?, ?)"] * len(moved)),
                    [value for p in sorted(moved) for value in (p, heads[p])],
                )
        stored = {row[2] for row in rows}
        added: list[bool] = []
        for event in events:  # True for the first copy of each id that was stored
            added.append(event.event_id in stored)
            stored.discard(event.event_id)
        return added

    def read(
        self, group: str, consumer: str, *, max_events: int, block_ms: int = 0
    ) -> list[Delivered]:
        deadline = time.monotonic() + block_ms / 1000
        seen_version: tuple[int, int] | None = None
        while True:
            with self._lock:
                try:
                    others = int(self._db.execute("PRAGMA data_version").fetchone()[0])
                except sqlite3.Error as exc:
                    raise self._unavailable("read", exc) from exc
                version = (others, self._own_commits)
            if version != seen_version:
                seen_version = version
                delivered = self._read_new(group, consumer, max_events)
                if delivered:
                    return delivered
            if time.monotonic() >= deadline:
                return []
            time.sleep(min(_POLL_S, max(0.0, deadline - time.monotonic())))

    def _read_new(self, group: str, consumer: str, max_events: int) -> list[Delivered]:
        now = _now_us()
        with self._write("read") as db:
            self._ensure_group(db, group)
            rows: list[tuple[int, int, int, str, str, bytes, int, str, str | None]] = []
            for partition, cursor in db.execute(
                "SELECT partition, cursor FROM cursors WHERE grp = ?", (group,)
            ).fetchall():
                rows += db.execute(_READ_AFTER, (partition, cursor, max_events)).fetchall()
            # across partitions, oldest appends first; within one, a prefix in offset order
            # (so the cursor never skips an event, even if appended_us went backwards)
            quota = Counter(row[0] for row in sorted(rows, key=lambda r: r[2])[:max_events])
            chosen = []
            for row in rows:  # each partition's rows are in offset order
                if quota[row[0]]:
                    quota[row[0]] -= 1
                    chosen.append(row)
            rows = chosen
            tops: dict[int, int] = {}
            for row in rows:
                tops[row[0]] = row[1]
            db.executemany(
                "UPDATE cursors SET cursor = ? WHERE grp = ? AND partition = ?",
                [(offset, group, partition) for partition, offset in tops.items()],
            )
            deliveries = []
            for row in rows:
                count = db.execute(
                    "INSERT INTO pending VALUES (?, ?, ?, ?, ?, 1) "
                    "ON CONFLICT DO UPDATE SET consumer = excluded.consumer, "
                    "delivered_us = excluded.delivered_us, deliveries = deliveries + 1 "
                    "RETURNING deliveries",
                    (group, row[0], row[1], consumer, now),
                ).fetchone()[0]
                deliveries.append(count)
        return [
            Delivered(row[0], str(row[1]), _event(row[3:]), count)
            for row, count in zip(rows, deliveries, strict=True)
        ]

    def ack(self, group: str, delivered: Sequence[Delivered]) -> None:
        if not delivered:
            return
        with self._write("ack") as db:
            db.executemany(
                "DELETE FROM pending WHERE grp = ? AND partition = ? AND offset = ?",
                [(group, d.partition, int(d.offset)) for d in delivered],
            )

    def claim_stale(
        self, group: str, consumer: str, *, idle_ms: int, max_events: int
    ) -> list[Delivered]:
        now = _now_us()
        with self._write("claim") as db:
            self._ensure_group(db, group)
            rows = db.execute(
                "UPDATE pending SET consumer = ?, delivered_us = ?, deliveries = deliveries + 1 "
                "WHERE (grp, partition, offset) IN (SELECT grp, partition, offset FROM pending "
                "WHERE grp = ? AND delivered_us <= ? ORDER BY delivered_us, partition, offset "
                "LIMIT ?) RETURNING partition, offset, deliveries",
                (consumer, now, group, now - idle_ms * 1000, max_events),
            ).fetchall()
            claimed = []
            for partition, offset, deliveries in sorted(rows):
                event = db.execute(_READ_AT, (partition, offset)).fetchone()
                claimed.append(Delivered(partition, str(offset), _event(event), deliveries))
        return claimed

    def seek(self, group: str, positions: dict[int, str]) -> None:
        for partition in positions:
            if not 0 <= partition < self.partitions:
                raise ConfigError(f"partition {partition} is not in 0..{self.partitions - 1}")
        with self._write("seek") as db:
            self._ensure_group(db, group)
            db.executemany(
                "UPDATE cursors SET cursor = ? WHERE grp = ? AND partition = ?",
                [
                    (int(offset) if offset else -1, group, partition)
                    for partition, offset in positions.items()
                ],
            )

    def groups(self) -> list[str]:
        with self._read("list groups") as db:
            return [g for (g,) in db.execute("SELECT DISTINCT grp FROM cursors ORDER BY grp")]

    def stats(self, group: str) -> LogStats:
        with self._read("stats") as db:  # an unknown group is not created: it would hold trim
            depth = db.execute("SELECT count(*) FROM events").fetchone()[0]
            pending, oldest_pending = db.execute(
                "SELECT count(*), min(e.received_us) FROM pending p JOIN events e "
                "ON e.partition = p.partition AND e.offset = p.offset WHERE p.grp = ?",
                (group,),
            ).fetchone()
            undelivered, oldest_new = db.execute(
                "SELECT count(*), min(e.received_us) FROM events e LEFT JOIN cursors c "
                "ON c.partition = e.partition AND c.grp = ? WHERE e.offset > coalesce(c.cursor, -1)",
                (group,),
            ).fetchone()
        oldest = min((t for t in (oldest_pending, oldest_new) if t is not None), default=None)
        return LogStats(
            depth=depth,
            pending=pending,
            lag_events=pending + undelivered,
            oldest_unacked_at=None if oldest is None else _from_us(oldest),
        )

    def trim(self, older_than: datetime) -> int:
        cutoff = _to_us(older_than)
        dropped = 0
        with self._write("trim") as db:
            for partition, (next_offset,) in enumerate(
                db.execute("SELECT next_offset FROM heads ORDER BY partition").fetchall()
            ):
                # below this offset every group acknowledged every event of the partition
                boundary = db.execute(
                    "SELECT min(min(coalesce((SELECT min(p.offset) FROM pending p "
                    "WHERE p.grp = c.grp AND p.partition = c.partition), c.cursor + 1), "
                    "c.cursor + 1)) "
                    "FROM cursors c WHERE c.partition = ?",
                    (partition,),
                ).fetchone()[0]
                limit = next_offset if boundary is None else min(boundary, next_offset)
                dropped += db.execute(
                    "DELETE FROM events WHERE partition = ? AND offset < ? AND appended_us < ?",
                    (partition, limit, cutoff),
                ).rowcount
        return dropped

    def close(self) -> None:
        self._checkpointer.close()
        with self._lock:
            self._db.close()


def _event(row: tuple[str, str, bytes, int, str, str | None]) -> Event:
    event_id, key, payload, received_us, source, rejected = row
    return Event(
        event_id=event_id,
        key=key,
        payload=bytes(payload),
        received_at=_from_us(received_us),
        source=source,
        rejected=rejected,
    )
