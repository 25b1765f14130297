"""``daily_bnpl_processing``: the daily DAG for one day, as six Prefect tasks.

``extract_daily_batch >> validate_raw_schema >> normalize_entities >> run_sql_pipeline >>
validate_business_rules >> publish_quality_metrics``

Wiring only: each task calls one verb of :mod:`bnpl.pipeline` (one step of ``ingest_day`` or of
write-audit-publish). A day whose source is live (``BNPL_LIVE__SEAL_DAYS=true``) is sealed
instead of fetched, under the same three task names: ``extract_daily_batch`` is
``pipeline.read_live`` (refused before the day's end plus ``BNPL_LIVE__SEAL_GRACE_S``),
``validate_raw_schema`` ``pipeline.prepare_seal``, ``normalize_entities`` ``pipeline.load_seal``;
the build, gate and publish that follow are the same. The flow reads the settings once, opens one ingest session (source,
client, warehouse) and passes it down.

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
import time
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar

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
from bnpl.models import load_project
from bnpl.pipeline import AdmittedDay, DayResult, IngestSession, StepTiming
from bnpl.quality.base import GateResult
from bnpl.settings import BigQuerySettings, Settings, load_settings
from bnpl.source.client import FetchedDay
from bnpl.timeutil import utc_now
from bnpl.warehouse import DayBatch
from bnpl.warehouse import names as warehouse_names
from bnpl.warehouse.labels import job_labels
from bnpl_flows import infra
from bnpl_flows._runtime import Day, forward_bnpl_logs
from bnpl_flows.quality import publish_gate_outcome

logger = logging.getLogger(__name__)

T = TypeVar("T")


@task(name="extract_daily_batch", cache_policy=NO_CACHE, persist_result=False)
def extract_daily_batch(session: IngestSession, request: DayRequest) -> FetchedDay:
    """Fetch the day's records from the source.

    No Prefect retries here, on purpose: the client retries (stamina) and has a circuit breaker.
    """
    fetched = pipeline.fetch_day(session, request)
    logger.info(
        "%s: %d records fetched in %d attempt(s)",
        request.day,
        len(fetched.records),
        fetched.attempts,
    )
    return fetched


@task(name="validate_raw_schema", cache_policy=NO_CACHE, persist_result=False)
def validate_raw_schema(
    session: IngestSession, request: DayRequest, fetched: FetchedDay, flow_run_id: str | None
) -> AdmittedDay:
    """Parse, type, key and validate the day's records once (Pandera contracts; failing records
    go to quarantine with their reason); fail the day if too many are quarantined."""
    admitted = pipeline.prepare_day(session, request, fetched, flow_run_id=flow_run_id)
    stats = admitted.ready.prepared.stats
    logger.info(
        "%s: %d of %d records quarantined %s",
        request.day,
        stats.records_quarantined,
        stats.records_received,
        stats.quarantine_by_check or "",
    )
    return admitted


@task(name="normalize_entities", cache_policy=NO_CACHE, persist_result=False)
def normalize_entities(session: IngestSession, admitted: AdmittedDay) -> DayResult:
    """Replace the day's transactions, customers and quarantined rows in the raw tables, with its
    ledger row, atomically."""
    return pipeline.load_day(session, admitted)


@task(name="extract_daily_batch", cache_policy=NO_CACHE, persist_result=False)
def extract_live_day(session: IngestSession, day: date) -> LiveDay:
    """A live day (``BNPL_LIVE__SEAL_DAYS``): read its live rows and dead letters, once its
    grace period for late events is over."""
    live = pipeline.read_live(session.warehouse, session.settings, day)
    logger.info(
        "%s: %d live rows, %d dead letters", day, live.rows.height, live.dead_letters.height
    )
    return live


@task(name="validate_raw_schema", cache_policy=NO_CACHE, persist_result=False)
def validate_live_day(session: IngestSession, live: LiveDay, flow_run_id: str | None) -> DayBatch:
    """The sealed day's frames and its live ledger row (checked against the contracts: the
    rows themselves passed them when the loader wrote them)."""
    return pipeline.prepare_seal(session.settings, live, flow_run_id=flow_run_id)


@task(name="normalize_entities", cache_policy=NO_CACHE, persist_result=False)
def seal_live_day(session: IngestSession, batch: DayBatch) -> DayResult:
    """Replace the day in the raw tables with the live rows and the live ledger row,
    atomically (the same day replace as a fetched day)."""
    return pipeline.load_seal(session.warehouse, batch)


def _ingest_steps(
    steps: _Steps, session: IngestSession, request: DayRequest, run_id: str | None
) -> tuple[DayResult, int]:
    """The first three steps for a day fetched from the source: the day's figures and the
    source attempts."""
    fetched = steps.run(
        "extract_daily_batch",
        lambda: extract_daily_batch(session, request),
        lambda f: f"{len(f.records):,} records in {f.attempts} attempt(s)",
    )
    admitted = steps.run(
        "validate_raw_schema",
        lambda: validate_raw_schema(session, request, fetched, run_id),
        lambda a: (
            f"{a.ready.prepared.stats.records_quarantined:,} of "
            f"{a.ready.prepared.stats.records_received:,} records quarantined"
        ),
    )
    loaded = steps.run(
        "normalize_entities",
        lambda: normalize_entities(session, admitted),
        lambda d: (
            f"{d.records_loaded:,} transactions, {d.customers_loaded:,} customers, "
            f"{d.records_quarantined:,} quarantined"
        ),
    )
    return loaded, fetched.attempts


def _seal_steps(
    steps: _Steps, session: IngestSession, day: date, run_id: str | None
) -> tuple[DayResult, int]:
    """The first three steps for a live day: read it, prepare its seal, replace the day."""
    live = steps.run(
        "extract_daily_batch",
        lambda: extract_live_day(session, day),
        lambda d: f"{d.rows.height:,} live rows, {d.dead_letters.height:,} dead letters",
    )
    batch = steps.run(
        "validate_raw_schema",
        lambda: validate_live_day(session, live, run_id),
        lambda b: f"{b.customers.height:,} customers; ledger source live",
    )
    loaded = steps.run(
        "normalize_entities",
        lambda: seal_live_day(session, batch),
        lambda d: (
            f"sealed: {d.records_loaded:,} transactions, {d.records_quarantined:,} dead letters"
        ),
    )
    return loaded, 1


@task(name="run_sql_pipeline", cache_policy=NO_CACHE, persist_result=False)
def run_sql_pipeline(session: IngestSession, day: date) -> tuple[str, ...]:
    """Build the SQL models for the day into the audit area: incremental models for that day
    and views, not the as-of snapshot marts, so that the run's cost stays flat in the history."""
    project = load_project(user_dir=session.settings.project.dir)
    return pipeline.build(
        session.warehouse, start=day, end=day, snapshots=False, project=project
    ).marts


