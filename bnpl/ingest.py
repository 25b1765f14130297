"""The ingestion engine: days from the source into the raw tables, idempotently.

Plain functions, no orchestrator. A run is::

    with open_session(settings) as session:              # source, client and warehouse, once
        summary = run_range(session, start, end)          # plan, skip, fetch ‖ prepare, load

* :func:`plan_range` — one :class:`~bnpl.calendar.DayRequest` per day (``start``..``end``,
  inclusive; entry points cap a run at 366 days, see :func:`bnpl.calendar.check_ingest_range`).
* :func:`select_pending` — days whose ledger row (``bnpl_raw.source_batches``) already holds the
  same ``batch_id`` are skipped unless ``force``.
* :func:`fetch_and_prepare` — I/O then pure work for one day; safe to run in parallel threads.
  :func:`fetch_and_prepare_days` does a slice of consecutive days one after the other and hands
  each day over as soon as it is ready (one thread-pool job or one Prefect task per slice).
* :func:`load_group` — the quarantine threshold check of each day, then one
  :meth:`~bnpl.warehouse.base.Warehouse.load_days` for the days that passed (each day replaced
  whole: delete day D in every raw table, insert, write the ledger row; on DuckDB the group is one
  transaction). Called from one thread only: the single writer. :func:`load_prepared` is the same
  for one day.
* :func:`run_range` — the loop: fetch in parallel, a slice of days per job (a thread pool here,
  Prefect tasks in ``flows/ingest.py``), load the days that completed while the writer was busy
  as one group, keep going when a day fails, and return an :class:`IngestSummary`.
"""

from __future__ import annotations

import json
import logging
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import polars as pl

from bnpl.calendar import DayRequest, plan_requests
from bnpl.contracts import PreparedDay, check_ledger_row, prepare_day
from bnpl.errors import (
    BnplError,
    ConfigError,
    QuarantineThresholdError,
    SliceError,
    WarehouseLockedError,
)
from bnpl.fanout import (
    Deliver,
    Launch,
    SlicedSubmit,
    iter_completed,
    iter_completed_groups,
)
from bnpl.ingest_failures import FailedDay, write_failures
from bnpl.ingest_summary import DayFailure, DayResult, IngestSummary, failure_message
from bnpl.ingest_volume import check_volume
from bnpl.normalize import IdentityScope, canonical_json
from bnpl.normalize import batch_id as compute_batch_id
from bnpl.settings import Settings
from bnpl.source import SIMULATOR_IDENTITY
from bnpl.source.client import DaySource, SourceClient
from bnpl.timeutil import utc_now
from bnpl.warehouse import DayBatch, Warehouse, open_warehouse

__all__ = [
    "DayFailure",
    "DayResult",
    "FetchInfo",
    "IngestSession",
    "IngestSummary",
    "LaunchDays",
    "ReadyDay",
    "check_quarantine",
    "check_slice",
    "failure_message",
    "fetch_and_prepare",
    "fetch_and_prepare_days",
    "iter_completed",
    "ledger_row",
    "load_group",
    "load_prepared",
    "open_session",
    "plan_range",
    "preflight",
    "read_ledger",
    "record_failed_day",
    "record_failures",
    "run_range",
    "select_pending",
    "source_identity_of_url",
]

logger = logging.getLogger(__name__)

GROUP_DAYS = 32
"""Most days one warehouse load takes at once: the days that completed while the writer was
busy with the previous load."""

GROUP_WINDOW = 16
"""Days in flight or waiting for the writer, at least (twice the concurrency, or concurrency ×
days per task, if that is more; see :data:`MAX_WINDOW`), besides the group being loaded: room
for groups to form, bounded memory (a 5,000-row day is a few MB of frames)."""

MAX_WINDOW = 128
"""Most days in flight or waiting for the writer (plus up to days per task - 1 that a running
slice prepares ahead). Concurrency × days per task above this leaves some workers idle rather
than holding hundreds of prepared days when the writer is slower than the fetchers."""


# --- the source seam ----------------------------------------------------------------------------


