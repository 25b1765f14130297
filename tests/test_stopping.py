"""bnpl.stopping and what obeys it: a signal becomes a stop request; the fan-out, the source client
and the run loop stop on it; bnpl.reaper ends a killed process's children."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from datetime import date
from pathlib import Path

import pytest
from hostile_source import HostileSource
from proc_helpers import alive

from bnpl.calendar import plan_requests
from bnpl.errors import RunStoppedError
from bnpl.fanout import iter_completed_groups
from bnpl.reaper import descendants
from bnpl.settings import PlanSettings, SourceSettings
from bnpl.source.client import SourceClient
from bnpl.stopping import StopRequest, stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_requests_a_stop_instead_of_raising(signum: int):
    """Inside stop_on_signals a signal sets the request (exit code 128 + signal), raises nothing,
    and the previous handler is back afterwards."""
    stop = StopRequest()
    before = signal.getsignal(signum)
    with stop_on_signals(stop):
        os.kill(os.getpid(), signum)
        ends = time.monotonic() + 5
        while not stop.is_set() and time.monotonic() < ends:
            time.sleep(0.01)
    assert stop.is_set() and stop.exit_code == 128 + signum
    assert signal.getsignal(signum) is before


def test_a_new_run_forgets_an_earlier_stop():
    """An outermost stop_on_signals block starts with the request cleared (a notebook's next run),
    a nested one keeps it."""
    stop = StopRequest()
    stop.request(signal.SIGINT)
    with stop_on_signals(stop):
        assert not stop.is_set()
        stop.request(signal.SIGTERM)
        with stop_on_signals(stop):
            assert stop.is_set() and stop.exit_code == 143


def test_a_stop_ends_the_fanout_with_items_still_in_flight():
    """iter_completed_groups returns within its poll interval of a stop, without waiting for the
    items in flight (they never finish here)."""
    stop = StopRequest()
    never: list[Future[int]] = []

    def submit(item: int) -> Future[int]:
        never.append(Future())
        return never[-1]

    threading.Timer(0.2, stop.request, args=(signal.SIGTERM,)).start()
    started = time.monotonic()
    groups = list(iter_completed_groups(range(5), submit, window=3, stopped=stop.is_set))
    assert groups == [] and time.monotonic() - started < 2
    assert len(never) == 3  # nothing was submitted after the stop


def test_a_stop_abandons_a_fetch_reading_a_trickle(hostile_source: HostileSource):
    """A fetch blocked on a source that sends a byte every 2 s raises RunStoppedError within
    a second of the stop (the socket is shut down), and nothing is retried."""
    hostile_source.mode, hostile_source.trickle_s = "trickle", 2.0
    stop = StopRequest()
    settings = SourceSettings(url=hostile_source.url, read_timeout_s=30)
    (request,) = plan_requests(date(2024, 3, 4), date(2024, 3, 4), PlanSettings())
    outcome: list[BaseException] = []

    def fetch() -> None:
        with SourceClient(settings, stop=stop) as client:
            try:
                client.fetch_day(request)
            except BaseException as exc:
                outcome.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    while not hostile_source.requests:
        time.sleep(0.02)
    time.sleep(0.3)
    stopped_at = time.monotonic()
    stop.request(signal.SIGTERM)
    worker.join(timeout=10)
    assert not worker.is_alive() and time.monotonic() - stopped_at < 1.5
    assert isinstance(outcome[0], RunStoppedError) and outcome[0].exit_code == 143
    assert len(hostile_source.requests) == 1


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the reaper reads Linux's /proc")
def test_the_reaper_ends_the_children_of_a_killed_process(tmp_path: Path):
    """SIGKILL of a process that started the reaper: its child and grandchild are gone within
    3 s (they would sleep for a minute)."""
    script = tmp_path / "parent.py"
    script.write_text(
        "import subprocess, sys, time\n"
        "from bnpl.reaper import start_reaper\n"
        "start_reaper()\n"
        "code = 'import subprocess, sys, time; "
        'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]); '
        "time.sleep(60)'\n"
        "subprocess.Popen([sys.executable, '-c', code])\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "ready\n"
        ends = time.monotonic() + 10
        while len(children := descendants(parent.pid)) < 3 and time.monotonic() < ends:
            time.sleep(0.05)  # the reaper, the child, the grandchild
        assert len(children) == 3, children
        time.sleep(1.5)  # the reaper has learned them (it looks once a second)
    finally:
        parent.kill()
        parent.wait()
    killed = time.monotonic()
    while (running := alive(children)) and time.monotonic() - killed < 10:
        time.sleep(0.05)
    assert not running and time.monotonic() - killed < 3
