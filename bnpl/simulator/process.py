"""The bundled simulator in a subprocess: start it, wait for its URL, stop it.

Starting takes about a second, most of it the child importing Polars, NumPy and FastAPI on
another core. This module imports none of them, so a command can start the simulator first and
load its own modules while the child starts (:class:`BackgroundSimulator`); the child's server is
:mod:`bnpl.simulator.server`.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from bnpl.allocator import child_environment
from bnpl.errors import SourceError
from bnpl.settings import Settings, SimulatorSettings

log = logging.getLogger(__name__)

PORT_ANNOUNCEMENT = "BNPL_SIMULATOR_PORT="
"""Prefix of the line the background simulator (:mod:`bnpl.simulator._child`) writes to stdout
once it listens."""


class BackgroundSimulator:
    """A simulator subprocess on ``settings.host`` (port 0: a free port), started at creation.

    :meth:`url` waits until ``GET /`` answers; :meth:`stop` ends the child. The child also ends
    with this process, even after a SIGKILL (:func:`bnpl.reaper.watch_parent`).
    """

    def __init__(
        self, settings: SimulatorSettings | None = None, *, startup_timeout_s: float = 60.0
    ) -> None:
        self.settings = settings or SimulatorSettings(port=0)
        self.startup_timeout_s = startup_timeout_s
        self._deadline = time.monotonic() + startup_timeout_s
        self._url: str | None = None
        lifeline = ["--parent-pid", str(os.getpid())]
        if threading.current_thread() is threading.main_thread():
            lifeline.append("--death-signal")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bnpl.simulator._child", *lifeline],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_environment(),
        )
        try:
            assert self.process.stdin is not None
            with self.process.stdin as stdin:
                stdin.write(self.settings.model_dump_json())
        except OSError as exc:  # the child died before reading its settings
            self.stop()
            raise SourceError(
                f"the bundled simulator exited at start (exit code {self.process.poll()}): {exc}; "
                "run `bnpl simulate serve` to see why"
            ) from exc
        except BaseException:
            self.stop()
            raise

    def __enter__(self) -> BackgroundSimulator:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def url(self) -> str:
        """The base URL once the simulator answers ``GET /`` (at once after the first call).

        Raises:
            SourceError: the subprocess did not come up within ``startup_timeout_s`` of its start.
        """
        if self._url is None:
            port = self._read_port()
            url = f"http://{self.settings.host}:{port}"
            self._wait_healthy(url)
            log.info("bundled simulator listening on %s (pid %s)", url, self.process.pid)
            self._url = url
        return self._url

    def stop(self) -> None:
        """End the subprocess (SIGTERM, SIGKILL after 10 s); idempotent."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _read_port(self) -> int:
        stdout = self.process.stdout
        assert stdout is not None
        found: list[str] = []
        reader = threading.Thread(target=lambda: found.append(stdout.readline()), daemon=True)
        reader.start()
        reader.join(max(1.0, self._deadline - time.monotonic()))
        line = found[0] if found else ""
        if not line.startswith(PORT_ANNOUNCEMENT):
            raise SourceError(
                f"the bundled simulator did not start within {self.startup_timeout_s:g} s "
                f"(exit code {self.process.poll()}); run `bnpl simulate serve` to see why"
            )
        return int(line[len(PORT_ANNOUNCEMENT) :])

    def _wait_healthy(self, url: str) -> None:
        import httpx

        with httpx.Client(timeout=2.0) as client:
            while True:
                try:
                    if client.get(url + "/").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                if self.process.poll() is not None or time.monotonic() > self._deadline:
                    raise SourceError(
                        f"the bundled simulator at {url} did not answer GET / within "
                        f"{self.startup_timeout_s:g} s (exit code {self.process.poll()})"
                    )
                time.sleep(0.05)


def bundled(settings: Settings) -> BackgroundSimulator:
    """The bundled simulator started now on a free port with ``settings.simulator`` (a context
    manager that stops it)."""
    return BackgroundSimulator(settings.simulator.model_copy(update={"port": 0}))


@contextmanager
def bundled_simulator(settings: Settings) -> Iterator[BackgroundSimulator | None]:
    """The bundled simulator, on a free port with ``settings.simulator``, started now if
    ``settings`` has no source URL (else None) and stopped on exit. A command starts it before
    loading its own modules, so that the child's second of start-up runs beside them, and passes
    it to :func:`bnpl.ingest.open_session`."""
    if settings.source.url is not None:
        yield None
        return
    with bundled(settings) as simulator:
        yield simulator


@contextmanager
def serve_in_background(
    settings: SimulatorSettings | None = None, *, startup_timeout_s: float = 60.0
) -> Iterator[str]:
    """Start the simulator in a subprocess on ``settings.host`` (port 0: a free port) and yield its
    base URL once ``GET /`` answers; stop it on exit.

    Raises:
        SourceError: the subprocess did not come up within ``startup_timeout_s``.
    """
    with BackgroundSimulator(settings, startup_timeout_s=startup_timeout_s) as simulator:
        yield simulator.url()
