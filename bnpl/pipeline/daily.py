"""The daily run: which day a scheduled run processes, its six steps composed once
(:class:`DailyRun`, run directly by ``bnpl daily`` and, with each step a task, by the
``bnpl-daily`` flow), and the Markdown summary of what each step did.

Days are calendar days in UTC: the daily schedule fires at 02:00 UTC and processes the previous
UTC day, the last complete one.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from bnpl.calendar import DayRequest
from bnpl.ingest import AdmittedDay, DayResult, IngestSession, record_failed_day
from bnpl.live.seal import LiveDay
from bnpl.markdown import table_cell
from bnpl.models import load_project
from bnpl.pipeline.days import fetch_day, load_day, plan_day, prepare_day
from bnpl.pipeline.publish import build, gate, publish
from bnpl.pipeline.seal import load_seal, prepare_seal, read_live, record_failed_seal
from bnpl.quality.base import GateResult
from bnpl.quality.gate import gate_error
from bnpl.source.client import FetchedDay
from bnpl.warehouse import DayBatch
from bnpl.warehouse.names import AUDIT

logger = logging.getLogger(__name__)

T = TypeVar("T")


def previous_day(moment: datetime) -> date:
    """The UTC calendar day before ``moment`` (a naive ``moment`` is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date() - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StepTiming:
    """Wall time of one step of a daily run."""

    step: str
    seconds: float
    detail: str


def render_daily_summary(
    day: date, steps: Sequence[StepTiming], *, outcome: str, failed_checks: Sequence[str] = ()
) -> str:
    """The Markdown summary of one daily run: the outcome, then each step that ran, its wall time
    and what it did (or its error)."""
    if failed_checks:
        outcome += (
            f"; not published: {len(failed_checks)} error-level check(s) failed "
            f"({', '.join(failed_checks)})"
        )
    total = math.fsum(s.seconds for s in steps)
    lines = [
        f"# bnpl daily run for {day}",
        "",
        f"**Outcome:** {outcome}. **Wall time:** {total:.1f} s.",
        "",
        "| step | seconds | result |",
        "|---|---:|---|",
    ]
    lines += [f"| {s.step} | {s.seconds:.2f} | {table_cell(s.detail)} |" for s in steps]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class DailyResult:
    """What a daily run did (the figures the CLI prints, ``--json`` and the flow return)."""

    day: date
    source_attempts: int
    records_loaded: int
    records_quarantined: int
    models_built: int
    models_published: int
    checks: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        """Plain values: the day as ``YYYY-MM-DD``."""
        return {
            "logical_date": self.day.isoformat(),
            "source_attempts": self.source_attempts,
            "records_loaded": self.records_loaded,
            "records_quarantined": self.records_quarantined,
            "models_built": self.models_built,
            "models_published": self.models_published,
            "checks": dict(self.checks),
        }

    @classmethod
    def from_dict(cls, figures: dict[str, Any]) -> DailyResult:
        """The inverse of :meth:`as_dict` (what the ``bnpl-daily`` flow returns)."""
        return cls(
            date.fromisoformat(figures["logical_date"]),
            figures["source_attempts"],
            figures["records_loaded"],
            figures["records_quarantined"],
            figures["models_built"],
            figures["models_published"],
            {str(status): n for status, n in figures["checks"].items()},
        )

    def __str__(self) -> str:
        checks = ", ".join(f"{n} {status}" for status, n in self.checks.items() if n)
        return (
            f"{self.day}: {self.records_loaded:,} rows loaded, {self.records_quarantined:,} "
            f"quarantined, {self.models_published} models published; checks: {checks}"
        )


def extract_daily_batch(session: IngestSession, request: DayRequest) -> FetchedDay:
    """Fetch the day's records (:func:`~bnpl.pipeline.fetch_day`)."""
    fetched = fetch_day(session, request)
    logger.info(
        "%s: %d records fetched in %d attempt(s)",
        request.day,
        len(fetched.records),
        fetched.attempts,
    )
    return fetched


def validate_raw_schema(
    session: IngestSession, request: DayRequest, fetched: FetchedDay, flow_run_id: str | None
) -> AdmittedDay:
    """Prepare the day (:func:`~bnpl.pipeline.prepare_day`): parse, contracts, quarantine."""
    admitted = prepare_day(session, request, fetched, flow_run_id=flow_run_id)
    stats = admitted.ready.prepared.stats
    logger.info(
        "%s: %d of %d records quarantined %s",
        request.day,
        stats.records_quarantined,
        stats.records_received,
        stats.quarantine_by_check or "",
    )
    return admitted


def normalize_entities(session: IngestSession, admitted: AdmittedDay) -> DayResult:
    """Load the day with its ledger row (:func:`~bnpl.pipeline.load_day`)."""
    return load_day(session, admitted)


def extract_live_day(session: IngestSession, day: date) -> LiveDay:
    """A live day (``BNPL_LIVE__SEAL_DAYS``): read its live rows and dead letters, once its
    grace period for late events is over (:func:`~bnpl.pipeline.read_live`)."""
    live = read_live(session.warehouse, session.settings, day)
    logger.info(
        "%s: %d live rows, %d dead letters", day, live.rows.height, live.dead_letters.height
    )
    return live


def validate_live_day(session: IngestSession, live: LiveDay, flow_run_id: str | None) -> DayBatch:
    """The sealed day's frames and its live ledger row (:func:`~bnpl.pipeline.prepare_seal`;
    the rows themselves passed the contracts when the loader wrote them)."""
    return prepare_seal(session.settings, live, flow_run_id=flow_run_id)


def seal_live_day(session: IngestSession, batch: DayBatch) -> DayResult:
    """Replace the day with the live rows and the live ledger row, atomically
    (:func:`~bnpl.pipeline.load_seal`: the same day replace as a fetched day)."""
    return load_seal(session.warehouse, batch)


def run_sql_pipeline(session: IngestSession, day: date) -> tuple[str, ...]:
    """Build the models for the day into the audit area, without the as-of snapshot marts (the
    run's cost stays flat in the history); the marts built."""
    project = load_project(user_dir=session.settings.project.dir)
    return build(session.warehouse, start=day, end=day, snapshots=False, project=project).marts


def validate_business_rules(
    session: IngestSession, day: date, run_id: str, built: tuple[str, ...]
) -> GateResult:
    """Check the audited day and store the results (:func:`~bnpl.pipeline.gate`)."""
    return gate(
        session.warehouse,
        session.settings,
        built,
        start=day,
        end=day,
        logical_date=day,
        run_id=run_id,
    )


def publish_quality_metrics(session: IngestSession, checked: GateResult) -> GateResult:
    """Publish the marts if the gate passed (:func:`~bnpl.pipeline.publish`)."""
    return publish(session.warehouse, checked)


@dataclass(frozen=True)
class DailySteps:
    """The six steps of a daily run. The defaults are the plain functions above; the Prefect flow
    passes the same functions wrapped as tasks (``bnpl_flows/daily.py``)."""

    extract_daily_batch: Callable[[IngestSession, DayRequest], FetchedDay] = extract_daily_batch
    validate_raw_schema: Callable[
        [IngestSession, DayRequest, FetchedDay, str | None], AdmittedDay
    ] = validate_raw_schema
    normalize_entities: Callable[[IngestSession, AdmittedDay], DayResult] = normalize_entities
    run_sql_pipeline: Callable[[IngestSession, date], tuple[str, ...]] = run_sql_pipeline
    validate_business_rules: Callable[[IngestSession, date, str, tuple[str, ...]], GateResult] = (
        validate_business_rules
    )
    publish_quality_metrics: Callable[[IngestSession, GateResult], GateResult] = (
        publish_quality_metrics
    )
    # a live day (BNPL_LIVE__SEAL_DAYS) is sealed under the first three steps' names
    extract_live_day: Callable[[IngestSession, date], LiveDay] = extract_live_day
    validate_live_day: Callable[[IngestSession, LiveDay, str | None], DayBatch] = validate_live_day
    seal_live_day: Callable[[IngestSession, DayBatch], DayResult] = seal_live_day


class DailyRun:
    """One daily run of ``day``: fetch, prepare, load (a failure goes to the failure log), build,
    gate, publish. Remembers each step's wall time and what it did (:attr:`done`) and the gate's
    result (:attr:`gate`), also when a step fails, for :meth:`summary`.

    ``run_id`` is stored with the quality results; ``flow_run_id`` in the ledger and the failure
    log (None outside Prefect).
    """

    def __init__(
        self,
        day: date,
        *,
        run_id: str,
        flow_run_id: str | None = None,
        steps: DailySteps | None = None,
    ) -> None:
        self.day = day
        self.run_id = run_id
        self.flow_run_id = flow_run_id
        self.steps = steps or DailySteps()
        self.done: list[StepTiming] = []
        self.gate: GateResult | None = None

    def _step(self, name: str, call: Callable[[], T], describe: Callable[[T], str]) -> T:
        started = time.monotonic()
        try:
            result = call()
        except BaseException as exc:
            self.done.append(StepTiming(name, time.monotonic() - started, f"failed: {exc}"))
            raise
        self.done.append(StepTiming(name, time.monotonic() - started, describe(result)))
        return result

    def run(self, session: IngestSession) -> DailyResult:
        """Run the six steps in order.

        Raises:
            SourceError, QuarantineThresholdError, WarehouseError: the day was not loaded (it
                is in the failure log).
            ModelError: a model did not build; nothing was checked or published.
            QualityGateError: an error-level check failed; the marts were left unchanged.
        """
        s, day = self.steps, self.day
        # a live day (BNPL_LIVE__SEAL_DAYS) has no source request: its batch id is the live one
        request = None if session.settings.live.seal_days else plan_day(session.settings, day)
        try:
            if request is None:
                loaded, attempts = self._seal(session)
            else:
                loaded, attempts = self._ingest(session, request)
        except Exception as exc:  # the day was not loaded: keep it in the failure log
            if request is None:
                record_failed_seal(session.warehouse, day, exc, flow_run_id=self.flow_run_id)
            else:
                record_failed_day(session, request, exc, flow_run_id=self.flow_run_id)
            raise
        built = self._step(
            "run_sql_pipeline",
            lambda: s.run_sql_pipeline(session, day),
            lambda names: f"{len(names)} models built into {AUDIT}",
        )
        checked = self._step(
            "validate_business_rules",
            lambda: s.validate_business_rules(session, day, self.run_id, built),
            _describe_checked,
        )
        self.gate = checked
        outcome = self._step(
            "publish_quality_metrics",
            lambda: s.publish_quality_metrics(session, checked),
            lambda g: f"{len(g.published)} models published; {_describe_counts(g)}",
        )
        self.gate = outcome
        if not outcome.passed:
            raise gate_error(outcome)
        return DailyResult(
            day,
            attempts,
            loaded.records_loaded,
            loaded.records_quarantined,
            len(built),
            len(outcome.published),
            {str(status): n for status, n in outcome.counts().items()},
        )

    def _ingest(self, session: IngestSession, request: DayRequest) -> tuple[DayResult, int]:
        """The first three steps for a day fetched from the source: the day's figures and the
        source attempts."""
        s = self.steps
        fetched = self._step(
            "extract_daily_batch",
            lambda: s.extract_daily_batch(session, request),
            lambda f: f"{len(f.records):,} records in {f.attempts} attempt(s)",
        )
        admitted = self._step(
            "validate_raw_schema",
            lambda: s.validate_raw_schema(session, request, fetched, self.flow_run_id),
            lambda a: (
                f"{a.ready.prepared.stats.records_quarantined:,} of "
                f"{a.ready.prepared.stats.records_received:,} records quarantined"
            ),
        )
        loaded = self._step(
            "normalize_entities",
            lambda: s.normalize_entities(session, admitted),
            lambda d: (
                f"{d.records_loaded:,} transactions, {d.customers_loaded:,} customers, "
                f"{d.records_quarantined:,} quarantined"
            ),
        )
        return loaded, fetched.attempts

    def _seal(self, session: IngestSession) -> tuple[DayResult, int]:
        """The first three steps for a live day: read it, prepare its seal, replace the day."""
        s = self.steps
        live = self._step(
            "extract_daily_batch",
            lambda: s.extract_live_day(session, self.day),
            lambda d: f"{d.rows.height:,} live rows, {d.dead_letters.height:,} dead letters",
        )
        batch = self._step(
            "validate_raw_schema",
            lambda: s.validate_live_day(session, live, self.flow_run_id),
            lambda b: f"{b.customers.height:,} customers; ledger source live",
        )
        loaded = self._step(
            "normalize_entities",
            lambda: s.seal_live_day(session, batch),
            lambda d: (
                f"sealed: {d.records_loaded:,} transactions, {d.records_quarantined:,} dead letters"
            ),
        )
        return loaded, 1

    def summary(self, *, outcome: str) -> str:
        """The Markdown summary of the steps that ran (:func:`render_daily_summary`)."""
        failed = [r.check_name for r in self.gate.failed] if self.gate else []
        return render_daily_summary(self.day, self.done, outcome=outcome, failed_checks=failed)


def _describe_counts(checked: GateResult) -> str:
    return ", ".join(f"{n} {status}" for status, n in checked.counts().items() if n)


def _describe_checked(checked: GateResult) -> str:
    if checked.passed:
        return "passed"
    names = ", ".join(r.check_name for r in checked.failed)
    return f"{len(checked.failed)} error-level checks failed: {names}"
