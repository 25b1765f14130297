"""Fixtures of the quality tests: a warehouse holding clean synthetic days, copied per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from emulator import Emulator
from quality_data import BQ_DAYS, END, LOADED, START, make_day

from bnpl import pipeline
from bnpl.calendar import iter_days
from bnpl.settings import BigQuerySettings, DuckDBSettings
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture(scope="session")
def clean_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file with every day of LOADED, built once per session."""
    path = tmp_path_factory.mktemp("quality") / "clean.duckdb"
    batches = [make_day(day) for day in iter_days(*LOADED)]
    frames = {
        "transactions": pl.concat([b.transactions for b in batches]),
        "customers": pl.concat([b.customers for b in batches]),
        "source_batches": pl.DataFrame([dict(b.ledger) for b in batches]),
    }
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        warehouse.ensure_schema()
        # one bulk insert per table instead of one load_day per day: same rows, a fraction of the time
        with warehouse.connection() as con:
            for table, frame in frames.items():
                con.register("frame", frame)
                con.sql(f'INSERT INTO "bnpl_raw"."{table}" BY NAME SELECT * FROM frame')
                con.unregister("frame")
    finally:
        warehouse.close()
    return path


@pytest.fixture
def db_path(clean_db: Path, tmp_path: Path) -> Path:
    """This test's own copy of the clean warehouse file."""
    target = tmp_path / "warehouse.duckdb"
    shutil.copy(clean_db, target)
    return target


@pytest.fixture
def warehouse(db_path: Path) -> Iterator[DuckDBWarehouse]:
    """The test's clean warehouse, open."""
    wh = DuckDBWarehouse(DuckDBSettings(path=db_path))
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture(scope="session")
def built_db(clean_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clean warehouse with the project's real models built for START..END, marts in bnpl_audit."""
    path = tmp_path_factory.mktemp("quality-built") / "built.duckdb"
    shutil.copy(clean_db, path)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        pipeline.build(warehouse, start=START, end=END)
    finally:
        warehouse.close()
    return path


@pytest.fixture
def built_warehouse(built_db: Path, tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    """This test's copy of the warehouse with the real marts built in the audit area."""
    target = tmp_path / "built.duckdb"
    shutil.copy(built_db, target)
    wh = DuckDBWarehouse(DuckDBSettings(path=target))
    try:
        yield wh
    finally:
        wh.close()


@pytest.fixture(scope="session")
def bq_quality(bq_emulator: Emulator) -> Iterator[BigQueryWarehouse]:
    """The BigQuery adapter on the session's emulator holding BQ_DAYS of clean synthetic days."""
    settings = BigQuerySettings(
        project=bq_emulator.project, dataset_prefix="q_", api_endpoint=bq_emulator.endpoint
    )
    warehouse = BigQueryWarehouse(settings)
    try:
        warehouse.ensure_schema()
        for day in iter_days(*BQ_DAYS):
            warehouse.load_day(make_day(day))
        yield warehouse
    finally:
        warehouse.close()


@pytest.fixture(scope="session")
def duck_twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBWarehouse]:
    """A DuckDB warehouse holding exactly the days of :func:`bq_quality`."""
    path = tmp_path_factory.mktemp("quality-twin") / "twin.duckdb"
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        for day in iter_days(*BQ_DAYS):
            warehouse.load_day(make_day(day))
        yield warehouse
    finally:
        warehouse.close()
