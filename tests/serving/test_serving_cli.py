"""``bnpl serving materialize`` and ``bnpl serve`` on bad input."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from bnpl.cli import main
from bnpl.serving.store import SqliteStore
from bnpl.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No BNPL_ settings but this test's online store file; returns its path."""
    for name in [n for n in os.environ if n.startswith("BNPL_")]:
        monkeypatch.delenv(name)
    store = tmp_path / "store" / "online.sqlite"
    monkeypatch.setenv("BNPL_SERVING__STORE_PATH", str(store))
    return store


@pytest.mark.slow
def test_materialize_fills_the_store_from_the_warehouse(
    weeks: DuckDBWarehouse,
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command reports what it wrote, and the store then holds the market's days."""
    path = weeks.path
    weeks.close()
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    main(["serving", "materialize", "--as-of", "2024-02-01"])
    out = capsys.readouterr().out
    assert "online store as of 2024-02-01" in out and "28 market days" in out
    store = SqliteStore(env)
    assert len(store.history("nobody", date(2024, 2, 1)).market_days) == 28
    store.close()


def test_bad_input_exits_2(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed --as-of, and serve without tokens, exit 2 with one line."""
    with pytest.raises(SystemExit) as exited:
        main(["serving", "materialize", "--as-of", "2024-13-01"])
    assert exited.value.code == 2
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--port", "1"])
    assert exited.value.code == 2
    assert "BNPL_SERVING__TOKENS" in capsys.readouterr().err
