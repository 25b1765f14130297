"""The bnpl-quality-gate flow: artifacts on every run, the failure event when the gate blocks."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
)
from quality_data import END, START, Knobs, make_day, request

import bnpl_flows.quality
from bnpl.errors import QualityGateError
from bnpl.quality.events import FAILED_EVENT
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

pytestmark = [
    pytest.mark.slow,  # the project's models are built
    pytest.mark.usefixtures("prefect_api"),
]


def failure_events(api: str, flow_run_id: UUID, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The ``bnpl.quality.failed`` events the Prefect server stored for one flow run, waiting for
    them: the run's process sends events in the background and the server persists them a moment
    later."""
    body = {
        "filter": {
            "event": {"name": [FAILED_EVENT]},
            "related": {"id": [f"prefect.flow-run.{flow_run_id}"]},
        },
        "limit": 10,
    }
    deadline = time.monotonic() + timeout_s
    while True:
        response = httpx.post(f"{api}/events/filter", json=body, timeout=10)
        response.raise_for_status()
        found: list[dict[str, Any]] = response.json()["events"]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def artifacts(key: str, flow_run_id: UUID | None) -> list[Any]:
    """The artifacts with ``key`` of one flow run (the Prefect API is shared by the session)."""
    assert flow_run_id is not None
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
        )


def test_blocked_gate_emits_the_failure_event_and_creates_artifacts(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_api: str
) -> None:
    """A bad day fails the flow with QualityGateError, emits bnpl.quality.failed naming the check,
    and leaves the results table and the markdown summary as artifacts."""
    bad = date(2024, 12, 4)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db_path))
    warehouse.load_day(make_day(bad, Knobs(count=request(bad).expected_volume // 2)))
    warehouse.close()
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(db_path))

    state = bnpl_flows.quality.quality_gate(START, END, return_state=True)
    with pytest.raises(QualityGateError, match="volume_vs_expected"):
        state.result()
    run_id = state.state_details.flow_run_id
    assert run_id is not None

    (event,) = failure_events(prefect_api, run_id)
    assert event["resource"]["prefect.resource.id"].startswith("bnpl.quality.gate.")
    payload = event["payload"]
    assert payload["failed_check_names"] == ["volume_vs_expected"]
    assert str(bad) in payload["failed_checks"][0]["details"]
    flow_run = {
        "prefect.resource.id": f"prefect.flow-run.{run_id}",
        "prefect.resource.role": "flow-run",
    }
    assert flow_run in event["related"]
    table = artifacts("quality-results", run_id)
    assert table and table[0].type == "table"
    assert "volume_vs_expected" in str(table[0].data)
    summary = artifacts("quality-summary", run_id)
    assert summary and "**blocked**" in str(summary[0].data)
