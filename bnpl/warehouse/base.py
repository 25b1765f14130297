"""The warehouse interface shared by DuckDB (embedded default) and BigQuery (production).

Datasets (BigQuery) and schemas (DuckDB) have the same four names, optionally prefixed:
``bnpl_raw`` (loaded source data and the ledger), ``bnpl_intermediate``, ``bnpl_marts`` (published)
and ``bnpl_audit`` (write-audit-publish staging and quality results).

Raw tables are declared once, as data, in ``schemas/<dataset>/<table>.json`` (BigQuery table
schema plus partitioning and clustering); both adapters create their tables from those files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import polars as pl

from bnpl.errors import WarehouseError

DATASETS: tuple[str, ...] = ("bnpl_raw", "bnpl_intermediate", "bnpl_marts", "bnpl_audit")
RAW_DAY_TABLES: tuple[str, ...] = ("transactions", "customers", "quarantine")
"""Raw tables replaced per day by :meth:`Warehouse.load_day` (plus the ledger row)."""

SCHEMAS_DIR = Path(__file__).resolve().parents[2] / "schemas"

Dialect = Literal["duckdb", "bigquery"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a declared table (BigQuery type names)."""

    name: str
    type: str
    nullable: bool
    description: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    """A table declared in ``schemas/``."""

    dataset: str
    name: str
    description: str
    columns: tuple[Column, ...]
    partition_field: str | None
    clustering: tuple[str, ...]
    require_partition_filter: bool

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@cache
def table_spec(dataset: str, name: str) -> TableSpec:
    """Read ``schemas/<dataset>/<name>.json``.

    Raises:
        WarehouseError: when the file is missing or malformed.
    """
    path = SCHEMAS_DIR / dataset / f"{name}.json"
    try:
        doc = json.loads(path.read_text())
        columns = tuple(
            Column(
                f["name"],
                f["type"],
                f.get("mode", "NULLABLE") != "REQUIRED",
                f.get("description", ""),
            )
            for f in doc["fields"]
        )
    except (OSError, ValueError, KeyError) as exc:
        raise WarehouseError(f"cannot read table schema {path}: {exc}") from exc
    partitioning = doc.get("time_partitioning") or {}
    return TableSpec(
        dataset=dataset,
        name=name,
        description=doc.get("description", ""),
        columns=columns,
        partition_field=partitioning.get("field"),
        clustering=tuple(doc.get("clustering", ())),
        require_partition_filter=bool(doc.get("require_partition_filter", False)),
    )


def declared_tables() -> list[TableSpec]:
    """Every table declared under ``schemas/``, sorted by dataset and name."""
    return [
        table_spec(p.parent.name, p.stem)
        for p in sorted(SCHEMAS_DIR.glob("bnpl_*/*.json"))
        if p.parent.name in DATASETS
    ]


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


@runtime_checkable
class Warehouse(Protocol):
    """What bnpl needs from a warehouse. Adapters declare capabilities as class constants.

    SQL given to :meth:`query` and :meth:`execute` is in the adapter's own ``dialect``; named
    parameters are written ``@name`` in BigQuery and ``$name`` in DuckDB and are always bound,
    never interpolated.
    """

    dialect: ClassVar[Dialect]
    supports_transactions: ClassVar[bool]
    supports_partition_filter_enforcement: ClassVar[bool]

    def ensure_schema(self) -> None:
        """Create the four datasets and every declared table if missing (idempotent)."""
        ...

    def qualified(self, dataset: str, table: str) -> str:
        """The fully qualified, quoted name of ``dataset.table`` in this warehouse's dialect."""
        ...

    def load_day(self, batch: DayBatch) -> None:
        """Replace ``batch.day`` in every raw day table and write its ledger row, atomically."""
        ...

    def load_days(self, batches: Sequence[DayBatch]) -> None:
        """:meth:`load_day` for several days (distinct ``day`` each). Every day is replaced
        atomically; an adapter may commit the group as one unit (DuckDB does: one transaction,
        larger writes), so on failure either none or, with BigQuery, the days before the failing
        one are loaded."""
        ...

    def query(self, sql: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
        """Run a query in this dialect and return its result as a Polars frame."""
        ...

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> None:
        """Run one statement (or a script) in this dialect, discarding any result."""
        ...

    def execute_many(
        self, statements: Sequence[str], params: Mapping[str, Any] | None = None
    ) -> None:
        """Run statements in order inside one transaction (all or nothing)."""
        ...

    def read_table(self, name: str) -> pl.DataFrame:
        """Read ``dataset.table`` whole (raw tables: every partition)."""
        ...

    def table_exists(self, dataset: str, table: str) -> bool:
        """Whether ``dataset.table`` exists (table or view)."""
        ...

    def close(self) -> None:
        """Release connections and clients."""
        ...
