"""Fixture raw data for the model tests: the captured simtom response, prepared per day exactly as
production prepares it (bnpl.ingest.prepare_day), and loaded through the warehouse adapter."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from bnpl import pipeline
from bnpl.calendar import DayRequest, day_type
from bnpl.ingest import PreparedDay, prepare_day
from bnpl.models import BuildResult, Project
from bnpl.normalize import IdentityScope, canonical_json
from bnpl.quality.base import Check
from bnpl.settings import Settings
from bnpl.sqltext import SQL_DIR
from bnpl.warehouse.base import DayBatch, Warehouse

SOURCE_IDENTITY = "simulator:bnpl/test"
LOADED_AT = datetime(2024, 12, 1, 6, 0, tzinfo=UTC)
DAYS = (date(2024, 11, 28), date(2024, 11, 29), date(2024, 11, 30))
"""The captured days: Thanksgiving (39 records), Black Friday (407), a Saturday (240)."""


ISSUE_4_MODELS = frozenset(
    {
        "stg_bnpl_raw_transactions",
        "stg_bnpl_extracted_customers",
        "int_bnpl_calendar_days",
        "int_bnpl_transactions_enriched",
        "int_bnpl_customer_profiles",
        "mart_bnpl_transactions",
        "mart_bnpl_customers",
        "mart_bnpl_ml_features",
        "mart_bnpl_daily_volume",
    }
)
"""The runner's own models; others (e.g. a training set whose labels mature after 56 days) may be
empty on three fixture days."""


def split_days(body: bytes) -> dict[date, list[bytes]]:
    """The captured 3-day response as each day's records (``data: `` prefix stripped)."""
    days: dict[date, list[bytes]] = defaultdict(list)
    for event in body.split(b"\n\n"):
        if event.startswith(b"data: "):
            record = event[len(b"data: ") :]
            days[date.fromisoformat(json.loads(record)["_timestamp"][:10])].append(record)
    return dict(days)


def prepare(body: bytes, scope: IdentityScope) -> list[PreparedDay]:
    """Each captured day prepared as a one-day request of its own."""
    prepared = []
    for day, records in sorted(split_days(body).items()):
        request_body: dict[str, Any] = {
            "start_date": day.isoformat(),
            "end_date": day.isoformat(),
            "base_daily_volume": 200,
            "seed": 42,
        }
        if scope == "source":
            request_body["stable_customer_ids"] = True
        request = DayRequest(day, day_type(day), request_body, len(records))
        prepared.append(
            prepare_day(
                records,
                request,
                source_identity=SOURCE_IDENTITY,
                identity_scope=scope,
                loaded_at=LOADED_AT,
            )
        )
    return prepared


def prepare_subset(body: bytes, day: date, keep: set[int], *, scope: IdentityScope) -> PreparedDay:
    """``day`` prepared from only the records at the positions in ``keep`` (renumbered), from a
    request of its own: a reload of the day with different content."""
    records = [json.loads(r) for r in split_days(body)[day]]
    chosen = [r for i, r in enumerate(records) if i in keep]
    for index, record in enumerate(chosen):
        record["_record_id"] = index
        record["transaction_id"] = f"txn_{index:08d}"
    request_body: dict[str, Any] = {"start_date": day.isoformat(), "subset": len(chosen)}
    if scope == "source":
        request_body["stable_customer_ids"] = True
    request = DayRequest(day, day_type(day), request_body, len(chosen))
    return prepare_day(
        [json.dumps(r).encode() for r in chosen],
        request,
        source_identity=SOURCE_IDENTITY,
        identity_scope=scope,
        loaded_at=LOADED_AT,
    )


def drifted_day(body: bytes) -> PreparedDay:
    """Thanksgiving with one more record: customer cust_000001 again, in another state (simtom
    reuses ids with new attributes, contract section 4), so its id has two fingerprints."""
    day = DAYS[0]
    records = split_days(body)[day]
    extra = json.loads(records[0])
    extra["_record_id"] = len(records)
    extra["transaction_id"] = f"txn_{len(records):08d}"
    extra["customer_state"] = "VT" if extra["customer_state"] != "VT" else "WY"
    request_body = {"start_date": day.isoformat(), "end_date": day.isoformat(), "drift": True}
    request = DayRequest(day, day_type(day), request_body, len(records) + 1)
    return prepare_day(
        [*records, json.dumps(extra).encode()],
        request,
        source_identity=SOURCE_IDENTITY,
        identity_scope="batch",
        loaded_at=LOADED_AT,
    )


