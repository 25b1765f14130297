"""Integration tests drive ``bnpl`` in subprocesses against DuckDB files and the bundled simulator.

Each subprocess gets its own copy of a PREFECT_HOME whose database was migrated once per session
(so two concurrent runs never share a SQLite file and none pays the migration), and the BNPL_
variables the test gives it; nothing comes from the developer's environment.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from backfill_support import PREFECT_ENV, Cli, base_env
from prefect.settings import PREFECT_HOME, PREFECT_SERVER_ANALYTICS_ENABLED, temporary_settings


@pytest.fixture(scope="session", autouse=True)
def _prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """In-process Prefect use (if any) gets a throw-away PREFECT_HOME too."""
    home = tmp_path_factory.mktemp("prefect-home-inprocess")
    with temporary_settings(updates={PREFECT_HOME: home, PREFECT_SERVER_ANALYTICS_ENABLED: False}):
        yield


@pytest.fixture(scope="session")
def migrated_prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PREFECT_HOME whose database one trivial flow run has created and migrated."""
    home = tmp_path_factory.mktemp("prefect-home-template")
    code = "from prefect import flow\nflow(name='warm-up')(lambda: 1)()\n"
    subprocess.run(
        [sys.executable, "-c", code],
        env={**base_env(), **PREFECT_ENV, "PREFECT_HOME": str(home)},
        check=True,
        capture_output=True,
        timeout=300,
    )
    return home


@pytest.fixture
def cli(tmp_path: Path, migrated_prefect_home: Path) -> Cli:
    """Runs ``bnpl`` in subprocesses under ``tmp_path``."""
    return Cli(tmp_path, migrated_prefect_home)
