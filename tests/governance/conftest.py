"""Fixtures of the governance tests: a real MLflow store (embedded SQLite, started from the
session's empty one) and DuckDB warehouse in the test's directory, models registered as bnpl
registers its own (``register``, tests/registry_helpers.py; the synthetic data in
``governance_data.py``), and a copy per test of the small demo warehouse (``demo_db``,
tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow_store import seed_store
from registry_helpers import register  # noqa: F401  (shared: the fixture)

from bnpl.settings import Settings, load_settings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db: Path) -> Settings:
    """Settings with this test's own MLflow store (a copy of the session's empty one) and DuckDB
    file, and 300 resamples."""
    seed_store(mlflow_db, tmp_path / "mlflow")
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "bnpl.duckdb"))
    monkeypatch.setenv("BNPL_MODEL__STORE_DIR", str(tmp_path / "mlflow"))
    monkeypatch.setenv("BNPL_MODEL__BOOTSTRAP_RESAMPLES", "300")
    return load_settings()


@pytest.fixture
def demo(demo_db: Path, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """This test's copy of the demo warehouse, named by BNPL_WAREHOUSE__PATH."""
    path = tmp_path / "bnpl.duckdb"
    shutil.copy(demo_db, path)
    yield path
