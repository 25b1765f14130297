"""Fixtures of the model tests: the repository's project, and DuckDB warehouses holding the
captured simtom days (prepared like production) under both identity scopes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_data import load, prepare

from bnpl.ingest import PreparedDay
from bnpl.models import BuildResult, Project, build_models, load_project, publish_models
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="session")
def project() -> Project:
    """The repository's models."""
    return load_project()


@pytest.fixture(scope="session")
def batch_days(captured_body: bytes) -> list[PreparedDay]:
    """The three captured days with batch-scoped customer ids (the real simtom)."""
    return prepare(captured_body, "batch")


@pytest.fixture(scope="session")
def source_days(captured_body: bytes) -> list[PreparedDay]:
    """The three captured days with source-scoped (stable) customer ids: keys span days."""
    return prepare(captured_body, "source")


def _warehouse(path: Path) -> DuckDBWarehouse:
    return DuckDBWarehouse(DuckDBSettings(path=path))


@pytest.fixture(scope="session")
def loaded_db(tmp_path_factory: pytest.TempPathFactory, batch_days: list[PreparedDay]) -> Path:
    """A DuckDB file with the three batch-scoped days loaded, nothing built."""
    path = tmp_path_factory.mktemp("models") / "loaded.duckdb"
    warehouse = _warehouse(path)
    try:
        load(warehouse, batch_days)
    finally:
        warehouse.close()
    return path


@pytest.fixture(scope="session")
def built_db(
    tmp_path_factory: pytest.TempPathFactory, loaded_db: Path, project: Project
) -> tuple[Path, BuildResult]:
    """A DuckDB file with the three batch-scoped days loaded and every model built and published
    (read-only tests share it through :func:`built`)."""
    path = tmp_path_factory.mktemp("models") / "built.duckdb"
    shutil.copy(loaded_db, path)
    warehouse = _warehouse(path)
    try:
        result = build_models(warehouse, project, audit=True)
        publish_models(warehouse, result.marts)
    finally:
        warehouse.close()
    return path, result


@pytest.fixture
def built(built_db: tuple[Path, BuildResult], tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """This test's own copy of the fully built warehouse."""
    path = tmp_path / "built.duckdb"
    shutil.copy(built_db[0], path)
    wh = _warehouse(path)
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """An empty DuckDB warehouse with the raw schema."""
    wh = _warehouse(tmp_path / "empty.duckdb")
    wh.ensure_schema()
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture
def loaded(loaded_db: Path, tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """This test's own copy of the warehouse with the three batch-scoped days loaded."""
    path = tmp_path / "loaded.duckdb"
    shutil.copy(loaded_db, path)
    wh = _warehouse(path)
    try:
        yield wh
    finally:
        wh.close()
