"""Bad input at build time: one clear error naming the model and file, before anything is written
where possible."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
from model_data import DAYS

from bnpl.errors import ConfigError, ModelError
from bnpl.models import Project, build_models, load_project, plan_build
from bnpl.warehouse.duckdb import DuckDBWarehouse


def project_of(root: Path, files: dict[str, str]) -> Project:
    """A project of the given templates (``{"marts/x.sql": text}``) under ``root/sql``."""
    for name, text in files.items():
        path = root / "sql" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return load_project(root / "sql")


VOLUME = """
    {{ config(materialized='incremental', partition_by='transaction_date',
              description='test', grain='one row per day') }}
    {{ column('transaction_date', 'DATE', 'the day') }}
    {{ column('records', 'INT64', 'records loaded') }}
    SELECT b.transaction_date, b.records_loaded AS records
    FROM {{ source('raw', 'source_batches') }} AS b
    WHERE b.transaction_date BETWEEN @start_date AND @end_date
"""


def test_missing_source_table(loaded: DuckDBWarehouse, project: Project) -> None:
    """A source table that does not exist names the model, its file and the table."""
    loaded.execute('DROP TABLE "bnpl_raw"."customers"')
    with pytest.raises(ModelError) as caught:
        build_models(loaded, project)
    message = str(caught.value)
    assert (
        "model stg_bnpl_extracted_customers (sql/staging/stg_bnpl_extracted_customers.sql)"
        in message
    )
    assert "bnpl_raw.customers" in message and "does not exist" in message
    assert not loaded.table_exists("bnpl_intermediate", "int_bnpl_calendar_days"), "nothing built"


def test_unbuilt_ref_outside_the_selection(loaded: DuckDBWarehouse, project: Project) -> None:
    """Selecting a model whose parent was never built says which ref and how to fix it."""
    with pytest.raises(ModelError) as caught:
        build_models(loaded, project, selection=["mart_bnpl_transactions"])
    message = str(caught.value)
    assert "model mart_bnpl_transactions (sql/marts/mart_bnpl_transactions.sql)" in message
    assert (
        "ref('int_bnpl_transactions_enriched')" in message
        and "--select +mart_bnpl_transactions" in message
    )


@pytest.mark.parametrize(
    ("select", "problem"),
    [
        ("b.transaction_date", "missing ['records']"),
        ("b.transaction_date, b.records_loaded AS records, b.batch_id", "undeclared ['batch_id']"),
        ("b.transaction_date, b.batch_id AS records", "records is STRING, declared INT64"),
    ],
)
def test_result_breaking_the_declared_schema(
    loaded: DuckDBWarehouse, tmp_path: Path, select: str, problem: str
) -> None:
    """Missing, undeclared and mistyped result columns fail the model before it writes."""
    text = VOLUME.replace(
        "SELECT b.transaction_date, b.records_loaded AS records", f"SELECT {select}"
    )
    project = project_of(tmp_path, {"marts/volume.sql": text})
    with pytest.raises(ModelError) as caught:
        build_models(loaded, project)
    message = str(caught.value)
    assert "model volume (sql/marts/volume.sql)" in message and problem in message
    assert not loaded.table_exists("bnpl_marts", "volume")


def test_existing_table_with_another_schema(loaded: DuckDBWarehouse, tmp_path: Path) -> None:
    """A declared schema that changed since the table was built asks for a full refresh, which
    then works."""
    build_models(loaded, project_of(tmp_path / "v1", {"marts/volume.sql": VOLUME}))
    changed = VOLUME.replace(
        "{{ column('records', 'INT64', 'records loaded') }}",
        "{{ column('records', 'INT64', 'records loaded') }}\n{{ column('day_type', 'STRING', 'x') }}",
    ).replace("AS records\n", "AS records, 'weekday' AS day_type\n")
    project = project_of(tmp_path / "v2", {"marts/volume.sql": changed})
    with pytest.raises(ModelError, match="--full-refresh") as caught:
        build_models(loaded, project, start=DAYS[0], end=DAYS[0])
    assert "existing table bnpl_marts.volume" in str(caught.value)
    build_models(loaded, project, full_refresh=True)
    assert loaded.read_table("bnpl_marts.volume").columns == [
        "transaction_date",
        "records",
        "day_type",
    ]


def test_runtime_failure_names_model_and_file(loaded: DuckDBWarehouse, tmp_path: Path) -> None:
    """A statement the warehouse rejects (a failing cast) is reported with the model and file."""
    text = VOLUME.replace("b.records_loaded AS records", "CAST(b.batch_id AS INT64) AS records")
    with pytest.raises(ModelError) as caught:
        build_models(loaded, project_of(tmp_path, {"marts/volume.sql": text}))
    assert "model volume (sql/marts/volume.sql): building bnpl_marts.volume" in str(caught.value)


def test_empty_ledger(warehouse: DuckDBWarehouse, project: Project) -> None:
    """With nothing loaded there are no days to build: say so, and what to run."""
    with pytest.raises(ModelError, match=r"ledger bnpl_raw.source_batches is empty.*bnpl backfill"):
        build_models(warehouse, project)


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"start": DAYS[0]}, "give both start and end"),
        ({"start": DAYS[1], "end": DAYS[0]}, "before start date"),
        (
            {"start": DAYS[0], "end": DAYS[0], "full_refresh": True},
            "full refresh rebuilds every loaded day",
        ),
    ],
)
def test_bad_days(
    loaded: DuckDBWarehouse, project: Project, kwargs: dict[str, object], fragment: str
) -> None:
    """Half a range, a reversed range, or a range with a full refresh are ConfigErrors."""
    with pytest.raises(ConfigError, match=fragment):
        build_models(loaded, project, **kwargs)  # type: ignore[arg-type]


AS_OF = """
    {{ config(materialized='table', parameters=['as_of'], description='test', grain='one row per day') }}
    {{ column('transaction_date', 'DATE', 'the day') }}
    {{ column('days_before', 'INT64', 'days from the day to as_of') }}
    SELECT b.transaction_date, DATE_DIFF(@as_of, b.transaction_date, DAY) AS days_before
    FROM {{ source('raw', 'source_batches') }} AS b
