"""Fixtures of the serving tests: five weeks of the bundled simulator with stable customer ids,
loaded and built like production (built once per session)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from model_demo import build_demo
from registry_helpers import register  # noqa: F401  (the shared registry fixture)

from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

FIRST, LAST = date(2024, 1, 1), date(2024, 2, 4)
"""Five weeks (~1,400 transactions, enough for the parity test's 1,000-transaction sample): the
7- and 28-day windows fill up, the 28-day window also starts empty, and in the last week its
oldest days drop out of it."""

UNIVERSE = 250
"""Customers in the simulator's universe: most buy several times in five weeks, some once."""


@pytest.fixture(scope="session")
def weeks_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five weeks of simulated days (40 a day, stable customer ids), loaded, built, published."""
    path = tmp_path_factory.mktemp("serving") / "weeks.duckdb"
    build_demo(
        path,
        FIRST,
        LAST,
        request_extra={"stable_customer_ids": True, "customer_universe_size": UNIVERSE},
    )
    return path


@pytest.fixture
def weeks(weeks_db: Path, tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """This test's copy of the five-week warehouse, open."""
    path = tmp_path / "bnpl.duckdb"
    shutil.copy(weeks_db, path)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        yield warehouse
    finally:
        warehouse.close()
