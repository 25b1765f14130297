"""bnpl_flows.ingest: the backfill and ingest-day flows on the ephemeral API with the bundled simulator."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.client.schemas.objects import State, TaskRun
from prefect.exceptions import ParameterTypeError

import bnpl
from bnpl.errors import IngestError
from bnpl.ingest import IngestSummary
from bnpl.progress import ProgressEvent
from bnpl_flows.ingest import backfill, ingest_day
from bnpl_flows.progress import local_progress

pytestmark = pytest.mark.slow

VOLUME = 50
START = date(2024, 5, 6)


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh DuckDB file and a small plan, set through the environment as in production."""
    path = tmp_path / "bnpl.duckdb"
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    for kind in ("WEEKDAY", "WEEKEND", "HOLIDAY"):
        monkeypatch.setenv(f"BNPL_PLAN__{kind}_BASE_VOLUME", str(VOLUME))
    return path


def _run_id(state: State[Any]) -> UUID:
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return run_id


def _days(n: int) -> list[date]:
    return [START + timedelta(days=i) for i in range(n)]


def _task_runs(state: State[Any]) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        return client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[_run_id(state)]))
        )


def test_backfill_fans_out_one_task_per_slice_of_days_and_publishes_a_summary(
    warehouse, monkeypatch
):
    """Each slice of BNPL_INGEST__DAYS_PER_TASK consecutive days is one fetch task named after
    its days; all days load; the ledger names the run; a summary artifact exists."""
    monkeypatch.setenv("BNPL_INGEST__DAYS_PER_TASK", "2")
    days = _days(5)
    state = backfill(days[0], days[-1], concurrency=2, return_state=True)
    assert state.is_completed(), state.message
    summary = state.result()
    assert isinstance(summary, IngestSummary)
    assert [d.day for d in summary.loaded] == days
    run_id = _run_id(state)
    with get_client(sync_client=True) as client:
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["ingest-summary"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
        )
    assert sorted(r.name for r in task_runs) == [
        f"fetch-{days[0]}..{days[1]}",
        f"fetch-{days[2]}..{days[3]}",
        f"fetch-{days[4]}..{days[4]}",
    ]
    assert len(artifacts) == 1
    assert f"{summary.rows_loaded:,}" in str(artifacts[0].data)
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert set(ledger["flow_run_id"]) == {str(run_id)}
    assert bnpl.read_table("bnpl_raw.transactions").height == summary.rows_loaded


def test_a_failed_day_fails_the_flow_after_every_good_day_is_loaded(warehouse, monkeypatch):
    """Days over the quarantine threshold fail; the others load; the flow ends Failed naming them."""
    monkeypatch.setenv("BNPL_INGEST__QUARANTINE_THRESHOLD", "0")
    monkeypatch.setenv("BNPL_SIMULATOR__FAULTS__MALFORMED_RATE", "0.01")
    monkeypatch.setenv("BNPL_SIMULATOR__FAULTS__SEED", "3")
    days = _days(6)
    state = backfill(days[0], days[-1], return_state=True)
    assert state.is_failed()
    error = state.result(raise_on_failure=False)
    assert isinstance(error, IngestError)
    failed = {date.fromisoformat(d) for d in error.failed}
    loaded = set(bnpl.read_table("bnpl_raw.source_batches")["transaction_date"])
    assert failed and loaded, "the fault seed must give both failing and clean days"
    assert failed | loaded == set(days) and not failed & loaded
    tx = bnpl.read_table("bnpl_raw.transactions")
    assert set(tx["transaction_date"]) == loaded
    assert "QuarantineThresholdError" in error.summary
    assert all(str(d) in str(error) for d in failed)
    # the days failed at the writer (threshold), not while fetching: their tasks completed
    task_runs = _task_runs(state)
    assert len(task_runs) == 2  # 6 days, 4 a task
    assert all(r.state is not None and r.state.is_completed() for r in task_runs)
    log = bnpl.read_table("bnpl_audit.ingest_failures")
    assert set(log["transaction_date"]) == failed
    assert set(log["flow_run_id"]) == {str(_run_id(state))}


