"""The embedded warehouse: one DuckDB file, four schemas named like the BigQuery datasets.

Concurrency: DuckDB lets one process open a file read-write at a time. A process opens the file
when it needs it, keeps the connection while operations follow each other (so a backfill's loads
share one connection), and closes it after ``idle_release_s`` without use or, when busy, after
``max_hold_s``, pausing briefly so that another process waiting for the file (a second backfill,
a notebook) gets its turn. A process that finds the file locked polls it until ``lock_timeout_s``.
Inside a process one lock serialises all use of the connection: that is the single writer.

Sessions run with ``TimeZone = 'UTC'``: ``TIMESTAMP`` (BigQuery ``TIMESTAMP``, stored as
``TIMESTAMPTZ``) values come back as UTC-aware, and casts to dates do not depend on the machine.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import polars as pl
import stamina

from bnpl.errors import ConfigError, WarehouseError, WarehouseLockedError
from bnpl.settings import DuckDBSettings
from bnpl.sqltext import render_sql
from bnpl.warehouse.base import (
    DATASETS,
    RAW_DAY_TABLES,
    DayBatch,
    Dialect,
    TableSpec,
    declared_tables,
    table_spec,
)

logger = logging.getLogger(__name__)

_TYPES = {
    "STRING": "VARCHAR",
    "INT64": "BIGINT",
    "INTEGER": "BIGINT",
    "FLOAT64": "DOUBLE",
    "FLOAT": "DOUBLE",
    "BOOL": "BOOLEAN",
    "BOOLEAN": "BOOLEAN",
    "DATE": "DATE",
    "DATETIME": "TIMESTAMP",
    "TIMESTAMP": "TIMESTAMPTZ",
    "NUMERIC": "DECIMAL(38, 9)",
    "JSON": "JSON",
}

_POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INT64": pl.Int64(),
    "INTEGER": pl.Int64(),
    "FLOAT64": pl.Float64(),
    "FLOAT": pl.Float64(),
    "BOOL": pl.Boolean(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "DATETIME": pl.Datetime("us"),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
}
"""Polars type of each BigQuery type a ledger column can have (the ledger row is typed by it)."""

_YIELD_PAUSE_S = 0.25
"""Pause after a busy process releases the file at ``max_hold_s``: longer than a waiting
process's polling interval (:data:`_LOCK_POLL_MAX_S`), so the waiter gets the file."""

_LOCK_POLL_MAX_S = 0.1
"""Longest wait between two attempts to open a locked file."""

_CHECKPOINT_THRESHOLD = "256MB"
"""WAL size that triggers a checkpoint (DuckDB's default is 16MB). Each checkpoint rewrites the
partly filled last row group (up to 122,880 rows) of every table it touches, so a day-by-day load
with the default threshold re-compresses the same rows many times (36 vs 23 CPU-seconds for a
year). The file is also checkpointed whenever this process lets it go."""


