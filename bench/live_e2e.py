"""The end-to-end part of ``python -m bench live`` (``BENCH_LIVE_PART=e2e``): provider → gateway
→ event log → loader → live table, on the embedded warehouse (DuckDB) with the SQLite and the
Redis Streams log side by side.

* **Latency** (issue 13: p99 ≤ 5 s at 1,000 events/s for 60 s): a reader in this process polls
  the live table every ``POLL_S`` (as a notebook would: it takes its turn at the DuckDB file) and
  notes when each event id is first queryable; the latency of an event is that moment minus its
  ``received_at`` (when the gateway stored it, just before its 2xx). The poll interval bounds the
  error (reported).
* **Exactly once at full size** (100,000 events by default): pushed unpaced with duplicates,
  out-of-order and late deliveries and malformed bodies; the gateway is killed with SIGKILL once
  and the loader twice mid-stream, and restarted; then the warehouse must hold exactly the
  acknowledged event ids, each once, every gateway reject must be a dead letter, and the sealed
  days' counts must equal the ledger.

Environment: ``BENCH_LIVE_E2E_DURATION_S`` (60), ``BENCH_LIVE_E2E_RATE`` (1000),
``BENCH_LIVE_E2E_EVENTS`` (100000; 0 skips the exactly-once run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import psutil

from bench.live_services import BIN, SECRET, Service, _stop, running_gateway, running_redis
from bnpl.live.engines import open_event_log
from bnpl.pipeline import seal_day
from bnpl.settings import PushSettings, Settings, load_settings
from bnpl.simulator.push import PushPlan, PushSummary, run_push
from bnpl.warehouse import open_warehouse

POLL_S = 0.2
GROUP = "bnpl-loader"


def _env(live: dict[str, str], warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    env["BNPL_LIVE__WEBHOOK_SECRETS"] = SECRET
    env["BNPL_WAREHOUSE__PATH"] = str(warehouse)
    env["BNPL_LIVE__BATCH_MAX_MS"] = "250"
    env["BNPL_LIVE__CLAIM_IDLE_MS"] = "3000"
    env.update({f"BNPL_LIVE__{k.upper()}": v for k, v in live.items()})
    return env


def _settings(live: dict[str, str], warehouse: Path) -> Settings:
    return load_settings(
        warehouse={"path": str(warehouse), "lock_timeout_s": 60},
        live=dict(live, seal_grace_s="0"),
        quality={"quarantine_rate_max": 0.5},
    )


@contextmanager
def running_loader(workdir: Path, env: dict[str, str]) -> Iterator[Service]:
    """``bnpl live load`` as a service (consumer ``bench``), once it has started consuming."""
    log = workdir / f"loader-{time.monotonic_ns()}.log"
    process = subprocess.Popen(
        [str(BIN / "bnpl"), "live", "load", "--consumer", "bench"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    try:
        deadline = time.monotonic() + 120
        while b"started" not in log.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"loader did not start: {log.read_text()[-500:]}")
            time.sleep(0.1)
        yield Service("", process)
    finally:
        _stop(process)


class Poller(threading.Thread):
    """Reads the live table every :data:`POLL_S` and notes when each event id first appears."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True)
        self.settings = settings
        self.seen: dict[str, tuple[float, datetime]] = {}
        self.stop = threading.Event()
        self.polls = 0

    def run(self) -> None:
        warehouse = open_warehouse(self.settings)
        warehouse.ensure_schema()
        try:
            newest = datetime(1970, 1, 1, tzinfo=UTC)
            while not self.stop.is_set():
                rows = warehouse.query(
                    "SELECT event_id, received_at, loaded_at FROM bnpl_raw.live_transactions "
                    "WHERE loaded_at >= $newest",
                    {"newest": newest},
                )
                warehouse.close()  # let the loader have the file between polls
                now = time.time()
                self.polls += 1
                for event_id, received_at, loaded_at in rows.iter_rows():
                    self.seen.setdefault(event_id, (now, received_at))
                    newest = max(newest, loaded_at)
                self.stop.wait(POLL_S)
        finally:
            warehouse.close()

    def latencies_s(self) -> list[float]:
        return sorted(seen - received.timestamp() for seen, received in self.seen.values())