def test_a_slice_whose_day_fails_to_fetch_ends_failed_naming_it(warehouse, monkeypatch):
    """A source outage fails every day; each slice task ends Failed naming its days, and the
    failures are in bnpl_audit.ingest_failures."""
    monkeypatch.setenv("BNPL_SIMULATOR__FAULTS__ERROR_RATE", "1.0")
    monkeypatch.setenv("BNPL_SOURCE__MAX_ATTEMPTS", "1")
    monkeypatch.setenv("BNPL_INGEST__DAYS_PER_TASK", "2")
    days = _days(3)
    state = backfill(days[0], days[-1], return_state=True)
    assert state.is_failed()
    task_runs = _task_runs(state)
    messages = {r.name: (r.state.type.value, r.state.message or "") for r in task_runs if r.state}
    assert sorted(messages) == [f"fetch-{days[0]}..{days[1]}", f"fetch-{days[2]}..{days[2]}"]
    assert all(kind == "FAILED" for kind, _ in messages.values()), messages
    first, last = (
        messages[f"fetch-{days[0]}..{days[1]}"][1],
        messages[f"fetch-{days[2]}..{days[2]}"][1],
    )
    assert f"2 of 2 days failed: {days[0]} (TransientSourceError" in first and str(days[1]) in first
    assert f"1 of 1 days failed: {days[2]} (" in last
    log = bnpl.read_table("bnpl_audit.ingest_failures")
    assert sorted(log["transaction_date"]) == days
    # after repeated failures the client's breaker stops calling: the later days say so
    assert "TransientSourceError" in set(log["error_type"])
    assert set(log["error_type"]) <= {"TransientSourceError", "CircuitOpenError"}


def test_ingest_day_loads_once_then_skips(warehouse):
    """ingest-day loads its day; a second run skips it and rewrites nothing."""
    day = _days(1)[0]
    first = ingest_day(day, return_state=True)
    assert first.is_completed(), first.message
    assert [d.day for d in first.result().loaded] == [day]
    second = ingest_day(day, return_state=True)
    assert list(second.result().skipped) == [day]
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert ledger["flow_run_id"].to_list() == [str(_run_id(first))]


def test_forced_ingest_day_reloads_the_same_rows(warehouse):
    """force=True reloads the day: same transaction keys, no duplicates, a new ledger run id."""
    day = _days(1)[0]
    first = ingest_day(day, return_state=True)
    keys = bnpl.read_table("bnpl_raw.transactions")["transaction_key"].sort()
    forced = ingest_day(day, force=True, return_state=True)
    assert forced.is_completed()
    again = bnpl.read_table("bnpl_raw.transactions")["transaction_key"].sort()
    assert again.to_list() == keys.to_list()
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert ledger["flow_run_id"].to_list() == [str(_run_id(forced))] != [str(_run_id(first))]


def test_bnpl_logs_reach_the_flow_run(warehouse):
    """The engine's INFO logs (bnpl.ingest) are in the flow run's logs."""
    state = ingest_day(_days(1)[0], return_state=True)
    run_id = _run_id(state)
    names: set[str] = set()
    deadline = time.monotonic() + 20
    with get_client(sync_client=True) as client:
        while not _engine_logged(names) and time.monotonic() < deadline:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
            )
            names = {log.name for log in logs}
            time.sleep(0.2)
    assert _engine_logged(names)


def _engine_logged(names: set[str]) -> bool:
    return any(name == "bnpl.ingest" or name.startswith("bnpl.ingest.") for name in names)


def test_day_parameters_are_validated_before_the_run():
    """A start that is not YYYY-MM-DD is rejected by parameter validation, saying so."""
    with pytest.raises(ParameterTypeError, match="YYYY-MM-DD"):
        backfill.validate_parameters({"start": "yesterday", "end": "2024-01-02"})
    params = backfill.validate_parameters({"start": "2024-01-01", "end": "2024-01-02"})
    assert params["start"] == date(2024, 1, 1)


def test_reversed_range_fails_the_flow_without_writing(warehouse):
    """end before start fails the run with the ConfigError's advice; no table is written."""
    state = backfill(date(2024, 5, 2), date(2024, 5, 1), return_state=True)
    assert state.is_failed()
    assert "swap" in (state.message or "")
    assert not warehouse.exists() or bnpl.read_table("bnpl_raw.transactions").is_empty()


def test_backfill_keeps_a_progress_artifact_and_feeds_the_callers_display(warehouse):
    """The backfill flow's run has a progress artifact at 100 % after its last day, and the
    caller's progress callback (bnpl's bar) saw every day."""
    seen: list[ProgressEvent] = []
    days = _days(3)
    with local_progress(seen.append):
        state = backfill(days[0], days[-1], concurrency=1, return_state=True)
    assert state.is_completed(), state.message
    assert (seen[0].done, seen[-1].done, seen[-1].total) == (0, 3, 3)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["backfill-progress"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[_run_id(state)])),
        )
    assert len(artifacts) == 1
    assert artifacts[0].type == "progress" and float(str(artifacts[0].data)) == 100.0
