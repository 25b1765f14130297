"""Fixtures of the live-path tests: settings on a DuckDB file of the test's own, and its warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bnpl.settings import Settings, load_settings
from bnpl.warehouse import Warehouse, open_warehouse


@pytest.fixture
def live_settings(tmp_path: Path) -> Settings:
    """Settings with a fresh DuckDB warehouse under ``tmp_path`` and no seal grace."""
    return load_settings(
        warehouse={"path": str(tmp_path / "bnpl.duckdb")},
        live={"seal_grace_s": 0, "claim_idle_ms": 500, "batch_max_ms": 100},
    )


@pytest.fixture
def warehouse(live_settings: Settings) -> Iterator[Warehouse]:
    """The DuckDB warehouse of :func:`live_settings`, schema created."""
    wh = open_warehouse(live_settings)
    wh.ensure_schema()
    yield wh
    wh.close()
