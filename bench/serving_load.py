"""The scoring API under load for ``python -m bench serving``: ``bnpl serve`` (uvicorn, one
process) driven by wrk through the live bench's replay script (:func:`bench.live_wrk.run_wrk`,
``bench/live_wrk.lua``): every request is a pre-built ``POST /v1/score`` written to the request
files before the clock starts, sent once on an absolute schedule at the target rate. Latency is
wrk's (write to answer); the server's CPU is read from ``/proc`` before and after each run, wrk's
from ``wait4``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.live_wrk import THREADS, Requests, WrkResult, run_wrk

ROOT = Path(__file__).parents[1]
HEALTH_BODY = '{"ok":true}'
"""``GET /healthz``'s body from ``bnpl serve`` (Starlette's compact JSON)."""


def process_cpu_s(pid: int) -> float:
    """user+sys CPU seconds of a running process (``/proc/<pid>/stat``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve(env: dict[str, str], log: Path) -> Iterator[tuple[str, int]]:
    """``bnpl serve`` on a free loopback port until ready (champion loaded, store answering);
    yields its base URL and pid, and stops it (SIGTERM, then SIGKILL) afterwards."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    command = [
        str(Path(sys.executable).parent / "bnpl"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=clean | env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"bnpl serve exited: {log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"bnpl serve not ready in 180 s: {log.read_text()[-2000:]}")
            time.sleep(0.2)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def build_requests(
    prefix: Path, bodies: Sequence[dict[str, Any]], token: str, count: int
) -> Requests:
    """``count`` score requests cycling through ``bodies``, dealt round-robin to the wrk
    threads' files (the live bench's format: ``<length>\\n<raw request>``)."""
    cpu = time.process_time()
    encoded = [json.dumps(b).encode() for b in bodies]
    ids = []
    with ExitStack() as stack:
        outs = [stack.enter_context(Path(f"{prefix}.{n}").open("wb")) for n in range(THREADS)]
        for i in range(count):
            body = encoded[i % len(encoded)]
            head = (
                "POST /v1/score HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            raw = head + body
            outs[i % THREADS].write(b"%d\n%s" % (len(raw), raw))
            ids.append(str(i))
    return Requests(prefix, ids, time.process_time() - cpu)


@dataclass(frozen=True)
class LoadRun:
    """One paced run against the server."""

    rate: float
    seconds: float
    result: WrkResult
    server_cpu_s: float

    @property
    def ok(self) -> int:
        answered: Any = self.result.stats["answered"]
        return int(answered) - self.result.non_2xx()

    def p99_ms(self) -> float:
        return self.result.percentile_ms("p99_us")

    def row(self) -> str:
        r = self.result
        errors = sum(r.stats["errors"].values())  # type: ignore[attr-defined]
        per = 1000 / max(1, self.ok)
        # wrk stopped at its -d cap before every answer came back: its whole run's duration
        elapsed = r.elapsed_s if r.elapsed_s > 0 else float(r.stats["duration_us"]) / 1e6  # type: ignore[arg-type]
        return (
            f"| {self.rate:.0f}/s | {self.seconds:.0f} s | {r.stats['sent']} | {self.ok} "
            f"| {r.non_2xx()} | {errors} | {self.ok / elapsed:.0f} "
            f"| {r.percentile_ms('p50_us'):.2f} | {r.percentile_ms('p90_us'):.2f} "
            f"| {self.p99_ms():.2f} | {r.percentile_ms('max_us'):.1f} "
            f"| {self.server_cpu_s:.1f} | {self.server_cpu_s * per:.2f} | {r.cpu_s:.1f} |"
        )


LOAD_HEADER = (
    "| target | duration | sent | 2xx | non-2xx | socket errors | 2xx/s | p50 ms | p90 ms "
    "| p99 ms | max ms | server CPU s | server CPU ms/req | wrk CPU s |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def paced_run(
    url: str,
    pid: int,
    tmp: Path,
    bodies: Sequence[dict[str, Any]],
    token: str,
    *,
    rate: float,
    seconds: float,
    connections: int = 16,
) -> LoadRun:
    """``rate`` requests/s for ``seconds`` through wrk; the server's CPU over the run."""
    prefix = tmp / f"score-{rate:g}"
    requests = build_requests(prefix, bodies, token, int(rate * seconds))
    # the replay script tells its /healthz polls (sent while it waits for the last answers) from
    # real answers by the body: the scoring API's, not the gateway's
    os.environ["BENCH_WRK_HEALTH_BODY"] = HEALTH_BODY
    before = process_cpu_s(pid)
    result = run_wrk(url, requests, rate=rate, connections=connections, cap_s=seconds * 3 + 30)
    cpu = process_cpu_s(pid) - before
    for n in range(THREADS):
        Path(f"{prefix}.{n}").unlink(missing_ok=True)
    return LoadRun(rate, seconds, result, cpu)
