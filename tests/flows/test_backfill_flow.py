"""bnpl_backfill ad hoc: the in-process backfill; bad ranges fail before anything runs.

Under a deployment (one bnpl-ingest-day flow run per day) it is exercised by
test_e2e_prefect_server.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from prefect.exceptions import ParameterTypeError

import bnpl
from bnpl.ingest.summary import IngestSummary
from bnpl_flows.backfill import INGEST_DAY_DEPLOYMENT, bnpl_backfill


@pytest.fixture
def small_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch warehouse and a small request plan, through the environment."""
    path = tmp_path / "bnpl.duckdb"
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    for kind in ("WEEKDAY", "WEEKEND", "HOLIDAY"):
        monkeypatch.setenv(f"BNPL_PLAN__{kind}_BASE_VOLUME", "30")
    return path


def test_deployment_target_is_the_ingest_day_deployment() -> None:
    """Per-day runs go to the bnpl-ingest-day deployment of the ingest-day flow."""
    assert INGEST_DAY_DEPLOYMENT.endswith("/bnpl-ingest-day")


@pytest.mark.slow
def test_ad_hoc_backfill_runs_in_process_and_skips_loaded_days(small_plan: Path) -> None:
    """Outside a deployment the range is ingested in this process; a second run skips it."""
    first = bnpl_backfill(date(2024, 3, 4), date(2024, 3, 5))
    assert isinstance(first, IngestSummary)
    assert [d.day for d in first.loaded] == [date(2024, 3, 4), date(2024, 3, 5)]
    again = bnpl_backfill(date(2024, 3, 4), date(2024, 3, 5))
    assert isinstance(again, IngestSummary)
    assert again.loaded == () and list(again.skipped) == [date(2024, 3, 4), date(2024, 3, 5)]
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert sorted(ledger["transaction_date"].to_list()) == [date(2024, 3, 4), date(2024, 3, 5)]


def test_reversed_range_fails_before_any_day(small_plan: Path) -> None:
    """end before start is a Failed run naming both dates; nothing is written."""
    state = bnpl_backfill(date(2024, 3, 5), date(2024, 3, 4), return_state=True)
    assert state.is_failed()
    assert "end date 2024-03-04 is before start date 2024-03-05" in (state.message or "")
    assert not small_plan.exists()


def test_parameters_must_be_dates() -> None:
    """A start that is not YYYY-MM-DD is rejected by parameter validation."""
    with pytest.raises(ParameterTypeError, match="not a date; use YYYY-MM-DD"):
        bnpl_backfill.validate_parameters({"start": "March", "end": "2024-03-05"})