def ledger_row(day: PreparedDay, *, expected: int | None = None) -> dict[str, Any]:
    """A ``bnpl_raw.source_batches`` row for a prepared day."""
    stats = day.stats
    return {
        "batch_id": day.batch_id,
        "transaction_date": day.day,
        "source_url": SOURCE_IDENTITY,
        "generator": "bnpl",
        # the captured response's request (base 200, seed 42): the quality gate's volume check
        # recomputes each day's count from it (contract 3.1: the count of a day does not depend
        # on the range it was requested in)
        "request_body": canonical_json(
            {"day": day.day.isoformat(), "base_daily_volume": 200, "seed": 42}
        ),
        "request_seed": 42,
        "identity_scope": day.identity_scope,
        "expected_records": stats.records_received if expected is None else expected,
        "records_received": stats.records_received,
        "records_loaded": stats.records_loaded,
        "records_quarantined": stats.records_quarantined,
        "customers_loaded": stats.customers_loaded,
        "customers_changed_attributes": stats.customers_changed_attributes,
        "unknown_fields": None,
        "content_sha256": "0" * 64,
        "status": "loaded",
        "attempts": 1,
        "started_at": LOADED_AT,
        "fetched_at": LOADED_AT,
        "finished_at": LOADED_AT,
        "flow_run_id": None,
        "bnpl_version": "test",
    }


def load(warehouse: Warehouse, days: list[PreparedDay]) -> None:
    """Replace each day in the raw tables with its ledger row."""
    warehouse.ensure_schema()
    for day in days:
        warehouse.load_day(
            DayBatch(
                day=day.day,
                batch_id=day.batch_id,
                transactions=day.transactions,
                customers=day.customers,
                quarantine=day.quarantine,
                ledger=ledger_row(day),
            )
        )


def copy_project(root: Path, edits: dict[str, tuple[str, str]]) -> Path:
    """A copy of the repository's ``sql/`` under ``root`` with ``{file: (old, new)}`` replaced."""
    target = root / "sql"
    shutil.copytree(SQL_DIR, target, ignore=shutil.ignore_patterns("assertions"))
    for name, (old, new) in edits.items():
        path = target / name
        text = path.read_text()
        assert old in text, f"{old!r} not in {name}"
        path.write_text(text.replace(old, new))
    return target


FLOAT_DECIMALS = 10
"""Float columns are compared rounded: SUM and AVG of FLOAT64 depend on the order rows are added
in (DuckDB's threads, BigQuery's workers), so two correct builds can differ in the last bits."""


def content(warehouse: Warehouse, name: str) -> pl.DataFrame:
    """``dataset.table`` with floats rounded and rows sorted: equal frames, equal contents."""
    frame = warehouse.read_table(name).with_columns(pl.col(pl.Float64).round(FLOAT_DECIMALS))
    return frame.sort(frame.columns, nulls_last=True)


def checksum(warehouse: Warehouse, name: str) -> tuple[int, int]:
    """(row count, order-independent hash of :func:`content`) of ``dataset.table``."""
    frame = content(warehouse, name)
    return frame.height, int(frame.hash_rows(seed=7).sum())


def write_audit_publish(
    warehouse: Warehouse,
    project: Project,
    *,
    checks: tuple[Check, ...] = (),
    **kwargs: Any,
) -> BuildResult:
    """:func:`bnpl.pipeline.write_audit_publish` on ``project`` with ``checks`` only (none by
    default: the model tests test building and publishing; tests/quality tests the gate's checks).
    Returns what was built; raises what the verb raises."""
    published = pipeline.write_audit_publish(
        warehouse, Settings(), run_id="model-tests", project=project, checks=checks, **kwargs
    )
    return published.build
