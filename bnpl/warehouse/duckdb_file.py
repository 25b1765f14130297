"""The DuckDB file, shared by turns: opening it (polling while another process holds it),
probing a damaged file, keeping the connection while operations follow each other and letting
the file go when idle or after holding it too long.

DuckDB lets one process open a file read-write at a time. A process opens the file when it needs
it, keeps the connection while operations follow each other (so a backfill's loads share one
connection), and closes it after ``idle_release_s`` without use or, when busy, after
``max_hold_s``, pausing briefly so that another process waiting for the file (a second backfill,
a notebook) gets its turn. A process that finds the file locked polls it until ``lock_timeout_s``.
Inside a process one lock serialises all use of the connection: that is the single writer.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from bnpl.errors import ConfigError, WarehouseDamagedError, WarehouseLockedError
from bnpl.settings import DuckDBSettings
from bnpl.sqltext import render_sql
from bnpl.warehouse.names import LEDGER

if TYPE_CHECKING:
    from bnpl.warehouse.base import Access

logger = logging.getLogger(__name__)

_YIELD_PAUSE_S = 0.25
"""Pause after a busy process releases the file at ``max_hold_s``: longer than a waiting
process's polling interval (:data:`_LOCK_POLL_MAX_S`), so the waiter gets the file."""

_LOCK_POLL_MIN_S = 0.02
_LOCK_POLL_MAX_S = 0.1
"""Longest wait between two attempts to open a locked file."""

_LOCK_PROGRESS_S = 30.0
"""While waiting for a locked file, one progress line per this many seconds."""

_CHECKPOINT_THRESHOLD = "128MB"
"""WAL size that triggers a checkpoint (DuckDB's default is 16MB). Each checkpoint rewrites the
partly filled last row group (up to 122,880 rows) of every table it touches, so a day-by-day load
with the default threshold re-compresses the same rows many times (36 vs 23 CPU-seconds for a
year). Half of a load's memory limit (:data:`bnpl.warehouse.duckdb.LOAD_MEMORY_LIMIT_MB`): the rows
not checkpointed stay in memory. The file is also checkpointed whenever this process lets it
go."""


STATEMENTS = "warehouse/duckdb"
"""The adapter's own statements (``sql/warehouse/duckdb/``): identifiers only, values bound."""


def quote(identifier: str) -> str:
    """A DuckDB identifier in double quotes."""
    return '"' + identifier.replace('"', '""') + '"'


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "conflicting" in text)


def _is_read_error(exc: BaseException) -> bool:
    """DuckDB's errors for a file shorter than its header says, or a block that fails its checksum."""
    text = str(exc).lower()
    return "could not read enough bytes" in text or "checksum" in text or "corrupt" in text


_LOCK_HOLDER = re.compile(r"held in (?P<command>.+?) \(PID (?P<pid>\d+)\)")


def _lock_holder(message: str) -> str:
    """``PID n (command)`` from DuckDB's lock error, else ``another process``."""
    found = _LOCK_HOLDER.search(message)
    if found is None:
        return "another process"
    return f"PID {found['pid']} ({found['command']})"


_HEADER_BYTES = 3 * 4096
"""DuckDB's file starts with three 4 KiB headers; the blocks follow."""


