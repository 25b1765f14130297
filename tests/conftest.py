"""Shared test fixtures: hermetic environment, the captured simtom response, free ports."""

from __future__ import annotations

import gzip
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import stamina

FIXTURES = Path(__file__).parent / "fixtures"
SIMTOM_CAPTURE = FIXTURES / "simtom" / "hist_2024-11-28_3days_base200_seed42"


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Scrub BNPL_* variables, run in a temporary directory, and disable retry sleeps."""
    for name in list(os.environ):
        if name.startswith("BNPL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    stamina.set_testing(True, attempts=3)
    yield
    stamina.set_testing(False)


@pytest.fixture(scope="session")
def captured_body() -> bytes:
    """The real simtom response for 2024-11-28..30, base 200, seed 42 (686 records)."""
    return gzip.decompress(SIMTOM_CAPTURE.with_suffix(".txt.gz").read_bytes())


@pytest.fixture(scope="session")
def captured_request() -> dict[str, object]:
    """The request body that produced :func:`captured_body`."""
    return json.loads(SIMTOM_CAPTURE.with_suffix(".request.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def captured_counts() -> dict[str, int]:
    """Per-day record counts of the captured response."""
    lines = SIMTOM_CAPTURE.with_suffix(".counts.csv").read_text().split()[1:]
    return {d: int(n) for d, n in (line.split(",") for line in lines)}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
