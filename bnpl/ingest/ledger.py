"""The ledger: ``bnpl_raw.source_batches``, one row per loaded day."""

from __future__ import annotations

import json
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from bnpl.normalize import canonical_json
from bnpl.timeutil import utc_now
from bnpl.version import VERSION
from bnpl.warehouse import Warehouse, names

if TYPE_CHECKING:
    from bnpl.ingest.fetch import ReadyDay
    from bnpl.ingest.session import IngestSession


def read_ledger(warehouse: Warehouse, start: date, end: date) -> dict[date, str]:
    """``batch_id`` of each day from ``start`` to ``end`` that the ledger holds."""
    ledger = warehouse.read_table(str(names.LEDGER)).filter(
        pl.col("transaction_date").is_between(start, end)
    )
    return dict(zip(ledger["transaction_date"], ledger["batch_id"], strict=True))


def ledger_row(
    session: IngestSession, ready: ReadyDay, *, flow_run_id: str | None
) -> dict[str, Any]:
    """The ``bnpl_raw.source_batches`` row of a ready day (``finished_at`` is now)."""
    prepared, request, stats = ready.prepared, ready.request, ready.prepared.stats
    unknown = sorted(stats.unknown_fields)
    return {
        "batch_id": prepared.batch_id,
        "transaction_date": request.day,
        "source_url": session.source_identity,
        "generator": session.settings.source.generator,
        "request_body": canonical_json(request.body),
        "request_seed": request.body.get("seed"),
        "identity_scope": session.identity_scope,
        "expected_records": request.expected_volume,
        "records_received": stats.records_received,
        "records_loaded": stats.records_loaded,
        "records_quarantined": stats.records_quarantined,
        "customers_loaded": stats.customers_loaded,
        "customers_changed_attributes": stats.customers_changed_attributes,
        "unknown_fields": json.dumps(unknown) if unknown else None,
        "content_sha256": ready.fetch.content_sha256,
        "status": "loaded",
        "attempts": ready.fetch.attempts,
        "started_at": ready.fetch.started_at,
        "fetched_at": ready.fetch.fetched_at,
        "finished_at": utc_now(),
        "flow_run_id": flow_run_id,
        "bnpl_version": VERSION,
    }
