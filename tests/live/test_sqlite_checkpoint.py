"""The SQLite log's WAL is checkpointed beside the commits, not in them, and still starts over:
under a steady stream of appends the WAL file stays small and every event stays readable; new
files have small pages (less WAL per event)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from live_data import live_events

from bnpl.live.sqlite_log import SQLiteEventLog
from bnpl.live.sqlite_schema import PAGE_SIZE


def test_the_wal_stays_small_under_steady_appends(tmp_path: Path):
    """4,000 events appended back to back in 200 commits (~35 MB of WAL frames) leave a WAL
    file under 20 MB with SQLite's automatic checkpoint off: the checkpoint thread ran and the
    WAL started over; every event is in the log once."""
    path = tmp_path / "events.sqlite"
    events = live_events(4000)
    log = SQLiteEventLog(path, partitions=4)
    try:
        autocheckpoint = log._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        for start in range(0, len(events), 20):
            assert all(log.append(events[start : start + 20]))
        wal = path.with_name(path.name + "-wal").stat().st_size
        checkpoints = log._checkpointer.checkpoints
    finally:
        log.close()
    assert autocheckpoint == 0
    assert checkpoints > 0
    assert wal < 20_000_000, f"WAL grew to {wal / 1e6:.0f} MB"
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(DISTINCT event_id) FROM events").fetchone()[0] == 4000


def test_new_files_have_small_pages_and_old_files_keep_theirs(tmp_path: Path):
    """A new log file has PAGE_SIZE pages; a file created with SQLite's default 4 KiB pages
    keeps them, takes appends and holds every event once."""
    new, old = tmp_path / "new.sqlite", tmp_path / "old.sqlite"
    with sqlite3.connect(old) as db:
        db.execute("PRAGMA page_size=4096")
        db.execute("CREATE TABLE unrelated (x)")
    events = live_events(300)
    for path in (new, old):
        log = SQLiteEventLog(path, partitions=4)
        try:
            for start in range(0, len(events), 30):
                assert all(log.append(events[start : start + 30]))
            assert not any(log.append(events[:30]))
        finally:
            log.close()
    sizes = {}
    for path in (new, old):
        with sqlite3.connect(path) as db:
            sizes[path] = db.execute("PRAGMA page_size").fetchone()[0]
            assert db.execute(
                "SELECT count(DISTINCT event_id), count(*) FROM events"
            ).fetchone() == (
                300,
                300,
            )
    assert sizes == {new: PAGE_SIZE, old: 4096}
    assert PAGE_SIZE < 4096
