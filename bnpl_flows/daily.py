"""``daily_bnpl_processing``: the daily DAG for one day, as six Prefect tasks.

``extract_daily_batch >> validate_raw_schema >> normalize_entities >> run_sql_pipeline >>
validate_business_rules >> publish_quality_metrics``

Wiring only: :class:`bnpl.pipeline.DailyRun` composes the six steps (``bnpl daily`` runs the
same composition without Prefect); here each step is a task calling the step's function in
:mod:`bnpl.pipeline.daily` (one verb of ``ingest_day`` or of write-audit-publish). The flow reads
the settings once, opens one ingest session (source, client, warehouse) and passes it down.
A day whose source is live (``BNPL_LIVE__SEAL_DAYS=true``) is sealed instead of fetched, under
the same three task names: ``extract_daily_batch`` is ``pipeline.read_live`` (refused before the
day's end plus ``BNPL_LIVE__SEAL_GRACE_S``), ``validate_raw_schema`` ``pipeline.prepare_seal``,
``normalize_entities`` ``pipeline.load_seal``; the build, gate and publish that follow are the same.

==========================  ==========================================================
task                        verb
==========================  ==========================================================
``extract_daily_batch``     ``pipeline.fetch_day``
``validate_raw_schema``     ``pipeline.prepare_day``: the day's one parse (normalise,
                            keys, Pandera contracts, quarantine split), then the
                            quarantine threshold
``normalize_entities``      ``pipeline.load_day``: the day and its ledger row, atomically
``run_sql_pipeline``        ``pipeline.build`` (the day, without the snapshot marts)
``validate_business_rules`` ``pipeline.gate``
``publish_quality_metrics`` ``pipeline.publish``, then the artifacts and the event
==========================  ==========================================================

Retries, and why only where they are:

* ``extract_daily_batch`` has **no** task retries: the source client already retries transport
  errors, 5xx, 429 (honouring ``Retry-After``) and cut streams with stamina, and trips a circuit
  breaker. A Prefect retry on top would multiply the attempts the source sees (5 × 3 = 15) and
  defeat the breaker.
* The other tasks are deterministic (parsing, contracts, SQL, checks) or already wait for what is
  transient (the DuckDB file lock; BigQuery's client retries its jobs): a task retry would repeat
  the same failure.
* The **flow** has no automatic retry either. Prefect 3 flow retries cannot tell a source outage
  from a deterministic failure (flows take no retry condition), so one would hold a fail-fast
  error (a day that has not ended, a missing block) for the retry delay, fetch the day a second
  time and send the quality alert twice. A run that is still Failed after the client's retries
  is repaired by retrying that same flow run (UI, or ``prefect flow-run retry <id>``): every step
  is idempotent (the day's partition is replaced whole, models rebuild the day, the gate
  re-checks it), so re-running the day is safe.

Failure states say what failed and what to do: the failing task's state message, and the flow's
exception (``QualityGateError`` lists the failing checks). Whatever the outcome, the run gets a
markdown artifact ``daily-summary`` with what each step did.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Failed

from bnpl import pipeline
from bnpl.calendar import DayRequest, check_processable_day
from bnpl.errors import BnplError
from bnpl.live.seal import LiveDay
from bnpl.pipeline import AdmittedDay, DayResult, IngestSession, daily
from bnpl.quality.base import GateResult
from bnpl.settings import BigQuerySettings, Settings, load_settings
from bnpl.source.client import FetchedDay
from bnpl.timeutil import utc_now
from bnpl.warehouse import DayBatch
from bnpl.warehouse.labels import job_labels
from bnpl_flows import infra
from bnpl_flows._runtime import Day, forward_bnpl_logs
from bnpl_flows.quality import publish_gate_outcome

logger = logging.getLogger(__name__)


@task(name="extract_daily_batch", cache_policy=NO_CACHE, persist_result=False)
def extract_daily_batch(session: IngestSession, request: DayRequest) -> FetchedDay:
    """Fetch the day's records from the source.

    No Prefect retries here, on purpose: the client retries (stamina) and has a circuit breaker.
    """
    return daily.extract_daily_batch(session, request)


@task(name="validate_raw_schema", cache_policy=NO_CACHE, persist_result=False)
def validate_raw_schema(
    session: IngestSession, request: DayRequest, fetched: FetchedDay, flow_run_id: str | None
) -> AdmittedDay:
    """Parse, type, key and validate the day's records once (Pandera contracts; failing records
    go to quarantine with their reason); fail the day if too many are quarantined."""
    return daily.validate_raw_schema(session, request, fetched, flow_run_id)


@task(name="normalize_entities", cache_policy=NO_CACHE, persist_result=False)
def normalize_entities(session: IngestSession, admitted: AdmittedDay) -> DayResult:
    """Replace the day's transactions, customers and quarantined rows in the raw tables, with its
    ledger row, atomically."""
    return daily.normalize_entities(session, admitted)


@task(name="extract_daily_batch", cache_policy=NO_CACHE, persist_result=False)
def extract_live_day(session: IngestSession, day: date) -> LiveDay:
    """A live day (``BNPL_LIVE__SEAL_DAYS``): read its live rows and dead letters, once its
    grace period for late events is over."""
    return daily.extract_live_day(session, day)


@task(name="validate_raw_schema", cache_policy=NO_CACHE, persist_result=False)
def validate_live_day(session: IngestSession, live: LiveDay, flow_run_id: str | None) -> DayBatch:
    """The sealed day's frames and its live ledger row."""
    return daily.validate_live_day(session, live, flow_run_id)


