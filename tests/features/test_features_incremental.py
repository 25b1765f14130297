"""Incremental builds of the feature marts equal a full refresh, with histories that span days:
day by day as days arrive, and after a past day is reloaded with other content."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from feature_data import DAYS, Records, future_changed, load_into, load_records, timestamp

from bnpl import pipeline
from bnpl.models import Project, build_models, publish_models
from bnpl.settings import DuckDBSettings, Settings
from bnpl.warehouse.duckdb import DuckDBWarehouse

MARTS = (
    "mart_bnpl_ml_features",
    "mart_bnpl_ml_training_set",
    "mart_bnpl_risk_features",
    "mart_bnpl_customer_analytics",
)


def content(warehouse: DuckDBWarehouse, mart: str) -> pl.DataFrame:
    """A published mart in a canonical row order."""
    frame = warehouse.read_table(f"bnpl_marts.{mart}")
    return frame.sort(frame.columns, nulls_last=True)


def full_refresh(path: Path, records: Records, project: Project) -> DuckDBWarehouse:
    """A warehouse with ``records`` loaded and every model built by a full refresh."""
    warehouse = load_records(path, records)
    result = build_models(warehouse, project, full_refresh=True, audit=True)
    publish_models(warehouse, result.marts)
    return warehouse


def write_audit_publish(warehouse: DuckDBWarehouse, project: Project, day: date) -> None:
    """Build ``day`` and publish it through the pipeline's verb (no quality checks: the gate has
    tests of its own)."""
    pipeline.write_audit_publish(
        warehouse, Settings(), run_id="features", start=day, end=day, project=project, checks=()
    )


def assert_same(a: DuckDBWarehouse, b: DuckDBWarehouse) -> None:
    """Each feature mart has the same rows in both warehouses."""
    for mart in MARTS:
        assert content(a, mart).equals(content(b, mart)), mart


@pytest.mark.slow
def test_day_by_day_equals_full_refresh(
    tmp_path: Path, base_records: Records, project: Project
) -> None:
    """Loading and building one day at a time (the daily run) over consecutive days and sparse
    ones weeks later gives the feature marts of one full refresh."""
    days = (*DAYS[:3], DAYS[10], DAYS[12], DAYS[-1])
    records = {d: base_records[d] for d in days}
    daily = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "daily.duckdb"))
    try:
        for day in days:
            load_into(daily, {day: records[day]})
            write_audit_publish(daily, project, day)
        full = full_refresh(tmp_path / "full.duckdb", records, project)
        try:
            assert_same(daily, full)
            assert content(full, "mart_bnpl_ml_training_set").height > 0
        finally:
            full.close()
    finally:
        daily.close()


@pytest.mark.slow
def test_reloaded_past_day_converges(
    tmp_path: Path, base_records: Records, alt_records: Records, project: Project
) -> None:
    """A past day reloaded with other purchases and rebuilt alone (the runner also rebuilds the
    365 days after it) gives the feature marts of a full refresh over the new data."""
    warehouse = full_refresh(tmp_path / "daily.duckdb", base_records, project)
    try:
        day = DAYS[2]
        noon = max(timestamp(r) for r in base_records[day]).replace(hour=12, minute=0, second=0)
        changed = future_changed(
            {day: base_records[day]}, {day: alt_records[day]}, noon, delete=False
        )
        load_into(warehouse, changed)
        write_audit_publish(warehouse, project, day)
        reference = full_refresh(tmp_path / "full.duckdb", base_records | changed, project)
        try:
            assert_same(warehouse, reference)
        finally:
            reference.close()
    finally:
        warehouse.close()
