"""Fixtures of the source tests: a simulator served by uvicorn on a free loopback port."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager

import httpx
import pytest
import uvicorn

from bnpl.settings import FaultSettings, SimulatorSettings
from bnpl.source.records import SIMTOM_CAPS, PoolCaps
from bnpl.source.server import bind_socket, create_app

ServerFactory = Callable[..., str]


@contextmanager
def running_server(settings: SimulatorSettings, caps: PoolCaps = SIMTOM_CAPS) -> Iterator[str]:
    """uvicorn serving the simulator in a thread on a free 127.0.0.1 port; yields the base URL."""
    sock = bind_socket("127.0.0.1", 0)
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


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A simulator without faults, shared by a test module."""
    with running_server(SimulatorSettings(port=0)) as url:
        yield url


@pytest.fixture
def make_server() -> Iterator[ServerFactory]:
    """Start simulators with the given fault settings (all stopped after the test)."""
    with ExitStack() as stack:

        def start(*, pace: bool = False, caps: PoolCaps = SIMTOM_CAPS, **faults: object) -> str:
            settings = SimulatorSettings(port=0, pace=pace, faults=FaultSettings(**faults))
            return stack.enter_context(running_server(settings, caps))

        yield start


def parse_lines(body: bytes) -> list[dict[str, object]]:
    """json.loads of every ``data:`` line of a complete body."""
    return [json.loads(line[6:]) for line in body.decode().split("\n\n") if line]


def post_stream(url: str, body: object, **kwargs: object) -> httpx.Response:
    """POST a JSON body to ``/stream/bnpl`` and read the whole response."""
    return httpx.post(f"{url}/stream/bnpl", json=body, timeout=60, **kwargs)  # type: ignore[arg-type]
