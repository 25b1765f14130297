"""Processes the live benches start: redis-server and ``bnpl live gateway`` on 127.0.0.1 and free
ports (shared by the gateway part, ``bench/bench_live.py``, and the end-to-end part,
``bench/live_e2e.py``)."""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

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
