"""Start and stop the local BigQuery emulator (``local-bigquery``) for tests.

``.ci/bq-emulator-setup.sh`` prepares its Python 3.13 venv (idempotent; the first run installs from
PyPI). The emulator then runs as a child process on 127.0.0.1 with free REST and gRPC ports and a
private data directory, and is stopped at the end. A missing interpreter or a failed start is a
test failure with the reason, never a skip.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
SETUP = REPO / ".ci" / "bq-emulator-setup.sh"
PROJECT = "bnpl-emulator"
START_TIMEOUT_S = 60.0
# local-bigquery reads these (pydantic-settings, no prefix); the command line sets the others.
_ITS_SETTINGS = ("GCS_LOCAL_ROOT", "STORAGE_EMULATOR_HOST", "POSTGRES_URI", "CALLER", "GROUPS")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmulatorError(RuntimeError):
    """The emulator could not be prepared or started."""


def prepare() -> Path:
    """Run the setup script; return the emulator executable.

    Raises:
        EmulatorError: with the script's message (e.g. Python 3.13 is missing).
    """
    done = subprocess.run(
        ["bash", str(SETUP)], capture_output=True, text=True, timeout=900, check=False
    )
    if done.returncode != 0:
        raise EmulatorError(
            f"{SETUP.relative_to(REPO)} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-2000:]}"
        )
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class Emulator:
    """A running emulator: its REST endpoint and project id."""

    executable: Path
    data_dir: Path
    port: int
    grpc_port: int
    project: str = PROJECT
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        return self.data_dir / "emulator.log"

    def start(self) -> None:
        """Start the process and wait until its REST API answers."""
        env = {k: v for k, v in os.environ.items() if k not in _ITS_SETTINGS}
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    str(self.executable),
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--grpc-port",
                    str(self.grpc_port),
                    "--project",
                    self.project,
                    "--data-dir",
                    str(self.data_dir / "data"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        url = f"{self.endpoint}/bigquery/v2/projects/{self.project}/datasets"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise EmulatorError(
                    f"local-bigquery exited with {self.process.returncode}: {self._log_tail()}"
                )
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise EmulatorError(
            f"local-bigquery did not answer on {self.endpoint} within {START_TIMEOUT_S:.0f} s: "
            f"{self._log_tail()}"
        )

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def _log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-2000:]
        except OSError:
            return "(no log)"
