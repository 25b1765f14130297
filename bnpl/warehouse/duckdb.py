"""The embedded warehouse: one DuckDB file, four schemas named like the BigQuery datasets.

The adapter's statements are here; opening the file, sharing it with other processes by turns
and the single writer's lock are :mod:`bnpl.warehouse.duckdb_file`'s.

Sessions run with ``TimeZone = 'UTC'``: ``TIMESTAMP`` (BigQuery ``TIMESTAMP``, stored as
``TIMESTAMPTZ``) values come back as UTC-aware, and casts to dates do not depend on the machine.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import polars as pl

from bnpl.errors import ConfigError, WarehouseError
from bnpl.sqltext import render_sql
from bnpl.warehouse.base import (
    DayBatch,
    Dialect,
    TableSpec,
    Warehouse,
    declared_tables,
    table_spec,
)
from bnpl.warehouse.duckdb_file import STATEMENTS, DuckDBFile, quote
from bnpl.warehouse.live_batch import LiveBatch
from bnpl.warehouse.names import (
    DATASETS,
    LEDGER,
    LIVE_OFFSETS,
    POLARS_TYPES,
    QUARANTINE,
    RAW,
    RAW_DAY_TABLES,
)
from bnpl.warehouse.read import TableInfo

logger = logging.getLogger(__name__)

LOAD_THREADS = 1
"""DuckDB threads for a day load's script (delete the days, insert the staged files). A group
of days is tens of thousands of rows: a second thread there costs about as much CPU again as
the work (inserting 8 days of transactions: 113-120 vs 58-67 CPU-ms), and the fetch and
prepare workers keep the other core busy meanwhile (``docs/decisions.md``, issue 17 speed)."""

LOAD_MEMORY_LIMIT_MB = 256
"""DuckDB's ``memory_limit`` (MB) during a day load's script, when the current one is higher. A
load needs only the rows it inserts and those not checkpointed yet; under the configured 1GB
DuckDB also keeps every block it wrote, and a year's backfill grew by the file's size (peak RSS
of command and simulator 1.41-1.58 GiB, 1.23-1.29 GiB with this; ``docs/decisions.md``, issue
17, fifth pass). The limit is the database's: another connection to the same file in this
process (a second warehouse object) runs under it while a load does."""

_BYTES_PER = {"bytes": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "PiB": 2**50}

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


def create_table_sql(spec: TableSpec, qualified: str) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a declared table, in DuckDB types."""
    columns = [
        {"name": quote(c.name), "type": _TYPES[c.type], "nullable": c.nullable}
        for c in spec.columns
    ]
    return render_sql(STATEMENTS, "create_table.sql", {"table": qualified, "columns": columns})


_REFERENCED = re.compile(r"\$(\w+)")


