"""Warehouse adapters behind one interface; :func:`open_warehouse` picks one from settings."""

from __future__ import annotations

from bnpl.settings import BigQuerySettings, DuckDBSettings, Settings
from bnpl.warehouse.base import (
    DayBatch,
    TableSpec,
    Warehouse,
    declared_tables,
    table_spec,
)
from bnpl.warehouse.names import DATASETS

__all__ = [
    "DATASETS",
    "DayBatch",
    "TableSpec",
    "Warehouse",
    "declared_tables",
    "open_warehouse",
    "table_spec",
]


def open_warehouse(settings: Settings) -> Warehouse:
    """The adapter for ``settings.warehouse`` (DuckDB file or BigQuery project)."""
    config = settings.warehouse
    if isinstance(config, DuckDBSettings):
        from bnpl.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(config)
    if isinstance(config, BigQuerySettings):
        from bnpl.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(config)
    raise AssertionError(
        f"unhandled warehouse settings {type(config).__name__}"
    )  # pragma: no cover
