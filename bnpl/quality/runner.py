"""Evaluate checks: every check runs, and a check that cannot run is a result, not a crash."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import date

from bnpl.models.model import Project
from bnpl.progress import ProgressCallback, report
from bnpl.quality.base import Check, CheckResult, Outcome, apply_severity
from bnpl.quality.checks import declared_checks
from bnpl.quality.context import CheckContext
from bnpl.settings import QualitySettings
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.names import AUDIT

logger = logging.getLogger(__name__)


def evaluate_checks(
    ctx: CheckContext, checks: Sequence[Check], *, progress: ProgressCallback | None = None
) -> tuple[CheckResult, ...]:
    """Evaluate ``checks`` in order against ``ctx`` (``progress`` is told before the first and
    after each: :mod:`bnpl.progress`).

    A check that raises is recorded with status ``error`` and the exception in its details (it
    blocks publication when its severity is ``error``); the others still run. A check of a mart
    the run did not build is skipped.
    """
    results = []
    report(progress, "check", 0, len(checks))
    for check in checks:
        started = time.perf_counter()
        try:
            if not ctx.has_model(check.model):
                outcome = Outcome(
                    "skip",
                    None,
                    None,
                    f"{check.model} is not built in {ctx.marts_dataset} by this run",
                )
            else:
                outcome = check.evaluate(ctx)
            result = apply_severity(check, outcome)
        except Exception as exc:  # a broken check must not hide the other results
            logger.exception("check %s could not run", check.name)
            result = CheckResult(
                check_name=check.name,
                category=check.category,
                model=check.model,
                severity=check.severity,
                status="error",
                observed_value=None,
                threshold=None,
                details=f"the check could not run: {type(exc).__name__}: {exc}",
            )
        logger.info(
            "check %s: %s (%.2f s) %s",
            check.name,
            result.status,
            time.perf_counter() - started,
            "" if result.status == "pass" else result.details,
        )
        results.append(result)
        report(progress, "check", len(results), len(checks), check.name)
    return tuple(results)


def run_checks(
    warehouse: Warehouse,
    settings: QualitySettings,
    *,
    start: date,
    end: date,
    logical_date: date,
    marts_dataset: str = AUDIT,
    built: Sequence[str] | None = None,
    checks: Sequence[Check] | None = None,
    project: Project | None = None,
) -> tuple[CheckResult, ...]:
    """Evaluate the declared checks (or ``checks``) for ``start..end`` without storing them.

    ``built`` names the marts the run built in ``marts_dataset``; checks of other marts are
    skipped. None: every mart that exists there is checked. ``project``: the models whose
    declared checks run (default: the bundled ones).
    """
    ctx = CheckContext(
        warehouse,
        settings,
        start=start,
        end=end,
        logical_date=logical_date,
        marts_dataset=marts_dataset,
        built=built,
    )
    return evaluate_checks(ctx, declared_checks(settings, project) if checks is None else checks)