@dataclass(frozen=True)
class LatencyRun:
    """One latency row."""

    label: str
    summary: PushSummary
    latencies_s: list[float]
    loader_cpu_s: float
    gateway_cpu_s: float
    wall_s: float

    def row(self) -> str:
        n = len(self.latencies_s)

        def pct(q: float) -> float:
            return self.latencies_s[min(n - 1, int(q * n))] if n else float("nan")

        acked = len(self.summary.acked)
        return (
            f"| {self.label} | {acked} | {n} | {pct(0.5):.2f} | {pct(0.99):.2f} "
            f"| {self.latencies_s[-1] if n else float('nan'):.2f} | {self.loader_cpu_s:.1f} "
            f"| {self.gateway_cpu_s:.1f} | {self.wall_s:.0f} s |"
        )


def latency_run(
    label: str, live: dict[str, str], root: Path, *, rate: float, duration_s: float
) -> LatencyRun:
    """Push at ``rate`` for ``duration_s`` through a gateway and a loader; time each acknowledged
    event until it is queryable."""
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "bnpl.duckdb"
    env = _env(live, warehouse)
    settings = _settings(live, warehouse)
    started = time.monotonic()
    with running_gateway(root, live) as gateway, running_loader(root, env) as loader:
        poller = Poller(settings)
        poller.start()
        gateway_before, loader_before = gateway.cpu_s(), loader.cpu_s()
        plan = PushPlan(f"{gateway.url}/webhooks/bnpl", rate, duration_s=duration_s, seed=21)
        summary = run_push(plan, PushSettings(concurrency=32, timeout_s=10.0), SECRET)
        deadline = time.monotonic() + 120
        while len(poller.seen) < len(summary.acked) and time.monotonic() < deadline:
            time.sleep(0.5)
        poller.stop.set()
        poller.join()
        loader_cpu, gateway_cpu = loader.cpu_s() - loader_before, gateway.cpu_s() - gateway_before
    acked = set(summary.acked)
    latencies = sorted(
        seen - received.timestamp()
        for event_id, (seen, received) in poller.seen.items()
        if event_id in acked
    )
    return LatencyRun(
        label, summary, latencies, loader_cpu, gateway_cpu, time.monotonic() - started
    )


