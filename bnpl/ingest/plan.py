"""Plan and skip: one request per day, and the days the ledger already holds."""

from __future__ import annotations

from datetime import date

from bnpl.calendar import DayRequest, plan_requests
from bnpl.ingest.ledger import read_ledger
from bnpl.ingest.session import IngestSession
from bnpl.normalize import batch_id as compute_batch_id
from bnpl.settings import Settings


def plan_range(settings: Settings, start: date, end: date) -> list[DayRequest]:
    """One request per day from ``start`` to ``end`` inclusive.

    Raises:
        ConfigError: ``end`` is before ``start``.
    """
    extra = {"stable_customer_ids": True} if settings.source.stable_customer_ids else None
    return plan_requests(start, end, settings.plan, extra=extra)


def select_pending(
    session: IngestSession, requests: list[DayRequest], *, force: bool = False
) -> tuple[list[DayRequest], list[date]]:
    """Split ``requests`` into days to ingest and days the ledger already holds for the same
    request from the same source (skipped unless ``force``)."""
    if force or not requests:
        return list(requests), []
    held = read_ledger(session.warehouse, requests[0].day, requests[-1].day)
    todo: list[DayRequest] = []
    skipped: list[date] = []
    for request in requests:
        if held.get(request.day) == compute_batch_id(session.source_identity, request.body):
            skipped.append(request.day)
        else:
            todo.append(request)
    return todo, skipped
