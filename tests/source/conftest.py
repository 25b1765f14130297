"""Fixtures of the source tests: simulators served by uvicorn on free loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack

import pytest
from source_helpers import running_server

from bnpl.settings import FaultSettings, SimulatorSettings
from bnpl.source.records import SIMTOM_CAPS, PoolCaps

ServerFactory = Callable[..., str]


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
