"""Exactly once under faults: a real gateway, loader processes and a provider pushing signed
webhooks with duplicates, out-of-order and late deliveries and malformed bodies; the gateway is
killed (SIGKILL) once and the loader twice mid-stream, and restarted. The warehouse then holds
exactly the acknowledged event ids, each once; every rejected event is a dead letter with its
reason; the sealed days' counts equal the ledger."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from live_gateway_helpers import BIN, Gateway, _free_port, gateway_env, stop, wait_until_up

from bnpl.live.engines import open_event_log
from bnpl.live.records import GATEWAY_REJECTED
from bnpl.live.status import read_status
from bnpl.pipeline import seal_day
from bnpl.settings import Settings, load_settings
from bnpl.warehouse import open_warehouse

pytestmark = pytest.mark.slow

EVENTS = 2_400
RATE = 120.0  # events per second: the push lasts ~20 s, a kill every ~5 s of it
# the fault mix (5 % duplicates, out of order and late, 1 % malformed) still gives ~120 of each
# and ~24 malformed bodies; bench/live_e2e.py pushes 100,000 events through the same kills
GROUP = "bnpl-loader"


@dataclass
class Rig:
    """The processes of one run and where they keep their state."""

    workdir: Path
    live: dict[str, object]
    env: dict[str, str]
    port: int

    def start_gateway(self) -> Gateway:
        err = self.workdir / f"gateway-{time.monotonic_ns()}.log"
        process = subprocess.Popen(
            [str(BIN / "bnpl"), "live", "gateway", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=err.open("wb"),
        )
        gateway = Gateway(f"http://127.0.0.1:{self.port}", process, self.live, err)
        wait_until_up(gateway)
        return gateway

    def start_loader(self) -> subprocess.Popen[bytes]:
        err = self.workdir / f"loader-{time.monotonic_ns()}.log"
        return subprocess.Popen(
            [str(BIN / "bnpl"), "live", "load", "--consumer", "loader-1"],
            cwd=self.workdir,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=err.open("wb"),
        )

    def settings(self) -> Settings:
        return load_settings(
            warehouse={"path": self.env["BNPL_WAREHOUSE__PATH"]},
            live={k.lower(): v for k, v in self.live.items()} | {"seal_grace_s": 0},
            quality={"quarantine_rate_max": 0.5},
        )


@contextmanager
def rig(tmp_path: Path) -> Iterator[Rig]:
    """The environment every process shares (log, warehouse, secrets, loader tuning)."""
    live: dict[str, object] = {"log_engine": "sqlite", "log_path": tmp_path / "events.sqlite"}
    env = gateway_env(
        live,
        BNPL_WAREHOUSE__PATH=str(tmp_path / "bnpl.duckdb"),
        BNPL_LIVE__CLAIM_IDLE_MS="1500",
        BNPL_LIVE__BATCH_MAX_MS="200",
        BNPL_SIMULATOR__PUSH__MAX_ATTEMPTS="40",
        BNPL_SIMULATOR__PUSH__BACKOFF_MAX_S="1.0",
        BNPL_SIMULATOR__PUSH__CONCURRENCY="16",
    )
    yield Rig(tmp_path, live, env, _free_port())


def _kill(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    process.wait()


def _drained(settings: Settings, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    with open_event_log(settings) as log:
        while time.monotonic() < deadline:
            stats = log.stats(GROUP)
            if stats.lag_events == 0 and stats.pending == 0:
                return
            time.sleep(0.5)
        raise AssertionError(f"the loader did not catch up: {log.stats(GROUP)}")


def _stored(settings: Settings) -> dict[str, str | None]:
    """Every event in the log: its id and the gateway's rejection, if any."""
    with open_event_log(settings) as log:
        found: dict[str, str | None] = {}
        while batch := log.read("test-reader", "t", max_events=10_000):
            found.update((d.event.event_id, d.event.rejected) for d in batch)
            log.ack("test-reader", batch)
        return found


