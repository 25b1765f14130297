"""The data-quality gate: declared checks, write-audit-publish, a results history, the report.

::

    from bnpl import pipeline
    pipeline.write_audit_publish(warehouse, settings, run_id=run_id, start=start, end=end)

Checks are declared once in :mod:`bnpl.quality.checks` and in each mart's header
(:mod:`bnpl.quality.declared`); a user's own are SQL files (:mod:`bnpl.quality.user_checks`);
thresholds come from
``settings.quality``. See ``docs/quality.md``.
"""

from __future__ import annotations

from bnpl.quality.base import Check, CheckResult, GateResult, Outcome, Severity, Status
from bnpl.quality.checks import (
    RAW_CHECKS,
    RUN_CHECKS,
    all_checks,
    declared_checks,
    select_checks,
)
from bnpl.quality.context import CheckContext, loaded_range
from bnpl.quality.events import (
    FAILED_EVENT,
    QualityEvent,
    failure_event,
    results_table,
    summary_markdown,
)
from bnpl.quality.gate import audit_built, gate_error, gate_range
from bnpl.quality.report import build_report, write_report
from bnpl.quality.runner import evaluate_checks, run_checks
from bnpl.quality.store import read_results, write_results

__all__ = [
    "FAILED_EVENT",
    "RAW_CHECKS",
    "RUN_CHECKS",
    "Check",
    "CheckContext",
    "CheckResult",
    "GateResult",
    "Outcome",
    "QualityEvent",
    "Severity",
    "Status",
    "all_checks",
    "audit_built",
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
    "select_checks",
    "summary_markdown",
    "write_report",
    "write_results",
]