"""


def test_declared_parameters_are_bound(loaded: DuckDBWarehouse, tmp_path: Path) -> None:
    """A model's declared parameter is bound from params=, and is required."""
    project = project_of(tmp_path, {"marts/as_of.sql": AS_OF})
    with pytest.raises(ModelError, match=r"declares parameters \['as_of'\]"):
        build_models(loaded, project)
    build_models(loaded, project, params={"as_of": date(2024, 12, 31)})
    frame = loaded.read_table("bnpl_marts.as_of").sort("transaction_date")
    assert frame["days_before"].to_list() == [(date(2024, 12, 31) - d).days for d in DAYS]


def test_plan_writes_nothing(loaded: DuckDBWarehouse, project: Project) -> None:
    """plan_build returns each model's SQL without creating anything."""
    compiled = plan_build(loaded, project, audit=True)
    assert [c.model.name for c in compiled] == list(project.models)
    assert compiled[-1].target.dataset == "bnpl_audit"
    assert not loaded.table_exists("bnpl_intermediate", "int_bnpl_calendar_days")


VIEW = """
    {{ config(materialized='view', partition_by='transaction_date', description='test',
              grain='one row per loaded day') }}
    {{ column('transaction_date', 'DATE', 'the day') }}
    {{ column('records', 'INT64', 'records loaded') }}
    SELECT b.transaction_date, b.records_loaded AS records
    FROM {{ source('raw', 'source_batches') }} AS b
"""


def test_views_are_probed_and_created(loaded: DuckDBWarehouse, tmp_path: Path) -> None:
    """A view (its schema probe filtered on its partition column) is created and reads its source;
    a view breaking its declared schema fails like a table."""
    build_models(loaded, project_of(tmp_path / "ok", {"staging/days.sql": VIEW}))
    assert loaded.read_table("bnpl_intermediate.days").height == 3
    broken = VIEW.replace("b.records_loaded AS records", "b.batch_id AS records")
    with pytest.raises(ModelError, match="records is STRING, declared INT64"):
        build_models(loaded, project_of(tmp_path / "bad", {"staging/days.sql": broken}))
