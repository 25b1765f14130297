"""Ingestion flows: ``bnpl-ingest-day`` (one day, the unit a deployment retries) and
``bnpl-ingest-range`` (a range of days in one process).

Wiring only. Each flow reads the settings once, opens one session
(:func:`bnpl.pipeline.open_session`: the bundled simulator when no source URL is set, the
client, the warehouse), fans the days' fetch-and-prepare out as Prefect tasks on a thread pool
of ``concurrency`` workers, one task per slice of ``BNPL_INGEST__DAYS_PER_TASK`` consecutive
days (a task run has a CPU cost between the flow's process and the API; ``docs/decisions.md``
and ``bench/results.md``), and lets :func:`bnpl.pipeline.ingest_range` load each day through
the single writer in the flow's thread as soon as its task hands it over. The summary becomes a table artifact and is logged; if any day
failed the flow ends Failed (after every other day was loaded) with
:class:`bnpl.errors.IngestError`. ``backfill`` keeps a progress artifact (``backfill-progress``)
up to date as days load.

The thread pool, not a Prefect concurrency limit, caps the fan-out: a global limit adds a
round trip to the API per short task (figures in ``bench/results.md``). Deployments that must cap across processes use a
global limit around whole flow runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from bnpl import ingest, pipeline
from bnpl.calendar import DayRequest, check_ingest_range
from bnpl.fanout import Deliver, Pending
from bnpl.ingest import IngestSession, IngestSummary, ReadyDay
from bnpl.settings import load_settings
from bnpl.timeutil import utc_now
from bnpl.warehouse.labels import job_labels
from bnpl_flows._runtime import Day, forward_bnpl_logs
from bnpl_flows.progress import ArtifactProgress


@task(
    name="fetch-and-prepare",
    task_run_name="fetch-{first_day}..{last_day}",
    cache_policy=NO_CACHE,
    persist_result=False,
)
def fetch_and_prepare_days(
    session: IngestSession,
    requests: list[DayRequest],
    deliver: Deliver[ReadyDay],
    first_day: date,
    last_day: date,
) -> int:
    """Fetch and prepare a slice of consecutive days, handing each to the writer as soon as it is
    ready (no retries here: the client retries). Fails, after the other days of the slice were
    handed over, if any day failed, so the slice shows Failed in the UI."""
    ingest.check_slice(requests, ingest.fetch_and_prepare_days(session, requests, deliver))
    return len(requests)


def _ingest(
    start: date, end: date, concurrency: int | None, force: bool, *, progress_key: str | None
) -> IngestSummary:
    forward_bnpl_logs()
    check_ingest_range(start, end, today=utc_now().date())
    settings = load_settings()
    workers = concurrency or settings.ingest.concurrency
    run_id = flow_run.get_id()
    with (
        pipeline.open_session(settings) as session,
        ThreadPoolTaskRunner[int](max_workers=workers) as runner,
        job_labels(run_id=run_id or "adhoc"),  # BigQuery jobs carry the flow run id
    ):

        def launch(requests: Sequence[DayRequest], deliver: Deliver[ReadyDay]) -> Pending[int]:
            parameters = {
                "session": quote(session),
                "requests": quote(list(requests)),
                "deliver": quote(deliver),
                "first_day": requests[0].day,
                "last_day": requests[-1].day,
            }
            return runner.submit(fetch_and_prepare_days, parameters)

        summary = pipeline.ingest_range(
            session,
            start,
            end,
            force=force,
            concurrency=workers,
            launch=launch,
            flow_run_id=run_id,
            progress=ArtifactProgress(progress_key, f"Days of {start}..{end} loaded or failed"),
        )
    create_table_artifact(
        key="ingest-summary",
        table=summary.table(),
        description=f"Ingestion of {start}..{end}",
    )
    return ingest.raise_for_failures(summary)


@flow(name="bnpl-ingest-day", persist_result=False)
def ingest_day(day: Day, force: bool = False) -> IngestSummary:
    """Ingest one day (skipped if the ledger already holds it for the same request, unless
    ``force``)."""
    return _ingest(day, day, 1, force, progress_key=None)


@flow(name="bnpl-ingest-range", persist_result=False)
def backfill(
    start: Day, end: Day, concurrency: int | None = None, force: bool = False
) -> IngestSummary:
    """Ingest every day from ``start`` to ``end`` inclusive, ``concurrency`` days fetched in
    parallel (default ``BNPL_INGEST__CONCURRENCY``), skipping days already loaded unless
    ``force``."""
    return _ingest(start, end, concurrency, force, progress_key="backfill-progress")
