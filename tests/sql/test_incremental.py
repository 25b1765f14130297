"""Incremental builds give exactly the tables a full refresh gives: day by day as days arrive, on
rebuilding a day, and after a day is reloaded with different content."""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
from model_data import content, drifted_day, load, prepare_subset, write_audit_publish

from bnpl.ingest import PreparedDay
from bnpl.models import Project, build_models, publish_models
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse


def full_refresh(path: Path, days: list[PreparedDay], project: Project) -> DuckDBWarehouse:
    """A warehouse with ``days`` loaded and everything built by a full refresh and published."""
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    load(warehouse, days)
    result = build_models(warehouse, project, full_refresh=True, audit=True)
    publish_models(warehouse, result.marts)
    return warehouse


def assert_same_tables(a: DuckDBWarehouse, b: DuckDBWarehouse, project: Project) -> None:
    """Every model's table (or view) has the same rows in both warehouses."""
    for model in project.models.values():
        name = f"{model.dataset}.{model.name}"
        left, right = content(a, name), content(b, name)
        # no label matures within the three captured days, so the training set is empty
        # the training set has no matured label here; the live view reads the (empty) live table
        empty = {"mart_bnpl_ml_training_set", "int_bnpl_live_minutes"}
        assert left.height > 0 or model.name in empty, name
        assert left.equals(right), f"{name} differs: {left.height} vs {right.height} rows"


@pytest.mark.slow
@pytest.mark.parametrize("scope", ["batch", "source"])
def test_day_by_day_equals_full_refresh(
    tmp_path: Path,
    project: Project,
    scope: str,
    batch_days: list[PreparedDay],
    source_days: list[PreparedDay],
) -> None:
    """Loading and building one day at a time (the daily run) ends with the tables of a full
    refresh; with stable ids a customer's rows are merged across days."""
    days = batch_days if scope == "batch" else source_days
    daily = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "daily.duckdb"))
    actions = []
    for day in days:
        load(daily, [day])
        result = write_audit_publish(daily, project, start=day.day, end=day.day)
        actions.append({m.name: m.action for m in result.models})
    assert actions[-1]["int_bnpl_customer_profiles"] == "merge"
    assert actions[-1]["mart_bnpl_transactions"] == "replace_range"
    full = full_refresh(tmp_path / "full.duckdb", days, project)
    assert_same_tables(daily, full, project)
    if scope == "source":
        profiles = daily.read_table("bnpl_intermediate.int_bnpl_customer_profiles")
        assert (profiles["active_days"] > 1).any(), "stable ids must span days here"
    daily.close()
    full.close()


def test_rebuilding_a_day_changes_nothing(built: DuckDBWarehouse, project: Project) -> None:
    """An incremental build of a day already built leaves every table as it was."""
    before = {m.name: content(built, f"{m.dataset}.{m.name}") for m in project.models.values()}
    day = before["mart_bnpl_daily_volume"]["transaction_date"][1]
    result = write_audit_publish(built, project, start=day, end=day)
    incremental = [
        m
        for m in result.models
        if project.models[m.name].config.materialized not in ("table", "view")
    ]
    assert {m.action for m in incremental} == {"replace_range", "merge"}
    for model in project.models.values():
        after = content(built, f"{model.dataset}.{model.name}")
        assert after.equals(before[model.name]), model.name


@pytest.mark.slow
def test_reloaded_day_converges_with_stable_ids(
    tmp_path: Path, project: Project, captured_body: bytes, source_days: list[PreparedDay]
) -> None:
    """A day reloaded with different content (some customers gone) and rebuilt incrementally
    gives the full refresh's tables: rows of vanished keys go, keys spanning days are redone."""
    path = tmp_path / "daily.duckdb"
    warehouse = full_refresh(path, source_days, project)
    middle = source_days[1]
    keep = set(random.Random(7).sample(range(middle.stats.records_received), 150))
    smaller = prepare_subset(captured_body, middle.day, keep, scope="source")
    load(warehouse, [smaller])
    write_audit_publish(warehouse, project, start=middle.day, end=middle.day)
    reference = full_refresh(
        tmp_path / "full.duckdb", [source_days[0], smaller, source_days[2]], project
    )
    gone = set(middle.customers["customer_key"]) - set(smaller.customers["customer_key"])
    others = set(source_days[0].customers["customer_key"]) | set(
        source_days[2].customers["customer_key"]
    )
    assert gone - others, "some keys must vanish entirely"
    assert gone & others, "some keys must lose a day but stay"
    assert_same_tables(warehouse, reference, project)
    warehouse.close()
    reference.close()


@pytest.mark.slow
def test_reloaded_day_converges_with_batch_ids(
    tmp_path: Path, project: Project, captured_body: bytes, batch_days: list[PreparedDay]
) -> None:
    """A day reloaded from another request (new batch, so new customer keys) and rebuilt
    incrementally drops the old batch's customers: same tables as a full refresh."""
    warehouse = full_refresh(tmp_path / "daily.duckdb", batch_days, project)
    replacement = drifted_day(captured_body)
    assert replacement.batch_id != batch_days[0].batch_id
    load(warehouse, [replacement])
    write_audit_publish(warehouse, project, start=replacement.day, end=replacement.day)
    customers = warehouse.read_table("bnpl_marts.mart_bnpl_customers")
    assert not set(batch_days[0].customers["customer_key"]) & set(customers["customer_key"])
    reference = full_refresh(tmp_path / "full.duckdb", [replacement, *batch_days[1:]], project)
    assert_same_tables(warehouse, reference, project)
    warehouse.close()
    reference.close()


def test_full_refresh_rebuilds_every_loaded_day(built: DuckDBWarehouse, project: Project) -> None:
    """A full refresh recreates each table from every day in the ledger."""
    built.execute('DELETE FROM "bnpl_audit"."mart_bnpl_transactions__published"')
    result = write_audit_publish(built, project, full_refresh=True)
    assert {m.action for m in result.models} == {"create", "view"}  # the live view
    assert {(m.start, m.end) for m in result.models if m.action == "create"} == {
        (result.models[0].start, result.models[0].end)
    }
    assert built.read_table("bnpl_marts.mart_bnpl_transactions").height == 686
    counts = built.read_table("bnpl_marts.mart_bnpl_daily_volume")["transaction_count"]
    assert counts.sum() == 686
    assert (
        built.read_table("bnpl_marts.mart_bnpl_transactions")
        .select(pl.col("transaction_date").n_unique())
        .item()
        == 3
    )
