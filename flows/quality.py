"""The data-quality gate as a Prefect flow: ``bnpl-quality-gate``.

Wiring only. The flow reads the settings once, resolves the range, and runs
:func:`bnpl.quality.run_gate` in one task (build the models into ``bnpl_audit``, run every check,
store the results in ``bnpl_audit.dq_results``, publish to ``bnpl_marts`` only when no
error-level check failed). Whatever the verdict, the run gets two artifacts: a table of every
result (``quality-results``) and a markdown summary (``quality-summary``). A blocked gate emits the
event ``bnpl.quality.failed`` with the failing checks in its payload, which the automation in
``deployments/automations/quality-failed.yaml`` turns into a notification, and the flow ends
Failed with :class:`bnpl.errors.QualityGateError`.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import yaml  # type: ignore[import-untyped]  # pyyaml comes with prefect; no stubs installed
from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.blocks.core import Block
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore
from prefect.runtime import flow_run

from bnpl.quality import (
    GateResult,
    failure_event,
    gate_range,
    results_table,
    run_gate,
    summary_markdown,
)
from bnpl.settings import load_settings
from bnpl.warehouse import open_warehouse
from bnpl.warehouse.labels import job_labels
from flows._runtime import Day, forward_bnpl_logs

ALERT_FILE = (
    Path(__file__).resolve().parents[1] / "deployments" / "automations" / "quality-failed.yaml"
)
"""The automation that turns ``bnpl.quality.failed`` into a notification."""


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
def run_quality_gate(start: date, end: date, logical_date: date, run_id: str) -> GateResult:
    """Build into the audit area, check, store, then publish or raise QualityGateError."""
    settings = load_settings()
    warehouse = open_warehouse(settings)
    try:
        with job_labels(run_id=run_id):
            return run_gate(
                warehouse,
                settings,
                start,
                end,
                logical_date,
                run_id,
                on_result=publish_gate_outcome,
            )
    finally:
        warehouse.close()


@flow(name="bnpl-quality-gate")
def quality_gate(
    start: Day | None = None, end: Day | None = None, logical_date: Day | None = None
) -> dict[str, int]:
    """Gate ``start..end`` (default: every day in the ledger); ``logical_date`` defaults to
    ``end``. Returns the number of results per status."""
    forward_bnpl_logs()
    warehouse = open_warehouse(load_settings())
    try:
        first, last, logical = gate_range(warehouse, start, end, logical_date)
    finally:
        warehouse.close()
    run_id = flow_run.get_id() or uuid.uuid4().hex
    gate = run_quality_gate(first, last, logical, run_id)
    return {status: n for status, n in gate.counts().items()}


def quality_alert_automation(
    block_document_id: uuid.UUID, path: Path = ALERT_FILE
) -> AutomationCore:
    """The automation of ``path`` with its notification actions sent through the given block."""
    automation = AutomationCore.model_validate(yaml.safe_load(path.read_text()))
    actions = [
        a.model_copy(update={"block_document_id": block_document_id})
        if isinstance(a, SendNotification)
        else a
        for a in automation.actions
    ]
    return automation.model_copy(update={"actions": actions})


def register_quality_alert(block: str) -> uuid.UUID:
    """Create or update the quality alert on the configured Prefect server.

    Args:
        block: the notification block as ``<block-type-slug>/<name>``, e.g.
            ``slack-webhook/bnpl-alerts`` (create it first with ``prefect block create``).

    Returns:
        the automation's id.
    """
    loaded: Block = Block.load(block)  # type: ignore[assignment]  # sync outside an event loop
    document_id = loaded._block_document_id
    if document_id is None:  # pragma: no cover - a loaded block always has its document id
        raise ValueError(f"block {block} has no document id")
    automation = quality_alert_automation(document_id)
    with get_client(sync_client=True) as client:
        existing = client.read_automations_by_name(automation.name)
        if existing:
            client.update_automation(existing[0].id, automation)
            return existing[0].id
        created: uuid.UUID = client.create_automation(automation)
        return created
