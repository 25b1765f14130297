"""``bnpl backfill`` / ``bnpl ingest-day`` on bad input: one line on stderr, exit 2, nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from backfill_support import BNPL, base_env, run_cli_error


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "w" / "bnpl.duckdb"
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    return path


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["backfill", "--start", "2024-03-02", "--end", "2024-03-01"], "before start date"),
        (["backfill", "--start", "2024-13-01", "--end", "2024-12-31"], "--start '2024-13-01'"),
        (["backfill", "--start", "2024-01-01", "--end", "tomorrow"], "use YYYY-MM-DD"),
        (
            ["backfill", "--start", "2024-01-01", "--end", "2024-01-02", "--concurrency", "0"],
            "1..64",
        ),
        (["ingest-day", "--date", "01/02/2024"], "--date '01/02/2024'"),
    ],
)
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(argv, needle, warehouse, capsys):
    """Reversed ranges, unparseable dates and bad options: exit 2, one line, no warehouse file."""
    code, line = run_cli_error(argv, capsys)
    assert code == 2
    assert needle in line
    assert not warehouse.exists() and not warehouse.parent.exists()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"BNPL_NOT_A_SECTION__X": "1"}, "BNPL_NOT_A_SECTION__X"),
        ({"BNPL_INGEST__CONCURRENCY": "many"}, "BNPL_INGEST__CONCURRENCY"),
        ({"BNPL_INGEST__NOT_A_FIELD": "1"}, "BNPL_INGEST__NOT_A_FIELD"),
        ({"BNPL_WAREHOUSE__KIND": "bigquery"}, "BNPL_WAREHOUSE__PROJECT"),
        ({"BNPL_SOURCE__URL": "ftp://simtom"}, "BNPL_SOURCE__URL"),
    ],
)
def test_bad_settings_exit_2_naming_the_variable(env, needle, warehouse, monkeypatch, capsys):
    """An unknown, invalid or missing setting: exit 2, one line naming the variable, nothing written."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, line = run_cli_error(["backfill", "--start", "2024-01-01", "--end", "2024-01-02"], capsys)
    assert code == 2
    assert needle in line
    assert not warehouse.exists()


def test_unwritable_warehouse_path_exits_2(tmp_path, monkeypatch, capsys):
    """A warehouse path that cannot be created: exit 2, one line naming BNPL_WAREHOUSE__PATH."""
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(blocker / "bnpl.duckdb"))
    code, line = run_cli_error(["ingest-day", "--date", "2024-01-01"], capsys)
    assert code == 2
    assert "BNPL_WAREHOUSE__PATH" in line
    assert blocker.read_text() == "not a directory"


def test_bad_input_never_starts_prefect(tmp_path):
    """The installed command rejects bad input before importing Prefect (fast, no API started)."""
    code = (
        "import sys\n"
        "from bnpl.cli import main\n"
        "try:\n"
        "    main(['backfill', '--start', '2024-02-02', '--end', '2024-02-01'])\n"
        "except SystemExit as e:\n"
        "    print(e.code, 'prefect' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=base_env(), cwd=tmp_path, capture_output=True, text=True
    )
    assert out.stdout.split() == ["2", "False"], out.stderr
    proc = subprocess.run(
        [str(BNPL), "backfill", "--start", "x", "--end", "y"],
        env=base_env(),
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error:")
    assert not (tmp_path / ".bnpl").exists()
