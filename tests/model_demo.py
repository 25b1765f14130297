"""A small demo warehouse for the governance tests: seven months of the bundled simulator at 40
purchases a day, prepared like production and loaded through the adapter, with every model built
and published, so that labels have matured and out-of-time windows exist."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bnpl.calendar import plan_day
from bnpl.ingest import prepare_day
from bnpl.models import build_models, load_project, publish_models
from bnpl.normalize import canonical_json
from bnpl.settings import DuckDBSettings, PlanSettings
from bnpl.simulator.simulation import simulate
from bnpl.source.request import StreamRequest
from bnpl.warehouse.base import DayBatch
from bnpl.warehouse.duckdb import DuckDBWarehouse

FIRST, LAST = date(2024, 1, 1), date(2024, 7, 31)
PLAN = PlanSettings(seed=5, weekday_base_volume=40, weekend_base_volume=40, holiday_base_volume=40)
SOURCE = "simulator:bnpl/governance-test"
LOADED_AT = datetime(2024, 8, 1, 6, 0, tzinfo=UTC)


def build_demo(
    path: Path,
    first: date = FIRST,
    last: date = LAST,
    *,
    request_extra: dict[str, Any] | None = None,
) -> None:
    """Load ``first..last`` into a new DuckDB file at ``path`` and build and publish every model
    (``request_extra``: more simulator request fields, e.g. ``stable_customer_ids``)."""
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    try:
        warehouse.ensure_schema()
        day = first
        while day <= last:
            request = plan_day(day, PLAN, extra=request_extra)
            body = simulate(StreamRequest.model_validate(request.body))
            records = [e[len(b"data: ") :] for e in body.split(b"\n\n") if e.startswith(b"data: ")]
            prepared = prepare_day(
                records,
                request,
                source_identity=SOURCE,
                identity_scope="source",
                loaded_at=LOADED_AT,
            )
            stats = prepared.stats
            warehouse.load_day(
                DayBatch(
                    day=day,
                    batch_id=prepared.batch_id,
                    transactions=prepared.transactions,
                    customers=prepared.customers,
                    quarantine=prepared.quarantine,
                    ledger={
                        "batch_id": prepared.batch_id,
                        "transaction_date": day,
                        "source_url": SOURCE,
                        "generator": "bnpl",
                        "request_body": canonical_json(request.body),
                        "request_seed": request.body["seed"],
                        "identity_scope": "source",
                        "expected_records": stats.records_received,
                        "records_received": stats.records_received,
                        "records_loaded": stats.records_loaded,
                        "records_quarantined": stats.records_quarantined,
                        "customers_loaded": stats.customers_loaded,
                        "customers_changed_attributes": stats.customers_changed_attributes,
                        "unknown_fields": None,
                        "content_sha256": f"{stats.records_loaded:064d}",
                        "status": "loaded",
                        "attempts": 1,
                        "started_at": LOADED_AT,
                        "fetched_at": LOADED_AT,
                        "finished_at": LOADED_AT,
                        "flow_run_id": None,
                        "bnpl_version": "test",
                    },
                )
            )
            day += timedelta(days=1)
        result = build_models(warehouse, load_project(), audit=True)
        publish_models(warehouse, result.marts)
    finally:
        warehouse.close()
