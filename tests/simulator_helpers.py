"""Helpers of the source tests (imported by conftest and tests; not a test module)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from bnpl.settings import SimulatorSettings
from bnpl.simulator.records import SIMTOM_CAPS, PoolCaps
from bnpl.simulator.server import bind_socket, create_app


@contextmanager
def running_server(
    settings: SimulatorSettings, caps: PoolCaps = SIMTOM_CAPS, *, port: int = 0
) -> Iterator[str]:
    """uvicorn serving the simulator in a thread on 127.0.0.1 (``port`` 0: a free one); yields the
    base URL."""
    sock = bind_socket("127.0.0.1", port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings, caps=caps), log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_lines(body: bytes) -> list[dict[str, object]]:
    """json.loads of every ``data:`` line of a complete body."""
    return [json.loads(line[6:]) for line in body.decode().split("\n\n") if line]


def post_stream(url: str, body: object, **kwargs: object) -> httpx.Response:
    """POST a JSON body to ``/stream/bnpl`` and read the whole response."""
    return httpx.post(f"{url}/stream/bnpl", json=body, timeout=60, **kwargs)  # type: ignore[arg-type]