def _used_params(statement: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The parameters a statement names as ``$name`` (DuckDB rejects unused named parameters)."""
    named = set(_REFERENCED.findall(statement))  # one pass: a 600-row insert names 9,000
    used = {k: v for k, v in (params or {}).items() if k in named}
    return used or None


class DuckDBWarehouse(DuckDBFile, Warehouse):
    """:class:`bnpl.warehouse.base.Warehouse` on a DuckDB file."""

    dialect: ClassVar[Dialect] = "duckdb"

    _schema_ready = False
    """Whether :meth:`ensure_schema` has run in this process (set on the instance)."""

    @contextmanager
    def session(self) -> Iterator[DuckDBWarehouse]:
        """Keep the file open, and other processes out, for a batch of operations."""
        with self.pinned():
            yield self

    # --- the Warehouse interface --------------------------------------------------------------

    def qualified(self, dataset: str, table: str) -> str:
        return f"{quote(dataset)}.{quote(table)}"

    def ensure_schema(self) -> None:
        if self._schema_ready or self.access == "read_only":
            return
        with self.connection() as con:
            for dataset in DATASETS:
                con.sql(render_sql(STATEMENTS, "create_schema.sql", {"schema": quote(dataset)}))
            present = set(
                con.sql(
                    "SELECT table_schema, table_name, column_name FROM information_schema.columns"
                ).fetchall()
            )
            for spec in declared_tables():
                qualified = self.qualified(spec.dataset, spec.name)
                con.sql(create_table_sql(spec, qualified))
                if not any(row[:2] == (spec.dataset, spec.name) for row in present):
                    continue
                # a nullable column declared after the table was created is added (additive
                # schema change, e.g. the quarantine's event_id); nothing else is altered
                for column in spec.columns:
                    if column.nullable and (spec.dataset, spec.name, column.name) not in present:
                        con.sql(
                            f"ALTER TABLE {qualified} ADD COLUMN IF NOT EXISTS "
                            f"{quote(column.name)} {_TYPES[column.type]}"
                        )
        self._schema_ready = True

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
            name: [] for name in (*RAW_DAY_TABLES, LEDGER.table)
        }
        for batch in batches:
            day_frames = batch.checked_frames()
            day_frames[LEDGER.table] = _ledger_frame(batch.checked_ledger())
            for name, frame in day_frames.items():
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
            {
                "target": self.qualified(RAW, name),
                "file": name if name in files else None,
                "keeps_dead_letters": name == QUARANTINE.table,
            }
            for name in (*RAW_DAY_TABLES, LEDGER.table)
        ]
        script = render_sql(STATEMENTS, "replace_days.sql", {"tables": tables})
        set_load = render_sql(STATEMENTS, "set_load.sql", {"names": list(load)})
        with (
            self.connection() as con,
            _at_most_threads(con, LOAD_THREADS),
            self._at_most_memory(con, LOAD_MEMORY_LIMIT_MB),
        ):
            try:
                con.execute(set_load, load)
                con.execute(script)
            except BaseException as exc:
                _rollback(con)
                if not isinstance(exc, Exception):
                    raise
                listed = ", ".join(str(d) for d in days)
                raise WarehouseError(f"loading {listed} failed and was rolled back: {exc}") from exc

    @contextmanager
    def _at_most_memory(self, con: duckdb.DuckDBPyConnection, megabytes: int) -> Iterator[None]:
        """DuckDB's ``memory_limit`` lowered to ``megabytes`` MB inside the block if the current
        one is higher, then put back: the configured value (DuckDB's read-back text is rounded),
        or the text read before if that was not the configured one (a notebook's ``SET``)."""
        before = _memory_text(con)
        if _memory_bytes(before) <= megabytes * 1000**2:
            yield
            return
        con.execute("SET memory_limit = $1", [f"{megabytes}MB"])
        with _put_back(lambda: self._memory_back(con, before)):
            yield

    def _memory_back(self, con: duckdb.DuckDBPyConnection, before: str) -> None:
        if self._settings.memory_limit:
            con.execute("SET memory_limit = $1", [self._settings.memory_limit])
        else:
            con.execute("RESET memory_limit")
        if _memory_text(con) != before:  # not the configured one: the text read, which
            con.execute("SET memory_limit = $1", [_within(before)])  # DuckDB truncates

    def write_live_batch(self, batch: LiveBatch) -> None:
        """One transaction (``sql/warehouse/duckdb/write_live.sql``): the frames go through
        Parquet files as a day load's do; the batch's days, event ids and consumer are bound."""
        batch = batch.checked()
        self.ensure_schema()
        consumers = batch.offsets.select("consumer_group", "consumer").unique()
        if consumers.height > 1:
            raise WarehouseError("a micro-batch commits the offsets of one consumer only")
        staging = Path(tempfile.mkdtemp(prefix="bnpl-live-"))
        try:
            load: dict[str, Any] = {"days": batch.days, "event_ids": batch.event_ids}
            for name, frame in (
                ("rows", batch.rows),
                ("dead_letters", batch.dead_letters),
                ("offsets", batch.offsets),
            ):
                if frame.height:
                    load[name] = str(staging / f"{name}.parquet")
                    frame.write_parquet(load[name], compression="uncompressed", statistics=False)
            if batch.offsets.height:
                load["consumer_group"], load["consumer"] = consumers.row(0)
                load["partitions"] = batch.offsets["log_partition"].to_list()
            script = render_sql(
                STATEMENTS,
                "write_live.sql",
                {
                    "live": self.qualified(*batch.table),
                    "live_id": quote(batch.id_column),
                    "quarantine": self.qualified(*QUARANTINE),
                    "offsets_table": self.qualified(*LIVE_OFFSETS),
                    "rows": batch.rows.height > 0,
                    "dead_letters": batch.dead_letters.height > 0,
                    "offsets": batch.offsets.height > 0,
                },
            )
            set_load = render_sql(STATEMENTS, "set_load.sql", {"names": list(load)})
            with self.connection() as con:
                try:
                    con.execute(set_load, load)
                    con.execute(script)
                except BaseException as exc:
                    _rollback(con)
                    if not isinstance(exc, Exception):
                        raise
                    raise WarehouseError(
                        f"writing a live micro-batch of {len(load['event_ids'])} events failed "
                        f"and was rolled back: {exc}"
                    ) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)

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

    def describe_table(self, dataset: str, table: str) -> TableInfo:
        self.ensure_schema()
        found = self.query(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = $dataset ORDER BY table_name, ordinal_position",
            {"dataset": dataset},
        )
        columns = tuple(found.filter(pl.col("table_name") == table)["column_name"].to_list())
        if not columns:
            tables = sorted(set(found["table_name"].to_list()))
            raise ConfigError(
                f"table {dataset}.{table} does not exist in {self.path}; "
                f"tables in {dataset}: {', '.join(tables) or 'none (load or build first)'}"
            )
        declared = {(s.dataset, s.name): s for s in declared_tables()}.get((dataset, table))
        return TableInfo(columns, declared.partition_field if declared else None)

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
            STATEMENTS,
            "content_checksum.sql",
            {"table": self.qualified(dataset, table), "columns": [quote(c) for c in columns]},
        )
        row = self.query(sql).row(0)
        return int(row[0]), str(row[1])


@contextmanager
def _at_most_threads(con: duckdb.DuckDBPyConnection, threads: int) -> Iterator[None]:
    """DuckDB's ``threads`` lowered to ``threads`` inside the block (if it was higher), then put
    back (after the block's own rollback, if any: an aborted transaction refuses ``SET``)."""
    row = con.execute("SELECT current_setting('threads')").fetchone()
    before = int(row[0]) if row else threads
    if before <= threads:
        yield
        return
    con.execute("SET threads = $1", [threads])
    with _put_back(lambda: con.execute("SET threads = $1", [before])):
        yield


@contextmanager
def _put_back(restore: Callable[[], object]) -> Iterator[None]:
    """Run ``restore`` after the block. After a failure, only if it can: a transaction the
    block could not roll back refuses ``SET``, and the block's own error is the one to see (the
    failed connection is closed unless pinned, and a new one gets the configured settings)."""
    try:
        yield
    except BaseException:
        try:
            restore()
        except duckdb.Error as exc:
            logger.debug("setting not put back after a failed load: %s", exc)
        raise
    restore()


def _memory_text(con: duckdb.DuckDBPyConnection) -> str:
    rows = con.execute("SELECT current_setting('memory_limit')").fetchall()
    return str(rows[0][0]) if rows else ""


def _memory_bytes(text: str) -> float:
    """DuckDB's read-back ``memory_limit`` text (``953.6 MiB``) in bytes; unknown text: no
    limit."""
    number, _, unit = text.partition(" ")
    try:
        return float(number) * _BYTES_PER[unit]
    except (ValueError, KeyError):
        return float("inf")


def _within(text: str) -> str:
    """A ``memory_limit`` that DuckDB reads back as ``text`` (``1.8 GiB`` -> ``1.85 GiB``): it
    truncates to one decimal, so setting the text itself could lose a tenth on every load."""
    number, _, unit = text.partition(" ")
    try:
        return f"{float(number) + 0.05:.2f} {unit}" if unit != "bytes" else text
    except ValueError:
        return text


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back the open transaction; a connection that cannot is closed by the caller."""
    try:
        con.sql("ROLLBACK")
    except duckdb.Error as exc:
        logger.warning("rollback failed: %s", exc)


def _ledger_frame(ledger: Mapping[str, Any]) -> pl.DataFrame:
    """The (checked) ledger row as a one-row frame in the declared column order."""
    columns = table_spec(*LEDGER).columns
    schema = {c.name: POLARS_TYPES[c.type] for c in columns}
    return pl.DataFrame([{c.name: ledger[c.name] for c in columns}], schema=schema)
