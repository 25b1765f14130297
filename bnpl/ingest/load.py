"""The single writer: the quarantine policy, then each day replaced whole with its ledger row."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bnpl.contracts import check_ledger_row
from bnpl.errors import QuarantineThresholdError, WarehouseLockedError
from bnpl.ingest.failures import log_failure
from bnpl.ingest.fetch import ReadyDay
from bnpl.ingest.ledger import ledger_row
from bnpl.ingest.prepare import PreparedDay
from bnpl.ingest.session import IngestSession
from bnpl.ingest.summary import DayFailure, DayResult, failure_of
from bnpl.ingest.volume import check_volume
from bnpl.warehouse import DayBatch

logger = logging.getLogger(__name__)


def check_quarantine(prepared: PreparedDay, threshold: float) -> None:
    """Raise if the day's quarantined share of received records exceeds ``threshold``."""
    stats = prepared.stats
    rate = prepared.quarantine_rate
    if rate <= threshold:
        return
    top = sorted(stats.quarantine_by_check.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    checks = ", ".join(f"{name} ({n})" for name, n in top) or "none recorded"
    raise QuarantineThresholdError(
        f"{prepared.day}: {stats.records_quarantined} of {stats.records_received} records "
        f"quarantined ({rate:.2%} > threshold {threshold:.2%}); top checks: {checks}; nothing "
        "was written for this day. Inspect the source, or raise BNPL_INGEST__QUARANTINE_THRESHOLD"
    )


@dataclass(frozen=True)
class AdmittedDay:
    """A ready day that passed its quarantine threshold, as the batch the writer replaces."""

    ready: ReadyDay
    batch: DayBatch

    def result(self) -> DayResult:
        """The day's figures once loaded."""
        stats = self.ready.prepared.stats
        return DayResult(
            day=self.ready.request.day,
            batch_id=self.ready.prepared.batch_id,
            records_received=stats.records_received,
            records_loaded=stats.records_loaded,
            records_quarantined=stats.records_quarantined,
            customers_loaded=stats.customers_loaded,
            attempts=self.ready.fetch.attempts,
        )


def admit_day(
    session: IngestSession, ready: ReadyDay, *, flow_run_id: str | None = None
) -> AdmittedDay:
    """The quarantine policy, checked once per day: the warehouse batch of a ready day (its
    ledger row checked against its contract) if its quarantined share is within
    ``settings.ingest.quarantine_threshold``.

    Raises:
        VolumeMismatchError: the reply held another number of records than the request implies.
        QuarantineThresholdError: too many rows quarantined; the day must not be written.
    """
    prepared, stats = ready.prepared, ready.prepared.stats
    check_volume(ready.request, stats.records_received, session.settings)
    check_quarantine(prepared, session.settings.ingest.quarantine_threshold)
    ledger = ledger_row(session, ready, flow_run_id=flow_run_id)
    check_ledger_row(ledger)
    batch = DayBatch(
        day=ready.request.day,
        batch_id=prepared.batch_id,
        transactions=prepared.transactions,
        customers=prepared.customers,
        quarantine=prepared.quarantine,
        ledger=ledger,
    )
    return AdmittedDay(ready, batch)


def load_admitted(session: IngestSession, admitted: AdmittedDay) -> DayResult:
    """Replace the day in the raw tables and write its ledger row, atomically.

    Raises:
        WarehouseError: the load failed and was rolled back.
    """
    session.warehouse.load_day(admitted.batch)
    return admitted.result()


def load_group(
    session: IngestSession, readies: Sequence[ReadyDay], *, flow_run_id: str | None = None
) -> tuple[list[DayResult], list[DayFailure]]:
    """Admit several ready days (:func:`admit_day`) and load those admitted with one
    :meth:`~bnpl.warehouse.base.Warehouse.load_days` call (one transaction on DuckDB); report
    each day's outcome.

    A day over its quarantine threshold fails alone and is not written. If the group's load
    fails, each day is loaded on its own, so that one day's problem fails that day only.

    Raises:
        WarehouseLockedError: another process kept the warehouse file past the lock timeout.
    """
    failures: list[DayFailure] = []
    accepted: list[AdmittedDay] = []
    for ready in readies:
        try:
            accepted.append(admit_day(session, ready, flow_run_id=flow_run_id))
        except Exception as exc:
            log_failure(ready.request.day, exc)
            failures.append(failure_of(ready.request.day, exc))
    if not accepted:
        return [], failures
    try:
        session.warehouse.load_days([admitted.batch for admitted in accepted])
    except WarehouseLockedError:
        raise
    except Exception as exc:
        if len(accepted) == 1:
            log_failure(accepted[0].batch.day, exc)
            return [], [*failures, failure_of(accepted[0].batch.day, exc)]
        logger.warning(
            "loading %d days at once failed (%s); loading them one by one", len(accepted), exc
        )
        loaded: list[DayResult] = []
        for admitted in accepted:
            more, failed = _load_alone(session, admitted)
            loaded += more
            failures += failed
        return loaded, failures
    return [admitted.result() for admitted in accepted], failures


def _load_alone(
    session: IngestSession, admitted: AdmittedDay
) -> tuple[list[DayResult], list[DayFailure]]:
    try:
        session.warehouse.load_days([admitted.batch])
    except WarehouseLockedError:
        raise
    except Exception as exc:
        log_failure(admitted.batch.day, exc)
        return [], [failure_of(admitted.batch.day, exc)]
    return [admitted.result()], []