def source_identity_of_url(url: str) -> str:
    """A configured source's identity: its URL normalised, without credentials.

    Scheme and host are lower-cased, a default port and a trailing slash are dropped, and user
    info, query and fragment are removed, so ``HTTP://u:p@Simtom:80/`` is ``http://simtom``.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"BNPL_SOURCE__URL={url!r} is not an http(s) URL; e.g. http://127.0.0.1:8000"
        )
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def preflight(settings: Settings) -> None:
    """Check what a run needs before it starts anything: the source URL, if one is set, and the
    warehouse (created with its tables if missing).

    Raises:
        ConfigError: naming the ``BNPL_`` variable to fix.
    """
    if settings.source.url is not None:
        source_identity_of_url(settings.source.url)
    warehouse = open_warehouse(settings)
    try:
        warehouse.ensure_schema()
    finally:
        warehouse.close()


@dataclass(frozen=True)
class IngestSession:
    """What a run needs, built once: settings, the source and its identity, the warehouse.

    Attributes:
        source_identity: ``simulator:bnpl/<version>`` for the bundled simulator, else the
            normalised URL; it is hashed into every ``batch_id`` and stored as ``source_url``.
        identity_scope: ``source`` when customer ids are stable across requests, else ``batch``.
    """

    settings: Settings
    source_identity: str
    identity_scope: IdentityScope
    client: DaySource
    warehouse: Warehouse


@contextmanager
def open_session(settings: Settings, *, client: DaySource | None = None) -> Iterator[IngestSession]:
    """Open the warehouse (creating its tables), then the source, for one run.

    With ``settings.source.url`` unset the bundled simulator is started on a free 127.0.0.1 port
    and stopped at the end. ``client`` replaces the HTTP client (tests); the identity still follows
    the settings.

    Raises:
        ConfigError: the warehouse path is unusable or the source URL is invalid (nothing started).
    """
    scope: IdentityScope = "source" if settings.source.stable_customer_ids else "batch"
    with ExitStack() as stack:
        warehouse = open_warehouse(settings)
        stack.callback(warehouse.close)
        warehouse.ensure_schema()
        if settings.source.url is not None:
            identity = source_identity_of_url(settings.source.url)
            base_url = settings.source.url
        else:
            identity = SIMULATOR_IDENTITY
            base_url = ""
        if client is None:
            if settings.source.url is None:
                from bnpl.source.server import serve_in_background

                simulator = settings.simulator.model_copy(update={"port": 0})
                base_url = stack.enter_context(serve_in_background(simulator))
                logger.info("started the bundled simulator at %s", base_url)
            client = stack.enter_context(_open_client(settings, base_url))
        yield IngestSession(settings, identity, scope, client, warehouse)


@contextmanager
def _open_client(settings: Settings, base_url: str) -> Iterator[DaySource]:
    client = SourceClient(settings.source, base_url=base_url)
    try:
        yield client
    finally:
        client.close()


# --- plan and skip ------------------------------------------------------------------------------


def plan_range(settings: Settings, start: date, end: date) -> list[DayRequest]:
    """One request per day from ``start`` to ``end`` inclusive.

    Raises:
        ConfigError: ``end`` is before ``start``.
    """
    extra = {"stable_customer_ids": True} if settings.source.stable_customer_ids else None
    return plan_requests(start, end, settings.plan, extra=extra)


def read_ledger(warehouse: Warehouse, start: date, end: date) -> dict[date, str]:
    """``batch_id`` of each day from ``start`` to ``end`` that the ledger holds."""
    ledger = warehouse.read_table("bnpl_raw.source_batches").filter(
        pl.col("transaction_date").is_between(start, end)
    )
    return dict(zip(ledger["transaction_date"], ledger["batch_id"], strict=True))


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


# --- one day ------------------------------------------------------------------------------------


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


def fetch_and_prepare(session: IngestSession, request: DayRequest) -> ReadyDay:
    """Fetch one day from the source and split it into typed, validated frames (thread-safe).

    Raises:
        SourceError: the source failed after the client's retries.
    """
    fetched = session.client.fetch_day(request)
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
            failed.append(_failure(request.day, exc))
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
            "bnpl_audit.ingest_failures have them"
            + (f", the other {others} day(s) went on to the writer" if others else ""),
            failed=[str(f.day) for f in failed],
        )


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
        "bnpl_version": _bnpl_version(),
    }


def _day_batch(session: IngestSession, ready: ReadyDay, *, flow_run_id: str | None) -> DayBatch:
    """The warehouse batch of a ready day, after its quarantine threshold check.

    Raises:
        VolumeMismatchError: the reply held another number of records than the request implies.
        QuarantineThresholdError: too many rows quarantined; the day must not be written.
    """
    prepared, stats = ready.prepared, ready.prepared.stats
    check_volume(ready.request, stats.records_received, session.settings)
    check_quarantine(prepared, session.settings.ingest.quarantine_threshold)
    ledger = ledger_row(session, ready, flow_run_id=flow_run_id)
    check_ledger_row(ledger)
    return DayBatch(
        day=ready.request.day,
        batch_id=prepared.batch_id,
        transactions=prepared.transactions,
        customers=prepared.customers,
        quarantine=prepared.quarantine,
        ledger=ledger,
    )


def _result(ready: ReadyDay) -> DayResult:
    stats = ready.prepared.stats
    return DayResult(
        day=ready.request.day,
        batch_id=ready.prepared.batch_id,
        records_received=stats.records_received,
        records_loaded=stats.records_loaded,
        records_quarantined=stats.records_quarantined,
        customers_loaded=stats.customers_loaded,
        attempts=ready.fetch.attempts,
    )


def load_prepared(
    session: IngestSession, ready: ReadyDay, *, flow_run_id: str | None = None
) -> DayResult:
    """Check the quarantine threshold, then replace the day and write its ledger row atomically.

    Raises:
        QuarantineThresholdError: too many rows quarantined; nothing is written for the day.
        WarehouseError: the load failed and was rolled back.
    """
    session.warehouse.load_day(_day_batch(session, ready, flow_run_id=flow_run_id))
    return _result(ready)


def load_group(
    session: IngestSession, readies: Sequence[ReadyDay], *, flow_run_id: str | None = None
) -> tuple[list[DayResult], list[DayFailure]]:
    """Load several ready days with one :meth:`~bnpl.warehouse.base.Warehouse.load_days` call
    (one transaction on DuckDB) and report each day's outcome.

    A day over its quarantine threshold fails alone and is not written. If the group's load
    fails, each day is loaded on its own, so that one day's problem fails that day only.

    Raises:
        WarehouseLockedError: another process kept the warehouse file past the lock timeout.
    """
    failures: list[DayFailure] = []
    accepted: list[tuple[ReadyDay, DayBatch]] = []
    for ready in readies:
        try:
            accepted.append((ready, _day_batch(session, ready, flow_run_id=flow_run_id)))
        except Exception as exc:
            _log_failure(ready.request.day, exc)
            failures.append(_failure(ready.request.day, exc))
    if not accepted:
        return [], failures
    try:
        session.warehouse.load_days([batch for _, batch in accepted])
    except WarehouseLockedError:
        raise
    except Exception as exc:
        if len(accepted) == 1:
            _log_failure(accepted[0][0].request.day, exc)
            return [], [*failures, _failure(accepted[0][0].request.day, exc)]
        logger.warning(
            "loading %d days at once failed (%s); loading them one by one", len(accepted), exc
        )
        loaded: list[DayResult] = []
        for ready, batch in accepted:
            more, failed = _load_alone(session, ready, batch)
            loaded += more
            failures += failed
        return loaded, failures
    return [_result(ready) for ready, _ in accepted], failures


def _load_alone(
    session: IngestSession, ready: ReadyDay, batch: DayBatch
) -> tuple[list[DayResult], list[DayFailure]]:
    try:
        session.warehouse.load_days([batch])
    except WarehouseLockedError:
        raise
    except Exception as exc:
        _log_failure(ready.request.day, exc)
        return [], [_failure(ready.request.day, exc)]
    return [_result(ready)], []


@cache
def _bnpl_version() -> str:
    try:
        return version("bnpl")
    except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "0+unknown"


# --- the run ------------------------------------------------------------------------------------


LaunchDays = Launch[DayRequest, ReadyDay]
"""Starts :func:`fetch_and_prepare_days` for a slice of requests somewhere else (a thread pool,
a Prefect task) with the given ``deliver``, and returns the slice's future."""


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _failure(day: date, exc: BaseException) -> DayFailure:
    return DayFailure(day, _describe(exc), type(exc).__name__)


