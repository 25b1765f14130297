"""`bnpl check` and `bnpl report` from the command line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from quality_data import END, START, Knobs, make_day, request

from bnpl.cli import main
from bnpl.errors import ConfigError
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse


def bnpl(*args: str) -> int:
    """Run the ``bnpl`` command in-process and return its exit code."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def configured(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """BNPL_WAREHOUSE__PATH points at this test's copy of the clean warehouse."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(db_path))
    return db_path


@pytest.mark.slow  # builds every model of the project
def test_check_exits_zero_on_clean_data(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bnpl check` passes on clean data and prints one line per check and the verdict."""
    assert bnpl("check", "--start", str(START), "--end", str(END)) == 0
    out = capsys.readouterr().out
    assert "passed; published" in out and "volume_vs_expected" in out


@pytest.mark.slow  # builds every model of the project
def test_check_exits_non_zero_on_an_error_level_failure(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A half-volume day makes `bnpl check` exit 1 and name the failing check on stderr."""
    bad = date(2024, 12, 4)
    warehouse = DuckDBWarehouse(DuckDBSettings(path=configured))
    warehouse.load_day(make_day(bad, Knobs(count=request(bad).expected_volume // 2)))
    warehouse.close()
    assert bnpl("check", "--start", str(START), "--end", str(END)) == 1
    captured = capsys.readouterr()
    assert "BLOCKED" in captured.out
    assert "volume_vs_expected" in captured.err and "left unchanged" in captured.err


def _column(db: Path, table: str, column: str) -> list[str]:
    """The values of ``column`` in ``table``; empty when the table does not exist yet."""
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db))
    try:
        return [str(v) for v in warehouse.read_table(table, columns=[column])[column]]
    except ConfigError:  # no such table: nothing was ever written to it
        return []
    finally:
        warehouse.close()


@pytest.mark.slow  # builds every model of the project
def test_check_select_runs_only_the_named_checks_and_publishes_nothing(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bnpl check --select` stores results of the named checks only and publishes no mart."""
    code = bnpl("check", "--start", str(START), "--end", str(END), "--select", "volume_vs_expected")
    assert code == 0, capsys.readouterr().err
    assert "nothing published" in capsys.readouterr().err
    assert set(_column(configured, "bnpl_audit.dq_results", "check_name")) == {"volume_vs_expected"}
    assert _column(configured, "bnpl_audit.publish_log", "mart") == []


def test_check_select_of_an_unknown_check_is_one_line_exit_two_and_writes_nothing(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unknown name in `--select` is a one-line error naming it, exit 2, no result stored."""
    assert bnpl("check", "--select", "no_such_check") == 2
    err = capsys.readouterr().err
    assert "no_such_check" in err and len(err.strip().splitlines()) == 1
    assert _column(configured, "bnpl_audit.dq_results", "check_name") == []


def test_check_rejects_bad_dates_with_exit_code_two(
    configured: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unparseable or reversed range is a one-line error with exit code 2."""
    assert bnpl("check", "--start", "yesterday", "--end", str(END)) == 2
    assert "--start 'yesterday' is not a date" in capsys.readouterr().err
    assert bnpl("check", "--start", str(END), "--end", str(START)) == 2


def test_report_writes_html_to_out(
    configured: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bnpl report --out PATH` writes the report there and says so."""
    out = tmp_path / "q.html"
    assert bnpl("report", "--out", str(out)) == 0
    assert out.read_text().startswith("<!DOCTYPE html>")
    assert str(out) in capsys.readouterr().out
