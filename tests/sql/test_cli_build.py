"""`bnpl build` and `bnpl docs models` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import run
from model_data import DAYS, checksum, drifted_day, load

from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse


@pytest.fixture
def db(loaded: DuckDBWarehouse, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The loaded warehouse's file, selected through BNPL_WAREHOUSE__PATH."""
    loaded.close()
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(loaded.path))
    return loaded.path


def test_build_builds_and_publishes(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`bnpl build` builds every model, publishes the marts and lists what it did."""
    assert run(["build"]) == 0
    out = capsys.readouterr().out
    assert "mart_bnpl_daily_volume" in out and "published " in out
    assert "mart_bnpl_customers" in out.splitlines()[-1]
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db))
    try:
        assert warehouse.read_table("bnpl_marts.mart_bnpl_transactions").height == 686
    finally:
        warehouse.close()


def test_build_selection_and_days(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--select and --start/--end reach the runner."""
    assert run(["build"]) == 0
    capsys.readouterr()
    assert (
        run(
            [
                "build",
                "-s",
                "mart_bnpl_transactions+",
                "--start",
                "2024-11-29",
                "--end",
                "2024-11-29",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == [
        "mart_bnpl_transactions",
        "mart_bnpl_daily_volume",
    ]
    incremental = [line for line in lines[:-1] if "replace_range" in line or "merge" in line]
    assert incremental and all("2024-11-29..2024-11-29" in line for line in incremental)


def test_build_dry_run_writes_nothing(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints each model's SQL and creates nothing."""
    assert run(["build", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "-- mart_bnpl_transactions: create bnpl_audit.mart_bnpl_transactions" in out
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db))
    try:
        assert not warehouse.table_exists("bnpl_intermediate", "int_bnpl_calendar_days")
    finally:
        warehouse.close()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["build", "--start", "2024-11-29"], "give both start and end"),
        (
            ["build", "--start", "29/11/2024", "--end", "2024-11-29"],
            "--start '29/11/2024' is not a date",
        ),
        (["build", "-s", "nope"], "--select 'nope' names no model"),
        (
            ["build", "--full-refresh", "--start", "2024-11-29", "--end", "2024-11-29"],
            "full refresh",
        ),
    ],
)
def test_bad_arguments_exit_2(
    db: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Bad days or selections are one line on stderr and exit code 2."""
    assert run(argv) == 2
    assert message in capsys.readouterr().err


def test_model_error_exits_1(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A model that cannot build is exit code 1 with the model named."""
    assert run(["build", "-s", "mart_bnpl_transactions"]) == 1
    assert "model mart_bnpl_transactions" in capsys.readouterr().err


def test_docs_models_check(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`bnpl docs models --check`, run in the repository's root, passes on the committed
    document."""
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert run(["docs", "models", "--check"]) == 0
    assert "is current" in capsys.readouterr().out


def test_build_publishes_nothing_that_fails_the_gate(
    db: Path, captured_body: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    """A build whose days fail an error-level check (Thanksgiving with a record more than the
    source's volume model allows) exits 1 naming the check; the published marts are unchanged."""
    assert run(["build"]) == 0
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db))
    try:
        before = checksum(warehouse, "bnpl_marts.mart_bnpl_transactions")
        load(warehouse, [drifted_day(captured_body)])
    finally:
        warehouse.close()
    capsys.readouterr()
    assert run(["build", "--start", str(DAYS[0]), "--end", str(DAYS[0])]) == 1
    captured = capsys.readouterr()
    assert "volume_vs_expected" in captured.out and "quality gate blocked" in captured.err
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db))
    try:
        assert checksum(warehouse, "bnpl_marts.mart_bnpl_transactions") == before
        assert checksum(warehouse, "bnpl_audit.mart_bnpl_transactions") != before
    finally:
        warehouse.close()
