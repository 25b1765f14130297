"""`bnpl live load` as a service: it lets the DuckDB file go between batches (a reader gets its
turn while it runs) and stops after its batch on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from live_data import live_events

import bnpl
from bnpl.live.engines import open_event_log
from bnpl.settings import load_settings

pytestmark = pytest.mark.slow

BIN = Path(sys.executable).parent


def test_readers_get_turns_while_the_loader_runs_and_sigterm_stops_it(tmp_path: Path) -> None:
    """While the loader consumes, bnpl.read_table reads the live table within seconds; SIGTERM
    ends the loader cleanly after its batch."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    env |= {
        "BNPL_WAREHOUSE__PATH": str(tmp_path / "bnpl.duckdb"),
        "BNPL_LIVE__LOG_PATH": str(tmp_path / "events.sqlite"),
        "BNPL_LIVE__BATCH_MAX_MS": "100",
    }
    settings = load_settings(
        warehouse={"path": env["BNPL_WAREHOUSE__PATH"], "lock_timeout_s": 10},
        live={"log_path": env["BNPL_LIVE__LOG_PATH"]},
    )
    events = live_events(400)
    loader = subprocess.Popen(
        [str(BIN / "bnpl"), "live", "load", "--consumer", "svc"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        seen: list[int] = []
        with open_event_log(settings) as log:
            for start in range(0, len(events), 40):
                log.append(events[start : start + 40])
                if start == 0:  # reads never create the file: the loader's first batch does
                    deadline = time.monotonic() + 60
                    while not Path(env["BNPL_WAREHOUSE__PATH"]).exists():
                        assert time.monotonic() < deadline, "the loader wrote nothing"
                        time.sleep(0.2)
                began = time.monotonic()
                rows = bnpl.read_table("bnpl_raw.live_transactions", settings=settings)
                assert time.monotonic() - began < 8, "the reader waited too long for the file"
                seen.append(rows.height)
                time.sleep(0.3)
        deadline = time.monotonic() + 60
        while seen[-1] < len(events) and time.monotonic() < deadline:
            time.sleep(0.5)
            seen.append(bnpl.read_table("bnpl_raw.live_transactions", settings=settings).height)
        assert seen[-1] == len(events)
        assert seen == sorted(seen)  # rows appear while the loader runs, never go away
    finally:
        loader.send_signal(signal.SIGTERM)
        out, err = loader.communicate(timeout=30)
    assert loader.returncode == 0, err.decode()[-2000:]
    assert b"loaded 400 events" in out
