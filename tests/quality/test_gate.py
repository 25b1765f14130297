"""Write-audit-publish: a passing build is published, a failing one never reaches bnpl_marts."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from quality_data import END, START, Knobs, make_day, request, run_gate

from bnpl.errors import QualityGateError
from bnpl.models import Project, load_project
from bnpl.quality import GateResult, read_results
from bnpl.settings import DuckDBSettings, Settings
from bnpl.warehouse.duckdb import DuckDBWarehouse

MART = "mart_quality_daily"
MART_SQL = """\
{{ config(materialized='incremental', partition_by='transaction_date',
          description='Per-day counts for the gate tests.', grain='one row per day') }}
{{ column('transaction_date', 'DATE', 'the day', nullable=False) }}
{{ column('transactions', 'INT64', 'transactions of the day', nullable=False) }}
{{ column('amount', 'FLOAT64', 'sum of amounts', nullable=False) }}
SELECT transaction_date, COUNT(*) AS transactions, SUM(amount) AS amount
FROM {{ source('raw', 'transactions') }}
WHERE transaction_date BETWEEN @start_date AND @end_date
GROUP BY transaction_date
"""


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A one-mart project for the real model runner."""
    sql = tmp_path / "sql"
    for layer in ("staging", "intermediate", "marts"):
        (sql / layer).mkdir(parents=True)
    (sql / "marts" / f"{MART}.sql").write_text(MART_SQL)
    return load_project(sql)


def checksum(warehouse: DuckDBWarehouse, dataset: str, table: str) -> str:
    """sha256 of a table's full content (every column, rows in a canonical order)."""
    frame = warehouse.read_table(f"{dataset}.{table}")
    return hashlib.sha256(frame.sort(frame.columns).write_csv().encode()).hexdigest()


def settings(db_path: Path) -> Settings:
    return Settings(warehouse=DuckDBSettings(path=db_path))


def test_passing_gate_publishes_and_stores_every_result(
    warehouse: DuckDBWarehouse, db_path: Path, project: Project
) -> None:
    """Clean data: the mart is built in bnpl_audit, published to bnpl_marts, every result stored."""
    seen: list[GateResult] = []
    gate = run_gate(
        warehouse,
        settings(db_path),
        START,
        END,
        END,
        "run-1",
        project=project,
        on_result=seen.append,
    )
    assert gate.passed and gate.published == (MART,)
    assert seen == [gate]
    assert checksum(warehouse, "bnpl_marts", MART) == checksum(warehouse, "bnpl_audit", MART)
    assert warehouse.read_table(f"bnpl_marts.{MART}").height > 0
    stored = read_results(warehouse, "run-1")
    assert stored.height == len(gate.results)
    # the project's real marts are not part of this one-mart project: their checks skip; the
    # checks its mart declares run
    other_marts = pl.col("model").str.starts_with("mart_") & (pl.col("model") != MART)
    assert set(stored.filter(~other_marts)["status"]) == {"pass"}
    assert set(stored.filter(other_marts)["status"]) == {"skip"}
    assert stored.filter(pl.col("model") == MART).height > 0
    assert stored["logical_date"].unique().to_list() == [END]


