"""Fixtures of the feature tests: simulated days with stable customer ids, and a DuckDB warehouse
holding them with every model built and published (copied per test)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from feature_data import ALT_PLAN, BASE_PLAN, Records, build, load_records, simulate_days

from bnpl.models import Project, load_project
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="session")
def project() -> Project:
    """The repository's models."""
    return load_project()


@pytest.fixture(scope="session")
def base_records() -> Records:
    """The base world: 16 days of the simulator, ~2,400 purchases by 80 customers."""
    return simulate_days(BASE_PLAN)


@pytest.fixture(scope="session")
def alt_records() -> Records:
    """Another world for the same days and customers (a different future)."""
    return simulate_days(ALT_PLAN)


@pytest.fixture(scope="session")
def built_db(
    tmp_path_factory: pytest.TempPathFactory, base_records: Records, project: Project
) -> Path:
    """A DuckDB file with the base world loaded and every model built and published."""
    path = tmp_path_factory.mktemp("features") / "built.duckdb"
    warehouse = load_records(path, base_records)
    try:
        build(warehouse, project)
    finally:
        warehouse.close()
    return path


@pytest.fixture
def built(built_db: Path, tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """This test's own copy of the built base world."""
    path = tmp_path / "built.duckdb"
    shutil.copy(built_db, path)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        yield warehouse
    finally:
        warehouse.close()