def record_failed_day(
    session: IngestSession, request: DayRequest, exc: BaseException, *, flow_run_id: str | None
) -> None:
    """:func:`record_failures` for one day that a run outside :func:`run_range` (the daily flow)
    could not load."""
    failure = _failure(request.day, exc)
    record_failures(session, [failure], {request.day: request}, flow_run_id=flow_run_id)


def record_failures(
    session: IngestSession,
    failures: Sequence[DayFailure],
    requests: Mapping[date, DayRequest],
    *,
    flow_run_id: str | None,
) -> None:
    """Append failed days to ``bnpl_audit.ingest_failures`` (see :mod:`bnpl.ingest_failures`).

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
    try:
        write_failures(
            session.warehouse,
            rows,
            source_url=session.source_identity,
            failed_at=utc_now(),
            flow_run_id=flow_run_id,
            bnpl_version=_bnpl_version(),
        )
    except Exception as exc:
        logger.error(
            "could not record %d failed day(s) in bnpl_audit.ingest_failures: %s",
            len(rows),
            _describe(exc),
        )


def _log_failure(day: date, exc: Exception) -> None:
    """One line for bnpl's own errors; the traceback for anything else (a bug)."""
    if isinstance(exc, BnplError):
        logger.error("%s failed: %s", day, _describe(exc))
    else:
        logger.error("%s failed unexpectedly", day, exc_info=exc)


