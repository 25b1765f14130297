"""bnpl: BNPL transaction ingestion, SQL models, a data-quality gate and ML features.

The notebook surface. Everything not listed in ``__all__`` is internal::

    import bnpl
    tx = bnpl.read_table("bnpl_raw.transactions")
    with bnpl.pipeline.open_session(bnpl.load_settings()) as session:   # the pipeline's verbs
        bnpl.pipeline.ingest_range(session, start, end)

``bnpl.pipeline`` is imported on first use, so that ``import bnpl`` (and the ``bnpl`` command)
stays cheap.
"""

from __future__ import annotations

import importlib
from types import ModuleType

import polars as pl

from bnpl.calendar import DayRequest, day_type, plan_requests, source_volume
from bnpl.errors import (
    BnplError,
    ConfigError,
    ContractError,
    ModelError,
    QualityGateError,
    SourceError,
    WarehouseError,
)
from bnpl.settings import Settings, load_settings
from bnpl.version import VERSION
from bnpl.warehouse import Warehouse, open_warehouse

__version__ = VERSION

__all__ = [
    "BnplError",
    "ConfigError",
    "ContractError",
    "DayRequest",
    "ModelError",
    "QualityGateError",
    "Settings",
    "SourceError",
    "Warehouse",
    "WarehouseError",
    "day_type",
    "load_settings",
    "open_warehouse",
    "pipeline",
    "plan_requests",
    "read_table",
    "source_volume",
]


def read_table(name: str, settings: Settings | None = None) -> pl.DataFrame:
    """Read ``dataset.table`` (e.g. ``"bnpl_raw.transactions"``) from the configured warehouse."""
    warehouse = open_warehouse(settings or load_settings())
    try:
        return warehouse.read_table(name)
    finally:
        warehouse.close()


def __getattr__(name: str) -> ModuleType:
    """``bnpl.pipeline``, imported on first use."""
    if name == "pipeline":
        return importlib.import_module("bnpl.pipeline")
    raise AttributeError(f"module 'bnpl' has no attribute {name!r}")
