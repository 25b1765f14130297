"""The bundled simulator started ahead of the run (bnpl.simulator.process): the caller owns it,
the session uses it, a configured source starts nothing, and a child that cannot start is an
error naming what to run."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from simulator_helpers import parse_lines, post_stream

from bnpl import ingest
from bnpl.errors import SourceError
from bnpl.settings import SimulatorSettings, load_settings
from bnpl.simulator.process import BackgroundSimulator, bundled_simulator


def test_a_configured_source_starts_no_simulator(tmp_path: Path):
    """With BNPL_SOURCE__URL set, nothing is started ahead of the run."""
    settings = load_settings(
        source={"url": "http://127.0.0.1:9"}, warehouse={"path": tmp_path / "w.duckdb"}
    )
    with bundled_simulator(settings) as simulator:
        assert simulator is None


def test_not_importing_the_server_to_start_it():
    """Starting the child costs the caller no Polars, NumPy or FastAPI import."""
    code = (
        "import sys\n"
        "from bnpl.simulator import process\n"
        "print(sorted(m for m in ('polars', 'numpy', 'fastapi') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"


def test_a_child_that_cannot_listen_is_a_source_error_and_is_reaped():
    """An address that is not this machine's: the child exits, url() says so, stop() twice is
    harmless."""
    simulator = BackgroundSimulator(SimulatorSettings(host="192.0.2.1", port=0))
    try:
        with pytest.raises(SourceError, match="bnpl simulate serve"):
            simulator.url()
    finally:
        simulator.stop()
        simulator.stop()
    assert simulator.process.returncode not in (None, 0)


@pytest.mark.slow
def test_the_session_uses_the_callers_simulator_and_leaves_it_running(
    tmp_path: Path, captured_request, captured_counts
):
    """The session takes its source from the simulator the caller started and does not stop
    it; the caller's exit does."""
    settings = load_settings(warehouse={"path": tmp_path / "w.duckdb"})
    with bundled_simulator(settings) as simulator:
        assert simulator is not None
        with ingest.open_session(settings, simulator=simulator) as session:
            url = simulator.url()
            assert session.source_identity.startswith("simulator:")
        # the session is closed; the simulator is the caller's and still answers
        records = parse_lines(post_stream(url, captured_request).content)
        assert Counter(r["_timestamp"][:10] for r in records) == captured_counts
    assert simulator.process.poll() is not None
