"""Integration tests drive ``bnpl`` in subprocesses against DuckDB files and the bundled simulator.

Each subprocess gets a PREFECT_HOME of its own, the session's temporary Prefect API (one server
for every run; a test that needs Prefect's own temporary API asks for ``ephemeral``) and the BNPL_
variables the test gives it; nothing comes from the developer's environment.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from backfill_support import Cli


@pytest.fixture
def cli(tmp_path: Path, prefect_api: str) -> Cli:
    """Runs ``bnpl`` in subprocesses under ``tmp_path``, against the session's Prefect API."""
    return Cli(tmp_path, prefect_api)
