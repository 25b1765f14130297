"""The results history: every check result of every gate run is a row of
``bnpl_audit.dq_results`` (declared in ``schemas/bnpl_audit/dq_results.json``, partitioned by
logical date). Also readable with ``bnpl.read_table("bnpl_audit.dq_results")``. Each mart a
passed gate publishes is a row of ``bnpl_audit.publish_log`` (:func:`write_publication`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl

from bnpl.quality.assertions import compile_template, row_params
from bnpl.quality.base import CheckResult, GateResult
from bnpl.version import VERSION
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


def write_publication(
    warehouse: Warehouse, gate: GateResult, published: Sequence[str], *, published_at: datetime
) -> None:
    """Append one row per mart in ``published`` to ``bnpl_audit.publish_log`` (nothing for none).

    Args:
        published_at: when the marts were published; time-zone aware (UTC).
    """
    if not published:
        return
    params: dict[str, Any] = {
        "run_id": gate.run_id,
        "logical_date": gate.logical_date,
        "range_start": gate.start,
        "range_end": gate.end,
        "published_at": published_at,
        "bnpl_version": VERSION,
    }
    params |= row_params([{"mart": mart} for mart in published])
    compiled = compile_template(warehouse, "results/insert_published", {"rows": len(published)})
    warehouse.execute(compiled.sql, compiled.bind(params))


def read_last_published(warehouse: Warehouse) -> dict[str, datetime]:
    """When each mart was last published (:func:`write_publication`); empty if never."""
    compiled = compile_template(warehouse, "results/last_published")
    rows = warehouse.query(compiled.sql, compiled.bind({}))
    return dict(zip(rows["mart"], rows["published_at"], strict=True))
