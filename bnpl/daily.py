"""The daily run's plain pieces, one per step of the daily DAG, and how runs are reported.

``flows/daily.py`` wires them as Prefect tasks; a notebook can call them in the same order::

    with open_session(settings) as session:
        request = plan_day(day, settings.plan)                       # bnpl.calendar
        fetched = session.client.fetch_day(request)                  # extract_daily_batch
        validate_raw_records(day, fetched.records, threshold=...)    # validate_raw_schema
        loaded = normalize_and_load(session, request, fetched)       # normalize_entities
        built = build_day(session.warehouse, day)                    # run_sql_pipeline
        gate = check_day(session.warehouse, settings, day, ...)      # validate_business_rules
        gate = publish_day(session.warehouse, gate)                  # publish_quality_metrics

Days are calendar days in UTC: the daily schedule fires at 02:00 UTC and processes the previous
UTC day, the last complete one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from bnpl import normalize
from bnpl.calendar import DayRequest
from bnpl.contracts import prepare_day
from bnpl.errors import ConfigError, QuarantineThresholdError
from bnpl.ingest import FetchInfo, IngestSession, ReadyDay, load_prepared
from bnpl.ingest_summary import DayResult
from bnpl.quality.base import Check, GateResult
from bnpl.quality.gate import ModelRunner, SqlModelRunner, audit_built
from bnpl.settings import FaultSettings, Settings
from bnpl.source.client import FetchedDay
from bnpl.timeutil import utc_now
from bnpl.warehouse import Warehouse

REQUEST_FAULT_KINDS = ("error_rate", "rate_limit_rate", "cut_rate")
"""Request-level simulator faults that ``--fault-rate`` spreads evenly: 5xx, 429, a cut stream."""


def previous_day(moment: datetime) -> date:
    """The UTC calendar day before ``moment`` (a naive ``moment`` is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date() - timedelta(days=1)


# --- the steps ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RawSchemaReport:
    """How a day's raw records measured up to the record schema (framing, JSON, fields, types).

    Attributes:
        day: the requested day.
        records: records received.
        rejected: records that are not a typed record (they will be quarantined with a reason).
        by_check: rejected records per check name (``json_parse``, ``type``, ...).
        unknown_fields: keys outside the contract seen on any record (kept in ``extra``).
    """

    day: date
    records: int
    rejected: int
    by_check: dict[str, int]
    unknown_fields: tuple[str, ...]

    @property
    def rejected_share(self) -> float:
        """Rejected share of the records received (0 for an empty day)."""
        return self.rejected / self.records if self.records else 0.0


def validate_raw_records(
    day: date, records: Sequence[bytes], *, threshold: float
) -> RawSchemaReport:
    """Check the day's raw records against the record schema before anything is written.

    A cheap first pass (parsing a day of ~5k records takes milliseconds): records that fail are
    not dropped here, :func:`normalize_and_load` quarantines them with their reason.

    Raises:
        QuarantineThresholdError: more than ``threshold`` of the records fail the schema; the
            source is sending broken data and nothing is loaded for the day.
    """
    parsed = normalize.parse_records(records)
    by_check: dict[str, int] = {}
    for rejection in parsed.rejections:
        by_check[rejection.check] = by_check.get(rejection.check, 0) + 1
    report = RawSchemaReport(
        day,
        len(records),
        len(parsed.rejections),
        dict(sorted(by_check.items())),
        parsed.unknown_fields,
    )
    if report.rejected_share > threshold:
        top = ", ".join(
            f"{name} ({n})" for name, n in sorted(by_check.items(), key=lambda kv: -kv[1])[:3]
        )
        raise QuarantineThresholdError(
            f"{day}: {report.rejected} of {report.records} raw records fail the record schema "
            f"({report.rejected_share:.2%} > threshold {threshold:.2%}); top checks: {top}; nothing "
            "was written for this day. Inspect the source, or raise "
            "BNPL_INGEST__QUARANTINE_THRESHOLD"
        )
    return report


def normalize_and_load(
    session: IngestSession,
    request: DayRequest,
    fetched: FetchedDay,
    *,
    flow_run_id: str | None = None,
) -> DayResult:
    """Type, key, validate and split the day into transactions, customers and quarantined rows,
    then replace the day in the raw tables with its ledger row, atomically.

    Raises:
        QuarantineThresholdError: too many rows quarantined; nothing is written for the day.
        WarehouseError: the load failed and was rolled back.
    """
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
    return load_prepared(session, ReadyDay(request, prepared, info), flow_run_id=flow_run_id)


def build_day(
    warehouse: Warehouse, day: date, *, runner: ModelRunner | None = None
) -> tuple[str, ...]:
    """Build the SQL models for ``day`` into the audit area: incremental models for that day only,
    views, and not the as-of snapshot marts (``table`` models, rebuilt whole from every loaded
    day by ``bnpl build``, ``bnpl check`` and the ``bnpl-features`` flow), so that a daily run
    costs the same whatever the length of the history.

    Raises:
        ModelError: a model did not render, parse or build.
    """
    warehouse.ensure_schema()
    return (runner or SqlModelRunner(snapshots=False)).build(warehouse, start=day, end=day)


def check_day(
    warehouse: Warehouse,
    settings: Settings,
    day: date,
    *,
    run_id: str,
    built: tuple[str, ...],
    checks: Sequence[Check] | None = None,
) -> GateResult:
    """Run the quality checks on ``day`` in the audit area and store every result in
    ``bnpl_audit.dq_results``. Publishes nothing; :func:`publish_day` does, if the gate passed.

    ``checks`` defaults to every declared check. The logical date is ``day`` itself: freshness
    asks whether ``day`` is loaded.
    """
    return audit_built(warehouse, settings, day, day, day, run_id, built=built, checks=checks)


def publish_day(
    warehouse: Warehouse, gate: GateResult, *, runner: ModelRunner | None = None
) -> GateResult:
    """Copy the audited models to ``bnpl_marts`` if the gate passed; else leave the marts as they
    are. Returns the gate with ``published`` set."""
    if not gate.passed:
        return gate
    (runner or SqlModelRunner()).publish(warehouse, gate.built)
    return replace(gate, published=gate.built)


def request_fault_settings(
    fault_rate: float, *, seed: int = 0, base: FaultSettings | None = None
) -> FaultSettings:
    """Simulator faults where one request attempt fails with probability ``fault_rate``.

    The rate is shared evenly by a 5xx answer, a 429 and a cut stream: each is injected with
    probability ``r`` such that ``1 - (1 - r)**3 == fault_rate`` (the simulator decides them one
    after the other). Every other field comes from ``base`` (default: no other fault), so
    ``Retry-After``, latency and record-level faults configured in the settings still apply;
    record-level faults are data problems that quarantine rows, not failures a retry could cure.
    """
    if not 0 <= fault_rate <= 1:
        raise ConfigError(f"fault rate {fault_rate} is not between 0 and 1")
    each = 1 - (1 - fault_rate) ** (1 / 3)
    update: dict[str, float | int] = {"seed": seed, **dict.fromkeys(REQUEST_FAULT_KINDS, each)}
    return (base or FaultSettings()).model_copy(update=update)


RunStatus = Literal["completed", "recovered", "failed"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one simulated daily run (one day) ended.

    Attributes:
        day: the run's logical date.
        attempts: times the run was executed (1 + retries used).
        completed: whether its last attempt completed.
        error: why it failed: the first failure of a recovered run, the last of a failed one,
            '' for a run that completed at once.
        seconds: wall time of all attempts.
        source_attempts: requests the client sent for the day in the run's last attempt (more
            than 1: the client's retries absorbed a fault); None when the run failed.
    """

    day: date
    attempts: int
    completed: bool
    error: str
    seconds: float
    source_attempts: int | None = None

    @property
    def status(self) -> RunStatus:
        """``completed`` at once, ``recovered`` by a retry, or ``failed`` after its retries."""
        if not self.completed:
            return "failed"
        return "completed" if self.attempts == 1 else "recovered"


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """Per-run failure figures of a replay of the daily flow over a range.

    A run is one day. ``client_retried`` counts completed runs whose source request the client
    retried (faults absorbed without failing the run); ``failed_first`` runs whose first attempt
    failed; ``recovered`` those of them that a run retry completed; ``failed`` those still failed
    after every retry.
    """

    outcomes: tuple[RunOutcome, ...]
    fault_rate: float
    retries: int

    @property
    def runs(self) -> int:
        return len(self.outcomes)

    @property
    def client_retried(self) -> int:
        """Completed runs whose source request the client had to retry (a fault absorbed)."""
        return sum((o.source_attempts or 1) > 1 for o in self.outcomes if o.completed)

    @property
    def failed_first(self) -> int:
        return sum(o.attempts > 1 or not o.completed for o in self.outcomes)

    @property
    def recovered(self) -> int:
        return sum(o.status == "recovered" for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def failure_rate(self) -> float:
        """Share of runs failed after retries (0 for an empty report)."""
        return self.failed / self.runs if self.runs else 0.0

    @property
    def first_attempt_failure_rate(self) -> float:
        """Share of runs whose first attempt failed."""
        return self.failed_first / self.runs if self.runs else 0.0

    def render(self) -> str:
        """A Markdown summary: the figures, then one row per run that did not complete at once."""
        lines = [
            f"# Daily run simulation: {self.runs} days, source fault rate {self.fault_rate:.1%}",
            "",
            "| runs | source faults absorbed by the client | failed on first attempt "
            "| recovered by retry | failed after "
            f"{self.retries} retr{'y' if self.retries == 1 else 'ies'} | failure rate |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {self.runs} | {self.client_retried} "
            f"| {self.failed_first} ({self.first_attempt_failure_rate:.1%}) "
            f"| {self.recovered} | {self.failed} | {self.failure_rate:.1%} |",
        ]
        troubled = [o for o in self.outcomes if o.status != "completed"]
        if troubled:
            lines += ["", "| day | status | attempts | error |", "|---|---|---:|---|"]
            lines += [
                f"| {o.day} | {o.status} | {o.attempts} | {_one_line(o.error)} |" for o in troubled
            ]
        return "\n".join(lines) + "\n"


def _one_line(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def summarize_simulation(
    outcomes: Sequence[RunOutcome], *, fault_rate: float, retries: int
) -> SimulationReport:
    """Collect run outcomes in day order."""
    return SimulationReport(tuple(sorted(outcomes, key=lambda o: o.day)), fault_rate, retries)


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
    lines += [f"| {s.step} | {s.seconds:.2f} | {_one_line(s.detail)} |" for s in steps]
    return "\n".join(lines) + "\n"