def _probe_integrity(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Fail fast on a damaged file before anything is written to it (a write would extend a
    truncated file and hide the damage): the file must be long enough for the blocks its header
    says are in use, and the ledger must read. Costs a few milliseconds per open (one pragma, one
    scan of the one-row-per-day ledger; 3 ms measured on a busy 2-core machine, beside ~50-90 ms
    for the open itself).

    Raises:
        WarehouseDamagedError: says what is wrong and what to do.
    """
    # blocks in use lie within the file; free blocks at its end may have been truncated away by
    # DuckDB itself (so total_blocks may exceed the file), used ones never
    row = con.execute(
        "SELECT used_blocks, block_size FROM pragma_database_size() "
        "WHERE database_name = current_database()"
    ).fetchall()[0]
    size = path.stat().st_size
    needed = _HEADER_BYTES + int(row[0]) * int(row[1])
    if size < needed:
        problem = f"{size} bytes on disk, while its {row[0]} blocks in use need {needed}"
        raise WarehouseDamagedError(_damaged(path, problem, _ledger_span(con)))
    try:
        _ledger_span(con, strict=True)
    except duckdb.Error as exc:
        raise WarehouseDamagedError(_damaged(path, str(exc), None)) from None


def _ledger_span(con: duckdb.DuckDBPyConnection, *, strict: bool = False) -> str | None:
    """``first..last`` day of the ledger, None when it is missing, empty or (unless ``strict``)
    unreadable."""
    table = f"{quote(LEDGER.dataset)}.{quote(LEDGER.table)}"
    try:
        (row,) = con.execute(render_sql(STATEMENTS, "ledger_span.sql", {"table": table})).fetchall()
    except duckdb.CatalogException:
        return None
    except duckdb.Error:
        if strict:
            raise
        return None
    if row[0] is None:
        return None
    return f"{row[0]}..{row[1]}"


def _damaged(path: Path, problem: str, span: str | None) -> str:
    rebuild = (
        f"run bnpl backfill --start {span.replace('..', ' --end ')} (the ledger's days)"
        if span
        else "run bnpl backfill over the days it held"
    )
    return (
        f"the warehouse file {path} is damaged: {problem}. Restore it from a backup, or move it "
        f"aside and rebuild it: {rebuild}, then bnpl build --full-refresh"
    )


class DuckDBFile:
    """One process's turn at a DuckDB file: the connection, the in-process lock, the release
    timer. :class:`bnpl.warehouse.duckdb.DuckDBWarehouse` runs its statements through it."""

    def __init__(self, settings: DuckDBSettings, *, access: Access = "create") -> None:
        """Nothing is opened until the first operation.

        Args:
            settings: the file and its limits.
            access: ``create`` (the default: the file and schema are created when missing),
                ``existing`` (read and write a file that must exist) or ``read_only`` (a file that
                must exist, opened read-only; :meth:`ensure_schema` creates nothing).
        """
        self._settings = settings
        self.access = access
        self.path = Path(settings.path)
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0
        self._pinned = 0
        self._release_timer: threading.Timer | None = None
        self._wait_reported = False  # a process that reopens often (a poller) warns once

    # --- connections --------------------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        existed = self.path.exists()
        if not existed and self.access != "create":
            raise ConfigError(
                f"no warehouse at {self.path}: nothing is loaded there; load data first "
                "(bnpl backfill) or set BNPL_WAREHOUSE__PATH to an existing warehouse file"
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the warehouse directory {self.path.parent}: "
                f"{exc.strerror or exc}; set BNPL_WAREHOUSE__PATH to a writable file path"
            ) from None
        config: dict[str, Any] = {"checkpoint_threshold": _CHECKPOINT_THRESHOLD}
        if self._settings.threads:
            config["threads"] = self._settings.threads
        if self._settings.memory_limit:
            config["memory_limit"] = self._settings.memory_limit
        try:
            con = self._connect(config)
            con.sql("SET TimeZone = 'UTC'")
            # in Jupyter without ipywidgets DuckDB refuses to change the setting (it is off there)
            progress = con.sql("SELECT current_setting('enable_progress_bar')").fetchall()
            if progress != [(False,)]:
                con.sql("SET enable_progress_bar = false")
        except duckdb.IOException as exc:
            if existed and _is_read_error(exc):
                raise WarehouseDamagedError(_damaged(self.path, str(exc), None)) from None
            raise ConfigError(
                f"cannot open the warehouse file {self.path}: {exc}; "
                "set BNPL_WAREHOUSE__PATH to a writable file path"
            ) from None
        except duckdb.Error as exc:
            raise ConfigError(
                f"{self.path} is not a usable DuckDB database ({exc}); "
                "set BNPL_WAREHOUSE__PATH to a new or existing DuckDB file"
            ) from None
        if existed:
            try:
                _probe_integrity(con, self.path)
            except BaseException:
                con.close()
                raise
        return con

    def _connect(self, config: dict[str, Any]) -> duckdb.DuckDBPyConnection:
        """Connect, polling while another process holds the file: one log line when the wait
        starts (naming the holder; a warning the first time, debug on later opens of this file
        object, so a reader that reopens between polls does not warn at each), one every
        :data:`_LOCK_PROGRESS_S` while it lasts.

        Raises:
            WarehouseLockedError: still held after ``lock_timeout_s``; names the holder.
        """
        timeout = self._settings.lock_timeout_s
        started = time.monotonic()
        reported = 0.0
        pause = _LOCK_POLL_MIN_S
        while True:
            try:
                return duckdb.connect(
                    str(self.path), read_only=self.access == "read_only", config=config
                )
            except duckdb.IOException as exc:
                if not _is_lock_error(exc):
                    raise
                waited = time.monotonic() - started
                holder = _lock_holder(str(exc))
                if waited >= timeout:
                    raise WarehouseLockedError(
                        f"{self.path} stayed locked by {holder} for {timeout:.0f} s; stop that "
                        "process (or wait for it to finish) and run again, or raise "
                        "BNPL_WAREHOUSE__LOCK_TIMEOUT_S"
                    ) from None
                if not reported:
                    logger.log(
                        logging.DEBUG if self._wait_reported else logging.WARNING,
                        "waiting for %s, held by %s (up to %.0f s)",
                        self.path,
                        holder,
                        timeout,
                    )
                    self._wait_reported = True
                    reported = waited or 1e-9
                elif waited - reported >= _LOCK_PROGRESS_S:
                    logger.info(
                        "still waiting for %s after %.0f s, held by %s", self.path, waited, holder
                    )
                    reported = waited
                time.sleep(min(pause, max(timeout - waited, 0.0)))
                pause = min(pause * 2, _LOCK_POLL_MAX_S)

    def _acquire(self) -> duckdb.DuckDBPyConnection:
        """The open connection, opening the file if needed (caller holds ``_lock``)."""
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        if self._con is None:
            self._con = self._open()
            self._opened_at = time.monotonic()
        return self._con

    def _release(self, *, failed: bool) -> None:
        """After an operation: keep the connection for the next one, or let the file go."""
        if self._pinned or self._con is None:
            return
        if failed or self._settings.idle_release_s == 0:
            self._close_connection()
            return
        if time.monotonic() - self._opened_at > self._settings.max_hold_s:
            self._close_connection()
            time.sleep(_YIELD_PAUSE_S)  # let a process that waits for the file take it
            return
        timer = threading.Timer(self._settings.idle_release_s, self._release_if_idle)
        timer.daemon = True
        self._release_timer = timer
        timer.start()

    def _release_if_idle(self) -> None:
        with self._lock:
            if self._release_timer is threading.current_thread() and not self._pinned:
                self._release_timer = None
                self._close_connection()

    def _close_connection(self) -> None:
        if self._release_timer is not None:
            self._release_timer.cancel()
            self._release_timer = None
        if self._con is not None:
            try:
                self._con.close()
            finally:
                self._con = None

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The process's connection to the file, held under the in-process lock."""
        with self._lock:
            con = self._acquire()
            failed = False
            try:
                yield con
            except BaseException:
                failed = True
                raise
            finally:
                self._release(failed=failed)

    @contextmanager
    def pinned(self) -> Iterator[None]:
        """Keep the file open, and other processes out, until the block ends."""
        with self._lock:
            self._acquire()
            self._pinned += 1
            try:
                yield
            finally:
                self._pinned -= 1
                if not self._pinned:
                    self._close_connection()

    def close(self) -> None:
        """Let the file go now."""
        with self._lock:
            self._close_connection()