def test_acknowledged_events_land_exactly_once_through_kills(tmp_path: Path) -> None:
    """SIGKILL the gateway once and the loader twice mid-push: nothing lost, nothing twice."""
    acked_file = tmp_path / "acked.txt"
    with rig(tmp_path) as r:
        gateway = r.start_gateway()
        loader = r.start_loader()
        push = subprocess.Popen(
            [
                str(BIN / "bnpl"), "simulate", "push", "--to", gateway.webhook_url,
                "--rate", str(RATE), "--events", str(EVENTS), "--seed", "11",
                "--acked-out", str(acked_file), "--duplicate-rate", "0.05",
                "--out-of-order-rate", "0.05", "--late-rate", "0.05", "--malformed-rate", "0.01",
            ],
            cwd=tmp_path, env=r.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            push_s = EVENTS / RATE
            time.sleep(push_s * 0.25)
            _kill(loader)
            loader = r.start_loader()
            time.sleep(push_s * 0.25)
            _kill(gateway.process)
            gateway = r.start_gateway()
            time.sleep(push_s * 0.25)
            _kill(loader)
            loader = r.start_loader()
            out, err = push.communicate(timeout=300)
            assert push.returncode == 0, err.decode()[-2000:]
            _drained(r.settings(), timeout_s=120)
        finally:
            for process in (push, loader, gateway.process):
                stop(process)

        summary = out.decode()
        acked = set(acked_file.read_text().split())
        assert "gave up on 0" in summary, summary
        stored = _stored(r.settings())
        rejected_by_gateway = {i for i, reason in stored.items() if reason is not None}
        assert set(stored) == acked | rejected_by_gateway
        assert rejected_by_gateway and not rejected_by_gateway & acked

        settings = r.settings()
        warehouse = open_warehouse(settings)
        try:
            rows = warehouse.read_table("bnpl_raw.live_transactions")
            quarantine = warehouse.read_table("bnpl_raw.quarantine")
            dead = quarantine.filter(pl.col("event_id").is_not_null())
            assert rows["event_id"].n_unique() == rows.height
            assert dead["event_id"].n_unique() == dead.height
            assert not set(rows["event_id"]) & set(dead["event_id"])
            assert set(rows["event_id"]) | set(dead["event_id"]) == set(stored)
            by_gateway = dead.filter(pl.col("check_name") == GATEWAY_REJECTED)
            assert set(by_gateway["event_id"]) == rejected_by_gateway
            assert dead.filter(pl.col("check_name").str.len_chars() == 0).is_empty()
            assert (dead["raw_line"].str.len_chars() > 0).all()

            days: list[date] = sorted(set(rows["transaction_date"]))
            assert len(days) >= 2  # late deliveries fall on the day before
            for day in days:
                seal_day(warehouse, settings, day, run_id=f"seal-{day}", force=True)
            ledger = warehouse.read_table("bnpl_raw.source_batches").sort("transaction_date")
            raw = warehouse.read_table("bnpl_raw.transactions")
            per_day_raw = raw.group_by("transaction_date").len().sort("transaction_date")
            per_day_live = rows.group_by("transaction_date").len().sort("transaction_date")
            per_day_dead = dead.group_by("transaction_date").len()
            assert ledger["transaction_date"].to_list() == days
            assert ledger["records_loaded"].to_list() == per_day_raw["len"].to_list()
            assert per_day_raw["len"].to_list() == per_day_live["len"].to_list()
            sealed_dead = dict(
                zip(ledger["transaction_date"], ledger["records_quarantined"], strict=True)
            )
            for day, n in per_day_dead.iter_rows():
                assert sealed_dead.get(day, n) == n
            assert set(ledger["source_url"]) == {"live"}
            assert read_status(warehouse, None, group=GROUP).stale.is_empty()
        finally:
            warehouse.close()
