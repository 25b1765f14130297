"""bnpl.quality.declared: not-null, unique, relationship and accepted-values checks generated from
the marts' headers, named as the hand-written checks they replace."""

from __future__ import annotations

from pathlib import Path

import pytest
from quality_data import END, START

from bnpl.errors import ConfigError
from bnpl.models import build_models, load_project, publish_models
from bnpl.quality import CheckResult, all_checks, run_checks
from bnpl.quality.context import CheckContext
from bnpl.quality.declared import declared_model_checks
from bnpl.quality.integrity import SqlAssertion
from bnpl.settings import BigQuerySettings, DuckDBSettings, QualitySettings
from bnpl.warehouse import Warehouse
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.duckdb import DuckDBWarehouse

MAIN_HAND_WRITTEN_MART_CHECKS = {
    # listed from `git show main:bnpl/quality/checks.py` before they were generated
    ("mart_transactions_key_unique", "mart_bnpl_transactions", "error"),
    ("mart_transactions_keys_not_null", "mart_bnpl_transactions", "error"),
    ("mart_customers_key_unique", "mart_bnpl_customers", "error"),
    ("mart_customers_key_not_null", "mart_bnpl_customers", "error"),
    ("mart_transactions_customer_exists", "mart_bnpl_transactions", "error"),
}
MAIN_CHECK_NAMES = {
    # every check name of main's bnpl/quality/checks.py: dq_results history keeps its names
    *(name for name, _, _ in MAIN_HAND_WRITTEN_MART_CHECKS),
    "transactions_key_unique", "transactions_keys_not_null", "customers_key_unique",
    "customers_keys_not_null", "transactions_customer_exists", "transactions_accepted_values",
    "transactions_accepted_ranges", "invariant_amount_equals_price",
    "invariant_first_payment_quarter", "invariant_installment_count", "invariant_risk_level",
    "invariant_default_fields", "invariant_credit_utilization", "invariant_scenario_behaviour",
    "invariant_bnpl_eligible", "invariant_source_ids", "invariant_transaction_day",
    "ledger_days_present", "transactions_days_present", "transactions_match_ledger",
    "quarantine_matches_ledger", "customers_match_ledger", "mart_transactions_match_raw",
    "mart_daily_volume_matches_raw", "ledger_counts_add_up", "quarantine_rate",
    "earlier_blocks_resolved", "freshness", "volume_vs_expected", "weekend_dip",
    "holiday_black_friday_spike", "holiday_cyber_monday_spike", "holiday_thanksgiving_trough",
    "holiday_christmas_trough", "drift_amount_psi", "drift_risk_score_psi",
    "drift_category_mix_psi", "customer_attribute_changes",
}  # fmt: skip

RISK_MIX = """\
{{ config(materialized='table', description='Transactions per risk level.', grain='one row per risk_level') }}
{{ column('risk_level', 'STRING', 'The level', nullable=False, tests=['unique', {'accepted_values': ['low', 'medium']}]) }}
{{ column('transactions', 'INT64', 'Transactions', tests=['not_null']) }}
{{ column('any_customer', 'STRING', 'A customer', tests=[{'relationships': 'mart_bnpl_customers.customer_key'}]) }}
SELECT risk_level, COUNT(*) AS transactions, MIN(customer_key) AS any_customer
FROM {{ ref('mart_bnpl_transactions') }}
GROUP BY risk_level
"""


def test_generated_names_equal_the_hand_written_ones_they_replace() -> None:
    """The key/not-null/relationship checks generated for the two marts that had hand-written ones keep their names, models and severities."""
    generated = {
        (c.name, c.model, c.severity)
        for c in declared_model_checks(load_project())
        if c.model in ("mart_bnpl_transactions", "mart_bnpl_customers")
        and c.name.endswith(("_key_unique", "key_not_null", "keys_not_null", "_exists"))
    }
    assert generated == MAIN_HAND_WRITTEN_MART_CHECKS


def test_every_check_name_of_main_still_runs_with_its_severity() -> None:
    """No check name that dq_results history holds disappears, and only generated checks are new."""
    checks = {c.name: c for c in all_checks()}
    assert set(checks) >= MAIN_CHECK_NAMES
    assert checks["customer_attribute_changes"].severity == "warn"
    new = set(checks) - MAIN_CHECK_NAMES
    # the only hand-written check added since: the live path's seal completeness (issue 13)
    hand_written_since = {"live_rows_match_seal"}
    assert new and all(n.startswith("mart_") or n in hand_written_since for n in new), new
    assert "mart_ml_features_transaction_exists" in new and "mart_daily_volume_key_unique" in new


