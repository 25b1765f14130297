"""The live path under load: ``python -m bench live``.

Gateway part (issue 13's target: >= 3,000 signed events/s sustained for 60 s, p99 ack <= 25 ms on
2 cores, the load generator on the same machine), on the SQLite and the Redis Streams log side by
side, with two load generators:

- ``wrk`` (:mod:`bench.live_wrk`): ``rate * duration`` requests built and signed before the clock
  starts, each sent once by wrk at ``rate`` (absolute schedule) and at max rate, a fresh gateway
  and log per row; afterwards the log must hold exactly the sent ids. It costs a fraction of the
  gateway's CPU per event, so this is the throughput figure. wrk is the Debian package ``wrk``
  (installed with apt-get when missing).
- the provider (``bnpl.simulator.push``) in this process, at ``rate`` and unpaced (max rate): the
  realistic client (retries, signing per attempt), but it spends ~3x the gateway's CPU per event.
  Its baseline in the same run is the SQLite gateway with group commit off
  (``BNPL_LIVE__MAX_BATCH_EVENTS=1``: one durable append per request).

Figures: acknowledged events/s, p50/p99 acknowledgement latency, non-2xx answers, and the CPU
seconds (user+sys) and CPU ms per event of the gateway, the load generator and redis-server.

Environment: ``BENCH_LIVE_DURATION_S`` (default 60: seconds per row at ``rate``),
``BENCH_LIVE_RATE`` (default 3000 events/s), ``BENCH_LIVE_CONCURRENCY`` (default 64: wrk's
connections and the provider's requests in flight), ``BENCH_LIVE_PARTS`` (default
``wrk,provider``). The pieces (:func:`running_gateway`, :func:`running_redis`,
:func:`gateway_run`) are meant to be reused by the end-to-end part.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.live_services import (  # re-exported for the end-to-end part
    BIN as BIN,
)
from bench.live_services import SECRET as SECRET
from bench.live_services import Service as Service
from bench.live_services import free_port as free_port
from bench.live_services import running_gateway as running_gateway
from bench.live_services import running_redis as running_redis
from bench.live_wrk import WRK_HEADER, Requests, WrkRun, build_requests, run_wrk, verify
from bnpl.live.engines import open_event_log
from bnpl.settings import LiveSettings, PushSettings, Settings
from bnpl.simulator.push import PushPlan, PushSummary, run_push


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


def _log_settings(live: dict[str, str]) -> Settings:
    fields = {k: v for k, v in live.items() if k != "max_batch_events"}
    return Settings(live=LiveSettings.model_validate(fields | {"webhook_secrets": SECRET}))


def wrk_run(
    label: str,
    workdir: Path,
    live: dict[str, str],
    requests: Requests,
    *,
    rate: float,
    connections: int,
    cap_s: float,
    redis: Service | None = None,
) -> WrkRun:
    """A fresh gateway with log ``live``, every request of ``requests`` sent once by wrk, then the
    log read back; CPU is counted from wrk's start to its end."""
    with running_gateway(workdir, live) as gateway:
        gateway_before, redis_before = gateway.cpu_s(), redis.cpu_s() if redis else 0.0
        result = run_wrk(gateway.url, requests, rate=rate, connections=connections, cap_s=cap_s)
        gateway_cpu = gateway.cpu_s() - gateway_before
        redis_cpu = redis.cpu_s() - redis_before if redis else None
    with open_event_log(_log_settings(live)) as event_log:
        check = verify(event_log, requests.event_ids)
    return WrkRun(label, rate, result, gateway_cpu, redis_cpu, check)


