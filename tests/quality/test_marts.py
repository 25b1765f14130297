"""The checks of the marts about to be published, on the project's real models built in bnpl_audit."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pytest
from quality_data import END, START, Knobs, make_day, run_gate

from bnpl.errors import QualityGateError
from bnpl.models import load_project
from bnpl.quality import CheckResult, all_checks, run_checks
from bnpl.settings import DuckDBSettings, QualitySettings, Settings
from bnpl.warehouse.duckdb import DuckDBWarehouse

CHECKS = all_checks()  # the bundled project's checks, in run order

pytestmark = pytest.mark.slow  # builds every model of the project once per session
MARTS = tuple(m.name for m in load_project().models.values() if m.layer == "marts")
MART_CHECKS = [c for c in CHECKS if "." not in c.model]


def checksum(warehouse: DuckDBWarehouse, dataset: str, table: str) -> str:
    """sha256 of a table's full content (every column, rows in a canonical order)."""
    frame = warehouse.read_table(f"{dataset}.{table}")
    return hashlib.sha256(frame.sort(frame.columns).write_csv().encode()).hexdigest()


def run(warehouse: DuckDBWarehouse) -> dict[str, CheckResult]:
    results = run_checks(
        warehouse,
        QualitySettings(),
        start=START,
        end=END,
        logical_date=END,
        built=MARTS,
        checks=MART_CHECKS,
    )
    return {r.check_name: r for r in results}


def test_real_marts_pass_every_mart_check(built_warehouse: DuckDBWarehouse) -> None:
    """The project's marts built from clean data pass every mart check (none skipped)."""
    assert {n: r.status for n, r in run(built_warehouse).items()} == dict.fromkeys(
        (c.name for c in MART_CHECKS), "pass"
    )


AUDIT = '"bnpl_audit"'
BREAKS = [
    (
        "mart_transactions_key_unique",
        f"INSERT INTO {AUDIT}.mart_bnpl_transactions SELECT * FROM {AUDIT}.mart_bnpl_transactions "
        "WHERE transaction_date = DATE '2024-11-13' LIMIT 1",
    ),
    (
        "mart_customers_key_unique",
        f"INSERT INTO {AUDIT}.mart_bnpl_customers SELECT * FROM {AUDIT}.mart_bnpl_customers LIMIT 1",
    ),
    (
        "mart_transactions_customer_exists",
        f"DELETE FROM {AUDIT}.mart_bnpl_customers WHERE customer_key IN (SELECT customer_key FROM "
        f"{AUDIT}.mart_bnpl_transactions WHERE transaction_date = DATE '2024-11-13' LIMIT 1)",
    ),
    (
        "mart_transactions_match_raw",
        f"DELETE FROM {AUDIT}.mart_bnpl_transactions WHERE transaction_date = DATE '2024-11-13' "
        "AND transaction_id LIKE '%7'",
    ),
    (
        "mart_daily_volume_matches_raw",
        f"DELETE FROM {AUDIT}.mart_bnpl_daily_volume WHERE transaction_date = DATE '2024-11-13'",
    ),
]


@pytest.mark.parametrize(("name", "statement"), BREAKS, ids=[b[0] for b in BREAKS])
def test_mart_check_fails_on_a_broken_audit_mart(
    built_warehouse: DuckDBWarehouse, name: str, statement: str
) -> None:
    """Breaking the audit copy of a mart fails the check that guards it."""
    built_warehouse.execute(statement)
    result = run(built_warehouse)[name]
    assert result.status == "fail", result.details
    assert result.observed_value is not None and result.observed_value >= 1


def test_bad_day_never_reaches_the_real_published_marts(
    built_warehouse: DuckDBWarehouse, tmp_path: Path
) -> None:
    """The whole pipeline on the real project: a good gate publishes every mart; after a bad day
    is loaded the gate fails naming the checks, and every published mart keeps its exact content."""
    settings = Settings(warehouse=DuckDBSettings(path=tmp_path / "built.duckdb"))
    good = run_gate(built_warehouse, settings, START, END, END, "good")
    assert set(MARTS) <= set(good.published)
    before = {name: checksum(built_warehouse, "bnpl_marts", name) for name in good.published}

    bad_day = date(2024, 12, 4)
    built_warehouse.load_day(make_day(bad_day, Knobs(duplicate_keys=2)))
    with pytest.raises(QualityGateError) as raised:
        run_gate(built_warehouse, settings, START, END, END, "bad")

    assert {"transactions_key_unique", "mart_transactions_key_unique"} <= set(raised.value.failed)
    after = {name: checksum(built_warehouse, "bnpl_marts", name) for name in good.published}
    assert after == before
    assert (
        checksum(built_warehouse, "bnpl_audit", "mart_bnpl_transactions")
        != before["mart_bnpl_transactions"]
    )
