"""The daily run on a live day (BNPL_LIVE__SEAL_DAYS) directly: a failed seal is recorded under
the live day's batch id, and the run opens no source."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import pytest

from bnpl import pipeline
from bnpl.errors import ConfigError
from bnpl.live.records import live_batch_id
from bnpl.settings import load_settings

DAY = date(2026, 12, 3)


def test_a_failed_seal_is_recorded_as_the_live_day_and_no_source_is_opened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    """A seal of a day without live events fails with one line; the failure log holds the live
    batch id and source, and no bundled simulator was started for the run."""
    settings = load_settings(
        warehouse={"path": str(tmp_path / "bnpl.duckdb")},
        live={"log_path": str(tmp_path / "events.sqlite"), "seal_days": True, "seal_grace_s": 0},
    )
    caplog.set_level(logging.INFO)
    with pipeline.open_session(settings, source=False) as session:
        with pytest.raises(ConfigError, match="no live events"):
            pipeline.DailyRun(DAY, run_id="r1").run(session)
        with pytest.raises(ConfigError, match="seals live days"):
            session.client.fetch_day(pipeline.plan_day(settings, DAY))
        failures = session.warehouse.read_table("bnpl_audit.ingest_failures")
    assert failures["batch_id"].to_list() == [live_batch_id(DAY)]
    assert failures["source_url"].to_list() == ["live"]
    assert failures["error_type"].to_list() == ["ConfigError"]
    assert not [r for r in caplog.records if "bundled simulator" in r.getMessage()]