@task(name="normalize_entities", cache_policy=NO_CACHE, persist_result=False)
def seal_live_day(session: IngestSession, batch: DayBatch) -> DayResult:
    """Replace the day in the raw tables with the live rows and the live ledger row,
    atomically (the same day replace as a fetched day)."""
    return daily.seal_live_day(session, batch)


@task(name="run_sql_pipeline", cache_policy=NO_CACHE, persist_result=False)
def run_sql_pipeline(session: IngestSession, day: date) -> tuple[str, ...]:
    """Build the SQL models for the day into the audit area: incremental models for that day
    and views, not the as-of snapshot marts, so that the run's cost stays flat in the history."""
    return daily.run_sql_pipeline(session, day)


@task(name="validate_business_rules", cache_policy=NO_CACHE, persist_result=False)
def validate_business_rules(
    session: IngestSession, day: date, run_id: str, built: tuple[str, ...]
) -> GateResult | State[Any]:
    """Run the quality checks on the audited day and store the results.

    A blocked gate ends this task Failed, naming the failing checks, and hands the gate's result
    on so that ``publish_quality_metrics`` still reports it.
    """
    gate = daily.validate_business_rules(session, day, run_id, built)
    if gate.passed:
        return gate
    names = ", ".join(r.check_name for r in gate.failed)
    return Failed(message=f"{len(gate.failed)} error-level checks failed: {names}", data=gate)


def _checked(session: IngestSession, day: date, run_id: str, built: tuple[str, ...]) -> GateResult:
    """The gate's result, also from the Failed state of a blocked gate; a crash re-raises."""
    state = validate_business_rules(session, day, run_id, built, return_state=True)
    checked = state.result(raise_on_failure=False)
    if not isinstance(checked, GateResult):  # the checks themselves crashed: re-raise
        state.result()
        raise AssertionError("unreachable")  # pragma: no cover
    return checked


@task(name="publish_quality_metrics", cache_policy=NO_CACHE, persist_result=False)
def publish_quality_metrics(session: IngestSession, gate: GateResult) -> GateResult:
    """Publish the marts if the gate passed; always publish the results as artifacts, and the
    ``bnpl.quality.failed`` event when it did not."""
    gate = daily.publish_quality_metrics(session, gate)
    publish_gate_outcome(gate)
    return gate


TASKS = pipeline.DailySteps(
    extract_daily_batch=extract_daily_batch,
    validate_raw_schema=validate_raw_schema,
    normalize_entities=normalize_entities,
    run_sql_pipeline=run_sql_pipeline,
    validate_business_rules=_checked,
    publish_quality_metrics=publish_quality_metrics,
    extract_live_day=extract_live_day,
    validate_live_day=validate_live_day,
    seal_live_day=seal_live_day,
)
"""The daily run's steps as this flow's tasks."""


def _logical_date(logical_date: date | None) -> date:
    """The day to process: the parameter, else the day before the run's scheduled time (UTC)."""
    if logical_date is not None:
        return logical_date
    scheduled = flow_run.get_scheduled_start_time()
    return pipeline.previous_day(scheduled)


def _preflight(settings: Settings) -> None:
    """Fail before any work when a Prefect block the settings name does not exist."""
    warehouse = settings.warehouse
    if isinstance(warehouse, BigQuerySettings) and warehouse.credentials_block:
        infra.require_gcp_block(warehouse.credentials_block)


@flow(name="bnpl-daily", persist_result=False)
def daily_bnpl_processing(logical_date: Day | None = None) -> dict[str, Any]:
    """Process one day end to end: extract, validate, normalise and load, build, check, publish.

    ``logical_date`` is the day processed (``YYYY-MM-DD``); by default the day before the run's
    scheduled time in UTC, so the 02:00 UTC schedule processes yesterday. Returns the day's
    figures.

    Raises:
        ConfigError: the day has not ended yet, or a block the settings name is missing.
        SourceError: the source failed after the client's retries.
        QuarantineThresholdError: too many broken records; nothing was loaded.
        ModelError: a model did not build; nothing was checked or published.
        QualityGateError: an error-level check failed; the marts were left unchanged.
    """
    forward_bnpl_logs()
    day = _logical_date(logical_date)
    run_id = flow_run.get_id()
    run = pipeline.DailyRun(day, run_id=run_id or "", flow_run_id=run_id, steps=TASKS)
    outcome = "failed"
    try:
        check_processable_day(day, today=utc_now().date())
        settings = load_settings()
        _preflight(settings)
        logger.info("daily run for %s (run %s)", day, run_id)
        with (
            pipeline.open_session(settings, source=not settings.live.seal_days) as session,
            job_labels(run_id=run_id or "adhoc"),
        ):
            result = run.run(session)
        outcome = "completed"
        return result.as_dict()
    except BnplError as exc:
        logger.error("daily run for %s failed: %s", day, exc)
        raise
    finally:  # the summary also when the run fails: which steps ran, and the error
        create_markdown_artifact(
            key="daily-summary",
            markdown=run.summary(outcome=outcome),
            description=f"bnpl daily run for {day}",
        )
