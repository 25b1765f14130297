"""The gate's audit step and its range: run every check on what a build wrote to the audit
area and store the results (:func:`audit_built`), the error a blocked gate raises, and a gate
run's default days. Write-audit-publish itself is :mod:`bnpl.pipeline`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime

from bnpl.calendar import check_range
from bnpl.errors import ConfigError, QualityGateError
from bnpl.models.project import load_project
from bnpl.progress import ProgressCallback
from bnpl.quality.base import Check, GateResult
from bnpl.quality.checks import declared_checks
from bnpl.quality.context import CheckContext, loaded_range
from bnpl.quality.runner import evaluate_checks
from bnpl.quality.store import write_results
from bnpl.settings import Settings
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.names import AUDIT, DQ_RESULTS

logger = logging.getLogger(__name__)


def gate_error(gate: GateResult) -> QualityGateError:
    """The error a blocked gate raises: every failing check, with its details."""
    lines = "\n".join(f"  - {r.check_name} [{r.model}]: {r.details}" for r in gate.failed)
    return QualityGateError(
        f"quality gate blocked publication of {gate.start}..{gate.end} (run {gate.run_id}): "
        f"{len(gate.failed)} error-level checks failed:\n{lines}\n"
        "The published marts were left unchanged. Fix the data (re-run the affected days with "
        f"`bnpl backfill --force`), then run `bnpl check` again; details: `bnpl report`, or "
        f"{DQ_RESULTS} where run_id = '{gate.run_id}'.",
        failed=[r.check_name for r in gate.failed],
    )


def audit_built(
    warehouse: Warehouse,
    settings: Settings,
    start: date,
    end: date,
    logical_date: date,
    run_id: str,
    *,
    built: Sequence[str],
    checks: Sequence[Check] | None = None,
    progress: ProgressCallback | None = None,
) -> GateResult:
    """Run the checks on what a build wrote to the audit area for ``start..end`` and store every
    result in ``bnpl_audit.dq_results``; publish nothing (the caller publishes if it passed)."""
    ctx = CheckContext(
        warehouse,
        settings.quality,
        start=start,
        end=end,
        logical_date=logical_date,
        marts_dataset=AUDIT,
        built=tuple(built),
    )
    checked_at = datetime.now(UTC)
    if checks is None:
        project = load_project(user_dir=settings.project.dir)
        checks = declared_checks(settings.quality, project)
    results = evaluate_checks(ctx, checks, progress=progress)
    write_results(
        warehouse,
        results,
        run_id=run_id,
        logical_date=logical_date,
        start=start,
        end=end,
        checked_at=checked_at,
    )
    return GateResult(run_id, logical_date, start, end, results, built=tuple(built))


def gate_range(
    warehouse: Warehouse,
    start: date | None = None,
    end: date | None = None,
    logical_date: date | None = None,
) -> tuple[date, date, date]:
    """Fill in a gate run's days: ``start``/``end`` default to the first/last day in the ledger,
    ``logical_date`` to ``end``.

    Raises:
        ConfigError: the range is reversed, or a default is needed and the ledger is empty.
    """
    if start is None or end is None:
        loaded = loaded_range(warehouse)
        if loaded is None:
            raise ConfigError(
                "the ledger is empty, so there is no default range; load days with "
                "`bnpl backfill --start D --end D` or pass --start and --end"
            )
        start, end = start or loaded[0], end or loaded[1]
    check_range(start, end)
    return start, end, logical_date or end
