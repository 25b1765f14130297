"""The SQLite event log's tables, and its multi-row insert of events (see
:mod:`bnpl.live.sqlite_log`).

``events`` is a rowid table: rows are stored in append order, and the ``(partition, offset)``
key and the ``event_id`` uniqueness are indexes beside it. (The first version stored events in
a ``WITHOUT ROWID`` table keyed by ``(partition, offset)``: an index b-tree, whose cells spill
into an overflow page past ~1,000 bytes, so each 1.3 KB webhook cost a 4 KB overflow page; a file
created so keeps that table, and works the same.) New files have :data:`PAGE_SIZE` pages.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from functools import cache

PAGE_SIZE = 1024
"""Bytes per page of a new log file (SQLite's default is 4096; a file keeps the size it was
created with). Every append dirties one leaf of the random ``event_id`` index and one leaf of
the ``(partition, offset)`` index per partition it touches, and the WAL holds whole pages: with
1 KiB pages an event wrote 4.4 KiB to the WAL instead of 9.8 (100 commits of 28 real webhooks
into a log of 20,000; ``docs/decisions.md``). A 1.3 KB row then keeps ~430 bytes in its leaf and
fills one overflow page, so the rows themselves cost no more."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heads (partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    key TEXT NOT NULL,
    payload BLOB NOT NULL,
    received_us INTEGER NOT NULL,
    appended_us INTEGER NOT NULL,
    source TEXT NOT NULL,
    rejected TEXT,
    PRIMARY KEY (partition, offset)
);
CREATE TABLE IF NOT EXISTS cursors (
    grp TEXT NOT NULL,
    partition INTEGER NOT NULL,
    cursor INTEGER NOT NULL,
    PRIMARY KEY (grp, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    grp TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    consumer TEXT NOT NULL,
    delivered_us INTEGER NOT NULL,
    deliveries INTEGER NOT NULL,
    PRIMARY KEY (grp, partition, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS pending_by_time ON pending (grp, delivered_us);
"""

EventRow = tuple[int, int, str, str, bytes, int, int, str, str | None]
"""An ``events`` row: partition, offset, event id, key, payload, received and appended (µs since
the epoch), source, rejection reason."""

_INSERT_CHUNK = 256
"""Most rows of one INSERT: 9 values each, below SQLite's 32,766 variables."""


def insert_rows(db: sqlite3.Connection, rows: Sequence[EventRow]) -> None:
    """Insert event rows with multi-row INSERTs of 2^k rows (at most :data:`_INSERT_CHUNK`)."""
    start = 0
    while start < len(rows):
        size = min(_INSERT_CHUNK, 1 << ((len(rows) - start).bit_length() - 1))
        chunk = rows[start : start + size]
        db.execute(_insert_sql(size), [value for row in chunk for value in row])
        start += size


@cache
def _insert_sql(rows: int) -> str:
    """``rows`` rows of placeholders: no value is ever part of the text."""
    return "INSERT INTO events VALUES " + ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * rows)  # noqa: S608