def test_bad_day_never_reaches_the_published_marts(
    warehouse: DuckDBWarehouse, db_path: Path, project: Project
) -> None:
    """After a good publish, a day with half its volume fails the gate naming the check, and the
    published mart stays byte-for-byte the previous version while the audit copy has the bad day."""
    run_gate(warehouse, settings(db_path), START, END, END, "good", project=project)
    published = checksum(warehouse, "bnpl_marts", MART)

    bad_day = date(2024, 12, 4)
    warehouse.load_day(make_day(bad_day, Knobs(count=request(bad_day).expected_volume // 2)))
    with pytest.raises(QualityGateError) as raised:
        run_gate(warehouse, settings(db_path), START, END, END, "bad", project=project)

    assert raised.value.failed == ["volume_vs_expected"]
    assert "volume_vs_expected" in str(raised.value) and str(bad_day) in str(raised.value)
    assert checksum(warehouse, "bnpl_marts", MART) == published
    assert checksum(warehouse, "bnpl_audit", MART) != published
    audit = warehouse.read_table(f"bnpl_audit.{MART}").filter(pl.col("transaction_date") == bad_day)
    assert audit["transactions"].item() == request(bad_day).expected_volume // 2
    stored = read_results(warehouse, "bad")
    assert stored.filter(pl.col("status") == "fail")["check_name"].to_list() == [
        "volume_vs_expected"
    ]


def test_failed_gate_reports_before_raising(
    warehouse: DuckDBWarehouse, db_path: Path, project: Project
) -> None:
    """on_result sees the blocked gate (nothing published) before QualityGateError is raised."""
    warehouse.load_day(make_day(date(2024, 11, 20), Knobs(duplicate_keys=1)))
    seen: list[GateResult] = []
    with pytest.raises(QualityGateError):
        run_gate(
            warehouse,
            settings(db_path),
            START,
            END,
            END,
            "r",
            project=project,
            on_result=seen.append,
        )
    assert len(seen) == 1 and not seen[0].passed
    assert seen[0].published == () and seen[0].built == (MART,)
    assert [r.check_name for r in seen[0].failed] == ["transactions_key_unique"]
    assert not warehouse.table_exists("bnpl_marts", MART)


def test_warnings_do_not_block_publication(
    warehouse: DuckDBWarehouse, db_path: Path, project: Project
) -> None:
    """A warn-level failure is reported as a warning and the marts are still published."""
    warehouse.execute(
        'UPDATE "bnpl_raw"."customers" SET attributes_changed = true WHERE transaction_date = $d',
        {"d": date(2024, 11, 20)},
    )
    gate = run_gate(warehouse, settings(db_path), START, END, END, "w", project=project)
    assert gate.passed and gate.published == (MART,)
    assert [r.check_name for r in gate.warnings] == ["customer_attribute_changes"]


def test_rerunning_a_run_id_replaces_its_results(
    warehouse: DuckDBWarehouse, db_path: Path, project: Project
) -> None:
    """Writing the same run id twice leaves one row per check (results are idempotent per run)."""
    for _ in range(2):
        gate = run_gate(warehouse, settings(db_path), START, END, END, "same", project=project)
    stored = read_results(warehouse, "same")
    assert stored.height == len(gate.results)
    assert stored["check_name"].n_unique() == stored.height


def test_a_blocked_day_blocks_later_gates_until_a_run_covering_it_passes(
    warehouse: DuckDBWarehouse, db_path: Path, project: Project
) -> None:
    """A day that failed its gate keeps the next day's gate from publishing (its rows would
    reach the marts rebuilt from every day), naming the day and the command; once it is fixed
    and a run covering it passes, later gates publish again."""
    bad_day, next_day = date(2024, 12, 4), date(2024, 12, 5)
    good = make_day(bad_day)
    warehouse.load_day(make_day(bad_day, Knobs(count=request(bad_day).expected_volume // 2)))
    with pytest.raises(QualityGateError, match="volume_vs_expected"):
        run_gate(warehouse, settings(db_path), bad_day, bad_day, bad_day, "bad", project=project)

    with pytest.raises(QualityGateError, match="earlier_blocks_resolved") as blocked:
        run_gate(
            warehouse, settings(db_path), next_day, next_day, next_day, "next", project=project
        )
    assert "bnpl check --start 2024-12-04 --end 2024-12-05" in str(blocked.value)
    assert blocked.value.failed == ["earlier_blocks_resolved"]

    warehouse.load_day(good)  # the day reloaded with its full volume
    fixed = run_gate(
        warehouse, settings(db_path), bad_day, next_day, next_day, "fix", project=project
    )
    assert fixed.passed
    later = run_gate(
        warehouse, settings(db_path), next_day, next_day, next_day, "later", project=project
    )
    assert later.passed and later.published == (MART,)
