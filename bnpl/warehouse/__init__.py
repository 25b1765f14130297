"""Warehouse adapters behind one interface; :func:`open_warehouse` picks one from settings."""

from __future__ import annotations

from bnpl.settings import BigQuerySettings, DuckDBSettings, Settings
from bnpl.warehouse.base import (
    Access,
    DayBatch,
    TableSpec,
    Warehouse,
    declared_tables,
    table_spec,
)
from bnpl.warehouse.names import DATASETS

__all__ = [
    "DATASETS",
    "Access",
    "DayBatch",
    "TableSpec",
    "Warehouse",
    "declared_tables",
    "open_warehouse",
    "table_spec",
]


def open_warehouse(settings: Settings, *, access: Access = "create") -> Warehouse:
    """The adapter for ``settings.warehouse`` (DuckDB file or BigQuery project).

    ``access``: ``create`` (the default) creates a missing file and schema when first written;
    ``existing`` refuses a DuckDB file that does not exist (commands that build on loaded data);
    ``read_only`` also opens it read-only and creates nothing (``--dry-run``). BigQuery creates no
    file; its datasets are created only by a load (``ensure_schema``).
    """
    config = settings.warehouse
    if isinstance(config, DuckDBSettings):
        from bnpl.warehouse.duckdb import DuckDBWarehouse

        return DuckDBWarehouse(config, access=access)
    if isinstance(config, BigQuerySettings):
        from bnpl.warehouse.bigquery import BigQueryWarehouse

        return BigQueryWarehouse(config)
    raise AssertionError(
        f"unhandled warehouse settings {type(config).__name__}"
    )  # pragma: no cover
