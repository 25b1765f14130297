"""Freshness for ``python -m bench serving``: an event acknowledged by the event log until it is in
the online store the API reads (the customer's history, i.e. its online features).

The real path with the production batch settings: events (real-time records of the bundled
simulator) are appended one at a time at a steady rate to a SQLite event log (``append`` returning
is the gateway's acknowledgement), a :class:`bnpl.live.loader.Loader` in a thread writes them to a
DuckDB warehouse in micro-batches and calls the store hook
(:func:`bnpl.serving.hook.store_updater`) after each commit, and a poller reads the store's row
count every millisecond. One loader reads the log in order and the store applies a batch in one
transaction, so event ``i`` is visible once the store holds ``i + 1`` rows.
"""

from __future__ import annotations

import signal
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path


@dataclass(frozen=True)
class Freshness:
    """Seconds from acknowledgement to visibility, per event."""

    events: int
    rate: float
    lags_s: list[float]
    batch_max_ms: int
    cpu_s: float

    def pct(self, q: float) -> float:
        ordered = sorted(self.lags_s)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def measure(tmp: Path, *, events: int, rate: float) -> Freshness:
    """Append ``events`` at ``rate``/s through the loader into a fresh store."""
    from bnpl.live.engines import open_event_log
    from bnpl.live.loader import Loader
    from bnpl.serving.hook import store_updater
    from bnpl.serving.store import SqliteStore
    from bnpl.settings import load_settings
    from bnpl.stopping import StopRequest
    from bnpl.warehouse import open_warehouse
    from tests.live_data import live_events

    settings = load_settings(
        warehouse={"path": str(tmp / "fresh.duckdb")},
        live={"log_path": str(tmp / "events.sqlite")},
    )
    warehouse = open_warehouse(settings)
    warehouse.ensure_schema()
    store_path = tmp / "fresh-online.sqlite"
    store = SqliteStore(store_path)
    batch = live_events(events, start=datetime.now(UTC), prefix="fresh")
    acked: list[float] = [0.0] * events
    visible: list[float] = [0.0] * events
    stop = StopRequest()
    cpu = time.process_time()
    with open_event_log(settings) as log:
        loader = Loader(
            log, warehouse, settings.live, consumer="fresh", after_commit=store_updater(store)
        )
        thread = threading.Thread(
            target=loader.run, kwargs={"max_events": events, "stop": stop}, daemon=True
        )
        thread.start()
        done = threading.Event()

        def poll() -> None:
            con = sqlite3.connect(store_path)
            seen = 0
            while seen < events and not done.is_set():
                (count,) = con.execute("SELECT COUNT(*) FROM history").fetchone()
                now = time.perf_counter()
                while seen < min(count, events):
                    visible[seen] = now
                    seen += 1
                time.sleep(0.001)
            con.close()

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        t0 = time.perf_counter()
        for i, event in enumerate(batch):
            wait = t0 + i / rate - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            log.append([event])
            acked[i] = time.perf_counter()
        poller.join(timeout=60)
        done.set()
        stop.request(signal.SIGTERM)
        thread.join(timeout=60)
    cpu = time.process_time() - cpu
    store.close()
    warehouse.close()
    lags = [v - a for v, a in zip(visible, acked, strict=True) if v > 0]
    if len(lags) != events:
        raise RuntimeError(f"only {len(lags)} of {events} events reached the store in time")
    return Freshness(events, rate, lags, settings.live.batch_max_ms, cpu)
