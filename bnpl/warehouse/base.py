"""The warehouse interface shared by DuckDB (embedded default) and BigQuery (production).

Datasets (BigQuery) and schemas (DuckDB) have the same four names, optionally prefixed
(:mod:`bnpl.warehouse.names`).

Raw tables are declared once, as data, in ``schemas/<dataset>/<table>.json`` (BigQuery table
schema plus partitioning and clustering); both adapters create their tables from those files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

import polars as pl
import sqlglot
from sqlglot import exp

from bnpl.errors import ConfigError, WarehouseError
from bnpl.warehouse import audit
from bnpl.warehouse.labels import job_labels
from bnpl.warehouse.names import (
    AUDIT,
    DATASETS,
    LEDGER,
    MARTS,
    QUARANTINE,
    RAW,
    RAW_DAY_TABLES,
)
from bnpl.warehouse.read import TableInfo, read_statement, split_name
from bnpl.warehouse.specs import (  # re-exported: the adapters and callers find them here
    Column as Column,
)
from bnpl.warehouse.specs import TableSpec as TableSpec
from bnpl.warehouse.specs import declared_tables as declared_tables
from bnpl.warehouse.specs import table_spec as table_spec

if TYPE_CHECKING:
    from bnpl.warehouse.live_batch import LiveBatch

Dialect = Literal["duckdb", "bigquery"]

LIVE_QUARANTINE_COLUMNS: tuple[str, ...] = ("event_id", "received_at")
"""The quarantine's columns only a live dead letter fills (a day's rows leave them null)."""

Access = Literal["create", "existing", "read_only"]
"""How :func:`bnpl.warehouse.open_warehouse` opens an embedded file."""


@dataclass(frozen=True)
class DayBatch:
    """Everything loaded for one day, written as one atomic unit by :meth:`Warehouse.load_day`.

    Frames carry exactly the columns of their table spec (``bnpl_raw.transactions``,
    ``bnpl_raw.customers``, ``bnpl_raw.quarantine``); ``ledger`` is the ``source_batches`` row.
    """

    day: date
    batch_id: str
    transactions: pl.DataFrame
    customers: pl.DataFrame
    quarantine: pl.DataFrame
    ledger: Mapping[str, Any] = field(default_factory=dict)

    def checked_frames(self) -> dict[str, pl.DataFrame]:
        """The raw day tables' frames by table name (:data:`~bnpl.warehouse.names.RAW_DAY_TABLES`),
        each checked: exactly its table's columns in order, rows of this day only.

        Raises:
            WarehouseError: a frame does not match its table, or holds another day's rows.
        """
        tables = (self.transactions, self.customers, self.quarantine)
        frames = dict(zip(RAW_DAY_TABLES, tables, strict=True))
        for name, frame in frames.items():
            expected = table_spec(RAW, name).column_names
            if frame.columns != expected:
                missing = sorted(set(expected) - set(frame.columns))
                extra = sorted(set(frame.columns) - set(expected))
                raise WarehouseError(
                    f"frame for {RAW}.{name} does not match schemas/{RAW}/{name}.json "
                    f"(missing {missing}, unexpected {extra}, or a different order)"
                )
            live_rows = pl.any_horizontal(pl.col(LIVE_QUARANTINE_COLUMNS).is_not_null())
            if name == QUARANTINE.table and frame.filter(live_rows).height:
                raise WarehouseError(
                    f"frame for {RAW}.{name} of batch {self.batch_id} holds rows with an event_id: "
                    "a day's load never writes the live path's dead letters"
                )
            other = frame.filter(pl.col("transaction_date") != self.day).height
            if other:
                raise WarehouseError(
                    f"frame for {RAW}.{name} of batch {self.batch_id} has {other} rows dated "
                    f"outside {self.day}; a day's load may only touch its own partition"
                )
        return frames

    def checked_ledger(self) -> Mapping[str, Any]:
        """The ledger row, checked: exactly the ledger's columns, and this day.

        Raises:
            WarehouseError: missing or unexpected columns, or another day.
        """
        expected = table_spec(*LEDGER).column_names
        if set(self.ledger) != set(expected):
            raise WarehouseError(
                f"ledger row for {self.day} does not match schemas/{RAW}/{LEDGER.table}.json "
                f"(missing {sorted(set(expected) - set(self.ledger))}, "
                f"unexpected {sorted(set(self.ledger) - set(expected))})"
            )
        if self.ledger["transaction_date"] != self.day:
            raise WarehouseError(
                f"ledger row says {self.ledger['transaction_date']} but the batch is {self.day}"
            )
        return self.ledger


class Warehouse(ABC):
    """What bnpl needs from a warehouse: the one seam between bnpl and an engine.

    Every adapter implements every abstract method; the concrete methods here are written once
    for every engine (statements as sqlglot trees rendered in :attr:`dialect`, values bound) and
    an adapter overrides what its engine does differently (BigQuery: copy jobs, see
    :class:`CopyJobPublishing`). Callers never probe an adapter for what it can do.

    SQL given to :meth:`query` and :meth:`execute` is in the adapter's own ``dialect``; named
    parameters are written ``@name`` in BigQuery and ``$name`` in DuckDB and are always bound,
    never interpolated.
    """

    dialect: ClassVar[Dialect]

    _block: ExitStack = ExitStack()
    """What ``with warehouse:`` entered (set on the instance)."""

    # --- what each engine implements ------------------------------------------------------------

    @abstractmethod
    def session(self) -> AbstractContextManager[Warehouse]:
        """Hold what a batch of operations shares (DuckDB: the open file, other processes kept
        out) until the block ends; nestable."""

    @abstractmethod
    def ensure_schema(self) -> None:
        """Create the four datasets and every declared table if missing (idempotent)."""

    @abstractmethod
    def qualified(self, dataset: str, table: str) -> str:
        """The fully qualified, quoted name of ``dataset.table`` in this warehouse's dialect."""

    @abstractmethod
    def load_days(self, batches: Sequence[DayBatch]) -> None:
        """:meth:`load_day` for several days (distinct ``day`` each). Every day is replaced
        atomically; an adapter may commit the group as one unit (DuckDB does: one transaction,
        larger writes), so on failure either none or, with BigQuery, the days before the failing
        one are loaded."""

    @abstractmethod
    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run a query in this dialect and return its result as a Polars frame."""

    @abstractmethod
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run one statement (or a script) in this dialect, discarding any result."""

    @abstractmethod
    def execute_many(
        self, statements: Sequence[str], params: Mapping[str, Any] | None = None
    ) -> None:
        """Run statements in order inside one transaction (all or nothing)."""

    @abstractmethod
    def describe_table(self, dataset: str, table: str) -> TableInfo:
        """Columns and partitioning of ``dataset.table``.

        Raises:
            ConfigError: the table does not exist (the message names the tables that do).
        """

    @abstractmethod
    def table_exists(self, dataset: str, table: str) -> bool:
        """Whether ``dataset.table`` exists (table or view)."""

    @abstractmethod
    def write_live_batch(self, batch: LiveBatch) -> None:
        """Write one live micro-batch as one unit (:mod:`bnpl.warehouse.live`): each event of
        the batch ends as exactly one row, in ``bnpl_raw.live_transactions`` or as a dead letter
        in ``bnpl_raw.quarantine``, and the consumer's offsets are written with them. Idempotent
        on ``event_id`` (DuckDB: one transaction; BigQuery: keyed MERGEs, see its adapter).

        Raises:
            WarehouseError: the batch does not match the tables, or the write failed (nothing of
                it is written).
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections and clients."""

    # --- written once, overridden where an engine differs ---------------------------------------

    def __enter__(self) -> Self:
        """``with warehouse:`` holds a :meth:`session` for the block and closes the warehouse
        after it (``with bnpl.open_warehouse() as wh``)."""
        stack = ExitStack()
        stack.enter_context(self.session())
        stack.callback(self.close)
        self._block = stack.pop_all()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        block, self._block = self._block, ExitStack()
        block.__exit__(*exc_info)

    def read_table(
        self,
        name: str,
        columns: Sequence[str] | None = None,
        *,
        start: date | None = None,
        end: date | None = None,
        day_column: str | None = None,
    ) -> pl.DataFrame:
        """Read ``columns`` (default: all) of ``dataset.table`` for the days ``start..end``
        (inclusive; None: unbounded), filtered on the table's partition column, or on
        ``day_column`` where the warehouse knows none (see :mod:`.read`).

        Raises:
            ConfigError: a bad name, an unknown table or column, or days asked of a table with
                no partition column.
        """
        dataset, table = split_name(self.full_name(name))
        info = self.describe_table(dataset, table)
        select, params = read_statement(
            name,
            self.table(dataset, table),
            info,
            columns=columns,
            start=start,
            end=end,
            day_column=day_column,
        )
        return self.query(self.render(select), params)

    def full_name(self, name: str) -> str:
        """``name`` as ``dataset.table``: as given when qualified; a bare table name
        (``"live_transactions"``) qualified with the one dataset that holds it (a mart, which the
        audit area also holds while it is checked, is the published one).

        Raises:
            ConfigError: a bad qualified name, or a bare name that no dataset or several hold
                (the message names the datasets searched, or the qualified names to choose from).
        """
        if "." in name:
            split_name(name)
            return name
        holders = [d for d in DATASETS if name and self.table_exists(d, name)]
        if len(holders) > 1 and AUDIT in holders:  # the audit area's copy of a mart is staging
            holders.remove(AUDIT)
        if len(holders) == 1:
            return f"{holders[0]}.{name}"
        if holders:
            choices = ", ".join(f"{d}.{name}" for d in holders)
            raise ConfigError(f"table {name!r} is in several datasets: name one of {choices}")
        raise ConfigError(
            f"no table {name!r} in {', '.join(DATASETS)} (load or build first?); tables are "
            "named 'dataset.table', e.g. 'bnpl_raw.transactions'"
        )

    def load_day(self, batch: DayBatch) -> None:
        """Replace ``batch.day`` in every raw day table and write its ledger row, atomically."""
        self.load_days([batch])

    def table(self, dataset: str, table: str) -> exp.Table:
        """``dataset.table`` as a sqlglot node, named as this warehouse names it."""
        return exp.to_table(self.qualified(dataset, table), dialect=self.dialect)

    def bigquery_name(self, dataset: str, table: str) -> str:
        """``dataset.table`` as written in BigQuery-dialect source SQL (assertions) that is then
        transpiled to this warehouse: a backquoted logical name, which becomes this warehouse's."""
        return exp.table_(table, db=dataset, quoted=True).sql(dialect="bigquery")

    def render(self, statement: exp.Expr) -> str:
        """A sqlglot tree as SQL text of this warehouse's dialect."""
        return statement.sql(dialect=self.dialect, unsupported_level=sqlglot.ErrorLevel.RAISE)

    def copy_table(
        self,
        src_dataset: str,
        src_table: str,
        dst_dataset: str,
        dst_table: str,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Replace ``dst_dataset.dst_table`` by a copy of the source, atomically (one
        ``CREATE OR REPLACE TABLE ... AS SELECT *``). ``labels`` tag the job where the engine
        has jobs."""
        copy = exp.Create(
            this=self.table(dst_dataset, dst_table),
            kind="TABLE",
            replace=True,
            expression=exp.select("*").from_(self.table(src_dataset, src_table)),
        )
        self.execute(self.render(copy))

    def prepare_audit(self, change: audit.Change, *, incremental: bool) -> None:
        """Before ``change.model`` is built into the audit area: make an incremental build start
        from the published table, and record ``change`` as unpublished (:mod:`.audit`)."""
        name = change.model
        previous = self._recorded([name]).get(name)
        statements: list[exp.Expr] = []
        params: dict[str, Any] = {}
        # after a publish by rename the audit area holds a view of the published table
        audit_view = self._kinds(AUDIT).get(name) == "view"
        if audit_view:
            statements.append(exp.Drop(tables=[self.table(AUDIT, name)], kind="VIEW", exists=True))
        if incremental:
            audit_ok = (
                not audit_view
                and self.table_exists(AUDIT, name)
                and (previous is not None or self._count(AUDIT, name) == self._count(MARTS, name))
            )
            undo = previous if audit_ok and previous is not None else audit.Change(name, "full")
            if not audit_ok or previous is not None:
                statements += audit.apply(self.table, undo, MARTS, AUDIT)
                params |= audit.bound(undo)
        forget, forget_params = audit.forget(self.table, [name])
        record, record_params = audit.record(self.table, change)
        statements += [forget, record]
        self.execute_many(
            [self.render(s) for s in statements], params | forget_params | record_params
        )

    def publish_marts(self, marts: Sequence[str]) -> None:
        """Make each ``bnpl_marts.<name>`` equal ``bnpl_audit.<name>``, every mart in one
        transaction: a recorded range or key change is copied (:func:`.audit.apply`), a full
        change is published by renaming the audit table, with no copy (:func:`.audit.swap`)."""
        recorded = self._recorded(marts)
        kinds = self._kinds(MARTS)
        statements: list[exp.Expr] = []
        params: dict[str, Any] = {}
        for index, name in enumerate(marts):
            change = recorded.get(name, audit.Change(name, "full"))
            if name not in kinds:
                change = audit.Change(name, "full")
            if change.kind == "full":
                statements += audit.swap(self.table, name, marts_table=kinds.get(name) == "table")
                continue
            # a published view's rows are in its audit-schema table; a table is written in place
            into = self.table(AUDIT, audit.published_name(name)) if kinds[name] == "view" else None
            # each mart's days get parameters of their own inside the one transaction
            bounds = (f"start_{index}", f"end_{index}")
            statements += audit.apply(self.table, change, AUDIT, MARTS, bounds=bounds, into=into)
            params |= audit.bound(change, bounds)
        forget, forget_params = audit.forget(self.table, list(marts))
        statements.append(forget)
        self.execute_many([self.render(s) for s in statements], params | forget_params)

    def _kinds(self, dataset: str) -> dict[str, Literal["table", "view"]]:
        """``table`` or ``view`` for every relation in ``dataset``."""
        select, params = audit.kinds(dataset)
        found = self.query(self.render(select), params)
        return {
            row["table_name"]: "view" if row["table_type"] == "VIEW" else "table"
            for row in found.to_dicts()
        }

    def _recorded(self, models: Sequence[str]) -> dict[str, audit.Change]:
        self.execute(self.render(audit.create_records(self.table)))
        rows = self.query(self.render(audit.select_records(self.table)))
        return audit.changes_of(rows.to_dicts(), models)

    def _count(self, dataset: str, table: str) -> int:
        return int(self.query(self.render(audit.count(self.table, dataset, table))).item())


class CopyJobPublishing(Warehouse):
    """Write-audit-publish by whole-table copies, for engines whose :meth:`copy_table` is a copy
    job that costs no query and replaces the table atomically (BigQuery): an incremental mart's
    audit copy starts as a copy of the published table; publishing copies each mart back."""

    def prepare_audit(self, change: audit.Change, *, incremental: bool) -> None:
        if incremental:
            with job_labels(model=change.model):
                self.copy_table(MARTS, change.model, AUDIT, change.model)

    def publish_marts(self, marts: Sequence[str]) -> None:
        for name in marts:
            with job_labels(model=name):
                self.copy_table(AUDIT, name, MARTS, name)
