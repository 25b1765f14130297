"""The failure log: every day an ingestion run could not load is a row of
``bnpl_audit.ingest_failures`` (declared in ``schemas/bnpl_audit/ingest_failures.json``,
partitioned by the failed day), written by the run's single writer after each group of days.

The ledger (``bnpl_raw.source_batches``) holds one row per *loaded* day and is replaced with the
day; a failure must not replace a good load, so failures are appended here instead and kept as
history after the day loads. Read it with ``bnpl.read_table("bnpl_audit.ingest_failures")``::

    SELECT transaction_date, error_type, error, failed_at, flow_run_id
    FROM bnpl_audit.ingest_failures ORDER BY failed_at DESC
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bnpl.quality.assertions import compile_template, row_params
from bnpl.warehouse.base import Warehouse

logger = logging.getLogger(__name__)

FAILURES_TABLE = ("bnpl_audit", "ingest_failures")


@dataclass(frozen=True)
class FailedDay:
    """One day a run could not load: its request and the error."""

    day: date
    batch_id: str
    request_body: str
    error_type: str
    error: str


def write_failures(
    warehouse: Warehouse,
    failures: Sequence[FailedDay],
    *,
    source_url: str,
    failed_at: datetime,
    flow_run_id: str | None,
    bnpl_version: str,
) -> None:
    """Append ``failures`` to the failure log in one statement (nothing for an empty list).

    Args:
        source_url: the source's identity (no credentials), as in the ledger.
        failed_at: when the failures were recorded; time-zone aware (UTC).
        flow_run_id: the Prefect flow run id, or None outside Prefect.
    """
    if not failures:
        return
    params: dict[str, Any] = {
        "source_url": source_url,
        "failed_at": failed_at,
        "flow_run_id": flow_run_id or "",
        "bnpl_version": bnpl_version,
    }
    params |= row_params(
        [
            {
                "transaction_date": f.day,
                "batch_id": f.batch_id,
                "request_body": f.request_body,
                "error_type": f.error_type,
                "error": f.error,
            }
            for f in failures
        ]
    )
    compiled = compile_template(warehouse, "ingest/insert_failures", {"rows": len(failures)})
    warehouse.execute(compiled.sql, compiled.bind(params))
    logger.info(
        "recorded %d failed day(s) in %s.%s: %s",
        len(failures),
        *FAILURES_TABLE,
        ", ".join(str(f.day) for f in failures),
    )
