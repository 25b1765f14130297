"""One day from the source to a prepared day, in a fetch worker (thread-safe, no writes)."""

from __future__ import annotations

import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bnpl.calendar import DayRequest
from bnpl.errors import SliceError
from bnpl.fanout import Deliver
from bnpl.ingest.prepare import PreparedDay, prepare_day
from bnpl.ingest.session import IngestSession
from bnpl.ingest.summary import DayFailure, failure_of
from bnpl.source.client import FetchedDay
from bnpl.timeutil import utc_now
from bnpl.warehouse import names


@dataclass(frozen=True)
class FetchInfo:
    """How a day's response was fetched (the ledger's fetch columns)."""

    content_sha256: str
    attempts: int
    started_at: datetime
    fetched_at: datetime


@dataclass(frozen=True)
class ReadyDay:
    """A fetched and prepared day, waiting for the writer. The raw records are not kept."""

    request: DayRequest
    prepared: PreparedDay
    fetch: FetchInfo


def prepare_fetched(session: IngestSession, request: DayRequest, fetched: FetchedDay) -> ReadyDay:
    """Split a fetched day into typed, validated frames (pure but for the clock; thread-safe).
    The one parse of the day's records; the quarantine threshold is the writer's
    (:func:`bnpl.ingest.load.admit_day`)."""
    prepared = prepare_day(
        fetched.records,
        request,
        source_identity=session.source_identity,
        identity_scope=session.identity_scope,
        loaded_at=utc_now(),
    )
    info = FetchInfo(
        fetched.content_sha256, fetched.attempts, fetched.started_at, fetched.fetched_at
    )
    return ReadyDay(request, prepared, info)


def fetch_and_prepare(session: IngestSession, request: DayRequest) -> ReadyDay:
    """Fetch one day from the source, then :func:`prepare_fetched` it (thread-safe).

    Raises:
        SourceError: the source failed after the client's retries.
    """
    return prepare_fetched(session, request, session.client.fetch_day(request))


def fetch_and_prepare_days(
    session: IngestSession, requests: Sequence[DayRequest], deliver: Deliver[ReadyDay]
) -> list[DayFailure]:
    """:func:`fetch_and_prepare` each day of ``requests`` in turn, handing each one to
    ``deliver(position, ready day or error)`` as soon as it is done; one day's failure does not
    stop the others. Returns the days that failed (also delivered)."""
    failed: list[DayFailure] = []
    for position, request in enumerate(requests):
        try:
            ready = fetch_and_prepare(session, request)
        except Exception as exc:
            failed.append(failure_of(request.day, exc))
            # the traceback's frames hold the day's records: the error may wait in a future
            traceback.clear_frames(exc.__traceback__)
            deliver(position, exc)
        else:
            deliver(position, ready)
            del ready  # the writer owns the day now
    return failed


def check_slice(requests: Sequence[DayRequest], failed: Sequence[DayFailure]) -> None:
    """Raise if any day of a slice failed to fetch or prepare (after every day was handed to
    the writer), so that the slice's Prefect task shows Failed, naming its days.

    Raises:
        SliceError: naming each failed day and its error.
    """
    if failed:
        detail = "; ".join(f"{f.day} ({f.error})" for f in failed)
        others = len(requests) - len(failed)
        raise SliceError(
            f"{len(failed)} of {len(requests)} days failed: {detail}; the run's summary and "
            f"{names.INGEST_FAILURES} have them"
            + (f", the other {others} day(s) went on to the writer" if others else ""),
            failed=[str(f.day) for f in failed],
        )
