"""The low-overhead load generator of ``python -m bench live``: ``wrk`` replaying pre-built requests.

The Python provider (``bnpl.simulator.push``) spends about three times the gateway's CPU per event,
so on two shared cores it, not the gateway, sets the ceiling. Here the requests are built before
the clock starts: real records from the bundled simulator's real-time mode, unique
``webhook-id`` s, signed with :class:`bnpl.signing.Signer`, ``webhook-timestamp`` = the
moment the event is due (``t0 + i / rate``, within the gateway's tolerance for runs shorter than
it), written as raw HTTP/1.1 requests to one file per wrk thread. ``bench/live_wrk.lua`` sends
each once, paced on an absolute schedule or as fast as the connections allow, counts the status
codes, and prints wrk's latency percentiles. Latency is wrk's: from writing a request to reading
its answer (a request that leaves late because every connection was busy is timed from when it
left, as wrk 4 does; wrk2 would correct that). The few ``GET /healthz`` a thread sends while it
waits for its last answers are in wrk's latency figures, not in the counts. Afterwards the event
log is read back through :class:`bnpl.live.log.EventLog` and must hold exactly the sent ids, once.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bnpl.live.log import EventLog
from bnpl.settings import PushSettings
from bnpl.signing import Signer
from bnpl.simulator.push_events import EventSource

HERE = Path(__file__).parent
SCRIPT = HERE / "live_wrk.lua"
THREADS = 2


def ensure_wrk() -> str:
    """The path of ``wrk``; installs the Debian package when it is missing."""
    found = shutil.which("wrk")
    if found is not None:
        return found
    apt = shutil.which("apt-get")
    if apt is not None:
        install = [apt, "install", "-y", "-q", "wrk"]
        if os.geteuid() != 0 and shutil.which("sudo"):
            install = ["sudo", *install]
        subprocess.run(install, check=False, capture_output=True)
        found = shutil.which("wrk")
    if found is None:
        raise RuntimeError(
            "wrk is not installed and `apt-get install wrk` did not work: install the Debian "
            "package `wrk` (a bench dependency) and re-run `python -m bench live`"
        )
    return found


@dataclass(frozen=True)
class Requests:
    """Pre-built requests: the files of ``prefix`` (``<prefix>.<thread>``) and their ids."""

    prefix: Path
    event_ids: list[str]
    build_cpu_s: float


def build_requests(prefix: Path, secret: str, *, events: int, rate: float, seed: int) -> Requests:
    """``events`` signed webhook requests, dealt round-robin to :data:`THREADS` files."""
    cpu = time.process_time()
    source = EventSource(PushSettings(), seed=seed)
    signer = Signer(secret)
    t0 = time.time() + 5
    ids: list[str] = []
    with ExitStack() as stack:
        outs = [stack.enter_context(Path(f"{prefix}.{n}").open("wb")) for n in range(THREADS)]
        for i in range(events):
            due = t0 + i / rate
            event = source.next_event(_naive_utc(due))
            headers = signer.headers(event.event_id, int(due), event.body)
            head = (
                "POST /webhooks/bnpl HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Content-Type: application/json\r\n"
                f"Content-Length: {len(event.body)}\r\n"
                + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
                + "\r\n"
            ).encode()
            raw = head + event.body
            outs[i % THREADS].write(b"%d\n%s" % (len(raw), raw))
            ids.append(event.event_id)
    return Requests(prefix, ids, time.process_time() - cpu)


def _naive_utc(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class WrkResult:
    """wrk's JSON line plus its own CPU seconds (user+sys, from ``wait4``)."""

    stats: dict[str, object]
    cpu_s: float

    @property
    def elapsed_s(self) -> float:
        return float(self.stats["elapsed_us"]) / 1e6  # type: ignore[arg-type]

    def percentile_ms(self, name: str) -> float:
        return float(self.stats[name]) / 1000  # type: ignore[arg-type]

    def non_2xx(self) -> int:
        statuses: dict[str, int] = self.stats["statuses"]  # type: ignore[assignment]
        return sum(n for code, n in statuses.items() if not code.startswith("2"))


