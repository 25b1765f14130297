"""The embedded warehouse: one DuckDB file, four schemas named like the BigQuery datasets.

Concurrency: DuckDB lets one process open a file read-write at a time. Outside :meth:`session`
every operation opens the file, does its work and closes it, so several bnpl processes (two
backfills, a notebook) take turns; a process that finds the file locked waits with back-off up to
``lock_timeout_s``. Inside a process a lock serialises all use of the connection: that is the
single writer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import polars as pl
import stamina

from bnpl.errors import ConfigError, WarehouseError, WarehouseLockedError
from bnpl.settings import DuckDBSettings
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


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def create_table_sql(spec: TableSpec, qualified: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a declared table, in DuckDB types."""
    cols = ",\n  ".join(
        f"{_quote(c.name)} {_TYPES[c.type]}{'' if c.nullable else ' NOT NULL'}"
        for c in spec.columns
    )
    return f"CREATE TABLE IF NOT EXISTS {qualified} (\n  {cols}\n)"


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return isinstance(exc, duckdb.IOException) and ("lock" in text or "conflicting" in text)


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
        self._schema_ready = False

    # --- connections --------------------------------------------------------------------------

    def _open(self) -> duckdb.DuckDBPyConnection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the warehouse directory {self.path.parent}: {exc.strerror}; "
                "set BNPL_WAREHOUSE__PATH to a writable file path"
            ) from None
        config: dict[str, Any] = {}
        if self._settings.threads:
            config["threads"] = self._settings.threads
        if self._settings.memory_limit:
            config["memory_limit"] = self._settings.memory_limit
        try:
            for attempt in stamina.retry_context(
                on=_is_lock_error,
                attempts=None,
                timeout=self._settings.lock_timeout_s,
                wait_initial=0.05,
                wait_max=1.0,
            ):
                with attempt:
                    return duckdb.connect(str(self.path), config=config)
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
        raise AssertionError("unreachable")  # pragma: no cover

    @contextmanager
    def connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The session's connection, or a short-lived one; callers hold the in-process lock."""
        with self._lock:
            if self._con is not None:
                yield self._con
                return
            con = self._open()
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def session(self) -> Iterator[DuckDBWarehouse]:
        """Keep one connection open for a batch of operations (a model build, a quality run)."""
        with self._lock:
            if self._con is not None:
                yield self
                return
            self._con = self._open()
            try:
                yield self
            finally:
                self._con.close()
                self._con = None

    # --- the Warehouse interface --------------------------------------------------------------

    def qualified(self, dataset: str, table: str) -> str:
        return f"{_quote(dataset)}.{_quote(table)}"

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        with self.connection() as con:
            for dataset in DATASETS:
                con.sql(f"CREATE SCHEMA IF NOT EXISTS {_quote(dataset)}")
            for spec in declared_tables():
                con.sql(create_table_sql(spec, self.qualified(spec.dataset, spec.name)))
        self._schema_ready = True

    def load_day(self, batch: DayBatch) -> None:
        self.ensure_schema()
        frames = {
            "transactions": batch.transactions,
            "customers": batch.customers,
            "quarantine": batch.quarantine,
            "source_batches": pl.DataFrame([dict(batch.ledger)]),
        }
        for name, frame in frames.items():
            expected = table_spec("bnpl_raw", name).column_names
            if frame.columns != expected:
                missing = sorted(set(expected) - set(frame.columns))
                extra = sorted(set(frame.columns) - set(expected))
                raise WarehouseError(
                    f"frame for bnpl_raw.{name} does not match schemas/bnpl_raw/{name}.json "
                    f"(missing {missing}, unexpected {extra}, or a different order)"
                )
        tables = (*RAW_DAY_TABLES, "source_batches")
        with self.connection() as con:
            con.sql("BEGIN TRANSACTION")
            try:
                for name in tables:
                    target = self.qualified("bnpl_raw", name)
                    con.sql(
                        f"DELETE FROM {target} WHERE transaction_date = $day",  # noqa: S608 - name from schemas/
                        params={"day": batch.day},
                    )
                    view = f"_bnpl_load_{name}"
                    con.register(view, frames[name])
                    try:
                        con.sql(f"INSERT INTO {target} BY NAME SELECT * FROM {view}")  # noqa: S608
                    finally:
                        con.unregister(view)
                con.sql("COMMIT")
            except Exception as exc:
                con.sql("ROLLBACK")
                raise WarehouseError(
                    f"loading {batch.day} (batch {batch.batch_id}) failed: {exc}"
                ) from exc
        logger.info(
            "loaded %s: %d transactions, %d customers, %d quarantined",
            batch.day,
            batch.transactions.height,
            batch.customers.height,
            batch.quarantine.height,
        )

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        with self.connection() as con:
            try:
                frame: pl.DataFrame = con.sql(sql, params=dict(params) if params else None).pl()
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
                    used = {k: v for k, v in (params or {}).items() if f"${k}" in statement}
                    con.sql(statement, params=used or None)
                con.sql("COMMIT")
            except duckdb.Error as exc:
                con.sql("ROLLBACK")
                raise WarehouseError(f"transaction rolled back: {exc}") from exc

    def read_table(self, name: str) -> pl.DataFrame:
        dataset, _, table = name.partition(".")
        if not table or dataset not in DATASETS:
            raise ConfigError(f"table {name!r} is not 'dataset.table' with a dataset in {DATASETS}")
        self.ensure_schema()
        if not self.table_exists(dataset, table):
            raise WarehouseError(f"table {name} does not exist in {self.path}")
        return self.query(f"SELECT * FROM {self.qualified(dataset, table)}")  # noqa: S608

    def table_exists(self, dataset: str, table: str) -> bool:
        found = self.query(
            "SELECT count(*) AS n FROM information_schema.tables "
            "WHERE table_schema = $dataset AND table_name = $table",
            {"dataset": dataset, "table": table},
        )
        return bool(found.item() > 0)

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
