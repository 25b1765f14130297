"""The daily flow on the embedded default: task order, idempotent days, failure states, logs."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import polars as pl
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
from bnpl.calendar import plan_day
from bnpl.settings import PlanSettings
from bnpl.timeutil import utc_now
from bnpl_flows.daily import daily_bnpl_processing

pytestmark = pytest.mark.slow

DAG = [
    "extract_daily_batch",
    "validate_raw_schema",
    "normalize_entities",
    "run_sql_pipeline",
    "validate_business_rules",
    "publish_quality_metrics",
]
VOLUME = 60
run_once = daily_bnpl_processing  # no automatic retry: each call is one run


@pytest.fixture
def warehouse_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty DuckDB file and a small request plan, through the environment as in production."""
    path = tmp_path / "bnpl.duckdb"
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    for kind in ("WEEKDAY", "WEEKEND", "HOLIDAY"):
        monkeypatch.setenv(f"BNPL_PLAN__{kind}_BASE_VOLUME", str(VOLUME))
    return path


def _expected(day: date) -> int:
    plan = PlanSettings(
        weekday_base_volume=VOLUME, weekend_base_volume=VOLUME, holiday_base_volume=VOLUME
    )
    return plan_day(day, plan).expected_volume


def _run_id(state: State[Any]) -> UUID:
    run_id = state.state_details.flow_run_id
    assert run_id is not None
    return run_id


def _task_runs(run_id: UUID) -> list[TaskRun]:
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return sorted(runs, key=lambda r: (r.start_time or r.expected_start_time, r.name))


def _task_name(run: TaskRun) -> str:
    return run.name.rsplit("-", 1)[0]


def _day_rows(table: str, day: date) -> pl.DataFrame:
    return bnpl.read_table(table).filter(pl.col("transaction_date") == day)


def test_consecutive_days_run_the_dag_in_order_and_load_each_day(warehouse_path: Path) -> None:
    """Three consecutive days each run the six tasks in DAG order, load the day and publish."""
    days = [date(2024, 3, 4) + timedelta(days=i) for i in range(3)]
    for day in days:
        state = run_once(logical_date=day, return_state=True)
        assert state.is_completed(), state.message
        runs = _task_runs(_run_id(state))
        assert [_task_name(r) for r in runs] == DAG
        assert all(r.state is not None and r.state.is_completed() for r in runs)
        result = state.result()
        assert result["logical_date"] == day.isoformat()
        assert result["records_loaded"] == _expected(day)
        assert _day_rows("bnpl_raw.transactions", day).height == _expected(day)
    published = bnpl.read_table("bnpl_marts.mart_bnpl_daily_volume")
    assert sorted(published["transaction_date"].to_list()) == days
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert sorted(ledger["transaction_date"].to_list()) == days


def test_rerunning_a_day_leaves_the_same_rows(warehouse_path: Path) -> None:
    """Running the same day twice replaces its partition: same keys, no duplicates."""
    day = date(2024, 3, 11)
    assert run_once(logical_date=day, return_state=True).is_completed()
    first = _day_rows("bnpl_raw.transactions", day)["transaction_key"].sort()
    assert run_once(logical_date=day, return_state=True).is_completed()
    second = _day_rows("bnpl_raw.transactions", day)["transaction_key"].sort()
    assert second.to_list() == first.to_list()
    assert second.n_unique() == second.len() == _expected(day)


def test_summary_artifact_and_bnpl_logs_reach_the_run(warehouse_path: Path) -> None:
    """A run gets a daily-summary artifact listing every step, and bnpl's INFO logs."""
    day = date(2024, 3, 18)
    state = run_once(logical_date=day, return_state=True)
    run_id = _run_id(state)
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["daily-summary"])),
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])),
        )
        assert len(artifacts) == 1
        summary = str(artifacts[0].data)
        assert all(f"| {name} |" in summary for name in DAG)
        assert f"# bnpl daily run for {day}" in summary
        deadline = time.monotonic() + 20
        names: set[str] = set()
        while time.monotonic() < deadline and not any(n.startswith("bnpl.") for n in names):
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
            )
            names = {log.name for log in logs}
            time.sleep(0.5)
    assert "bnpl.warehouse.duckdb" in names or any(n.startswith("bnpl.") for n in names), names


