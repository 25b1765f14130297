"""Sealing a live day: the same atomic day replace and a live ledger row, then build, gate,
publish; the grace period; stale days and their re-seal; `bnpl live seal` and `bnpl live status`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from live_data import live_events

from bnpl.cli import main
from bnpl.errors import ConfigError, SealTooEarlyError
from bnpl.live.engines import open_event_log
from bnpl.live.loader import Loader
from bnpl.live.log import Event
from bnpl.live.status import read_status
from bnpl.pipeline import seal_day
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse
from bnpl.warehouse.live import read_dead_letters

DAY = date(2026, 12, 3)


def _load(settings: Settings, warehouse: Warehouse, events: list[Event]) -> None:
    with open_event_log(settings) as log:
        log.append(events)
        Loader(log, warehouse, settings.live, consumer="c").run(once=True)


def _raw(warehouse: Warehouse, table: str) -> pl.DataFrame:
    return warehouse.read_table(f"bnpl_raw.{table}").filter(pl.col("transaction_date") == DAY)


def _events(n: int, prefix: str = "evt") -> list[Event]:
    return live_events(n, step=timedelta(seconds=30), prefix=prefix)


@pytest.mark.slow  # builds, gates and publishes every model, twice
def test_seal_replaces_the_day_from_live_rows_and_reseals_a_stale_day(
    live_settings: Settings, warehouse: Warehouse
):
    """A sealed day holds exactly its live rows and a live ledger row; a late event marks it stale
    and the next seal replaces it; dead letters stay where they are."""
    bad = Event("bad", "", b'{"nope": 1}', datetime(2026, 12, 3, 12, tzinfo=UTC))
    _load(live_settings, warehouse, [*_events(200), bad])
    sealed = seal_day(warehouse, live_settings, DAY, run_id="r1")
    assert sealed.published.gate is not None and sealed.published.gate.passed
    assert sealed.loaded.records_loaded == 200 and sealed.loaded.records_quarantined == 1
    assert _raw(warehouse, "transactions").height == 200
    ledger = _raw(warehouse, "source_batches").row(0, named=True)
    assert ledger["source_url"] == "live" and ledger["records_received"] == 201
    assert read_dead_letters(warehouse)["event_id"].to_list() == ["bad"]
    assert read_status(warehouse, None, group="g").stale.is_empty()

    _load(live_settings, warehouse, _events(3, prefix="late"))
    stale = read_status(warehouse, None, group="g").stale
    assert stale["day"].to_list() == [DAY] and stale["live_rows"].to_list() == [203]

    seal_day(warehouse, live_settings, DAY, run_id="r2")
    assert _raw(warehouse, "transactions").height == 203
    assert _raw(warehouse, "source_batches").height == 1
    assert read_status(warehouse, None, group="g").stale.is_empty()
    assert _raw(warehouse, "quarantine")["event_id"].to_list() == ["bad"]


def test_sealing_before_the_grace_period_is_refused(live_settings: Settings, warehouse: Warehouse):
    """A day is sealable from its end plus the grace period; --force overrides the wait."""
    settings = live_settings.model_copy(
        update={"live": live_settings.live.model_copy(update={"seal_grace_s": 3600})}
    )
    just_after = datetime(2026, 12, 4, 0, 30, tzinfo=UTC)
    with pytest.raises(SealTooEarlyError, match=r"before 2026-12-04T01:00:00\+00:00"):
        seal_day(warehouse, settings, DAY, run_id="r", now=just_after)
    with pytest.raises(ConfigError, match="no live events"):  # past the check: nothing to seal
        seal_day(warehouse, settings, DAY, run_id="r", now=just_after, force=True)


def test_live_seal_command_refuses_a_day_too_early_with_one_line(
    live_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    """`bnpl live seal --date today` exits 2 with one error line; nothing is written."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(live_settings.warehouse.path))  # type: ignore[union-attr]
    today = datetime.now(UTC).date().isoformat()
    with pytest.raises(SystemExit) as exit_info:
        main(["live", "seal", "--date", today])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2
    assert [line for line in err.splitlines() if line.startswith("error:")] == [
        line for line in err.splitlines() if "cannot be sealed before" in line
    ]


def test_live_status_json_reports_lag_and_dead_letters(
    live_settings: Settings,
    warehouse: Warehouse,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
):
    """`bnpl live status --json`: the log's lag in events, dead letters by reason."""
    _load(live_settings, warehouse, [*_events(10), Event("bad", "", b"[]", datetime.now(UTC))])
    with open_event_log(live_settings) as log:
        log.append(_events(4, prefix="waiting"))
    warehouse.close()
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(live_settings.warehouse.path))  # type: ignore[union-attr]
    monkeypatch.setenv("BNPL_LIVE__LOG_PATH", str(live_settings.live.log_path))
    main(["live", "status", "--json"])
    status = json.loads(capsys.readouterr().out)
    assert status["log"]["lag_events"] == 4
    assert status["log"]["lag_seconds"] >= 0
    assert status["dead_letters"] == {"json_parse": 1}
    assert status["consumers"][0]["consumer"] == "c"
