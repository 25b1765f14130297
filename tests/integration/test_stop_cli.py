"""Issue 16 item 3b: real signals to real ``bnpl backfill`` subprocesses.

SIGINT and SIGTERM stop a run within 5 s with whole days only, and a plain re-run loads the rest;
a trickling source does not keep a stopped run alive; after SIGKILL no child of bnpl (the bundled
simulator, Prefect's temporary API) outlives it by more than a few seconds.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from backfill_support import Cli
from hostile_source import HostileSource
from proc_helpers import alive

from bnpl.reaper import descendants

pytestmark = pytest.mark.slow

FIRST = date(2024, 3, 4)
DAYS = 8
RANGE = ["backfill", "--start", str(FIRST), "--end", str(FIRST + timedelta(days=DAYS - 1))]
PLAN = {
    "plan__weekday_base_volume": 40,
    "plan__weekend_base_volume": 40,
    "plan__holiday_base_volume": 40,
}
STOP_BOUND_S = 5.0
"""A stopped run must have exited this many seconds after the signal."""
ORPHAN_BOUND_S = 5.0
"""Every child of a killed run must be gone this many seconds after the SIGKILL."""


class _Lines:
    """Collects a pipe's lines in a thread, so the test can wait for one."""

    def __init__(self, pipe: object) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self._thread.start()

    def _read(self, pipe: object) -> None:
        for line in pipe:  # type: ignore[attr-defined]
            self.lines.append(line)

    def wait_for(
        self, needle: str, count: int, proc: subprocess.Popen[str], timeout: float
    ) -> None:
        ends = time.monotonic() + timeout
        while sum(needle in line for line in self.lines) < count:
            assert proc.poll() is None, f"bnpl ended first:\n{self.text()}"
            assert time.monotonic() < ends, (
                f"no {count} x {needle!r} in {timeout} s:\n{self.text()}"
            )
            time.sleep(0.05)

    def text(self) -> str:
        self._thread.join(timeout=0.1)
        return "".join(self.lines)[-6000:]


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _stop(proc: subprocess.Popen[str], signum: int) -> float:
    """Send ``signum``; the seconds until the process exited (the test fails past the bound)."""
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        proc.wait(timeout=STOP_BOUND_S + 10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return time.monotonic() - sent


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_backfill_keeps_whole_days_and_a_rerun_loads_the_rest(
    cli: Cli, tmp_path: Path, signum: int
):
    """Stopped after two days loaded (each reply 1 s late): exit 128+signal within 5 s, loaded days
    whole in the ledger, no rows of any other day; a plain re-run loads the rest."""
    path = tmp_path / "w.duckdb"
    env = cli.env(
        warehouse__path=path,
        simulator__faults__latency_rate=1,
        simulator__faults__latency_s=1,
        ingest__concurrency=1,
        ingest__days_per_task=1,
        **PLAN,
    )
    proc = cli.popen(RANGE, env)
    err = _Lines(proc.stderr)
    _Lines(proc.stdout)
    try:
        err.wait_for(" loaded: ", 2, proc, timeout=180)
    finally:
        elapsed = _stop(proc, signum)
    assert proc.returncode == 128 + signum, err.text()
    print(f"stop latency, {signal.Signals(signum).name}, replies 1 s late: {elapsed:.2f} s")
    assert elapsed < STOP_BOUND_S, (elapsed, err.text())
    assert f"stopped by {signal.Signals(signum).name}" in err.text(), err.text()
    assert "run the same command again" in err.text().lower(), err.text()
    ledger = dict(
        _rows(path, "SELECT transaction_date, records_loaded FROM bnpl_raw.source_batches")
    )
    rows = dict(
        _rows(path, "SELECT transaction_date, count(*) FROM bnpl_raw.transactions GROUP BY 1")
    )
    assert 2 <= len(ledger) < DAYS, ledger
    assert rows == {day: n for day, n in ledger.items() if n}, (rows, ledger)  # whole days only
    stopped = _rows(path, "SELECT count(*) FROM bnpl_audit.ingest_failures")
    assert stopped == [(DAYS - len(ledger),)], stopped
    again = cli.run(RANGE, env, timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr[-4000:]
    assert _rows(path, "SELECT count(*) FROM bnpl_raw.source_batches") == [(DAYS,)]


def test_a_backfill_stuck_on_a_trickling_source_stops_on_sigterm(
    cli: Cli, tmp_path: Path, hostile_source: HostileSource
):
    """Fetches blocked on a source that trickles a byte a second are abandoned: exit 143 within
    5 s, nothing in the ledger, every day in the failure log as not loaded."""
    path = tmp_path / "w.duckdb"
    hostile_source.mode, hostile_source.trickle_s = "trickle", 1.0
    env = cli.env(
        warehouse__path=path, source__url=hostile_source.url, ingest__concurrency=2, **PLAN
    )
    proc = cli.popen(RANGE, env)
    err = _Lines(proc.stderr)
    _Lines(proc.stdout)
    try:
        ends = time.monotonic() + 180
        while len(hostile_source.requests) < 2:
            assert proc.poll() is None and time.monotonic() < ends, err.text()
            time.sleep(0.05)
        time.sleep(1.0)  # both fetches are reading the trickle
    finally:
        elapsed = _stop(proc, signal.SIGTERM)
    assert proc.returncode == 143, err.text()
    print(f"stop latency, SIGTERM, trickling source: {elapsed:.2f} s")
    assert elapsed < STOP_BOUND_S, (elapsed, err.text())
    assert _rows(path, "SELECT count(*) FROM bnpl_raw.source_batches") == [(0,)]
    failed = _rows(path, "SELECT DISTINCT error_type FROM bnpl_audit.ingest_failures")
    assert failed == [("RunStoppedError",)], failed


def _listening(url: str) -> bool:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    try:
        socket.create_connection((host, int(port)), timeout=0.5).close()
    except OSError:
        return False
    return True


def test_no_child_outlives_a_killed_backfill(cli: Cli, tmp_path: Path):
    """SIGKILL of a backfill on Prefect's temporary API (--prefect) with the bundled simulator:
    within 5 s no process it started is alive and the simulator's port is closed."""
    env = cli.env(
        ephemeral=True,
        warehouse__path=tmp_path / "w.duckdb",
        simulator__faults__latency_rate=1,
        simulator__faults__latency_s=1,
        ingest__concurrency=1,
        **PLAN,
    )
    proc = cli.popen([*RANGE, "--prefect"], env)
    err = _Lines(proc.stderr)
    _Lines(proc.stdout)
    try:
        err.wait_for(" loaded: ", 1, proc, timeout=240)
        children = descendants(proc.pid)
        simulator = next(
            found.group(0)
            for line in err.lines
            if "bundled simulator listening on" in line
            and (found := re.search(r"http://[^\s]+", line))
        )
        assert _listening(simulator)
        assert len(children) >= 2, children  # the simulator, Prefect's API server (the reaper)
    finally:
        proc.kill()
        killed = time.monotonic()
        proc.wait()
    while (running := alive(children)) and time.monotonic() - killed < ORPHAN_BOUND_S + 10:
        time.sleep(0.1)
    gone_after = time.monotonic() - killed
    print(f"children of a SIGKILLed backfill gone after {gone_after:.2f} s")
    assert not running, (running, err.text())
    assert gone_after < ORPHAN_BOUND_S, gone_after
    assert not _listening(simulator)