def test_non_date_parameter_fails_before_the_run_starts() -> None:
    """A logical_date that is not YYYY-MM-DD is rejected by parameter validation, saying so."""
    with pytest.raises(ParameterTypeError, match=r"not a date; use YYYY-MM-DD"):
        daily_bnpl_processing.validate_parameters({"logical_date": "yesterday"})
    with pytest.raises(ParameterTypeError):
        daily_bnpl_processing.validate_parameters({"logical_date": "2024-02-30"})


def test_a_day_that_has_not_ended_fails_before_any_task(warehouse_path: Path) -> None:
    """Today (UTC) is outside what the source can serve complete: Failed, no task ran."""
    today = utc_now().date()
    state = run_once(logical_date=today, return_state=True)
    assert state.is_failed()
    assert "has not ended yet" in (state.message or "")
    assert _task_runs(_run_id(state)) == []
    assert not warehouse_path.exists() or bnpl.read_table("bnpl_raw.transactions").is_empty()


def test_missing_credentials_block_fails_before_any_task(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BigQuery warehouse naming a GcpCredentials block that does not exist fails at once."""
    monkeypatch.delenv("BNPL_WAREHOUSE__PATH")
    monkeypatch.setenv("BNPL_WAREHOUSE__KIND", "bigquery")
    monkeypatch.setenv("BNPL_WAREHOUSE__PROJECT", "bnpl-test")
    monkeypatch.setenv("BNPL_WAREHOUSE__CREDENTIALS_BLOCK", "no-such-block")
    state = run_once(logical_date=date(2024, 3, 4), return_state=True)
    assert state.is_failed()
    assert "no-such-block" in (state.message or "")
    assert "bnpl prefect setup" in (state.message or "")
    assert _task_runs(_run_id(state)) == []


def test_source_outage_fails_the_extract_task_only(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When every request fails, extract_daily_batch is Failed and nothing after it runs."""
    monkeypatch.setenv("BNPL_SIMULATOR__FAULTS__ERROR_RATE", "1.0")
    monkeypatch.setenv("BNPL_SOURCE__MAX_ATTEMPTS", "2")
    day = date(2024, 3, 25)
    state = run_once(logical_date=day, return_state=True)
    assert state.is_failed()
    assert "TransientSourceError" in (state.message or "")
    runs = _task_runs(_run_id(state))
    assert [_task_name(r) for r in runs] == ["extract_daily_batch"]
    assert runs[0].state is not None and runs[0].state.is_failed()
    assert _day_rows("bnpl_raw.transactions", day).is_empty()
    failures = _day_rows("bnpl_audit.ingest_failures", day)
    assert failures.select("error_type", "flow_run_id").rows() == [
        ("TransientSourceError", str(_run_id(state)))
    ]


def test_failed_gate_reports_checks_and_keeps_the_marts(
    warehouse_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A gate failure fails validate_business_rules, still publishes the metrics, and leaves the
    published marts at the previous good day."""
    good, bad = date(2024, 4, 1), date(2024, 4, 2)
    assert run_once(logical_date=good, return_state=True).is_completed()
    # 20 % broken lines: under an ingest threshold of 50 %, far over the gate's 1 % quarantine rate
    monkeypatch.setenv("BNPL_SIMULATOR__FAULTS__MALFORMED_RATE", "0.2")
    monkeypatch.setenv("BNPL_INGEST__QUARANTINE_THRESHOLD", "0.5")
    state = run_once(logical_date=bad, return_state=True)
    assert state.is_failed()
    assert "QualityGateError" in (state.message or "")
    assert "quarantine_rate" in (state.message or "")
    runs = {_task_name(r): r for r in _task_runs(_run_id(state))}
    assert list(runs) == DAG
    failed = runs["validate_business_rules"].state
    assert failed is not None and failed.is_failed() and "quarantine_rate" in (failed.message or "")
    published = runs["publish_quality_metrics"].state
    assert published is not None and published.is_completed()
    assert not _day_rows("bnpl_raw.quarantine", bad).is_empty()
    marts = bnpl.read_table("bnpl_marts.mart_bnpl_daily_volume")
    assert marts["transaction_date"].to_list() == [good]
    results = bnpl.read_table("bnpl_audit.dq_results")
    mine = results.filter(pl.col("run_id") == str(_run_id(state)))
    assert mine.filter(pl.col("check_name") == "quarantine_rate")["status"].to_list() == ["fail"]
