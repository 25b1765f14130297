"""What a check is, what it returns, and what a gate run produces.

A :class:`Check` is declared once (in :mod:`bnpl.quality.checks`) with a name, a category, the
model it reads, a severity and an ``evaluate`` function. Evaluating gives an :class:`Outcome`
(``pass``, ``warn``, ``fail`` or ``skip`` plus the measured value and its limit); the runner turns
it into a :class:`CheckResult` by applying the severity: a failing ``error`` check blocks
publication, a failing ``warn`` check is reported with status ``warn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bnpl.quality.context import CheckContext

Severity = Literal["error", "warn"]
"""``error`` blocks publication when the check fails; ``warn`` only reports."""

Category = Literal["integrity", "completeness", "freshness", "volume", "pattern", "drift"]

Level = Literal["pass", "warn", "fail", "skip"]
"""What an evaluation found, before the check's severity is applied."""

Status = Literal["pass", "warn", "fail", "skip", "error"]
"""Stored status: ``error`` means the check itself could not run (it blocks like ``fail``)."""

STATUSES: tuple[Status, ...] = ("pass", "warn", "fail", "skip", "error")


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of evaluating one check.

    Attributes:
        level: ``pass``; ``warn`` (a soft limit was crossed); ``fail`` (the hard limit was
            crossed); ``skip`` (the range holds nothing the check can judge, e.g. no weekend).
        observed: the measured value (violating rows, worst PSI, a ratio...), or None.
        threshold: the limit ``observed`` was compared with, or None.
        details: one human-readable paragraph: what was measured and the worst offenders.
    """

    level: Level
    observed: float | None
    threshold: float | None
    details: str


@dataclass(frozen=True, slots=True)
class Check:
    """One declared data-quality check.

    Attributes:
        name: unique snake_case name; it is the ``check_name`` in ``dq_results``.
        category: the family of the check.
        model: the table or model it reads (``bnpl_raw.transactions``, ``mart_bnpl_customers``).
        severity: ``error`` blocks publication on failure; ``warn`` reports.
        description: what the check asserts, in one sentence.
        evaluate: computes the outcome against a :class:`CheckContext`.
    """

    name: str
    category: Category
    model: str
    severity: Severity
    description: str
    evaluate: Callable[[CheckContext], Outcome]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One row of ``bnpl_audit.dq_results`` (without the run's columns)."""

    check_name: str
    category: Category
    model: str
    severity: Severity
    status: Status
    observed_value: float | None
    threshold: float | None
    details: str

    @property
    def blocking(self) -> bool:
        """Whether this result stops publication (an error-level check failed or broke)."""
        return self.severity == "error" and self.status in ("fail", "error")


def apply_severity(check: Check, outcome: Outcome) -> CheckResult:
    """Turn an outcome into a result: a ``fail`` of a ``warn`` check is stored as ``warn``."""
    status: Status = outcome.level
    if outcome.level == "fail" and check.severity == "warn":
        status = "warn"
    return CheckResult(
        check_name=check.name,
        category=check.category,
        model=check.model,
        severity=check.severity,
        status=status,
        observed_value=outcome.observed,
        threshold=outcome.threshold,
        details=outcome.details,
    )


@dataclass(frozen=True, slots=True)
class GateResult:
    """Everything one gate run decided.

    Attributes:
        run_id: the run's id (``dq_results.run_id``).
        logical_date: the run's logical date.
        start: first day checked, inclusive.
        end: last day checked, inclusive.
        results: one result per check, in declaration order.
        built: models built into the audit area.
        published: models copied to ``bnpl_marts`` (empty when the gate blocked).
    """

    run_id: str
    logical_date: date
    start: date
    end: date
    results: tuple[CheckResult, ...]
    built: tuple[str, ...] = ()
    published: tuple[str, ...] = ()

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        """Results that block publication."""
        return tuple(r for r in self.results if r.blocking)

    @property
    def warnings(self) -> tuple[CheckResult, ...]:
        """Results that are reported but do not block."""
        return tuple(
            r
            for r in self.results
            if r.status == "warn" or (r.status == "error" and not r.blocking)
        )

    @property
    def passed(self) -> bool:
        """True when no error-level check failed."""
        return not self.failed

    def counts(self) -> dict[Status, int]:
        """Number of results per status (every status present, zero included)."""
        return {s: sum(1 for r in self.results if r.status == s) for s in STATUSES}
