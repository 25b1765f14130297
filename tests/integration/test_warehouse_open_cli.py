"""Commands that should write nothing create no warehouse file, and a damaged warehouse stops a
backfill before it writes (issue 16, items 6 and 7)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from backfill_support import Cli, reference_run, run_cli_error, settings_from


@pytest.fixture
def new_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "w" / "bnpl.duckdb"
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    return path


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["build", "--start", "2024-03-02", "--end", "2024-03-01"], "before start date"),
        (["check", "--start", "2024-03-02", "--end", "2024-03-01"], "before start date"),
        (["build"], "no warehouse at"),
        (["build", "--dry-run"], "no warehouse at"),
        (["check"], "no warehouse at"),
    ],
)
def test_build_and_check_on_a_new_path_exit_2_and_create_nothing(argv, needle, new_path, capsys):
    """A reversed range, or build/check/dry-run with no warehouse yet: exit 2, one line, and no
    file or directory is created."""
    code, line = run_cli_error(argv, capsys)
    assert code == 2
    assert needle in line
    assert not new_path.exists() and not new_path.parent.exists()


def test_build_with_no_models_says_so_and_exits_2(tmp_path, new_path, monkeypatch, capsys):
    """A project without models: ``bnpl build`` says there is nothing to build, exit 2."""
    empty = tmp_path / "sql"
    empty.mkdir()
    monkeypatch.setattr("bnpl.models.folders.SQL_DIR", empty)
    code, line = run_cli_error(["build"], capsys)
    assert code == 2
    assert "no models to build" in line
    assert not new_path.exists()


@pytest.mark.slow
def test_backfill_into_a_truncated_copy_fails_and_writes_nothing(cli: Cli, tmp_path, monkeypatch):
    """On a truncated copy of a good warehouse, ``bnpl backfill`` exits 1 saying the file is
    damaged and what to do, and leaves the file as it was (no day appended)."""
    good = tmp_path / "good.duckdb"
    volume = {f"plan__{kind}_base_volume": 60 for kind in ("weekday", "weekend", "holiday")}
    env = cli.env(warehouse__path=good, **volume)
    reference_run(settings_from(env, monkeypatch), date(2024, 2, 1), date(2024, 2, 6))
    damaged = tmp_path / "damaged.duckdb"
    shutil.copy(good, damaged)
    with damaged.open("r+b") as f:
        f.truncate(good.stat().st_size * 2 // 3)
    before = damaged.read_bytes()
    proc = cli.run(
        ["backfill", "--start", "2024-02-07", "--end", "2024-02-07"],
        cli.env(warehouse__path=damaged, **volume),
    )
    assert proc.returncode == 1, proc.stderr
    assert "is damaged" in proc.stderr and "Restore it" in proc.stderr
    assert damaged.read_bytes() == before
