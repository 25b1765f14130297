"""The daily flow on a live day (BNPL_LIVE__SEAL_DAYS): the same six tasks seal the day from the
live rows instead of fetching it."""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
from test_daily import DAG, _run_id, _task_name, _task_runs

import bnpl
from bnpl.live.engines import open_event_log
from bnpl.live.loader import Loader
from bnpl.settings import load_settings
from bnpl.warehouse import open_warehouse
from bnpl_flows.daily import daily_bnpl_processing

sys.path.insert(0, str(Path(__file__).parents[1] / "live"))
from live_data import live_events

pytestmark = pytest.mark.slow

DAY = date(2026, 12, 3)


def test_a_live_day_is_sealed_by_the_six_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """With seal_days set, the daily run seals the day's live rows with a live ledger row."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "bnpl.duckdb"))
    monkeypatch.setenv("BNPL_LIVE__LOG_PATH", str(tmp_path / "events.sqlite"))
    monkeypatch.setenv("BNPL_LIVE__SEAL_DAYS", "true")
    monkeypatch.setenv("BNPL_LIVE__SEAL_GRACE_S", "0")
    monkeypatch.setenv("BNPL_LIVE__BATCH_MAX_MS", "50")
    settings = load_settings()
    warehouse = open_warehouse(settings)
    with open_event_log(settings) as log:
        log.append(live_events(150, step=timedelta(seconds=60)))
        Loader(log, warehouse, settings.live, consumer="c").run(once=True)
    warehouse.close()

    state = daily_bnpl_processing(logical_date=DAY, return_state=True)
    assert state.is_completed(), state.message
    assert [_task_name(r) for r in _task_runs(_run_id(state))] == DAG
    sealed = bnpl.read_table("bnpl_raw.transactions").filter(pl.col("transaction_date") == DAY)
    live = bnpl.read_table("bnpl_raw.live_transactions").filter(pl.col("transaction_date") == DAY)
    assert sorted(sealed["transaction_key"]) == sorted(live["transaction_key"])
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert ledger["source_url"].to_list() == ["live"]
    assert state.result()["records_loaded"] == live.height
