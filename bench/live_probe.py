"""One gateway, one wrk run, the gateway's costs per event: for A/B runs while profiling.

``ENGINE=sqlite|redis RATE=2000 DUR=10 .venv/bin/python -m bench.live_probe`` builds
``RATE * DUR`` signed requests (``bench/live_wrk.py``), sends them once at ``RATE`` to a fresh
``bnpl live gateway`` and prints one line: throughput, wrk's p50/p99/p99.9, the gateway's CPU
per event (user and sys apart), its appends (group-commit batches, from ``/metrics``: CPU per
event depends on their size) and the bytes it wrote per event (``/proc/PID/io``). With
``PYTHONPATH=/path/to/another/checkout`` the gateway runs that checkout's code. Not part of
``python -m bench``: nothing is appended to ``bench/results.md``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import httpx
import psutil

from bench.live_services import SECRET, Service, running_gateway, running_redis
from bench.live_wrk import build_requests, run_wrk


def probe(workdir: Path, live: dict[str, str], rate: float, duration_s: float) -> str:
    """The line of one run (see the module docstring)."""
    requests = build_requests(
        workdir / "req", SECRET, events=int(rate * duration_s), rate=rate, seed=11
    )
    n = len(requests.event_ids)
    with running_gateway(workdir, live) as gateway:
        process = psutil.Process(gateway.process.pid)
        cpu0, io0 = process.cpu_times(), process.io_counters()
        load = os.getloadavg()[0]
        result = run_wrk(
            gateway.url, requests, rate=rate, connections=64, cap_s=duration_s * 3 + 60
        )
        metrics = httpx.get(f"{gateway.url}/metrics").text
        cpu1, io1 = process.cpu_times(), process.io_counters()
    found = re.search(r"^bnpl_gateway_batch_events_count (\S+)", metrics, re.MULTILINE)
    appends = float(found.group(1)) if found else float("nan")
    user = (cpu1.user - cpu0.user) / n * 1e6
    system = (cpu1.system - cpu0.system) / n * 1e6
    return (
        f"{live['log_engine']} rate={rate:g} events={n} load={load:.1f} "
        f"acked/s={n / result.elapsed_s:.0f} non2xx={result.non_2xx()} "
        f"p50={result.percentile_ms('p50_us'):.1f} p99={result.percentile_ms('p99_us'):.1f} "
        f"p99.9={result.percentile_ms('p999_us'):.1f} ms "
        f"cpu={user + system:.0f} us/event (user {user:.0f}, sys {system:.0f}) "
        f"appends={appends:.0f} ({n / appends:.1f} events each) "
        f"disk writes={(io1.write_bytes - io0.write_bytes) / n:.0f} B/event"
    )


def main() -> None:
    engine = os.environ.get("ENGINE", "sqlite")
    rate = float(os.environ.get("RATE", "2000"))
    duration_s = float(os.environ.get("DUR", "10"))
    with tempfile.TemporaryDirectory(prefix="bench-live-probe-") as tmp:
        root = Path(tmp)
        if engine == "sqlite":
            live = {"log_engine": "sqlite", "log_path": str(root / "log" / "ev.sqlite")}
            print(probe(root, live, rate, duration_s))
            return
        redis: Service
        with running_redis(root / "redis") as redis:
            live = {"log_engine": "redis", "log_redis_url": redis.url, "log_redis_prefix": "probe"}
            print(probe(root, live, rate, duration_s))


if __name__ == "__main__":
    main()
