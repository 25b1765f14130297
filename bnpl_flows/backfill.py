"""``bnpl_backfill``: a range of days, each day its own retryable flow run under a deployment.

Two shapes, chosen by where the flow runs:

* **Under a deployment** (``bnpl-backfill``): one ``bnpl-ingest-day`` flow run per day, launched
  with :func:`prefect.deployments.run_deployment` as a child of this run. Each launch holds one
  slot of the global concurrency limit ``simtom-api`` until its day finishes, so at most that many
  days hit the source at once across every process and worker. A failed day is one failed flow
  run: retry it alone from the UI or with ``prefect flow-run retry <id>``.
* **Ad hoc** (Python, notebook, ``bnpl``): delegates to :func:`bnpl_flows.ingest.backfill`, which fans
  the days out as in-process tasks on a thread pool. A flow run per day costs ~1 s of overhead and
  a global limit ~0.5 s per slot (DESIGN.md), right for coarse deployment runs, wasteful in-process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import FlowRun
from prefect.concurrency.sync import concurrency
from prefect.deployments import run_deployment
from prefect.runtime import deployment as current_deployment
from prefect.task_runners import ThreadPoolTaskRunner

from bnpl.calendar import check_ingest_range, iter_days
from bnpl.errors import ConfigError, IngestError
from bnpl.ingest import IngestSummary
from bnpl.ingest.summary import others_loaded
from bnpl.timeutil import utc_now
from bnpl_flows import infra
from bnpl_flows._runtime import Day, forward_bnpl_logs
from bnpl_flows.ingest import backfill as ingest_backfill
from bnpl_flows.ingest import ingest_day
from bnpl_flows.naming import deployment_of

logger = logging.getLogger(__name__)

INGEST_DAY_DEPLOYMENT = deployment_of(ingest_day)
"""``flow/deployment`` name of the per-day unit in ``prefect.yaml``: ``bnpl-ingest-day/bnpl-ingest-day``."""

MAX_LAUNCHERS = 16
"""Threads waiting on ``simtom-api`` slots; the limit, not this, sets how many days run at once."""


@dataclass(frozen=True, slots=True)
class DayRun:
    """The flow run that ingested one day."""

    day: date
    flow_run_id: UUID
    flow_run_name: str
    state: str
    message: str

    @property
    def completed(self) -> bool:
        return self.state == "COMPLETED"


@task(name="launch-ingest-day", task_run_name="launch-{day}", cache_policy=NO_CACHE)
def launch_ingest_day(day: date, force: bool) -> DayRun:
    """Run ``bnpl-ingest-day`` for ``day`` and wait for its final state, holding one
    ``simtom-api`` slot meanwhile.

    No task retries: a failed day is a failed child flow run, retried on its own (UI or
    ``prefect flow-run retry``); re-launching it from here would hide that run's history.
    """
    with concurrency(infra.API_LIMIT, occupy=1, strict=True):
        child = run_deployment(
            INGEST_DAY_DEPLOYMENT,
            parameters={"day": day.isoformat(), "force": force},
            flow_run_name=f"ingest-{day.isoformat()}",
            tags=["bnpl", "backfill"],
            timeout=None,
            as_subflow=True,
        )
    assert isinstance(child, FlowRun)  # the sync call returns the run, not a coroutine
    state = child.state
    run = DayRun(
        day=day,
        flow_run_id=child.id,
        flow_run_name=child.name,
        state=state.type.value if state else "UNKNOWN",
        message=(state.message or "") if state else "",
    )
    log = logger.info if run.completed else logger.error
    log(
        "%s: flow run %s (%s) ended %s %s",
        day,
        run.flow_run_name,
        run.flow_run_id,
        run.state,
        run.message,
    )
    return run


def _fan_out(start: date, end: date, force: bool) -> list[DayRun]:
    infra.require_deployment_target(INGEST_DAY_DEPLOYMENT)
    days = list(iter_days(start, end))
    logger.info(
        "launching %d %s runs (%s..%s), at most %r slots at once",
        len(days),
        INGEST_DAY_DEPLOYMENT,
        start,
        end,
        infra.API_LIMIT,
    )
    futures = [launch_ingest_day.submit(day, force) for day in days]
    runs = [f.result() for f in futures]
    create_table_artifact(
        key="backfill-runs",
        table=[
            {
                "day": str(r.day),
                "state": r.state,
                "flow run": r.flow_run_name,
                "flow run id": str(r.flow_run_id),
                "message": r.message,
            }
            for r in runs
        ],
        description=f"bnpl-ingest-day runs for {start}..{end}",
    )
    failed = [r for r in runs if not r.completed]
    if failed:
        listed = ", ".join(f"{r.day} ({r.flow_run_id})" for r in failed[:10])
        more = f" and {len(failed) - 10} more" if len(failed) > 10 else ""
        raise IngestError(
            f"{len(failed)} of {len(runs)} days failed: {listed}{more}; "
            f"{others_loaded(len(runs) - len(failed))}. Retry a day with `prefect flow-run retry <id>` (or Retry in the UI), or run "
            "this backfill again: loaded days are skipped",
            failed=[str(r.day) for r in failed],
            summary="\n".join(f"{r.day} {r.state} {r.flow_run_id} {r.message}" for r in runs),
        )
    return runs


@flow(
    name="bnpl-backfill",
    persist_result=False,
    task_runner=ThreadPoolTaskRunner(max_workers=MAX_LAUNCHERS),  # type: ignore[arg-type]  # Prefect types TaskRunner invariantly
)
def bnpl_backfill(start: Day, end: Day, force: bool = False) -> Any:
    """Ingest every day from ``start`` to ``end`` inclusive.

    Under a deployment: one ``bnpl-ingest-day`` flow run per day under the ``simtom-api``
    limit, returning the child runs. Ad hoc: the in-process backfill, returning its summary.
    Days the ledger already holds for the same request are skipped unless ``force``.

    Raises:
        ConfigError: ``end`` before ``start``, more than 366 days, or a day that has not ended;
            under a deployment, a missing ``bnpl-ingest-day``
            deployment, work pool, worker or ``simtom-api`` limit (checked before any launch).
        IngestError: some days failed; the others were loaded.
    """
    forward_bnpl_logs()
    check_ingest_range(start, end, today=utc_now().date())
    if current_deployment.get_id() is None:
        summary: IngestSummary = ingest_backfill(start, end, None, force)
        return summary
    try:
        return _fan_out(start, end, force)
    except ConfigError:
        logger.error("backfill %s..%s not started; fix the setup and run it again", start, end)
        raise
