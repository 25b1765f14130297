"""Write, audit, publish: build the models into the audit area, run every check there, store the
results, and publish the marts only when no error-level check failed.

On failure nothing is copied to ``bnpl_marts``: the published marts stay the previous good
version, and :class:`~bnpl.errors.QualityGateError` names the failing checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

from bnpl import models
from bnpl.calendar import check_range
from bnpl.errors import ConfigError, QualityGateError
from bnpl.quality.base import Check, GateResult
from bnpl.quality.checks import declared_checks
from bnpl.quality.context import CheckContext, loaded_range
from bnpl.quality.runner import evaluate_checks
from bnpl.quality.store import write_results
from bnpl.settings import Settings
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.names import AUDIT, DQ_RESULTS

logger = logging.getLogger(__name__)


class ModelRunner(Protocol):
    """Builds models into the audit area and publishes them (the SQL model runner)."""

    def build(self, warehouse: Warehouse, *, start: date, end: date) -> tuple[str, ...]:
        """Build every model for ``start..end`` into the audit area; return the names built."""
        ...

    def publish(self, warehouse: Warehouse, names: Sequence[str]) -> None:
        """Copy the named models from the audit area to ``bnpl_marts`` atomically."""
        ...


@dataclass(frozen=True, slots=True)
class SqlModelRunner:
    """:class:`ModelRunner` on :mod:`bnpl.models`: every model of a project, marts written to the
    audit area and published from there.

    Attributes:
        sql_dir: the project's ``sql/`` directory; None for the repository's.
        snapshots: also build the ``table`` models (the as-of snapshot marts, rebuilt whole from
            every loaded day); the daily run leaves them out so that its cost stays flat in the
            history (they are rebuilt by ``bnpl build``, ``bnpl check`` and ``bnpl-features``).
    """

    sql_dir: Path | None = None
    snapshots: bool = True

    def build(self, warehouse: Warehouse, *, start: date, end: date) -> tuple[str, ...]:
        project = models.load_project(self.sql_dir)
        selection = [
            m.name
            for m in project.models.values()
            if self.snapshots or m.config.materialized != "table"
        ]
        return models.build_models(
            warehouse, project, selection=selection, start=start, end=end, audit=True
        ).marts

    def publish(self, warehouse: Warehouse, names: Sequence[str]) -> None:
        models.publish_models(warehouse, names)


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


def run_gate(
    warehouse: Warehouse,
    settings: Settings,
    start: date,
    end: date,
    logical_date: date,
    run_id: str,
    *,
    runner: ModelRunner | None = None,
    checks: Sequence[Check] | None = None,
    on_result: Callable[[GateResult], None] | None = None,
) -> GateResult:
    """Build into the audit area, check, store the results, then publish or refuse.

    Args:
        warehouse: the warehouse to build, check and publish in.
        settings: the run's settings (``settings.quality`` holds the thresholds).
        start, end: the days to build and check, inclusive.
        logical_date: the run's logical date (freshness is measured against it).
        run_id: the id stored with every result (a flow passes its flow run id).
        runner: builds and publishes models; the project's SQL model runner by default.
        checks: the checks to run; every declared check by default.
        on_result: called with the outcome after the results are stored and after publishing
            (when the gate passed), before a failure is raised; flows create artifacts and
            events here.

    Returns:
        the gate's result (``published`` lists the models copied to ``bnpl_marts``).

    Raises:
        QualityGateError: an error-level check failed; nothing was published.
        ModelError: a model did not build; nothing was checked or published.
    """
    check_range(start, end)
    runner = runner or SqlModelRunner()
    warehouse.ensure_schema()
    built = runner.build(warehouse, start=start, end=end)
    logger.info("built %d models into %s for %s..%s", len(built), AUDIT, start, end)
    gate = audit_built(
        warehouse, settings, start, end, logical_date, run_id, built=built, checks=checks
    )
    if gate.passed:
        runner.publish(warehouse, built)
        gate = replace(gate, published=built)
        logger.info(
            "quality gate passed (%d checks, %d warnings); published %d models",
            len(gate.results),
            len(gate.warnings),
            len(built),
        )
    else:
        logger.error(
            "quality gate failed: %s; nothing published",
            ", ".join(r.check_name for r in gate.failed),
        )
    _settle(gate, on_result)
    return gate


def _settle(gate: GateResult, on_result: Callable[[GateResult], None] | None) -> None:
    """Hand the outcome to ``on_result``, then raise :func:`gate_error` if the gate blocked."""
    if on_result is not None:
        on_result(gate)
    if not gate.passed:
        raise gate_error(gate)


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
    results = evaluate_checks(ctx, declared_checks(settings.quality) if checks is None else checks)
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


def build_gate(
    warehouse: Warehouse,
    settings: Settings,
    *,
    run_id: str,
    start: date | None = None,
    end: date | None = None,
    on_result: Callable[[GateResult], None] | None = None,
) -> Callable[[models.BuildResult], None]:
    """The gate for :func:`bnpl.models.build_and_publish`: after the build, before publishing, run
    the checks on the built marts over ``start..end`` (default: every loaded day) and store the
    results; ``on_result`` sees the outcome. Raises :class:`QualityGateError` to stop
    publication when an error-level check fails. A build without marts publishes nothing and
    is not checked."""

    def gate(result: models.BuildResult) -> None:
        if not result.marts:
            return
        first, last, logical = gate_range(warehouse, start, end)
        outcome = audit_built(warehouse, settings, first, last, logical, run_id, built=result.marts)
        _settle(outcome, on_result)

    return gate


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
