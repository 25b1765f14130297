"""The results history: every check result of every gate run is a row of
``bnpl_audit.dq_results`` (declared in ``schemas/bnpl_audit/dq_results.json``, partitioned by
logical date). Also readable with ``bnpl.read_table("bnpl_audit.dq_results")``."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from bnpl.quality.assertions import compile_template, row_params
from bnpl.quality.base import CheckResult
from bnpl.warehouse.base import Warehouse

logger = logging.getLogger(__name__)


def _number(value: float | None) -> str:
    # floats travel as text ('' for null) so that every parameter has a type on every warehouse
    return "" if value is None else repr(float(value))


def write_results(
    warehouse: Warehouse,
    results: Sequence[CheckResult],
    *,
    run_id: str,
    logical_date: date,
    start: date,
    end: date,
    checked_at: datetime,
) -> None:
    """Store a run's results, replacing any rows the same run wrote before (one transaction).

    Args:
        checked_at: when the checks ran; time-zone aware (UTC).
    """
    warehouse.ensure_schema()
    params: dict[str, Any] = {
        "run_id": run_id,
        "logical_date": logical_date,
        "range_start": start,
        "range_end": end,
        "checked_at": checked_at,
    }
    params |= row_params(
        [
            {
                "check_name": r.check_name,
                "category": r.category,
                "model": r.model,
                "severity": r.severity,
                "status": r.status,
                "observed_value": _number(r.observed_value),
                "threshold": _number(r.threshold),
                "details": r.details,
            }
            for r in results
        ]
    )
    statements = [compile_template(warehouse, "results/delete_run").sql]
    if results:
        statements.append(compile_template(warehouse, "results/insert", {"rows": len(results)}).sql)
    warehouse.execute_many(statements, params)
    logger.info("stored %d check results of run %s", len(results), run_id)


def read_results(warehouse: Warehouse, run_id: str | None = None) -> pl.DataFrame:
    """The stored results of ``run_id``, or of the newest run when None (empty if none)."""
    warehouse.ensure_schema()
    compiled = compile_template(warehouse, "results/read")
    return warehouse.query(compiled.sql, compiled.bind({"run_id": run_id or ""}))
