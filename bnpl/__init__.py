"""bnpl: BNPL transaction ingestion, SQL models, a data-quality gate and ML features.

The notebook surface (:mod:`bnpl.notebook`). Everything not listed in ``__all__`` is internal::

    import bnpl

    bnpl.backfill("2024-06-01", "2024-06-07")           # load days from the source
    bnpl.build()                                        # models, checks, publish
    tx = bnpl.read_table("bnpl_marts.mart_bnpl_transactions",
                         columns=["transaction_date", "amount"], start="2024-06-01", lazy=True)
    daily = bnpl.query("SELECT transaction_date, COUNT(*) AS n "
                       "FROM {{ ref('mart_bnpl_transactions') }} GROUP BY 1")
    with bnpl.open_warehouse() as wh:                   # one connection for several reads
        ...

Days are ``"YYYY-MM-DD"`` strings or ``date`` values. The pipeline's steps one by one are
:mod:`bnpl.pipeline` (``bnpl.pipeline.ingest_range(session, ...)``, ``gate``, ``publish``), imported
on first use, so that ``import bnpl`` (and the ``bnpl`` command) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bnpl.errors import (
    BnplError,
    ConfigError,
    ContractError,
    ModelError,
    QualityGateError,
    SourceError,
    WarehouseError,
)
from bnpl.version import VERSION

if TYPE_CHECKING:
    from bnpl import pipeline
    from bnpl.calendar import DayRequest, day_type, plan_requests, source_volume
    from bnpl.notebook import backfill, build, check, open_warehouse, query, read_table
    from bnpl.settings import Settings, load_settings
    from bnpl.warehouse import Warehouse

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
    "backfill",
    "build",
    "check",
    "day_type",
    "load_settings",
    "open_warehouse",
    "pipeline",
    "plan_requests",
    "query",
    "read_table",
    "source_volume",
]

_LAZY = {
    "DayRequest": "bnpl.calendar",
    "day_type": "bnpl.calendar",
    "plan_requests": "bnpl.calendar",
    "source_volume": "bnpl.calendar",
    "Settings": "bnpl.settings",
    "load_settings": "bnpl.settings",
    "Warehouse": "bnpl.warehouse",
    **dict.fromkeys(
        ("backfill", "build", "check", "open_warehouse", "query", "read_table"), "bnpl.notebook"
    ),
}
"""Public names imported on first use (PEP 562): ``import bnpl`` loads no Polars, NumPy,
pydantic, sqlglot or DuckDB, so every ``bnpl`` command and spawned process pays only for what it
uses."""


def __getattr__(name: str) -> Any:
    """``bnpl.pipeline``, the notebook functions (:mod:`bnpl.notebook`), the settings, the calendar
    and the warehouse, imported on first use."""
    if name == "pipeline":
        return importlib.import_module("bnpl.pipeline")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'bnpl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
