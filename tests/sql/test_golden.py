"""Golden transpile tests: the exact SQL each model runs, incrementally for one day, on DuckDB and
on BigQuery. A diff here is a change in what the warehouse executes: review it, then regenerate
with ``UPDATE_GOLDEN=1 .venv/bin/pytest tests/sql/test_golden.py``."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest
from sqlglot import exp

from bnpl.models import Project, load_project
from bnpl.models.compile import Relation, Resolver, compile_model
from bnpl.models.model import LAYERS, SOURCES
from bnpl.models.plan import holidays_for
from bnpl.settings import BigQuerySettings, DuckDBSettings
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.duckdb import DuckDBWarehouse

GOLDEN = Path(__file__).parent / "golden"
DAY = date(2024, 11, 29)
MODELS = sorted(load_project().models)


def _warehouses() -> dict[str, Warehouse]:
    # qualified() is pure on both adapters: nothing is opened or contacted
    return {
        "duckdb": DuckDBWarehouse(DuckDBSettings(path=Path("unused.duckdb"))),
        "bigquery": BigQueryWarehouse(BigQuerySettings(project="proj", dataset_prefix="dev_")),
    }


def compiled_text(project: Project, name: str, warehouse: Warehouse) -> str:
    """Every statement of ``name``'s incremental build of DAY (views: their CREATE VIEW)."""
    model = project.models[name]

    def qualify(dataset: str, table: str) -> exp.Table:
        return exp.to_table(warehouse.qualified(dataset, table), dialect=warehouse.dialect)

    resolver = Resolver(
        dialect=warehouse.dialect,
        qualify=qualify,
        ref=lambda ref: Relation(LAYERS[project.models[ref].layer], ref),
        source=lambda source, table: Relation(SOURCES[source], table),
        holidays=len(holidays_for(DAY, DAY)) if model.uses_holidays else 0,
    )
    target = Relation(model.dataset, name)
    strategy = model.config.strategy
    action = "view" if strategy == "view" else "create" if strategy == "table" else strategy
    compiled = compile_model(model, resolver, target=target, action=action, this=target)
    body = ";\n\n".join(compiled.statements)
    return f"-- probe\n{compiled.probe};\n\n-- {compiled.action} {compiled.target}\n{body};\n"


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery"])
@pytest.mark.parametrize("name", MODELS)
def test_model_sql_matches_golden(project: Project, name: str, dialect: str) -> None:
    """The model compiles to exactly the reviewed SQL for this warehouse."""
    text = compiled_text(project, name, _warehouses()[dialect])
    path = GOLDEN / dialect / f"{name}.sql"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text()


def test_every_golden_file_has_a_model() -> None:
    """No golden file is left behind by a renamed or deleted model."""
    for dialect in ("duckdb", "bigquery"):
        assert sorted(p.stem for p in (GOLDEN / dialect).glob("*.sql")) == MODELS


def test_bigquery_ddl_partitions_and_clusters(project: Project) -> None:
    """On BigQuery, the first build of a partitioned model writes PARTITION BY and CLUSTER BY."""
    warehouse = _warehouses()["bigquery"]
    model = project.models["mart_bnpl_transactions"]
    resolver = Resolver(
        dialect="bigquery",
        qualify=lambda d, t: exp.to_table(warehouse.qualified(d, t), dialect="bigquery"),
        ref=lambda ref: Relation(LAYERS[project.models[ref].layer], ref),
        source=lambda source, table: Relation(SOURCES[source], table),
    )
    compiled = compile_model(
        model, resolver, target=Relation("bnpl_audit", model.name), action="create"
    )
    (statement,) = compiled.statements
    head = " ".join(statement.split()[:13])
    assert head == (
        "CREATE OR REPLACE TABLE `proj.dev_bnpl_audit.mart_bnpl_transactions` "
        "PARTITION BY transaction_date CLUSTER BY customer_key AS SELECT"
    )
    assert "`proj.dev_bnpl_intermediate.int_bnpl_transactions_enriched`" in statement
