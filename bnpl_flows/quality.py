"""The data-quality gate as a Prefect flow: ``bnpl-quality-gate``.

Wiring only. The flow reads the settings once, resolves the range, and runs
:func:`bnpl.pipeline.write_audit_publish` in one task (build the models into ``bnpl_audit``, run every check,
store the results in ``bnpl_audit.dq_results``, publish to ``bnpl_marts`` only when no
error-level check failed). Whatever the verdict, the run gets two artifacts: a table of every
result (``quality-results``) and a markdown summary (``quality-summary``). A blocked gate emits the
event ``bnpl.quality.failed`` with the failing checks in its payload, which the automation in
``deployments/automations/quality-failed.yaml`` turns into a notification (installed by
``bnpl prefect setup``; it notifies through the block given with ``--notify``), and the flow ends
Failed with :class:`bnpl.errors.QualityGateError`.
"""

from __future__ import annotations

import uuid
from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.events import emit_event
from prefect.runtime import flow_run

from bnpl import pipeline
from bnpl.quality import GateResult, failure_event, results_table, summary_markdown
from bnpl.settings import Settings, load_settings
from bnpl.warehouse import open_warehouse
from bnpl.warehouse.labels import job_labels
from bnpl_flows._runtime import Day, forward_bnpl_logs


def publish_gate_outcome(gate: GateResult) -> None:
    """Artifacts for every gate run; the ``bnpl.quality.failed`` event for a blocked one."""
    span = f"{gate.start}..{gate.end}"
    create_table_artifact(
        key="quality-results",
        table=results_table(gate),
        description=f"Data-quality results of {span} (run {gate.run_id})",
    )
    create_markdown_artifact(
        key="quality-summary",
        markdown=summary_markdown(gate),
        description=f"Data-quality gate of {span}",
    )
    if not gate.passed:
        event = failure_event(gate)
        related = []
        run_id = flow_run.get_id()
        if run_id:
            related.append(
                {
                    "prefect.resource.id": f"prefect.flow-run.{run_id}",
                    "prefect.resource.role": "flow-run",
                }
            )
        emit_event(
            event=event.event, resource=event.resource, payload=event.payload, related=related
        )


@task(name="run-quality-gate", cache_policy=NO_CACHE, persist_result=False)
def run_quality_gate(
    settings: Settings, start: date, end: date, logical_date: date, run_id: str
) -> GateResult:
    """Build into the audit area, check, store, then publish or raise QualityGateError."""
    warehouse = open_warehouse(settings)
    try:
        with job_labels(run_id=run_id):
            published = pipeline.write_audit_publish(
                warehouse,
                settings,
                run_id=run_id,
                start=start,
                end=end,
                logical_date=logical_date,
                on_result=publish_gate_outcome,
            )
    finally:
        warehouse.close()
    assert published.gate is not None  # every model was built, marts included
    return published.gate


@flow(name="bnpl-quality-gate")
def quality_gate(
    start: Day | None = None, end: Day | None = None, logical_date: Day | None = None
) -> dict[str, int]:
    """Gate ``start..end`` (default: every day in the ledger); ``logical_date`` defaults to
    ``end``. Returns the number of results per status."""
    forward_bnpl_logs()
    settings = load_settings()
    warehouse = open_warehouse(settings)
    try:
        first, last, logical = pipeline.gate_range(warehouse, start, end, logical_date)
    finally:
        warehouse.close()
    run_id = flow_run.get_id() or uuid.uuid4().hex
    gate = run_quality_gate(settings, first, last, logical, run_id)
    return {status: n for status, n in gate.counts().items()}
