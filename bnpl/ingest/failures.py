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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from bnpl.calendar import DayRequest
from bnpl.errors import BnplError
from bnpl.ingest.session import IngestSession
from bnpl.ingest.summary import DayFailure, describe, failure_of
from bnpl.normalize import batch_id as compute_batch_id
from bnpl.normalize import canonical_json
from bnpl.quality.assertions import compile_template, row_params
from bnpl.timeutil import utc_now
from bnpl.version import VERSION
from bnpl.warehouse import names
from bnpl.warehouse.base import Warehouse

logger = logging.getLogger(__name__)


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
        "recorded %d failed day(s) in %s: %s",
        len(failures),
        names.INGEST_FAILURES,
        ", ".join(str(f.day) for f in failures),
    )


def record_failed_day(
    session: IngestSession, request: DayRequest, exc: BaseException, *, flow_run_id: str | None
) -> None:
    """:func:`record_failures` for one day that a run outside :func:`run_range` (the daily flow)
    could not load."""
    failure = failure_of(request.day, exc)
    record_failures(session, [failure], {request.day: request}, flow_run_id=flow_run_id)


def record_failures(
    session: IngestSession,
    failures: Sequence[DayFailure],
    requests: Mapping[date, DayRequest],
    *,
    flow_run_id: str | None,
) -> None:
    """Append failed days to ``bnpl_audit.ingest_failures`` (see :func:`write_failures`).

    Best effort: the failures are already logged and in the run's summary, so a warehouse that
    cannot take the rows (the reason a day failed, often) is logged, not raised.
    """
    rows = [
        FailedDay(
            day=f.day,
            batch_id=compute_batch_id(session.source_identity, requests[f.day].body),
            request_body=canonical_json(requests[f.day].body),
            error_type=f.error_type,
            error=f.error,
        )
        for f in failures
    ]
    record_failed_rows(
        session.warehouse, rows, source_url=session.source_identity, flow_run_id=flow_run_id
    )


def record_failed_rows(
    warehouse: Warehouse, rows: Sequence[FailedDay], *, source_url: str, flow_run_id: str | None
) -> None:
    """:func:`write_failures` now, best effort (a failure to write is logged, not raised)."""
    try:
        write_failures(
            warehouse,
            rows,
            source_url=source_url,
            failed_at=utc_now(),
            flow_run_id=flow_run_id,
            bnpl_version=VERSION,
        )
    except Exception as exc:
        logger.error(
            "could not record %d failed day(s) in %s: %s",
            len(rows),
            names.INGEST_FAILURES,
            describe(exc),
        )


def log_failure(day: date, exc: Exception) -> None:
    """One line for bnpl's own errors; the traceback for anything else (a bug)."""
    if isinstance(exc, BnplError):
        logger.error("%s failed: %s", day, describe(exc))
    else:
        logger.error("%s failed unexpectedly", day, exc_info=exc)
