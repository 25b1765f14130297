"""The bnpl-quality-gate flow: artifacts on every run, the failure event when the gate blocks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.testing.utilities import prefect_test_harness
from quality_data import END, START, Knobs, make_day, request

import flows.quality
from bnpl.errors import QualityGateError
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

pytestmark = pytest.mark.slow  # a temporary Prefect API, and the project's models are built


@pytest.fixture(scope="module", autouse=True)
def prefect_api() -> Iterator[None]:
    """A temporary Prefect API and database for this module's flow runs."""
    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Events the flow emits, captured at Prefect's emit_event boundary."""
    sent: list[dict[str, Any]] = []
    monkeypatch.setattr(flows.quality, "emit_event", lambda **kwargs: sent.append(kwargs))
    return sent


def artifacts(key: str) -> list[Any]:
    with get_client(sync_client=True) as client:
        return client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
        )


def test_blocked_gate_emits_the_failure_event_and_creates_artifacts(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, events: list[dict[str, Any]]
) -> None:
    """A bad day fails the flow with QualityGateError, emits bnpl.quality.failed naming the check,
    and leaves the results table and the markdown summary as artifacts."""
    bad = date(2024, 12, 4)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db_path))
    warehouse.load_day(make_day(bad, Knobs(count=request(bad).expected_volume // 2)))
    warehouse.close()
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(db_path))

    with pytest.raises(QualityGateError, match="volume_vs_expected"):
        flows.quality.quality_gate(START, END)

    assert [e["event"] for e in events] == ["bnpl.quality.failed"]
    payload = events[0]["payload"]
    assert payload["failed_check_names"] == ["volume_vs_expected"]
    assert str(bad) in payload["failed_checks"][0]["details"]
    assert events[0]["related"][0]["prefect.resource.role"] == "flow-run"
    table = artifacts("quality-results")
    assert table and table[0].type == "table"
    assert "volume_vs_expected" in str(table[0].data)
    summary = artifacts("quality-summary")
    assert summary and "**blocked**" in str(summary[0].data)