@pytest.fixture
def user_project(tmp_path: Path) -> Path:
    """A project directory with one mart declaring column tests."""
    marts = tmp_path / "project" / "models" / "marts"
    marts.mkdir(parents=True)
    (marts / "mart_risk_mix.sql").write_text(RISK_MIX)
    return tmp_path / "project"


def test_column_tests_generate_named_checks(user_project: Path) -> None:
    """tests=['unique', accepted_values, relationships, not_null] become checks named after the column."""
    project = load_project(user_dir=user_project)
    mix = [c for c in declared_model_checks(project) if c.model == "mart_risk_mix"]
    assert [c.name for c in mix] == [
        "mart_risk_mix_not_null",
        "mart_risk_mix_any_customer_exists",
        "mart_risk_mix_risk_level_unique",
        "mart_risk_mix_risk_level_accepted_values",
    ]
    column = project.model("mart_risk_mix").columns[2]
    assert column.references == "mart_bnpl_customers.customer_key" and column.nullable


@pytest.mark.parametrize(
    "test",
    ["'distinct'", "{'accepted_values': []}", "{'relationships': 'nodot'}", "'unique', 7"],
)
def test_a_malformed_column_test_names_the_file(user_project: Path, test: str) -> None:
    """An unknown test or a bad argument is one ConfigError naming the model file and the tests allowed."""
    path = user_project / "models" / "marts" / "mart_risk_mix.sql"
    path.write_text(RISK_MIX.replace("'unique', {'accepted_values': ['low', 'medium']}", test))
    with pytest.raises(ConfigError, match=r"mart_risk_mix.sql.*tests are 'not_null', 'unique'"):
        load_project(user_dir=user_project)


@pytest.mark.slow  # builds the user's mart on the real marts
def test_declared_tests_run_on_the_built_mart(
    built_warehouse: DuckDBWarehouse, user_project: Path
) -> None:
    """accepted_values fails on the level it leaves out; unique, not-null and relationship pass."""
    project = load_project(user_dir=user_project)
    publish_models(built_warehouse, ["mart_bnpl_transactions"])  # what the new mart reads
    build_models(built_warehouse, project, selection=["mart_risk_mix"], audit=True)
    checks = [c for c in declared_model_checks(project) if c.model == "mart_risk_mix"]
    results: dict[str, CheckResult] = {
        r.check_name: r
        for r in run_checks(
            built_warehouse,
            QualitySettings(),
            start=START,
            end=END,
            logical_date=END,
            built=["mart_risk_mix", "mart_bnpl_customers"],
            checks=checks,
        )
    }
    assert {n: r.status for n, r in results.items()} == {
        "mart_risk_mix_not_null": "pass",
        "mart_risk_mix_any_customer_exists": "pass",
        "mart_risk_mix_risk_level_unique": "pass",
        "mart_risk_mix_risk_level_accepted_values": "fail",
    }
    assert "value=high" in results["mart_risk_mix_risk_level_accepted_values"].details


@pytest.mark.parametrize("dialect", ["duckdb", "bigquery"])
def test_every_declared_check_compiles_and_binds_on_both_warehouses(
    user_project: Path, dialect: str
) -> None:
    """Each generated check's SQL transpiles for DuckDB and BigQuery and names only parameters it is given."""
    warehouse: Warehouse = (
        DuckDBWarehouse(DuckDBSettings(path=user_project / "unused.duckdb"))
        if dialect == "duckdb"
        else BigQueryWarehouse(BigQuerySettings(project="proj", dataset_prefix="dev_"))
    )
    ctx = CheckContext(warehouse, QualitySettings(), start=START, end=END, logical_date=END)
    checks = declared_model_checks(load_project(user_dir=user_project))
    for check in checks:
        evaluate = check.evaluate
        assertion = evaluate if isinstance(evaluate, SqlAssertion) else evaluate.assertion  # type: ignore[attr-defined]
        compiled = assertion.compile(ctx)
        bound = compiled.bind({**ctx.params, **assertion.params})
        assert "dq_violations" in compiled.sql and set(bound) <= {*ctx.params, *assertion.params}
        if check.name == "mart_risk_mix_risk_level_accepted_values":
            assert bound["accepted_risk_level"] == ["low", "medium"]
            assert "'low'" not in compiled.sql  # bound, not pasted
    assert not (user_project / "unused.duckdb").exists()  # compiling opened nothing
