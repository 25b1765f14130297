"""``bnpl`` for everyday use: direct runs without a Prefect API (the same rows as the flows),
``--json`` summaries that match the warehouse, progress lines, ``bnpl status``, ``--version``.

Each run is a ``bnpl`` subprocess on a DuckDB file with the bundled simulator; the flow-mode runs
use the session's Prefect API (``PREFECT_API_URL``), the direct ones none.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import polars as pl
import pytest
from backfill_support import RUN_COLUMNS, Cli, fingerprints

from bnpl.version import VERSION

pytestmark = pytest.mark.slow

PLAN = {
    "plan__weekday_base_volume": 60,
    "plan__weekend_base_volume": 60,
    "plan__holiday_base_volume": 60,
}
FAST_FAIL = {"source__max_attempts": 1, "source__retry_initial_wait_s": 0}
DAYS = ["--start", "2024-02-01", "--end", "2024-02-02"]


@pytest.fixture
def direct(tmp_path: Path) -> Cli:
    """Runs ``bnpl`` in subprocesses with no Prefect API configured (a fresh PREFECT_HOME)."""
    return Cli(tmp_path, api_url="")


def _ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"
    assert "Traceback" not in proc.stderr, proc.stderr[-4000:]


def _sql(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _ledger(path: Path) -> pl.DataFrame:
    """The ledger without the columns that say when or by which run a row was written."""
    ledger = _sql(path, "SELECT * FROM bnpl_raw.source_batches ORDER BY transaction_date")
    return ledger.drop(RUN_COLUMNS["source_batches"])


def _summary(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    data: dict[str, object] = json.loads(proc.stdout)
    data.pop("wall_s")
    return data


def test_direct_and_flow_runs_write_the_same_rows_and_summary(cli: Cli, tmp_path: Path):
    """A backfill without a Prefect API never starts one and writes the same raw rows, ledger
    rows and JSON summary as the same backfill run as a flow on a Prefect API."""
    direct_path, flow_path = tmp_path / "direct.duckdb", tmp_path / "flow.duckdb"
    plain = cli.run(
        ["backfill", *DAYS, "--json"], cli.env(ephemeral=True, warehouse__path=direct_path, **PLAN)
    )
    _ok(plain)
    assert "Starting temporary server" not in plain.stderr
    assert "prefect" not in plain.stderr.lower()
    flow = cli.run(["backfill", *DAYS, "--json"], cli.env(warehouse__path=flow_path, **PLAN))
    _ok(flow)
    assert "Finished in state Completed" in flow.stderr  # it ran as a Prefect flow
    assert _summary(plain) == _summary(flow)
    assert fingerprints(direct_path) == fingerprints(flow_path)
    assert _ledger(direct_path).equals(_ledger(flow_path))
    runs = _sql(direct_path, "SELECT flow_run_id FROM bnpl_raw.source_batches")["flow_run_id"]
    assert runs.is_null().all()  # no flow run: none is claimed
    flows = _sql(flow_path, "SELECT flow_run_id FROM bnpl_raw.source_batches")["flow_run_id"]
    assert flows.is_not_null().all()


def test_json_summaries_match_the_warehouse_and_progress_lines_appear(direct: Cli, tmp_path: Path):
    """backfill --json, daily --json and status --json parse and agree with the ledger,
    dq_results and the publish log; without a terminal, progress is plain log lines."""
    path = tmp_path / "w.duckdb"
    env = direct.env(ephemeral=True, warehouse__path=path, **PLAN)
    backfill = direct.run(["--json", "backfill", *DAYS], env)
    _ok(backfill)
    summary = json.loads(backfill.stdout)
    ledger = _sql(path, "SELECT * FROM bnpl_raw.source_batches ORDER BY transaction_date")
    assert summary["days_loaded"] == ledger.height == 2
    assert summary["rows_loaded"] == ledger["records_loaded"].sum()
    assert summary["loaded"] == ["2024-02-01", "2024-02-02"]
    assert "bnpl.progress: ingest 0/2 days (0 %)" in backfill.stderr
    assert "bnpl.progress: ingest 2/2 days (100 %)" in backfill.stderr

    daily = direct.run(["daily", "--date", "2024-02-03", "--json"], env)
    _ok(daily)
    figures = json.loads(daily.stdout)
    day = _sql(path, "SELECT * FROM bnpl_raw.source_batches WHERE transaction_date = '2024-02-03'")
    assert figures["records_loaded"] == day["records_loaded"].item()
    results = _sql(
        path, "SELECT status, COUNT(*) AS n FROM bnpl_audit.dq_results GROUP BY status"
    ).rows()
    assert {k: v for k, v in figures["checks"].items() if v} == dict(results)
    published = _sql(path, "SELECT DISTINCT mart FROM bnpl_audit.publish_log")["mart"]
    assert figures["models_published"] == published.len() > 0
    assert "| validate_business_rules |" in daily.stderr  # the run's summary is logged

    status = direct.run(["status", "--json", "--end", "2024-02-05"], env)
    _ok(status)
    report = json.loads(status.stdout)
    assert report["loaded"] == ["2024-02-01", "2024-02-02", "2024-02-03"]
    assert report["missing"] == ["2024-02-04", "2024-02-05"]
    assert report["failed"] == [] and report["blocked"] == []
    assert sorted(report["published"]) == sorted(published.to_list())


def test_status_lists_a_failed_day_and_quiet_hides_progress(direct: Cli, tmp_path: Path):
    """A day the source refused is 'failed' in bnpl status (text and JSON); --quiet prints the
    summary only, no progress or info lines."""
    path = tmp_path / "w.duckdb"
    env = direct.env(ephemeral=True, warehouse__path=path, **PLAN, **FAST_FAIL)
    _ok(direct.run(["--quiet", "ingest-day", "--date", "2024-02-01"], env))
    refused = {**env, "BNPL_SOURCE__URL": "http://127.0.0.1:9/"}  # discard port: refused
    failed = direct.run(["--quiet", "ingest-day", "--date", "2024-02-02"], refused)
    assert failed.returncode == 1, failed.stderr
    assert "days failed                    1" in failed.stdout
    assert " INFO " not in failed.stderr and "bnpl.progress" not in failed.stderr
    text = direct.run(["status"], env)
    _ok(text)
    assert "failed           1 days: 2024-02-02" in text.stdout, text.stdout
    report = json.loads(direct.run(["status", "--json"], env).stdout)
    assert [f["day"] for f in report["failed"]] == ["2024-02-02"]
    assert report["loaded"] == ["2024-02-01"]


def test_status_on_a_missing_or_empty_warehouse_is_one_line_and_writes_nothing(
    direct: Cli, tmp_path: Path
):
    """No file: exit 2, one line naming bnpl backfill, no file created. A file with no day in it:
    exit 2, one line, the file unchanged."""
    missing = tmp_path / "none" / "w.duckdb"
    proc = direct.run(["status"], direct.env(ephemeral=True, warehouse__path=missing))
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "bnpl backfill" in proc.stderr and not missing.parent.exists()
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    before = (empty.read_bytes(), empty.stat().st_mtime_ns)
    proc = direct.run(["status", "--json"], direct.env(ephemeral=True, warehouse__path=empty))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "bnpl backfill" in lines[0]
    assert proc.stdout == ""
    assert (empty.read_bytes(), empty.stat().st_mtime_ns) == before


@pytest.mark.parametrize(
    "argv",
    [["--json", "simulate-days", *DAYS], ["--json", "docs", "models"], ["report", "--json"]],
)
def test_json_with_a_command_without_a_summary_exits_2(direct: Cli, tmp_path: Path, argv):
    """--json on a command that prints no summary: exit 2, one error line, nothing written."""
    path = tmp_path / "w.duckdb"
    proc = direct.run(argv, direct.env(ephemeral=True, warehouse__path=path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    assert not path.exists() and proc.stdout == ""


def test_version_prints_the_installed_version(direct: Cli):
    """bnpl --version prints the package version and exits 0."""
    proc = direct.run(["--version"], direct.env(ephemeral=True))
    assert proc.returncode == 0 and proc.stdout.strip() == f"bnpl {VERSION}"


def test_a_direct_run_never_imports_prefect(tmp_path: Path):
    """ingest-day without a Prefect API loads the day and leaves Prefect unimported."""
    code = (
        "import sys\n"
        "from bnpl.cli import main\n"
        "try:\n"
        "    main(['--quiet', 'ingest-day', '--date', '2024-02-01'])\n"
        "except SystemExit as e:\n"
        "    print('exit', e.code)\n"
        "print('prefect' in sys.modules, any(m.startswith('prefect') for m in sys.modules))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BNPL_", "PREFECT_"))} | {
        "PREFECT_HOME": str(tmp_path / "ph"),
        "BNPL_WAREHOUSE__PATH": str(tmp_path / "w.duckdb"),
        **{f"BNPL_{k.upper()}": str(v) for k, v in PLAN.items()},
    }
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.stdout.strip().splitlines()[-1] == "False False", proc.stdout + proc.stderr
    assert "days loaded                    1" in proc.stdout
    assert (
        date(2024, 2, 1)
        in _sql(tmp_path / "w.duckdb", "SELECT transaction_date FROM bnpl_raw.source_batches")[
            "transaction_date"
        ].to_list()
    )
