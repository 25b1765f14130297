"""Sealing a live day: its live rows become day D of the raw tables through the same atomic day
replace as a batch day, with a ledger row whose source is ``live``; then the same build, gate
and publish. The steps are verbs of their own (the daily flow runs each as a task, in place of
fetch, prepare and load when ``BNPL_LIVE__SEAL_DAYS`` is set); :func:`seal_day` runs them all.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from bnpl import timeutil
from bnpl.errors import ConfigError
from bnpl.ingest import DayResult
from bnpl.ingest.failures import FailedDay, record_failed_rows
from bnpl.ingest.summary import failure_of
from bnpl.live.records import live_batch_id, live_request_body
from bnpl.live.seal import LiveDay, check_sealable, seal_batch
from bnpl.normalize import canonical_json
from bnpl.pipeline.publish import Published, write_audit_publish
from bnpl.settings import Settings
from bnpl.warehouse import DayBatch, Warehouse, names
from bnpl.warehouse.live import read_live_day

logger = logging.getLogger(__name__)


def read_live(
    warehouse: Warehouse,
    settings: Settings,
    day: date,
    *,
    now: datetime | None = None,
    force: bool = False,
) -> LiveDay:
    """Read day ``day`` of the live path for its seal, once its grace period is over.

    Raises:
        SealTooEarlyError: the day ended less than ``BNPL_LIVE__SEAL_GRACE_S`` ago (and not
            ``force``).
        ConfigError: no live event of the day was ever loaded.
    """
    started = timeutil.utc_now()
    check_sealable(day, now=now or started, grace_s=settings.live.seal_grace_s, force=force)
    rows, dead = read_live_day(warehouse, day)
    if rows.is_empty() and dead.is_empty():
        raise ConfigError(
            f"no live events for {day} in bnpl_raw.live_transactions or the dead letters: "
            "nothing to seal (is `bnpl live load` running?)"
        )
    return LiveDay(day, rows, dead, started, timeutil.utc_now())


def prepare_seal(settings: Settings, live: LiveDay, *, flow_run_id: str | None = None) -> DayBatch:
    """The day batch (frames and ledger row) of a read live day."""
    return seal_batch(
        live,
        generator=settings.source.generator,
        finished_at=timeutil.utc_now(),
        flow_run_id=flow_run_id,
    )


def load_seal(warehouse: Warehouse, batch: DayBatch) -> DayResult:
    """Replace the day in the raw tables and write its ledger row, atomically."""
    warehouse.load_day(batch)
    ledger = batch.ledger
    logger.info(
        "sealed %s: %d live rows, %d dead letters, %d customers",
        batch.day,
        ledger["records_loaded"],
        ledger["records_quarantined"],
        ledger["customers_loaded"],
    )
    return DayResult(
        day=batch.day,
        batch_id=batch.batch_id,
        records_received=ledger["records_received"],
        records_loaded=ledger["records_loaded"],
        records_quarantined=ledger["records_quarantined"],
        customers_loaded=ledger["customers_loaded"],
        attempts=1,
    )


def record_failed_seal(
    warehouse: Warehouse, day: date, exc: BaseException, *, flow_run_id: str | None
) -> None:
    """Append a seal of ``day`` that failed to the failure log, under the live day's batch id
    and request (``source_url`` ``live``), as :func:`~bnpl.ingest.record_failed_day` does for
    a fetched day; best effort."""
    failure = failure_of(day, exc)
    row = FailedDay(
        day=day,
        batch_id=live_batch_id(day),
        request_body=canonical_json(live_request_body(day)),
        error_type=failure.error_type,
        error=failure.error,
    )
    record_failed_rows(warehouse, [row], source_url=names.LIVE_SOURCE, flow_run_id=flow_run_id)


@dataclass(frozen=True)
class Sealed:
    """What :func:`seal_day` did: the day's load, then write-audit-publish."""

    loaded: DayResult
    published: Published


def seal_day(
    warehouse: Warehouse,
    settings: Settings,
    day: date,
    *,
    run_id: str,
    force: bool = False,
    now: datetime | None = None,
    flow_run_id: str | None = None,
) -> Sealed:
    """Seal live day ``day``: read it (after its grace period), replace the day in the raw
    tables with its ledger row, then build, gate and publish it as a batch day.

    On DuckDB the read and the replace share one hold of the file, so no loader batch falls
    between them. A seal of an already sealed day replaces it.

    Raises:
        SealTooEarlyError: too early (see :func:`read_live`); nothing was written.
        ConfigError: no live events for the day.
        QualityGateError: an error-level check failed; the day is loaded, the marts unchanged.
    """
    with warehouse.session():
        live = read_live(warehouse, settings, day, now=now, force=force)
        loaded = load_seal(warehouse, prepare_seal(settings, live, flow_run_id=flow_run_id))
    published = write_audit_publish(
        warehouse, settings, run_id=run_id, start=day, end=day, logical_date=day
    )
    return Sealed(loaded, published)