def run_wrk(
    url: str, requests: Requests, *, rate: float, connections: int, cap_s: float
) -> WrkResult:
    """Send every request of ``requests`` once to ``url`` (the gateway's base URL) with wrk."""
    wrk = ensure_wrk()
    env = dict(
        os.environ,
        BENCH_WRK_REQUESTS=str(requests.prefix),
        BENCH_WRK_RATE=f"{rate:g}",
        BENCH_WRK_THREADS=str(THREADS),
        BENCH_WRK_CONNECTIONS=str(connections),
    )
    command = [wrk, f"-t{THREADS}", f"-c{connections}", f"-d{int(cap_s)}s", "--timeout", "30s"]
    command += ["-s", str(SCRIPT), url]
    log_path = Path(f"{requests.prefix}.wrk.out")
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
        status, usage = _wait_done(process.pid, requests.prefix)
        process.returncode = os.waitstatus_to_exitcode(status)
    text = log_path.read_text()
    lines = [line for line in text.splitlines() if line.startswith("BENCH ")]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed (exit {process.returncode}): {text[-2000:]}")
    return WrkResult(json.loads(lines[-1].removeprefix("BENCH ")), usage.ru_utime + usage.ru_stime)


def _wait_done(pid: int, prefix: Path) -> tuple[int, resource.struct_rusage]:
    """Wait for wrk; SIGINT it once every thread has answered all it sent (wrk 4 would otherwise
    run for all of ``-d``). Returns the wait status and wrk's resource usage."""
    markers = [Path(f"{prefix}.done.{n}") for n in range(THREADS)]
    interrupted = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            for marker in markers:
                marker.unlink(missing_ok=True)
            return status, usage
        if not interrupted and all(m.exists() for m in markers):
            os.kill(pid, signal.SIGINT)
            interrupted = True
        time.sleep(0.05)


def logged_ids(event_log: EventLog) -> Counter[str]:
    """Every event id in the log, with how often it is there (read by a fresh consumer group)."""
    found: Counter[str] = Counter()
    while batch := event_log.read("bench-verify", "bench", max_events=20_000):
        found.update(d.event.event_id for d in batch)
        event_log.ack("bench-verify", batch)
    return found


def verify(event_log: EventLog, sent: list[str]) -> str:
    """``"exact"`` when the log holds the sent ids once each, else what differs."""
    found = logged_ids(event_log)
    expected = Counter(sent)
    if found == expected:
        return "exact"
    missing = sum((expected - found).values())
    extra = sum((found - expected).values())
    return f"MISMATCH: {missing} missing, {extra} extra/repeated"


@dataclass(frozen=True)
class WrkRun:
    """One wrk replay against one gateway, and what its log holds afterwards."""

    label: str
    rate: float
    result: WrkResult
    gateway_cpu_s: float
    redis_cpu_s: float | None
    log_check: str

    def row(self) -> str:
        r, stats = self.result, self.result.stats
        answered = int(stats["answered"])  # type: ignore[call-overload]
        ok = answered - r.non_2xx()
        errors = sum(stats["errors"].values())  # type: ignore[attr-defined]
        per_event = 1000 / max(1, ok)
        redis = "" if self.redis_cpu_s is None else f"{self.redis_cpu_s:.1f}"
        target = f"{self.rate:.0f}/s" if self.rate else "max"
        return (
            f"| {self.label} | {target} | {r.elapsed_s:.1f} s | {stats['sent']} | {ok} "
            f"| {r.non_2xx()} | {errors} | {ok / r.elapsed_s:.0f} "
            f"| {r.percentile_ms('p50_us'):.1f} | {r.percentile_ms('p99_us'):.1f} "
            f"| {r.percentile_ms('p999_us'):.1f} | {self.gateway_cpu_s:.1f} "
            f"| {self.gateway_cpu_s * per_event:.2f} | {r.cpu_s:.1f} | {r.cpu_s * per_event:.2f} "
            f"| {redis} | {self.log_check} |"
        )


WRK_HEADER = (
    "| gateway log | target | wall | sent | 2xx | non-2xx | socket errors | 2xx/s | p50 ms "
    "| p99 ms | p99.9 ms | gateway CPU s | gateway CPU ms/event | wrk CPU s | wrk CPU ms/event "
    "| redis CPU s | log holds |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)
