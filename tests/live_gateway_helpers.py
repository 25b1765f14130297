"""Helpers of the gateway and provider tests: a real ``bnpl live gateway`` process (imported by
tests; not a test module)."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from bnpl.live.engines import open_event_log
from bnpl.live.log import Event
from bnpl.settings import LiveSettings, Settings

BIN = Path(sys.executable).parent
CURRENT = "whsec_" + base64.b64encode(b"current-secret-of-the-tests-0001").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"previous-secret-of-the-tests-002").decode()
UNKNOWN = "whsec_" + base64.b64encode(b"a-secret-the-gateway-never-had-3").decode()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    """A running gateway process and where its log is."""

    url: str
    process: subprocess.Popen[bytes]
    live: dict[str, object]
    stderr: Path

    @property
    def webhook_url(self) -> str:
        return f"{self.url}/webhooks/bnpl"

    def stored(self) -> list[Event]:
        """Every event in the gateway's log (read by a consumer group of its own)."""
        settings = Settings(live=LiveSettings(**self.live))  # type: ignore[arg-type]
        with open_event_log(settings) as log:
            events: list[Event] = []
            while batch := log.read("test-reader", "t", max_events=10_000):
                events.extend(d.event for d in batch)
                log.ack("test-reader", batch)
            return events


def gateway_env(live: dict[str, object], **extra: str) -> dict[str, str]:
    """The environment of a gateway process with the ``BNPL_LIVE__*`` fields of ``live``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    env["BNPL_LIVE__WEBHOOK_SECRETS"] = f"{CURRENT},{PREVIOUS}"
    for name, value in live.items():
        env[f"BNPL_LIVE__{name.upper()}"] = str(value)
    env.update(extra)
    return env


@contextmanager
def running_gateway(
    workdir: Path, live: dict[str, object], *, port: int | None = None, **env: str
) -> Iterator[Gateway]:
    """``bnpl live gateway`` on 127.0.0.1 (a free port) with the log fields of ``live``; waits
    until it answers, and stops it (SIGTERM, then SIGKILL) at the end."""
    port = port or _free_port()
    stderr = workdir / f"gateway-{port}.log"
    with stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(BIN / "bnpl"), "live", "gateway", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=gateway_env(live, **env),
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    gateway = Gateway(f"http://127.0.0.1:{port}", process, live, stderr)
    try:
        wait_until_up(gateway)
        yield gateway
    finally:
        stop(process)


def wait_until_up(gateway: Gateway, timeout_s: float = 60.0) -> None:
    """Wait until ``/healthz`` answers (any status)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"gateway exited: {gateway.stderr.read_text()}")
        try:
            httpx.get(f"{gateway.url}/healthz", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("gateway did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after 10 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
