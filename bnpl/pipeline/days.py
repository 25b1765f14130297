"""The ingest verbs: fetch a day, prepare it, load it; a whole day; a range of days."""

from __future__ import annotations

from datetime import date

from bnpl.calendar import DayRequest
from bnpl.ingest import (
    AdmittedDay,
    DayResult,
    IngestSession,
    admit_day,
    load_admitted,
    plan_range,
    prepare_fetched,
    record_failed_day,
    run_range,
)
from bnpl.settings import Settings
from bnpl.source.client import FetchedDay


def plan_day(settings: Settings, day: date) -> DayRequest:
    """The request for ``day`` (the same body a range run would send for it)."""
    (request,) = plan_range(settings, day, day)
    return request


def fetch_day(session: IngestSession, request: DayRequest) -> FetchedDay:
    """Fetch one day's records from the source (the client retries transient faults).

    Raises:
        SourceError: the source failed after the client's retries.
    """
    return session.client.fetch_day(request)


def prepare_day(
    session: IngestSession,
    request: DayRequest,
    fetched: FetchedDay,
    *,
    flow_run_id: str | None = None,
) -> AdmittedDay:
    """Prepare a fetched day: its one parse (normalise, key, Pandera contracts, split off the
    quarantine), then the quarantine threshold, checked once, and its ledger row.

    Raises:
        QuarantineThresholdError: too many rows quarantined; the day must not be written.
    """
    ready = prepare_fetched(session, request, fetched)
    return admit_day(session, ready, flow_run_id=flow_run_id)


def load_day(session: IngestSession, admitted: AdmittedDay) -> DayResult:
    """Replace the prepared day in the raw tables with its ledger row, atomically.

    Raises:
        WarehouseError: the load failed and was rolled back.
    """
    return load_admitted(session, admitted)


def ingest_day(
    session: IngestSession, request: DayRequest, *, flow_run_id: str | None = None
) -> DayResult:
    """Fetch, prepare and load one day, whatever the ledger holds; a day that fails is
    appended to ``bnpl_audit.ingest_failures`` before the error is raised.

    Raises:
        SourceError, QuarantineThresholdError, WarehouseError: the day was not loaded.
    """
    try:
        fetched = fetch_day(session, request)
        return load_day(session, prepare_day(session, request, fetched, flow_run_id=flow_run_id))
    except Exception as exc:
        record_failed_day(session, request, exc, flow_run_id=flow_run_id)
        raise


ingest_range = run_range
"""Ingest every day from ``start`` to ``end`` inclusive (skipping days the ledger holds for the
same request unless ``force``): fetched and prepared in parallel, in slices started by
``launch`` (default: a thread pool), loaded by the single writer; a failed day does not stop the
others and the summary lists it. The verb is :func:`bnpl.ingest.run_range` itself."""