def run_range(
    session: IngestSession,
    start: date,
    end: date,
    *,
    force: bool = False,
    concurrency: int | None = None,
    days_per_task: int | None = None,
    launch: LaunchDays | None = None,
    flow_run_id: str | None = None,
) -> IngestSummary:
    """Ingest every day from ``start`` to ``end`` inclusive and summarise.

    Days are fetched and prepared ``concurrency`` at a time (default
    ``settings.ingest.concurrency``), in slices of ``days_per_task`` consecutive days (default
    ``settings.ingest.days_per_task``) started by ``launch`` (default: a thread pool of
    ``concurrency`` workers), and loaded in this thread as they complete. A day that fails
    (source, contract, quarantine threshold) is recorded and the others go on; the summary lists
    every failure.

    Raises:
        ConfigError: ``end`` is before ``start``.
        WarehouseLockedError: another process kept the warehouse file past the lock timeout.
    """
    started = time.monotonic()
    workers = session.settings.ingest.concurrency if concurrency is None else concurrency
    if workers < 1:
        raise ConfigError(f"concurrency {workers} is not a positive number of days in parallel")
    per_task = session.settings.ingest.days_per_task if days_per_task is None else days_per_task
    if per_task < 1:
        raise ConfigError(f"days per task {per_task} is not a positive number of days")
    todo, skipped = select_pending(session, plan_range(session.settings, start, end), force=force)
    logger.info(
        "ingesting %s..%s: %d days to load, %d already loaded, %d in parallel",
        start,
        end,
        len(todo),
        len(skipped),
        workers,
    )
    loaded: list[DayResult] = []
    failures: list[DayFailure] = []
    by_day = {request.day: request for request in todo}
    with ExitStack() as stack:
        if launch is None:
            pool = stack.enter_context(ThreadPoolExecutor(workers, thread_name_prefix="fetch"))

            def launch(
                requests: Sequence[DayRequest], deliver: Deliver[ReadyDay]
            ) -> Future[list[DayFailure]]:
                return pool.submit(fetch_and_prepare_days, session, requests, deliver)

        submit = SlicedSubmit(todo, launch, size=per_task)
        # every worker needs a slice of its own within the window
        window = max(2 * workers, GROUP_WINDOW, min(workers * per_task, MAX_WINDOW))
        for group in iter_completed_groups(todo, submit, window=window, max_group=GROUP_DAYS):
            ready: list[ReadyDay] = []
            fetch_failed: list[DayFailure] = []
            for request, outcome in group:
                if isinstance(outcome, Exception):
                    _log_failure(request.day, outcome)
                    fetch_failed.append(_failure(request.day, outcome))
                else:
                    ready.append(outcome)
            del group
            results, failed = load_group(session, ready, flow_run_id=flow_run_id)
            del ready  # let the days' frames go before waiting for the next group
            done = len(loaded) + len(failures) + len(fetch_failed)
            loaded += results
            failed = [*fetch_failed, *failed]
            record_failures(session, failed, by_day, flow_run_id=flow_run_id)
            failures += failed
            for n, result in enumerate(results, start=done + 1):
                logger.info(
                    "%s loaded: %d rows, %d quarantined (%d/%d days done)",
                    result.day,
                    result.records_loaded,
                    result.records_quarantined,
                    n,
                    len(todo),
                )
    summary = IngestSummary(
        start,
        end,
        tuple(sorted(loaded, key=lambda d: d.day)),
        tuple(skipped),
        tuple(sorted(failures, key=lambda f: f.day)),
        time.monotonic() - started,
    )
    logger.info(
        "ingested %s..%s: %d days loaded, %d skipped, %d failed, %d rows, %d quarantined in %.1f s",
        start,
        end,
        len(summary.loaded),
        len(summary.skipped),
        len(summary.failures),
        summary.rows_loaded,
        summary.rows_quarantined,
        summary.wall_s,
    )
    return summary
