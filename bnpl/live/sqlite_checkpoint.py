"""Checkpoints of the SQLite event log's WAL in a thread of their own, off the commit path.

By default SQLite checkpoints inside the commit that grows the WAL past 1,000 pages: that commit
then also copies the pages into the database file and fsyncs it, and every request waiting for
it (the gateway's group commit) waits as long. :class:`WalCheckpointer` takes that work off the
writers: each :class:`~bnpl.live.sqlite_log.SQLiteEventLog` turns the automatic checkpoint off
for its connection and, after its commits, asks its checkpointer for a ``PASSIVE`` checkpoint,
which runs on a connection of its own, at most every ``interval_s``. A passive checkpoint never
takes the write lock, so appends go on while it runs; it never changes what a commit made durable
(the WAL was fsynced by the commit itself).

The WAL file starts over from its beginning only when a commit finds it fully checkpointed; under
a steady stream of commits a checkpoint running beside them never catches up, and the WAL would
grow without end. So once the WAL holds ``restart_bytes`` of frames, the checkpointer copies the
bulk beside the commits, then the few frames committed meanwhile while holding the log's
in-process write lock (``lock``): the next commit then starts the WAL over. Commits wait only
for that short tail, not for the whole copy and the database file's fsync as with SQLite's
automatic checkpoint.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

_TAIL_FRAMES = 256
"""Frames left to copy that the checkpointer copies under the write lock (the rest beside)."""


class WalCheckpointer:
    """A thread that checkpoints ``path``'s WAL when asked (:meth:`notify`), at most every
    ``interval_s``; started on the first request, stopped by :meth:`close`."""

    def __init__(
        self,
        path: Path,
        lock: threading.Lock,
        *,
        busy_timeout_s: float,
        interval_s: float = 0.1,
        restart_bytes: int = 4 << 20,
    ) -> None:
        self.path = path
        self._lock = lock
        self._restart_bytes = restart_bytes
        self._restart_frames = 1000  # frames of restart_bytes, once the page size is known
        self._busy_timeout_s = busy_timeout_s
        self._interval_s = interval_s
        self._wanted = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._failed = False
        self.checkpoints = 0
        """Checkpoints run so far (tests and diagnostics)."""

    def notify(self) -> None:
        """Ask for a checkpoint soon (cheap: call it after every commit)."""
        if self._thread is None:
            with self._start_lock:
                if self._thread is None and not self._stop.is_set():
                    self._thread = threading.Thread(
                        target=self._run, name="event-log-checkpoint", daemon=True
                    )
                    self._thread.start()
        self._wanted.set()

    def close(self) -> None:
        """Stop the thread (after a checkpoint in progress)."""
        with self._start_lock:
            self._stop.set()
            self._wanted.set()
            thread, self._thread = self._thread, None
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            logger.warning("event log %s: no checkpoint connection: %s", self.path, exc)
            return
        try:
            db.execute("PRAGMA synchronous=FULL")
            page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
            self._restart_frames = max(1, self._restart_bytes // page_size)
            while True:
                self._wanted.wait()
                if self._stop.is_set():
                    return
                self._wanted.clear()
                self._checkpoint(db)
                if self._stop.wait(self._interval_s):
                    return
        finally:
            db.close()

    def _checkpoint(self, db: sqlite3.Connection) -> None:
        try:
            frames, copied = self._passive(db)
            for _ in range(3):  # the bulk, beside the commits
                if frames - copied <= _TAIL_FRAMES:
                    break
                frames, copied = self._passive(db)
            if frames >= self._restart_frames:  # the tail, between two commits
                with self._lock:
                    self._passive(db)
        except sqlite3.Error as exc:  # the WAL grows until a later one works; nothing is lost
            if not self._failed:
                logger.warning("event log %s: WAL checkpoint failed: %s", self.path, exc)
            self._failed = True
            return
        self._failed = False
        self.checkpoints += 1

    @staticmethod
    def _passive(db: sqlite3.Connection) -> tuple[int, int]:
        """One passive checkpoint: (frames in the WAL, frames copied to the database)."""
        _busy, frames, copied = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(frames), int(copied)
