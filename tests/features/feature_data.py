"""Fixture data of the feature tests: a few days of the bundled simulator with stable customer ids
(a small universe, so customers come back within days and weeks), prepared like production
(bnpl.ingest.prepare_day) and loaded through the warehouse adapter; plus the record surgery the
leakage tests need (keep the past, change or delete the future)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bnpl.calendar import DayRequest, plan_day
from bnpl.ingest import PreparedDay, prepare_day
from bnpl.models import Project, build_models, publish_models
from bnpl.normalize import canonical_json
from bnpl.settings import DuckDBSettings, PlanSettings
from bnpl.simulator.simulation import simulate
from bnpl.source.request import StreamRequest
from bnpl.warehouse.base import DayBatch
from bnpl.warehouse.duckdb import DuckDBWarehouse

SOURCE_IDENTITY = "simulator:bnpl/test"
LOADED_AT = datetime(2024, 7, 1, 6, 0, tzinfo=UTC)
UNIVERSE = {"stable_customer_ids": True, "customer_universe_size": 80, "customer_universe_seed": 3}
"""80 customers for ~2,400 purchases: every customer has a history within days."""
DAYS = (
    *(date(2024, 3, 1) + timedelta(days=i) for i in range(10)),
    date(2024, 3, 17),
    date(2024, 3, 24),
    date(2024, 3, 31),
    date(2024, 4, 14),
    date(2024, 5, 5),
    date(2024, 5, 26),
)
"""Ten consecutive days (rolling windows), then sparse days up to 12 weeks later, so labels of the
first weeks have matured by the last day and the ledger has gaps."""
BASE_PLAN = PlanSettings(
    seed=11, weekday_base_volume=150, weekend_base_volume=150, holiday_base_volume=150
)
ALT_PLAN = BASE_PLAN.model_copy(update={"seed": 12})
"""Another future for the same customers: the same universe, different purchases."""

Records = dict[date, list[bytes]]


def simulate_days(plan: PlanSettings, days: Sequence[date] = DAYS) -> Records:
    """Each day's records (``data: `` stripped) from the in-process simulator, one request a day."""
    records: Records = {}
    for day in days:
        body = simulate(StreamRequest.model_validate(plan_day(day, plan, extra=UNIVERSE).body))
        records[day] = [e[len(b"data: ") :] for e in body.split(b"\n\n") if e.startswith(b"data: ")]
    return records


def request_of(day: date) -> DayRequest:
    """The base world's request of ``day``: the batch id (and so every key) depends only on it."""
    return plan_day(day, BASE_PLAN, extra=UNIVERSE)


def prepare(day: date, records: Sequence[bytes]) -> PreparedDay:
    """One day prepared as production prepares it, as the base world's request of that day."""
    return prepare_day(
        records,
        request_of(day),
        source_identity=SOURCE_IDENTITY,
        identity_scope="source",
        loaded_at=LOADED_AT,
    )


def ledger_row(day: PreparedDay) -> dict[str, Any]:
    """A ``bnpl_raw.source_batches`` row for a prepared day."""
    stats = day.stats
    body = request_of(day.day).body
    return {
        "batch_id": day.batch_id,
        "transaction_date": day.day,
        "source_url": SOURCE_IDENTITY,
        "generator": "bnpl",
        "request_body": canonical_json(body),
        "request_seed": body["seed"],
        "identity_scope": day.identity_scope,
        "expected_records": stats.records_received,
        "records_received": stats.records_received,
        "records_loaded": stats.records_loaded,
        "records_quarantined": stats.records_quarantined,
        "customers_loaded": stats.customers_loaded,
        "customers_changed_attributes": stats.customers_changed_attributes,
        "unknown_fields": None,
        "content_sha256": f"{day.stats.records_loaded:064d}",
        "status": "loaded",
        "attempts": 1,
        "started_at": LOADED_AT,
        "fetched_at": LOADED_AT,
        "finished_at": LOADED_AT,
        "flow_run_id": None,
        "bnpl_version": "test",
    }


def load_records(path: Path, records: Records) -> DuckDBWarehouse:
    """A DuckDB warehouse at ``path`` with every day of ``records`` prepared and loaded."""
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    load_into(warehouse, records)
    return warehouse


def load_into(warehouse: DuckDBWarehouse, records: Records) -> None:
    """Prepare and load every day of ``records`` (each replaces its day)."""
    warehouse.ensure_schema()
    for day in sorted(records):
        prepared = prepare(day, records[day])
        assert prepared.stats.records_quarantined == 0, prepared.stats.quarantine_by_check
        warehouse.load_day(
            DayBatch(
                day=day,
                batch_id=prepared.batch_id,
                transactions=prepared.transactions,
                customers=prepared.customers,
                quarantine=prepared.quarantine,
                ledger=ledger_row(prepared),
            )
        )


def build(warehouse: DuckDBWarehouse, project: Project, selection: Sequence[str] = ()) -> None:
    """Build (write-audit-publish) the selected models over every loaded day."""
    result = build_models(warehouse, project, selection=selection, audit=True)
    publish_models(warehouse, result.marts)


# --- record surgery -------------------------------------------------------------------------------


def timestamp(record: bytes) -> datetime:
    """The record's ``_timestamp``."""
    return datetime.fromisoformat(json.loads(record)["_timestamp"])


def renumber(records: Sequence[bytes], first: int = 0) -> list[bytes]:
    """``records`` with ``_record_id`` and ``transaction_id`` running from ``first`` (the contract
    requires ``txn_%08d`` of a gapless ``_record_id``), everything else byte for byte."""
    out = []
    for i, record in enumerate(records, start=first):
        record = re.sub(
            rb'"transaction_id": "txn_\d{8}"', f'"transaction_id": "txn_{i:08d}"'.encode(), record
        )
        out.append(re.sub(rb'"_record_id": \d+', f'"_record_id": {i}'.encode(), record))
    return out


def future_changed(base: Records, alt: Records, t: datetime, *, delete: bool) -> Records:
    """The base world with everything after ``t`` deleted, or replaced by the other world's
    records (same customers, different purchases); everything at or before ``t`` is kept."""
    changed: Records = {}
    for day, records in base.items():
        past = [r for r in records if timestamp(r) <= t]
        if delete:
            changed[day] = past  # a day emptied by the cut is still a loaded (empty) day
            continue
        future = [r for r in alt[day] if timestamp(r) > t]
        changed[day] = past + renumber(future, first=len(past))
    return changed


def flip_labels(records: Records) -> Records:
    """Every record's outcome inverted, consistently (a default misses the first payment)."""

    def flip(record: bytes) -> bytes:
        defaulted = b'"will_default": true' in record
        record = record.replace(
            b'"will_default": true' if defaulted else b'"will_default": false',
            b'"will_default": false' if defaulted else b'"will_default": true',
        )
        return re.sub(
            rb'"days_to_first_missed_payment": (null|\d+)',
            b'"days_to_first_missed_payment": ' + (b"null" if defaulted else b"14"),
            record,
        )

    return {day: [flip(r) for r in rs] for day, rs in records.items()}
