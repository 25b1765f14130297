"""The data-quality gate: declared checks, write-audit-publish, a results history, the report.

::

    from bnpl.quality import run_gate
    result = run_gate(warehouse, settings, start, end, logical_date, run_id)

Checks are declared once in :mod:`bnpl.quality.checks`; thresholds come from
``settings.quality``. See ``docs/quality.md``.
"""

from __future__ import annotations

from bnpl.quality.base import Check, CheckResult, GateResult, Outcome, Severity, Status
from bnpl.quality.checks import CHECKS, declared_checks
from bnpl.quality.context import CheckContext, loaded_range
from bnpl.quality.events import (
    FAILED_EVENT,
    QualityEvent,
    failure_event,
    results_table,
    summary_markdown,
)
from bnpl.quality.gate import (
    ModelRunner,
    SqlModelRunner,
    audit_built,
    build_gate,
    gate_error,
    gate_range,
    run_gate,
)
from bnpl.quality.report import build_report, write_report
from bnpl.quality.runner import evaluate_checks, run_checks
from bnpl.quality.store import read_results, write_results

__all__ = [
    "CHECKS",
    "FAILED_EVENT",
    "Check",
    "CheckContext",
    "CheckResult",
    "GateResult",
    "ModelRunner",
    "Outcome",
    "QualityEvent",
    "Severity",
    "SqlModelRunner",
    "Status",
    "audit_built",
    "build_gate",
    "build_report",
    "declared_checks",
    "evaluate_checks",
    "failure_event",
    "gate_error",
    "gate_range",
    "loaded_range",
    "read_results",
    "results_table",
    "run_checks",
    "run_gate",
    "summary_markdown",
    "write_report",
    "write_results",
]
