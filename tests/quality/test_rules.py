"""Rules checked in both Python (the contract) and SQL (the gate's invariants) agree on edge cases:
the SQL takes its thresholds and labels from the Python definition (bnpl.record)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from bnpl import record
from bnpl.contracts import python_quarter_cents
from bnpl.quality import all_checks
from bnpl.quality.assertions import compile_template, relation_name
from bnpl.quality.integrity import SqlAssertion
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

CHECKS = all_checks()  # the bundled project's checks, in run order

DAY = date(2024, 3, 6)


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[DuckDBWarehouse]:
    wh = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "rules.duckdb"))
    wh.ensure_schema()
    try:
        yield wh
    finally:
        wh.close()


def violations(warehouse: DuckDBWarehouse, check_name: str, rows: pl.DataFrame) -> set[str]:
    """The keys of ``rows`` that the gate's check ``check_name`` reports, run on DuckDB."""
    with warehouse.connection() as con:
        con.register("frame", rows.with_columns(transaction_date=pl.lit(DAY)))
        con.sql('CREATE OR REPLACE TABLE "bnpl_audit"."rule_cases" AS SELECT * FROM frame')
        con.unregister("frame")
    (check,) = [c for c in CHECKS if c.name == check_name]
    assert isinstance(check.evaluate, SqlAssertion)
    relation = relation_name(warehouse, "bnpl_audit", "rule_cases")
    variables: dict[str, Any] = {**check.evaluate.variables, "relation": relation}
    compiled = compile_template(warehouse, check.evaluate.template, variables)
    params = {**check.evaluate.params, "start_date": DAY, "end_date": DAY}
    found = warehouse.query(compiled.sql, compiled.bind(params))
    return set(found["transaction_key"].to_list())


def python_level(score: float) -> str:
    """risk_level by the contract's definition (record.RISK_LEVEL_THRESHOLDS)."""
    return next(
        (name for bound, name in record.RISK_LEVEL_THRESHOLDS if score < bound), "very_high"
    )


def test_first_payment_sql_is_python_rounding_for_every_cent_amount(
    warehouse: DuckDBWarehouse,
) -> None:
    """For every amount from $15.00 to $400.00 the SQL invariant accepts exactly Python's
    round(amount * 0.25, 2), as the Pandera rule does, and refuses the neighbouring cents (at
    half-cent ties too)."""
    cents = list(range(1_500, 40_001))
    amounts = [c / 100 for c in cents]
    exact = [round(round(a * 0.25, 2) * 100) for a in amounts]
    rule = pl.DataFrame({"amount": amounts}).select(python_quarter_cents(pl.col("amount")))
    assert rule.to_series().to_list() == exact  # the Python contract's rule is Python's round
    rows = pl.DataFrame(
        {
            "transaction_key": [f"{c}:{d}" for c in cents for d in (-1, 0, 1)],
            "amount": [a for a in amounts for _ in range(3)],
            "amount_cents": [c for c in cents for _ in range(3)],
            "first_payment_amount": [(e + d) / 100 for e in exact for d in (-1, 0, 1)],
        }
    )
    flagged = violations(warehouse, "invariant_first_payment_quarter", rows)
    assert flagged == {f"{c}:{d}" for c in cents for d in (-1, 1)}


def test_risk_level_sql_uses_the_python_thresholds(warehouse: DuckDBWarehouse) -> None:
    """At, just below and just above every threshold of record.RISK_LEVEL_THRESHOLDS, the SQL
    invariant accepts exactly the Python label and refuses every other one."""
    scores = [0.0, 0.11, 0.30000000000000004, 0.81, 1.0]
    for bound, _ in record.RISK_LEVEL_THRESHOLDS:
        scores += [math.nextafter(bound, 0.0), bound, math.nextafter(bound, 1.0)]
    keys, rows_scores, levels = [], [], []
    for i, score in enumerate(scores):
        for level in record.RISK_LEVELS:
            keys.append(f"{i}:{level}")
            rows_scores.append(score)
            levels.append(level)
    rows = pl.DataFrame({"transaction_key": keys, "risk_score": rows_scores, "risk_level": levels})
    flagged = violations(warehouse, "invariant_risk_level", rows)
    expected = {
        f"{i}:{level}"
        for i, score in enumerate(scores)
        for level in record.RISK_LEVELS
        if level != python_level(score)
    }
    assert flagged == expected
