"""Write, audit, publish: build the models into the audit area, run the quality checks there and
store every result, then copy the audited marts to ``bnpl_marts`` only when no error-level check
failed. The steps are verbs of their own (the daily flow runs each as a task);
:func:`write_audit_publish` runs them in order.

On failure nothing is copied to ``bnpl_marts``: the published marts stay the previous good
version, and :class:`~bnpl.errors.QualityGateError` names the failing checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date

from bnpl import models
from bnpl.calendar import check_range
from bnpl.models import BuildResult, Project
from bnpl.progress import ProgressCallback
from bnpl.quality.base import Check, GateResult
from bnpl.quality.checks import declared_checks
from bnpl.quality.gate import audit_built, gate_error, gate_range
from bnpl.quality.store import write_publication
from bnpl.settings import Settings
from bnpl.timeutil import utc_now
from bnpl.warehouse import names
from bnpl.warehouse.base import Warehouse

logger = logging.getLogger(__name__)


def build(
    warehouse: Warehouse,
    *,
    start: date | None = None,
    end: date | None = None,
    selection: Sequence[str] = (),
    full_refresh: bool = False,
    snapshots: bool = True,
    project: Project | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Write: build the selected models (all by default) for ``start..end`` (inclusive; both or
    neither: every loaded day), marts into the audit area (``bnpl_audit``).

    Args:
        selection: dbt-style selectors (``name``, ``name+``, ``+name``).
        full_refresh: rebuild every table from every loaded day.
        snapshots: with the default selection, also build the ``table`` models (the as-of
            snapshot marts, rebuilt whole from every loaded day); the daily run leaves them out
            so that its cost stays flat in the history (``bnpl build``, ``bnpl check`` and the
            ``bnpl-features`` flow rebuild them).
        project: the models; the bundled ``sql/`` project by default (callers with settings
            pass ``load_project(user_dir=settings.project.dir)``).
        progress: told before the first model and after each (:mod:`bnpl.progress`).

    Raises:
        ModelError: a model did not render, parse or build; nothing is published.
        ConfigError: bad selection or days.
    """
    warehouse.ensure_schema()
    project = project or models.load_project()
    if not selection and not snapshots:
        selection = [m.name for m in project.models.values() if m.config.materialized != "table"]
    return models.build_models(
        warehouse,
        project,
        selection=selection,
        start=start,
        end=end,
        full_refresh=full_refresh,
        audit=True,
        progress=progress,
    )


def gate(
    warehouse: Warehouse,
    settings: Settings,
    built: Sequence[str],
    *,
    start: date,
    end: date,
    logical_date: date,
    run_id: str,
    checks: Sequence[Check] | None = None,
    progress: ProgressCallback | None = None,
) -> GateResult:
    """Audit: run the quality checks (``checks``, default every declared check) on the ``built``
    marts in the audit area for ``start..end`` and store every result in
    ``bnpl_audit.dq_results`` under ``run_id``. Publishes nothing (see :func:`publish`);
    freshness is measured against ``logical_date``; ``progress`` is told before the first check
    and after each (:mod:`bnpl.progress`)."""
    return audit_built(
        warehouse,
        settings,
        start,
        end,
        logical_date,
        run_id,
        built=built,
        checks=checks,
        progress=progress,
    )


def publish(warehouse: Warehouse, gate: GateResult) -> GateResult:
    """Publish: copy the audited marts to ``bnpl_marts`` atomically if the gate passed, and record
    each in ``bnpl_audit.publish_log``; else leave the marts as they are. Returns the gate with
    ``published`` set."""
    if not gate.passed:
        return gate
    models.publish_models(warehouse, gate.built)
    write_publication(warehouse, gate, gate.built, published_at=utc_now())
    return replace(gate, published=gate.built)


@dataclass(frozen=True)
class Published:
    """What :func:`write_audit_publish` did.

    Attributes:
        build: every model built.
        gate: the gate's result (``published`` lists the marts copied to ``bnpl_marts``); None
            when the build wrote no mart, so that there was nothing to check or publish.
    """

    build: BuildResult
    gate: GateResult | None


def write_audit_publish(
    warehouse: Warehouse,
    settings: Settings,
    *,
    run_id: str,
    start: date | None = None,
    end: date | None = None,
    logical_date: date | None = None,
    selection: Sequence[str] = (),
    full_refresh: bool = False,
    checks: Sequence[Check] | None = None,
    project: Project | None = None,
    on_result: Callable[[GateResult], None] | None = None,
    progress: ProgressCallback | None = None,
    publish_marts: bool = True,
) -> Published:
    """:func:`build`, :func:`gate` and :func:`publish`, in order.

    ``publish_marts=False`` stops after the gate (a run of selected checks must not publish
    marts that the other checks have not seen): the results are stored, nothing is published.

    The gate checks ``start..end`` (default: the first and last day in the ledger) with
    ``logical_date`` (default ``end``). ``on_result`` sees the gate's result after the results
    are stored and the marts published (if they were), before a failure is raised: the flows
    create their artifacts and the failure event there. ``progress`` sees the build's models, then
    the gate's checks (:mod:`bnpl.progress`).

    Raises:
        QualityGateError: an error-level check failed; nothing was published.
        ModelError: a model did not build; nothing was checked or published.
        ConfigError: a bad range, or no default range because the ledger is empty.
    """
    if start is not None and end is not None:
        check_range(start, end)
    project = project or models.load_project(user_dir=settings.project.dir)
    # every check is known (a malformed user check found) before anything is written
    checks = checks if checks is not None else declared_checks(settings.quality, project)
    with warehouse.session():  # one DuckDB connection for the three steps (docs/decisions.md)
        built = build(
            warehouse,
            start=start,
            end=end,
            selection=selection,
            full_refresh=full_refresh,
            project=project,
            progress=progress,
        )
        if not built.marts:
            return Published(built, None)
        first, last, logical = gate_range(warehouse, start, end, logical_date)
        logger.info("built %d marts into %s for %s..%s", len(built.marts), names.AUDIT, first, last)
        checked = gate(
            warehouse,
            settings,
            built.marts,
            start=first,
            end=last,
            logical_date=logical,
            run_id=run_id,
            checks=checks,
            progress=progress,
        )
        outcome = publish(warehouse, checked) if publish_marts else checked
        if outcome.passed and not publish_marts:
            logger.info(
                "selected checks passed (%d checks); nothing published", len(outcome.results)
            )
        elif outcome.passed:
            logger.info(
                "quality gate passed (%d checks, %d warnings); published %d models",
                len(outcome.results),
                len(outcome.warnings),
                len(outcome.published),
            )
        else:
            logger.error(
                "quality gate failed: %s; nothing published",
                ", ".join(r.check_name for r in outcome.failed),
            )
        if on_result is not None:
            on_result(outcome)
        if not outcome.passed:
            raise gate_error(outcome)
        return Published(built, outcome)