_STATEMENTS = "warehouse/duckdb"
"""The adapter's own statements (``sql/warehouse/duckdb/``): identifiers only, values bound."""


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def create_table_sql(spec: TableSpec, qualified: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a declared table, in DuckDB types."""
    columns = [
        {"name": _quote(c.name), "type": _TYPES[c.type], "nullable": c.nullable}
        for c in spec.columns
    ]
    return render_sql(_STATEMENTS, "create_table.sql", {"table": qualified, "columns": columns})


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "conflicting" in text)


def _used_params(statement: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The parameters a statement names as ``$name`` (DuckDB rejects unused named parameters)."""
    used = {k: v for k, v in (params or {}).items() if re.search(rf"\${re.escape(k)}\b", statement)}
    return used or None


class DuckDBWarehouse:
    """:class:`bnpl.warehouse.base.Warehouse` on a DuckDB file."""

    dialect: ClassVar[Dialect] = "duckdb"
    supports_transactions: ClassVar[bool] = True
    supports_partition_filter_enforcement: ClassVar[bool] = False

    def __init__(self, settings: DuckDBSettings) -> None:
        self._settings = settings
        self.path = Path(settings.path)
        self._lock = threading.RLock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._opened_at = 0.0
        self._pinned = 0
        self._release_timer: threading.Timer | None = None
        self._schema_ready = False

    # --- connections --------------------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
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
            for attempt in stamina.retry_context(
                on=_is_lock_error,
                attempts=None,
                timeout=self._settings.lock_timeout_s,
                wait_initial=0.02,
                wait_max=_LOCK_POLL_MAX_S,
                wait_jitter=0.02,
            ):
                with attempt:
                    con = duckdb.connect(str(self.path), config=config)
            con.sql("SET TimeZone = 'UTC'")
            con.sql("SET enable_progress_bar = false")
        except duckdb.IOException as exc:
            if _is_lock_error(exc):
                raise WarehouseLockedError(
                    f"{self.path} stayed locked by another process for "
                    f"{self._settings.lock_timeout_s:.0f} s; stop it or raise "
                    "BNPL_WAREHOUSE__LOCK_TIMEOUT_S"
                ) from exc
            raise ConfigError(
                f"cannot open the warehouse file {self.path}: {exc}; "
                "set BNPL_WAREHOUSE__PATH to a writable file path"
            ) from None
        except duckdb.Error as exc:
            raise ConfigError(
                f"{self.path} is not a usable DuckDB database ({exc}); "
                "set BNPL_WAREHOUSE__PATH to a new or existing DuckDB file"
            ) from None
        return con

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
    def session(self) -> Iterator[DuckDBWarehouse]:
        """Keep the file open, and other processes out, for a batch of operations."""
        with self._lock:
            self._acquire()
            self._pinned += 1
            try:
                yield self
            finally:
                self._pinned -= 1
                if not self._pinned:
                    self._close_connection()

    # --- the Warehouse interface --------------------------------------------------------------

    def qualified(self, dataset: str, table: str) -> str:
        return f"{_quote(dataset)}.{_quote(table)}"

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self.connection() as con:
            for dataset in DATASETS:
                con.sql(render_sql(_STATEMENTS, "create_schema.sql", {"schema": _quote(dataset)}))
            for spec in declared_tables():
                con.sql(create_table_sql(spec, self.qualified(spec.dataset, spec.name)))
        self._schema_ready = True

    def load_day(self, batch: DayBatch) -> None:
        """Replace ``batch.day`` in every raw day table and write its ledger row, in one transaction
        (:meth:`load_days` of one day)."""
        self.load_days([batch])

    def load_days(self, batches: Sequence[DayBatch]) -> None:
        """Replace each batch's day in every raw day table and write its ledger row: the whole
        group in one transaction.

        A group costs one transaction, one Parquet file and one statement per table instead of
        one per day.

        The frames are written to Parquet files first and DuckDB reads them itself. Scanning a
        Polars frame through Arrow instead needs Python's GIL many times per table; while fetch
        threads run Python, every hand-off waits up to the 5 ms switch interval, and a 5,000-row
        day took 25× longer (measured: 74 ms alone, 2.1 s beside two busy Python threads).

        Raises:
            WarehouseError: a frame does not match its table's declared columns, holds rows of
                another day, two batches are for one day, or the transaction failed (it is rolled
                back: nothing of the group is written).
        """
        if not batches:
            return
        days = [batch.day for batch in batches]
        if len(set(days)) != len(days):
            twice = sorted({str(d) for d in days if days.count(d) > 1})
            raise WarehouseError(f"one load holds two batches for {', '.join(twice)}")
        frames: dict[str, list[pl.DataFrame]] = {
            name: [] for name in (*RAW_DAY_TABLES, "source_batches")
        }
        for batch in batches:
            day_frames = {
                "transactions": batch.transactions,
                "customers": batch.customers,
                "quarantine": batch.quarantine,
                "source_batches": _ledger_frame(batch.ledger),
            }
            for name, frame in day_frames.items():
                _check_frame(name, frame, batch)
                frames[name].append(frame)
        self.ensure_schema()
        staging = Path(tempfile.mkdtemp(prefix="bnpl-load-"))
        try:
            files: dict[str, str] = {}
            for name, parts in frames.items():
                frame = pl.concat(parts, rechunk=False)
                if frame.height:
                    files[name] = str(staging / f"{name}.parquet")
                    frame.write_parquet(files[name], compression="uncompressed", statistics=False)
            self._replace_days(days, files)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        logger.debug(
            "loaded %s: %d transactions, %d customers, %d quarantined",
            ", ".join(str(d) for d in days),
            sum(b.transactions.height for b in batches),
            sum(b.customers.height for b in batches),
            sum(b.quarantine.height for b in batches),
        )

    def _replace_days(self, days: Sequence[date], files: Mapping[str, str]) -> None:
        """One transaction: delete the days from every raw day table and the ledger, insert the
        staged files. The days and the file names are bound as a session variable."""
        load: dict[str, Any] = {"days": list(days), **files}
        tables = [
            {"target": self.qualified("bnpl_raw", name), "file": name if name in files else None}
            for name in (*RAW_DAY_TABLES, "source_batches")
        ]
        script = render_sql(_STATEMENTS, "replace_days.sql", {"tables": tables})
        set_load = render_sql(_STATEMENTS, "set_load.sql", {"names": list(load)})
        with self.connection() as con:
            try:
                con.execute(set_load, load)
                con.execute(script)
            except BaseException as exc:
                _rollback(con)
                if not isinstance(exc, Exception):
                    raise
                listed = ", ".join(str(d) for d in days)
                raise WarehouseError(f"loading {listed} failed and was rolled back: {exc}") from exc

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        with self.connection() as con:
            try:
                relation = con.sql(sql, params=dict(params) if params else None)
                if relation is None:
                    raise WarehouseError(f"query returned no result set: {sql[:80]!r}")
                frame: pl.DataFrame = relation.pl()
                return frame
            except duckdb.Error as exc:
                raise WarehouseError(f"query failed: {exc}") from exc

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        with self.connection() as con:
            try:
                con.sql(sql, params=dict(params) if params else None)
            except duckdb.Error as exc:
                raise WarehouseError(f"statement failed: {exc}") from exc

    def execute_many(
        self, statements: Sequence[str], params: Mapping[str, Any] | None = None
    ) -> None:
        with self.connection() as con:
            con.sql("BEGIN TRANSACTION")
            try:
                for statement in statements:
                    con.sql(statement, params=_used_params(statement, params))
                con.sql("COMMIT")
            except BaseException as exc:
                _rollback(con)
                if isinstance(exc, duckdb.Error):
                    raise WarehouseError(f"transaction rolled back: {exc}") from exc
                raise

    def read_table(self, name: str) -> pl.DataFrame:
        dataset, _, table = name.partition(".")
        if not table or dataset not in DATASETS:
            raise ConfigError(f"table {name!r} is not 'dataset.table' with a dataset in {DATASETS}")
        self.ensure_schema()
        if not self.table_exists(dataset, table):
            raise WarehouseError(f"table {name} does not exist in {self.path}")
        return self.query(
            render_sql(_STATEMENTS, "read_table.sql", {"table": self.qualified(dataset, table)})
        )

    def table_exists(self, dataset: str, table: str) -> bool:
        found = self.query(
            "SELECT count(*) AS n FROM information_schema.tables "
            "WHERE table_schema = $dataset AND table_name = $table",
            {"dataset": dataset, "table": table},
        )
        return bool(found.item() > 0)

    def content_checksum(
        self, dataset: str, table: str, *, exclude: Iterable[str] = ()
    ) -> tuple[int, str]:
        """Row count and an order-independent md5 of every row of ``dataset.table``.

        Columns in ``exclude`` (e.g. load timestamps) are left out; duplicated rows change the
        checksum. Two tables with the same content give the same pair whatever their row order.
        """
        skip = set(exclude)
        columns = [c for c in table_spec(dataset, table).column_names if c not in skip]
        sql = render_sql(
            _STATEMENTS,
            "content_checksum.sql",
            {"table": self.qualified(dataset, table), "columns": [_quote(c) for c in columns]},
        )
        row = self.query(sql).row(0)
        return int(row[0]), str(row[1])

    def close(self) -> None:
        with self._lock:
            self._close_connection()


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction; a connection that cannot is closed by the caller."""
    try:
        con.sql("ROLLBACK")
    except duckdb.Error as exc:
        logger.warning("rollback failed: %s", exc)


def _ledger_frame(ledger: Mapping[str, Any]) -> pl.DataFrame:
    """The ledger row as a one-row frame in the declared column order."""
    expected = table_spec("bnpl_raw", "source_batches").column_names
    missing = sorted(set(expected) - set(ledger))
    extra = sorted(set(ledger) - set(expected))
    if missing or extra:
        raise WarehouseError(
            "ledger row does not match schemas/bnpl_raw/source_batches.json "
            f"(missing {missing}, unexpected {extra})"
        )
    schema = {
        c.name: _POLARS_TYPES[c.type] for c in table_spec("bnpl_raw", "source_batches").columns
    }
    return pl.DataFrame([{c: ledger[c] for c in expected}], schema=schema)


def _check_frame(name: str, frame: pl.DataFrame, batch: DayBatch) -> None:
    expected = table_spec("bnpl_raw", name).column_names
    if frame.columns != expected:
        missing = sorted(set(expected) - set(frame.columns))
        extra = sorted(set(frame.columns) - set(expected))
        raise WarehouseError(
            f"frame for bnpl_raw.{name} does not match schemas/bnpl_raw/{name}.json "
            f"(missing {missing}, unexpected {extra}, or a different order)"
        )
    days = frame.get_column("transaction_date").unique().to_list()
    if any(d != batch.day for d in days):
        others = sorted(str(d) for d in days if d != batch.day)
        raise WarehouseError(
            f"frame for bnpl_raw.{name} of batch {batch.batch_id} holds rows dated {others} "
            f"while loading {batch.day}; a day's load may only touch its own partition"
        )
