"""The ingestion stage: days from the source into the raw tables, idempotently.

Plain functions, no orchestrator; :mod:`bnpl.pipeline` composes them (``ingest_day``,
``ingest_range``). The modules, in the order a day goes through them:

* :mod:`~bnpl.ingest.session` — :func:`open_session`: the warehouse, the source (the bundled
  simulator when no URL is set) and its identity, once per run.
* :mod:`~bnpl.ingest.plan` — :func:`plan_range` (one :class:`~bnpl.calendar.DayRequest` per day,
  inclusive) and :func:`select_pending` (days the ledger holds for the same request are skipped
  unless ``force``).
* :mod:`~bnpl.ingest.fetch` — :func:`fetch_and_prepare` (I/O, then the one parse of the day by
  :func:`prepare_day`; thread-safe) and :func:`fetch_and_prepare_days` (a slice of days, each
  handed over as soon as it is ready).
* :mod:`~bnpl.ingest.prepare` — :func:`prepare_day`: records to the three raw frames (pure).
* :mod:`~bnpl.ingest.load` — the single writer: :func:`admit_day` (the quarantine threshold,
  checked once per day, and the ledger row) and :func:`load_group` (one
  :meth:`~bnpl.warehouse.base.Warehouse.load_days` for the admitted days; each day replaced whole
  with its ledger row).
* :mod:`~bnpl.ingest.ledger`, :mod:`~bnpl.ingest.failures` (the append-only failure log),
  :mod:`~bnpl.ingest.summary` (what a run did).
* :mod:`~bnpl.ingest.run` — :func:`run_range`, the loop.
"""

from __future__ import annotations

from bnpl.ingest.failures import record_failed_day, record_failures
from bnpl.ingest.fetch import (
    FetchInfo,
    ReadyDay,
    check_slice,
    fetch_and_prepare,
    fetch_and_prepare_days,
    prepare_fetched,
)
from bnpl.ingest.ledger import ledger_row, read_ledger
from bnpl.ingest.load import (
    AdmittedDay,
    admit_day,
    check_quarantine,
    load_admitted,
    load_group,
)
from bnpl.ingest.plan import plan_range, select_pending
from bnpl.ingest.prepare import DayStats, PreparedDay, prepare_day
from bnpl.ingest.run import LaunchDays, run_range
from bnpl.ingest.session import IngestSession, open_session, preflight, source_identity_of_url
from bnpl.ingest.summary import (
    DayFailure,
    DayResult,
    IngestSummary,
    failure_message,
    raise_for_failures,
)

__all__ = [
    "AdmittedDay",
    "DayFailure",
    "DayResult",
    "DayStats",
    "FetchInfo",
    "IngestSession",
    "IngestSummary",
    "LaunchDays",
    "PreparedDay",
    "ReadyDay",
    "admit_day",
    "check_quarantine",
    "check_slice",
    "failure_message",
    "fetch_and_prepare",
    "fetch_and_prepare_days",
    "ledger_row",
    "load_admitted",
    "load_group",
    "open_session",
    "plan_range",
    "preflight",
    "prepare_day",
    "prepare_fetched",
    "raise_for_failures",
    "read_ledger",
    "record_failed_day",
    "record_failures",
    "run_range",
    "select_pending",
    "source_identity_of_url",
]
