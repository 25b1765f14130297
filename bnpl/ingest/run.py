"""The run loop: fetch in parallel, load through the single writer, keep going when a day fails.

A slice of consecutive days per job (a thread pool here, Prefect tasks in ``bnpl_flows/ingest.py``);
the days that completed while the writer was busy are loaded as one group.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack
from datetime import date

from bnpl.calendar import DayRequest
from bnpl.errors import ConfigError, RunStoppedError
from bnpl.fanout import Deliver, Launch, SlicedSubmit, iter_completed_groups
from bnpl.ingest.failures import log_failure, record_failures
from bnpl.ingest.fetch import ReadyDay, fetch_and_prepare_days
from bnpl.ingest.load import load_group
from bnpl.ingest.plan import plan_range, select_pending
from bnpl.ingest.session import IngestSession
from bnpl.ingest.summary import DayFailure, DayResult, IngestSummary, failure_of, others_loaded
from bnpl.progress import ProgressCallback, report
from bnpl.stopping import STOP, StopRequest, stop_on_signals

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


LaunchDays = Launch[DayRequest, ReadyDay]
"""Starts :func:`fetch_and_prepare_days` for a slice of requests somewhere else (a thread pool,
a Prefect task) with the given ``deliver``, and returns the slice's future."""


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
    stop: StopRequest = STOP,
    progress: ProgressCallback | None = None,
) -> IngestSummary:
    """Ingest every day from ``start`` to ``end`` inclusive and summarise.

    Days are fetched and prepared ``concurrency`` at a time (default
    ``settings.ingest.concurrency``), in slices of ``days_per_task`` consecutive days (default
    ``settings.ingest.days_per_task``) started by ``launch`` (default: a thread pool of
    ``concurrency`` workers), and loaded in this thread as they complete. A day that fails
    (source, contract, quarantine threshold) is recorded and the others go on; the summary lists
    every failure. ``progress`` is told before the first day and after each day loaded or failed
    (:mod:`bnpl.progress`; skipped days are not counted).

    SIGINT or SIGTERM (in the main thread; :mod:`bnpl.stopping`), or ``stop`` set by other
    means, stops the run within seconds with whole days only: no day is started or loaded after
    it, fetches in flight are abandoned, and every day not loaded is recorded as failed (summary
    and failure log) before :class:`RunStoppedError` is raised.

    Raises:
        ConfigError: ``end`` is before ``start``.
        RunStoppedError: the run was stopped; its ``summary`` says which days were loaded.
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
    report(progress, "ingest", 0, len(todo))
    with ExitStack() as stack:
        stack.enter_context(stop_on_signals(stop))
        if launch is None:
            pool = ThreadPoolExecutor(workers, thread_name_prefix="fetch")
            # a stopped run does not wait for its abandoned fetches
            stack.callback(lambda: pool.shutdown(wait=not stop.is_set(), cancel_futures=True))

            def launch(
                requests: Sequence[DayRequest], deliver: Deliver[ReadyDay]
            ) -> Future[list[DayFailure]]:
                return pool.submit(fetch_and_prepare_days, session, requests, deliver)

        submit = SlicedSubmit(todo, launch, size=per_task)
        # every worker needs a slice of its own within the window
        window = max(2 * workers, GROUP_WINDOW, min(workers * per_task, MAX_WINDOW))
        groups = iter_completed_groups(
            todo, submit, window=window, max_group=GROUP_DAYS, stopped=stop.is_set
        )
        for group in groups:
            ready: list[ReadyDay] = []
            fetch_failed: list[DayFailure] = []
            for request, outcome in group:
                if isinstance(outcome, Exception):
                    log_failure(request.day, outcome)
                    fetch_failed.append(failure_of(request.day, outcome))
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
            if results or failed:
                last = max([r.day for r in results] + [f.day for f in failed])
                report(progress, "ingest", len(loaded) + len(failures), len(todo), str(last))
            if stop.is_set():
                break
        if stop.is_set():
            failures += _record_not_loaded(session, todo, loaded, failures, stop, flow_run_id)
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
    if stop.is_set():
        raise RunStoppedError(
            f"stopped by {stop.describe()}: {others_loaded(len(summary.loaded))}, "
            f"{len(todo) - len(summary.loaded)} not loaded. Run the same command again to load "
            "them: loaded days are skipped",
            signum=stop.signum,
            summary=str(summary),
        )
    return summary


def _record_not_loaded(
    session: IngestSession,
    todo: Sequence[DayRequest],
    loaded: Sequence[DayResult],
    failures: Sequence[DayFailure],
    stop: StopRequest,
    flow_run_id: str | None,
) -> list[DayFailure]:
    """Every planned day neither loaded nor failed yet, as failed because the run stopped, also
    in the failure log (one short write; a run stopped again meanwhile skips it)."""
    done = {d.day for d in loaded} | {f.day for f in failures}
    reason = RunStoppedError(
        f"not loaded: {stop.describe()} stopped the run first", signum=stop.signum
    )
    stopped = [failure_of(r.day, reason) for r in todo if r.day not in done]
    logger.warning(
        "stopped by %s: %d days loaded, %d not loaded", stop.describe(), len(loaded), len(stopped)
    )
    if stopped:
        record_failures(session, stopped, {r.day: r for r in todo}, flow_run_id=flow_run_id)
    return stopped
