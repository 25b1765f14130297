"""A real ``redis-server`` for the tests: 127.0.0.1, a free port, its own temporary directory,
AOF on with an fsync per write (the durability the event log documents), no RDB snapshots. Never
the system service, never port 6379."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


class RedisServerError(RuntimeError):
    """redis-server is missing or did not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    """One redis-server process; :meth:`start` again after :meth:`kill` reuses its directory
    (and so its append-only file) and its port."""

    data_dir: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout_s: float = 20.0) -> None:
        executable = shutil.which("redis-server")
        if executable is None:
            raise RedisServerError("redis-server is not on PATH; run `make redis-server`")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = (self.data_dir / "redis.log").open("ab")
        args = {
            "bind": "127.0.0.1",
            "port": str(self.port),
            "dir": str(self.data_dir),
            "appendonly": "yes",
            "appendfsync": "always",
            "save": "",
            "daemonize": "no",
            "protected-mode": "yes",
            "logfile": "",
        }
        self.process = subprocess.Popen(
            [executable, *(part for name, value in args.items() for part in (f"--{name}", value))],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout_s
        while not _ping(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = (self.data_dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RedisServerError(f"redis-server on port {self.port} did not start:\n{tail}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no final fsync (what a power cut leaves is the AOF)."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