def wrk_runs(duration_s: float, rate: float, connections: int) -> tuple[list[WrkRun], Requests]:
    """``rate * duration_s`` pre-built requests replayed at ``rate`` and at max rate, on SQLite
    and on Redis (a fresh log for each run, so every run sends the same ids)."""
    runs: list[WrkRun] = []
    cap_s = max(3 * duration_s, duration_s + 120)
    with tempfile.TemporaryDirectory(prefix="bench-live-wrk-") as tmp:
        root = Path(tmp)
        events = int(rate * duration_s)

        def fresh(n: int) -> Requests:
            # Signed just before each run: one set for all four runs goes stale against the
            # gateway's timestamp tolerance (5 min) on a slow machine. Same seed, same ids.
            prefix = root / f"requests{n}"
            return build_requests(prefix, SECRET, events=events, rate=rate, seed=11)

        requests = fresh(0)
        for n, target in enumerate((rate, 0.0)):
            live = {"log_engine": "sqlite", "log_path": str(root / f"sqlite{n}" / "ev.sqlite")}
            runs.append(
                wrk_run(
                    "SQLite",
                    root,
                    live,
                    requests if n == 0 else fresh(1),
                    rate=target,
                    connections=connections,
                    cap_s=cap_s,
                )
            )
        with running_redis(root / "redis") as redis:
            for n, target in enumerate((rate, 0.0)):
                live = {
                    "log_engine": "redis",
                    "log_redis_url": redis.url,
                    "log_redis_prefix": f"bench:wrk{n}",
                }
                runs.append(
                    wrk_run(
                        "Redis Streams",
                        root,
                        live,
                        fresh(2 + n),
                        rate=target,
                        connections=connections,
                        cap_s=cap_s,
                        redis=redis,
                    )
                )
    return runs, requests


def main() -> str:
    """The gateway part and the end-to-end part (``bench/live_e2e.py``); ``BENCH_LIVE_PART``
    (``gateway``, ``e2e`` or ``all``, the default) picks."""
    part = os.environ.get("BENCH_LIVE_PART", "all")
    sections = []
    if part in ("all", "gateway"):
        sections.append(gateway_section())
    if part in ("all", "e2e"):
        from bench.live_e2e import e2e_section

        sections.append(e2e_section())
    return "\n\n".join(sections)


def gateway_section() -> str:
    """The gateway part's report."""
    duration_s = float(os.environ.get("BENCH_LIVE_DURATION_S", "60"))
    rate = float(os.environ.get("BENCH_LIVE_RATE", "3000"))
    concurrency = int(os.environ.get("BENCH_LIVE_CONCURRENCY", "64"))
    parts = os.environ.get("BENCH_LIVE_PARTS", "wrk,provider").split(",")
    command = (
        f"BENCH_LIVE_DURATION_S={duration_s:g} BENCH_LIVE_RATE={rate:g} "
        f"BENCH_LIVE_CONCURRENCY={concurrency} BENCH_LIVE_PARTS={','.join(parts)} "
        "python -m bench live"
    )
    out = [f"`{command}`"]
    if "wrk" in parts:
        load = os.getloadavg()
        runs, requests = wrk_runs(duration_s, rate, concurrency)
        end = os.getloadavg()
        out += [
            "",
            f"Gateway, wrk: {len(requests.event_ids)} signed requests built beforehand"
            f" ({requests.build_cpu_s:.1f} CPU s, not in the rows) and sent once each by `wrk`"
            f" (2 threads, {concurrency} connections; `bench/live_wrk.lua`) at {rate:g}/s on an"
            " absolute schedule and at max rate, to a fresh `bnpl live gateway` per row on the"
            " same machine; latency is wrk's (request written → answer read, not corrected for"
            " coordinated omission); CPU is user+sys seconds during the row; `log holds`: the"
            " event log read back holds exactly the sent ids, once each. Load average (1 min)"
            f" at the start / end: {load[0]:.1f} / {end[0]:.1f}.",
            "",
            WRK_HEADER,
            *(run.row() for run in runs),
        ]
    if "provider" in parts:
        load = os.getloadavg()
        pushed = gateway_runs(duration_s, rate, concurrency)
        end = os.getloadavg()
        out += [
            "",
            f"Gateway, provider: signed webhooks pushed for {duration_s:g} s per row by"
            f" `bnpl.simulator.push` ({concurrency} in flight) to `bnpl live gateway` on the same"
            " machine; latency is the provider's round trip of acknowledged deliveries; CPU is"
            " user+sys seconds during the row. Load average (1 min) at the start / end:"
            f" {load[0]:.1f} / {end[0]:.1f}.",
            "",
            HEADER,
            *(run.row() for run in pushed),
        ]
    return "\n".join(out)
