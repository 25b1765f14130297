"""Event log engines side by side: durable append rate (one event per call, and batches of 100),
read + ack rate, and Redis memory per event. ``python -m bench eventlog``.

SQLite: WAL, ``synchronous=FULL`` (an fsync per commit). Redis: a ``redis-server`` started here
on 127.0.0.1 and a free port with ``appendonly yes``, ``appendfsync always`` (the test helper
``tests/redis_server.py``). 1 KB payloads, 8 partitions, one process. CPU seconds are this
process's user+sys (and the Redis server's, from psutil) during each step.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil
import redis

from bnpl.live.engines import open_event_log
from bnpl.live.log import Event, EventLog
from bnpl.settings import LiveSettings, Settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from redis_server import RedisServer  # the tests' server helper, after the path entry

PAYLOAD = b"x" * 1024
SINGLE = 1_000
BATCHED = 20_000


def _events(prefix: str, n: int) -> list[Event]:
    now = datetime.now(UTC)
    return [Event(f"{prefix}{i}", f"cust_{i % 997}", PAYLOAD, now) for i in range(n)]


def _cpu(procs: list[psutil.Process]) -> float:
    return sum(p.cpu_times().user + p.cpu_times().system for p in procs)


def _measure(log: EventLog, procs: list[psutil.Process]) -> list[tuple[str, int, float, float]]:
    rows = []
    steps = [
        ("append, 1 event per call", SINGLE, 1),
        ("append, 100 events per call", BATCHED, 100),
    ]
    for name, n, size in steps:
        events = _events(name[:10], n)
        cpu, t = _cpu(procs), time.perf_counter()
        for start in range(0, n, size):
            log.append(events[start : start + size])
        rows.append((name, n, time.perf_counter() - t, _cpu(procs) - cpu))
    cpu, t = _cpu(procs), time.perf_counter()
    read = 0
    while batch := log.read("bench", "c1", max_events=500):
        log.ack("bench", batch)
        read += len(batch)
    rows.append(("read + ack, 500 per call", read, time.perf_counter() - t, _cpu(procs) - cpu))
    return rows


def main() -> str:
    me = psutil.Process()
    lines = [
        "Command: `python -m bench eventlog` (1 KB payloads, 8 partitions, one process; "
        "CPU = user+sys of this process, plus redis-server's for Redis).",
        "",
        "| engine | step | events | wall s | events/s | CPU s |",
        "|---|---|---|---|---|---|",
    ]
    memory_note = ""
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = LiveSettings(log_path=Path(tmp) / "events.sqlite")
        with open_event_log(Settings(live=sqlite)) as log:
            for step, n, wall, cpu in _measure(log, [me]):
                lines.append(
                    f"| sqlite | {step} | {n} | {wall:.2f} | {n / wall:,.0f} | {cpu:.2f} |"
                )
        server = RedisServer(Path(tmp) / "redis")
        server.start()
        try:
            assert server.process is not None
            procs = [me, psutil.Process(server.process.pid)]
            live = LiveSettings(log_engine="redis", log_redis_url=server.url)
            with open_event_log(Settings(live=live)) as log:
                client = redis.Redis.from_url(server.url)
                before = int(client.info("memory")["used_memory"])
                for step, n, wall, cpu in _measure(log, procs):
                    lines.append(
                        f"| redis | {step} | {n} | {wall:.2f} | {n / wall:,.0f} | {cpu:.2f} |"
                    )
                used = int(client.info("memory")["used_memory"]) - before
                stored = SINGLE + BATCHED
                memory_note = (
                    f"Redis memory: {used / stored:,.0f} bytes per event with a 1,024-byte "
                    f"payload ({stored} events: stream entries and id keys), i.e. "
                    f"{used / stored - len(PAYLOAD):,.0f} bytes of overhead."
                )
                client.close()
        finally:
            server.stop()
    return "\n".join([*lines, "", memory_note])