LATENCY_HEADER = (
    "| log | acked | queryable | p50 s | p99 s | max s | loader CPU s | gateway CPU s | wall |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _gateway_process(root: Path, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [str(BIN / "bnpl"), "live", "gateway", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return process
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("gateway did not start")


def exactly_once_run(root: Path, events: int) -> list[str]:
    """The full-size fault run on the SQLite log; returns report lines (raises if it fails)."""
    from bench.live_services import free_port

    root.mkdir(parents=True, exist_ok=True)
    live = {"log_engine": "sqlite", "log_path": str(root / "events.sqlite")}
    warehouse_path = root / "bnpl.duckdb"
    env = _env(live, warehouse_path)
    env |= {
        "BNPL_SIMULATOR__PUSH__MAX_ATTEMPTS": "60",
        "BNPL_SIMULATOR__PUSH__BACKOFF_MAX_S": "1.0",
    }
    port = free_port()
    acked_file = root / "acked.txt"
    started = time.monotonic()
    gateway = _gateway_process(root, env, port)
    loader = subprocess.Popen(
        [str(BIN / "bnpl"), "live", "load", "--consumer", "bench"],
        cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    push = subprocess.Popen(
        [
            str(BIN / "bnpl"), "simulate", "push", "--to", f"http://127.0.0.1:{port}/webhooks/bnpl",
            "--rate", "0", "--events", str(events), "--seed", "31", "--concurrency", "32",
            "--acked-out", str(acked_file), "--duplicate-rate", "0.05",
            "--out-of-order-rate", "0.05", "--late-rate", "0.05", "--malformed-rate", "0.01",
        ],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    kills = 0
    try:
        settings = _settings(live, warehouse_path)

        def appended() -> int:
            with open_event_log(settings) as log:
                return log.stats(GROUP).depth

        for share, what in ((0.25, "loader"), (0.5, "gateway"), (0.75, "loader")):
            while appended() < events * share and push.poll() is None:
                time.sleep(0.5)
            if what == "loader":
                _kill(loader)
                loader = subprocess.Popen(
                    [str(BIN / "bnpl"), "live", "load", "--consumer", "bench"],
                    cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
            else:
                _kill(gateway)
                gateway = _gateway_process(root, env, port)
            kills += 1
        out, err = push.communicate(timeout=3600)
        if push.returncode != 0:
            raise RuntimeError(f"push failed: {err.decode()[-500:]}")
        deadline = time.monotonic() + 600
        with open_event_log(settings) as log:
            while time.monotonic() < deadline:
                stats = log.stats(GROUP)
                if stats.lag_events == 0 and stats.pending == 0:
                    break
                time.sleep(1)
        push_wall = time.monotonic() - started
        loader_cpu = psutil.Process(loader.pid).cpu_times()
    finally:
        for process in (push, loader, gateway):
            _stop(process)
    acked = set(acked_file.read_text().split())
    warehouse = open_warehouse(settings)
    try:
        rows = warehouse.read_table("bnpl_raw.live_transactions")
        dead = warehouse.read_table("bnpl_raw.quarantine").filter(pl.col("event_id").is_not_null())
        ids = set(rows["event_id"])
        dead_ids = set(dead["event_id"])
        by_gateway = set(dead.filter(pl.col("check_name") == "rejected_by_gateway")["event_id"])
        checks = {
            "rows unique": rows["event_id"].n_unique() == rows.height,
            "acked = rows + contract dead letters": ids | (dead_ids - by_gateway) == acked,
            "no event both a row and a dead letter": not ids & dead_ids,
            "gateway rejects are dead letters, never acked": bool(by_gateway)
            and not by_gateway & acked,
        }
        seal_started = time.monotonic()
        days = sorted(set(rows["transaction_date"]))
        for day in days:
            seal_day(warehouse, settings, day, run_id=f"bench-{day}", force=True)
        seal_s = time.monotonic() - seal_started
        ledger = warehouse.read_table("bnpl_raw.source_batches").sort("transaction_date")
        raw = warehouse.read_table("bnpl_raw.transactions").group_by("transaction_date").len()
        live_days = rows.group_by("transaction_date").len()
        joined = ledger.join(raw, on="transaction_date").join(
            live_days, on="transaction_date", suffix="_live"
        )
        checks["sealed counts equal the ledger"] = bool(
            (joined["records_loaded"] == joined["len"]).all()
            and (joined["len"] == joined["len_live"]).all()
            and joined.height == len(days)
        )
    finally:
        warehouse.close()
    summary = out.decode().strip().splitlines()
    verdict = "PASS" if all(checks.values()) else "FAIL"
    return [
        f"Exactly once, {events:,} events pushed unpaced (duplicates 5 %, out of order 5 %, late 5 %,"
        f" malformed 1 %), {kills} SIGKILLs (loader, gateway, loader), SQLite log, DuckDB: "
        f"**{verdict}**; {len(acked):,} acknowledged, {rows.height:,} live rows, "
        f"{len(dead_ids):,} dead letters ({len(by_gateway):,} from the gateway); push and drain "
        f"{push_wall:.0f} s, last loader's CPU {loader_cpu.user + loader_cpu.system:.1f} s; "
        f"{len(days)} days sealed in {seal_s:.0f} s.",
        "",
        *(f"- {name}: {'yes' if ok else 'NO'}" for name, ok in checks.items()),
        "",
        "Provider: " + "; ".join(summary),
    ]


def e2e_section() -> str:
    """The end-to-end report section."""
    duration_s = float(os.environ.get("BENCH_LIVE_E2E_DURATION_S", "60"))
    rate = float(os.environ.get("BENCH_LIVE_E2E_RATE", "1000"))
    events = int(os.environ.get("BENCH_LIVE_E2E_EVENTS", "100000"))
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-live-e2e-") as tmp:
        root = Path(tmp)
        runs = [
            latency_run(
                "SQLite",
                {"log_engine": "sqlite", "log_path": str(root / "s" / "events.sqlite")},
                root / "s",
                rate=rate,
                duration_s=duration_s,
            )
        ]
        with running_redis(root / "redis") as redis:
            runs.append(
                latency_run(
                    "Redis Streams",
                    {"log_engine": "redis", "log_redis_url": redis.url},
                    root / "r",
                    rate=rate,
                    duration_s=duration_s,
                )
            )
        fault_lines = exactly_once_run(root / "x", events) if events else []
    command = (
        f"BENCH_LIVE_PART=e2e BENCH_LIVE_E2E_DURATION_S={duration_s:g} "
        f"BENCH_LIVE_E2E_RATE={rate:g} BENCH_LIVE_E2E_EVENTS={events} python -m bench live"
    )
    return "\n".join(
        [
            f"`{command}`",
            "",
            f"End to end: `bnpl.simulator.push` at {rate:g} events/s for {duration_s:g} s → "
            "`bnpl live gateway` → event log → `bnpl live load` (default batches: 500 events or "
            "250 ms here) → DuckDB; a reader polls the live table every "
            f"{POLL_S:g} s (so latencies are up to {POLL_S:g} s late). Latency: first seen "
            f"queryable minus `received_at`. Load average at the start: {load[0]:.1f}.",
            "",
            LATENCY_HEADER,
            *(run.row() for run in runs),
            "",
            *fault_lines,
        ]
    )
