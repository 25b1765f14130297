"""Fixtures of the governance tests: a real MLflow store (embedded SQLite) and DuckDB warehouse in
the test's directory, synthetic models of known strength registered as bnpl registers its own
(``tests/model_registry.py``; the data in ``governance_data.py``), and a copy per test of the small demo warehouse (``demo_db``, tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from governance_data import TRAINED, Register
from model_registry import register_model, seed_store

from bnpl.settings import Settings, load_settings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db: Path) -> Settings:
    """Settings with this test's own MLflow store (a copy of the session's empty one) and DuckDB
    file, and 300 resamples."""
    for name in [n for n in os.environ if n.startswith("BNPL_")]:
        monkeypatch.delenv(name)
    seed_store(mlflow_db, tmp_path / "mlflow")
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "bnpl.duckdb"))
    monkeypatch.setenv("BNPL_MODEL__STORE_DIR", str(tmp_path / "mlflow"))
    monkeypatch.setenv("BNPL_MODEL__BOOTSTRAP_RESAMPLES", "300")
    return load_settings()


@pytest.fixture
def register(settings: Settings) -> Register:
    """Log ``model`` taking ``columns`` to the store and register it as bnpl does (tags, the
    ``challenger`` alias); returns the version."""

    def run(model: Any, columns: list[str]) -> int:
        return register_model(settings, model, columns, trained=(TRAINED.start, TRAINED.end))

    return run


@pytest.fixture
def demo(demo_db: Path, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """This test's copy of the demo warehouse, named by BNPL_WAREHOUSE__PATH."""
    path = tmp_path / "bnpl.duckdb"
    shutil.copy(demo_db, path)
    yield path