@task(name="validate_business_rules", cache_policy=NO_CACHE, persist_result=False)
def validate_business_rules(
    session: IngestSession, day: date, run_id: str, built: tuple[str, ...]
) -> GateResult | State[Any]:
    """Run the quality checks on the audited day and store the results.

    A blocked gate ends this task Failed, naming the failing checks, and hands the gate's result
    on so that ``publish_quality_metrics`` still reports it.
    """
    gate = pipeline.gate(
        session.warehouse,
        session.settings,
        built,
        start=day,
        end=day,
        logical_date=day,
        run_id=run_id,
    )
    if gate.passed:
        return gate
    names = ", ".join(r.check_name for r in gate.failed)
    return Failed(message=f"{len(gate.failed)} error-level checks failed: {names}", data=gate)


@task(name="publish_quality_metrics", cache_policy=NO_CACHE, persist_result=False)
def publish_quality_metrics(session: IngestSession, gate: GateResult) -> GateResult:
    """Publish the marts if the gate passed; always publish the results as artifacts, and the
    ``bnpl.quality.failed`` event when it did not."""
    gate = pipeline.publish(session.warehouse, gate)
    publish_gate_outcome(gate)
    return gate


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


class _Steps:
    """Times each step and remembers one line about what it did, for the summary artifact."""

    def __init__(self) -> None:
        self.done: list[StepTiming] = []

    def run(self, name: str, call: Callable[[], T], describe: Callable[[T], str]) -> T:
        started = time.monotonic()
        try:
            result = call()
        except BaseException as exc:
            self.done.append(StepTiming(name, time.monotonic() - started, f"failed: {exc}"))
            raise
        self.done.append(StepTiming(name, time.monotonic() - started, describe(result)))
        return result


def _describe_gate(gate: GateResult) -> str:
    counts = gate.counts()
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


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
    steps = _Steps()
    outcome = "failed"
    gate: GateResult | None = None
    try:
        check_processable_day(day, today=utc_now().date())
        settings = load_settings()
        _preflight(settings)
        request = pipeline.plan_day(settings, day)
        logger.info("daily run for %s (run %s)", day, run_id)
        with pipeline.open_session(settings) as session, job_labels(run_id=run_id or "adhoc"):
            try:
                if settings.live.seal_days:
                    loaded, attempts = _seal_steps(steps, session, day, run_id)
                else:
                    loaded, attempts = _ingest_steps(steps, session, request, run_id)
            except Exception as exc:  # the day was not loaded: keep it in the failure log
                pipeline.record_failed_day(session, request, exc, flow_run_id=run_id)
                raise
            built = steps.run(
                "run_sql_pipeline",
                lambda: run_sql_pipeline(session, day),
                lambda names: f"{len(names)} models built into {warehouse_names.AUDIT}",
            )
            state = steps.run(
                "validate_business_rules",
                lambda: validate_business_rules(
                    session, day, run_id or "", built, return_state=True
                ),
                lambda s: s.message or "passed",
            )
            checked = state.result(raise_on_failure=False)
            if not isinstance(checked, GateResult):  # the checks themselves crashed: re-raise
                state.result()
                raise AssertionError("unreachable")  # pragma: no cover
            gate = steps.run(
                "publish_quality_metrics",
                lambda: publish_quality_metrics(session, checked),
                lambda g: f"{len(g.published)} models published; {_describe_gate(g)}",
            )
            if not gate.passed:
                raise pipeline.gate_error(gate)
        outcome = "completed"
        return {
            "logical_date": day.isoformat(),
            "source_attempts": attempts,
            "records_loaded": loaded.records_loaded,
            "records_quarantined": loaded.records_quarantined,
            "models_built": len(built),
            "models_published": len(gate.published),
            "checks": gate.counts(),
        }
    except BnplError as exc:
        logger.error("daily run for %s failed: %s", day, exc)
        raise
    finally:  # the summary also when the run fails: which steps ran, and the error
        create_markdown_artifact(
            key="daily-summary",
            markdown=pipeline.render_daily_summary(
                day,
                steps.done,
                outcome=outcome,
                failed_checks=[r.check_name for r in gate.failed] if gate else [],
            ),
            description=f"bnpl daily run for {day}",
        )
