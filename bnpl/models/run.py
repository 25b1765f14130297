"""Building models into a warehouse: plan every selected model first (so a bad template or a
missing input fails before anything is written), then run them in dependency order, checking each
result's columns against the declared schema before writing. Write-audit-publish: see
:mod:`bnpl.models.publish`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bnpl.errors import ModelError, WarehouseError
from bnpl.models.compile import Action, Relation, select_all
from bnpl.models.model import Project
from bnpl.models.plan import Step, check_schema, plan_steps
from bnpl.models.publish import change_of
from bnpl.progress import ProgressCallback, report
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.labels import job_labels
from bnpl.warehouse.names import AUDIT

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BuiltModel:
    """One model of a finished build.

    Attributes:
        name: the model.
        target: the table or view written.
        action: ``view``, ``create``, ``replace_range`` or ``merge``.
        start, end: the days it was built for (None for views).
        seconds: wall time, schema checks included.
    """

    name: str
    target: Relation
    action: Action
    start: date | None
    end: date | None
    seconds: float


@dataclass(frozen=True)
class BuildResult:
    """What a build did.

    Attributes:
        start, end: the run's days (None when nothing needed days).
        full_refresh: whether every table was rebuilt from every loaded day.
        audit: whether marts were written to ``bnpl_audit`` (publish with :func:`publish_models`).
        models: every model built, in build order.
    """

    start: date | None
    end: date | None
    full_refresh: bool
    audit: bool
    models: tuple[BuiltModel, ...]

    @property
    def marts(self) -> tuple[str, ...]:
        """Marts written to the audit area, waiting to be published."""
        return tuple(m.name for m in self.models if m.target.dataset == AUDIT)


def _bind(params: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any] | None:
    """The values of ``names`` (DuckDB refuses named parameters a statement does not use)."""
    return {name: params[name] for name in sorted(names)} or None


def _run_step(warehouse: Warehouse, step: Step) -> None:
    compiled = step.compiled
    model = compiled.model
    qualify = warehouse.table
    if step.audited:
        change = change_of(model, compiled.action, step.start, step.end)
        incremental = compiled.action in ("replace_range", "merge")
        warehouse.prepare_audit(change, incremental=incremental)
    if compiled.action in ("replace_range", "merge"):
        probe = select_all(qualify, compiled.target, warehouse.dialect, limit=0)
        existing = warehouse.query(probe).schema
        try:
            check_schema(
                model, existing, f"the existing table {compiled.target} does not match: its columns"
            )
        except ModelError as exc:
            raise ModelError(
                f"{exc}; or rebuild the table: bnpl build --select {model.name} --full-refresh"
            ) from None
    result = warehouse.query(compiled.probe, _bind(step.params, compiled.probe_parameters)).schema
    check_schema(model, result, "its result columns")
    if len(compiled.statements) == 1:
        warehouse.execute(compiled.statements[0], _bind(step.params, compiled.parameters[0]))
    else:
        used = frozenset().union(*compiled.parameters)
        warehouse.execute_many(compiled.statements, _bind(step.params, used))


def build_models(
    warehouse: Warehouse,
    project: Project,
    *,
    selection: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    full_refresh: bool = False,
    audit: bool = False,
    params: Mapping[str, Any] | None = None,
    progress: ProgressCallback | None = None,
) -> BuildResult:
    """Build the selected models (all by default) in dependency order.

    Args:
        warehouse: where to build.
        project: from :func:`bnpl.models.load_project`.
        selection: dbt-style selectors (``name``, ``name+``, ``+name``).
        start, end: days to rebuild (inclusive); both or neither (every loaded day).
        full_refresh: rebuild every table from every loaded day.
        audit: write marts to ``bnpl_audit`` for :func:`publish_models`.
        params: values of the extra parameters models declare in ``config(parameters=...)``.
        progress: told before the first model and after each (:mod:`bnpl.progress`).

    Raises:
        ModelError: naming the model and file; models before it stay built, marts in the audit
            area are not published.
        ConfigError: bad selection or days.
    """
    results: list[BuiltModel] = []
    with warehouse.session():
        steps = plan_steps(warehouse, project, selection, start, end, full_refresh, audit, params)
        report(progress, "build", 0, len(steps))
        for step in steps:
            began = time.perf_counter()
            compiled = step.compiled
            try:
                with job_labels(model=compiled.model.name):
                    _run_step(warehouse, step)
            except WarehouseError as exc:
                raise ModelError(
                    f"{compiled.model.where()}: building {compiled.target} ({compiled.action}) "
                    f"failed: {exc}"
                ) from exc
            seconds = time.perf_counter() - began
            logger.info(
                "built %s into %s (%s, %s..%s) in %.2f s",
                compiled.model.name,
                compiled.target,
                compiled.action,
                step.start,
                step.end,
                seconds,
            )
            results.append(
                BuiltModel(
                    compiled.model.name,
                    compiled.target,
                    compiled.action,
                    step.start,
                    step.end,
                    seconds,
                )
            )
            report(progress, "build", len(results), len(steps), compiled.model.name)
    return BuildResult(start, end, full_refresh, audit, tuple(results))
