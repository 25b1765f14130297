"""The live path under load: ``python -m bench live``.

Gateway part (issue 13's target: >= 3,000 signed events/s sustained for 60 s, p99 ack <= 25 ms on
2 cores): a real ``bnpl live gateway`` process, the provider (``bnpl.simulator.push``) in this
process, at a fixed rate and unpaced (max rate), on the SQLite and the Redis Streams log side by
side; the baseline in the same run is the SQLite gateway with group commit off
(``BNPL_LIVE__MAX_BATCH_EVENTS=1``: one durable append per request). Figures: acknowledged
events/s, the provider's p50/p99 round trip of acknowledged deliveries, and the CPU seconds
(user+sys) of the gateway, the provider and redis-server.

Environment: ``BENCH_LIVE_DURATION_S`` (default 60), ``BENCH_LIVE_RATE`` (default 3000),
``BENCH_LIVE_CONCURRENCY`` (default 64). The pieces (:func:`running_gateway`,
:func:`running_redis`, :func:`gateway_run`) are meant to be reused by the end-to-end part.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from bnpl.settings import PushSettings
from bnpl.simulator.push import PushPlan, PushSummary, run_push

SECRET = "whsec_" + base64.b64encode(b"bench-secret-of-the-live-gateway").decode()
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Service:
    """A process started for the bench and where it answers."""

    url: str
    process: subprocess.Popen[bytes]

    def cpu_s(self) -> float:
        """User + system CPU seconds of the process so far."""
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def running_redis(workdir: Path) -> Iterator[Service]:
    """redis-server on 127.0.0.1 and a free port, AOF with ``appendfsync always``."""
    executable = shutil.which("redis-server")
    if executable is None:
        raise RuntimeError("redis-server is not on PATH; run `make redis-server`")
    port = free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    options = {"bind": "127.0.0.1", "port": str(port), "dir": str(workdir)}
    options |= {"appendonly": "yes", "appendfsync": "always", "save": ""}
    process = subprocess.Popen(
        [executable, *(part for k, v in options.items() for part in (f"--{k}", v))],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield Service(f"redis://127.0.0.1:{port}/0", process)
    finally:
        _stop(process)


@contextmanager
def running_gateway(workdir: Path, live: dict[str, str]) -> Iterator[Service]:
    """``bnpl live gateway`` on a free port with ``BNPL_LIVE__<NAME>`` = ``live[name]``."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    env["BNPL_LIVE__WEBHOOK_SECRETS"] = SECRET
    env.update({f"BNPL_LIVE__{k.upper()}": v for k, v in live.items()})
    process = subprocess.Popen(
        [str(BIN / "bnpl"), "live", "gateway", "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gateway did not start")
            time.sleep(0.1)
        yield Service(url, process)
    finally:
        _stop(process)


@dataclass(frozen=True)
class GatewayRun:
    """The figures of one load run against one gateway."""

    label: str
    rate: float
    duration_s: float
    summary: PushSummary
    gateway_cpu_s: float
    provider_cpu_s: float
    redis_cpu_s: float | None

    def row(self) -> str:
        s = self.summary
        acked_rate = len(s.acked) / s.elapsed_s if s.elapsed_s else 0.0
        p50, p99 = s.percentile_ms(0.5), s.percentile_ms(0.99)
        redis = "" if self.redis_cpu_s is None else f"{self.redis_cpu_s:.1f}"
        target = f"{self.rate:.0f}/s" if self.rate else "max"
        per_event = 1000 / max(1, len(s.acked))
        return (
            f"| {self.label} | {target} | {s.elapsed_s:.1f} s | {len(s.acked)} | {acked_rate:.0f} "
            f"| {p50 or 0:.1f} | {p99 or 0:.1f} | {s.retries} | {s.gave_up} "
            f"| {self.gateway_cpu_s:.1f} | {self.gateway_cpu_s * per_event:.2f} "
            f"| {self.provider_cpu_s:.1f} | {self.provider_cpu_s * per_event:.2f} | {redis} |"
        )


HEADER = (
    "| gateway log | target | wall | acked | acked/s | p50 ms | p99 ms | retries | gave up "
    "| gateway CPU s | gateway CPU ms/event | provider CPU s | provider CPU ms/event "
    "| redis CPU s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def gateway_run(
    label: str,
    gateway: Service,
    *,
    rate: float,
    duration_s: float,
    concurrency: int,
    redis: Service | None = None,
    seed: int = 1,
) -> GatewayRun:
    """Push for ``duration_s`` at ``rate`` (0: unpaced) to a running gateway; CPU is counted from
    the start of the push to its end."""
    plan = PushPlan(f"{gateway.url}/webhooks/bnpl", rate, duration_s=duration_s, seed=seed)
    settings = PushSettings(concurrency=concurrency, timeout_s=10.0)
    gateway_before, redis_before = gateway.cpu_s(), redis.cpu_s() if redis else 0.0
    cpu_before = time.process_time()
    summary = run_push(plan, settings, SECRET)
    provider_cpu = time.process_time() - cpu_before
    return GatewayRun(
        label,
        rate,
        duration_s,
        summary,
        gateway.cpu_s() - gateway_before,
        provider_cpu,
        redis.cpu_s() - redis_before if redis else None,
    )


def gateway_runs(duration_s: float, rate: float, concurrency: int) -> list[GatewayRun]:
    """Fixed rate and max rate on SQLite and Redis, and the no-group-commit baseline."""
    runs: list[GatewayRun] = []
    with tempfile.TemporaryDirectory(prefix="bench-live-") as tmp:
        root = Path(tmp)
        sqlite = {"log_engine": "sqlite", "log_path": str(root / "sqlite" / "events.sqlite")}
        baseline = dict(
            sqlite, log_path=str(root / "baseline" / "events.sqlite"), max_batch_events="1"
        )
        with running_gateway(root, baseline) as gateway:
            runs.append(
                gateway_run(
                    "SQLite, no group commit (baseline)",
                    gateway,
                    rate=rate,
                    duration_s=duration_s,
                    concurrency=concurrency,
                )
            )
        with running_gateway(root, sqlite) as gateway:
            for target in (rate, 0.0):
                runs.append(
                    gateway_run(
                        "SQLite",
                        gateway,
                        rate=target,
                        duration_s=duration_s,
                        concurrency=concurrency,
                        seed=2 if target else 3,
                    )
                )
        with running_redis(root / "redis") as redis:
            live = {"log_engine": "redis", "log_redis_url": redis.url}
            with running_gateway(root, live) as gateway:
                for target in (rate, 0.0):
                    runs.append(
                        gateway_run(
                            "Redis Streams",
                            gateway,
                            rate=target,
                            duration_s=duration_s,
                            concurrency=concurrency,
                            redis=redis,
                            seed=4 if target else 5,
                        )
                    )
    return runs


def main() -> str:
    duration_s = float(os.environ.get("BENCH_LIVE_DURATION_S", "60"))
    rate = float(os.environ.get("BENCH_LIVE_RATE", "3000"))
    concurrency = int(os.environ.get("BENCH_LIVE_CONCURRENCY", "64"))
    load = os.getloadavg()
    runs = gateway_runs(duration_s, rate, concurrency)
    command = (
        f"BENCH_LIVE_DURATION_S={duration_s:g} BENCH_LIVE_RATE={rate:g} "
        f"BENCH_LIVE_CONCURRENCY={concurrency} python -m bench live"
    )
    return "\n".join(
        [
            f"`{command}`",
            "",
            f"Gateway: signed webhooks pushed for {duration_s:g} s per row by `bnpl.simulator.push`"
            f" ({concurrency} in flight) to `bnpl live gateway` on the same machine; latency is"
            " the provider's round trip of acknowledged deliveries; CPU is user+sys seconds"
            f" during the row. Load average at the start: {load[0]:.1f}.",
            "",
            HEADER,
            *(run.row() for run in runs),
        ]
    )
