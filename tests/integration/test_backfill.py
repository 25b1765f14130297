"""``bnpl backfill`` end to end: idempotent re-runs, a SIGKILL and resume, faults, drift, two at once.

Every run is a real ``bnpl`` subprocess (the session's Prefect API, or Prefect's temporary one,
the bundled simulator on a free port, a DuckDB file); the reference tables come from a clean in-process run of the engine over
the same days. Small base volumes keep each run to a few seconds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from backfill_support import Cli, bnpl_env, fingerprints, reference_run, settings_from

pytestmark = pytest.mark.slow

START = date(2024, 2, 1)
PLAN = {
    "plan__weekday_base_volume": 60,
    "plan__weekend_base_volume": 60,
    "plan__holiday_base_volume": 60,
}


def _end(days: int) -> date:
    return START + timedelta(days=days - 1)


def _backfill(days: int, *extra: str) -> list[str]:
    return ["backfill", "--start", str(START), "--end", str(_end(days)), *extra]


def _frame(path: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def _assert_ok(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"


def test_reruns_leave_identical_tables_equal_to_a_clean_run(cli: Cli, tmp_path, monkeypatch):
    """A backfill with no Prefect API (run directly, as ``make demo`` runs it), its re-run as a
    flow on the session's Prefect API (all skipped) and a reference run give the same tables."""
    path = tmp_path / "cli.duckdb"
    env = cli.env(warehouse__path=path, **PLAN)
    first = cli.run(_backfill(6), cli.env(ephemeral=True, warehouse__path=path, **PLAN))
    _assert_ok(first)
    assert "Starting temporary server" not in first.stderr
    assert "days loaded                    6" in first.stdout
    loaded = fingerprints(path)
    second = cli.run(_backfill(6), env)
    _assert_ok(second)
    assert "days skipped (already loaded)  6" in second.stdout
    assert fingerprints(path) == loaded
    reference = tmp_path / "reference.duckdb"
    reference_run(settings_from(env, monkeypatch, warehouse={"path": reference}), START, _end(6))
    assert fingerprints(reference) == loaded
    assert loaded["transactions"][0] > 0


def test_a_killed_backfill_converges_to_a_clean_run(cli: Cli, tmp_path, monkeypatch):
    """SIGKILL mid-run (process group: bnpl, simulator, API), then a re-run: the clean tables."""
    days = 24
    path = tmp_path / "killed.duckdb"
    slow = cli.env(
        warehouse__path=path,
        ingest__concurrency=1,
        simulator__faults__latency_rate=1,
        simulator__faults__latency_s=0.25,
        **PLAN,
    )
    proc = cli.popen(_backfill(days), slow)
    loaded_lines = 0
    assert proc.stderr is not None
    deadline = time.monotonic() + 240
    for line in proc.stderr:
        if " loaded: " in line:
            loaded_lines += 1
        if loaded_lines >= 5 or time.monotonic() > deadline:
            break
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert loaded_lines >= 5, "the run never loaded five days"
    partial = _frame(path, "SELECT count(*) AS n FROM bnpl_raw.source_batches")["n"][0]
    assert 5 <= partial < days
    resumed = cli.run(_backfill(days), cli.env(warehouse__path=path, **PLAN))
    _assert_ok(resumed)
    assert f"days skipped (already loaded)  {partial}" in resumed.stdout
    reference = tmp_path / "reference.duckdb"
    reference_run(
        settings_from(bnpl_env(**PLAN), monkeypatch, warehouse={"path": reference}),
        START,
        _end(days),
    )
    assert fingerprints(path) == fingerprints(reference)


def test_transport_faults_and_malformed_lines_lose_nothing(cli: Cli, tmp_path, monkeypatch):
    """With 5xx, 429, cut streams and malformed lines, each good record is loaded once and each
    malformed one is quarantined with its reason; received = loaded + quarantined."""
    days = 8
    path = tmp_path / "faults.duckdb"
    env = cli.env(
        warehouse__path=path,
        simulator__faults__seed=11,
        simulator__faults__error_rate=0.2,
        simulator__faults__rate_limit_rate=0.15,
        simulator__faults__retry_after_s=0.05,
        simulator__faults__cut_rate=0.2,
        simulator__faults__malformed_rate=0.02,
        source__max_attempts=12,
        source__retry_initial_wait_s=0.01,
        source__breaker_failure_threshold=100,
        ingest__quarantine_threshold=0.2,
        **PLAN,
    )
    _assert_ok(cli.run(_backfill(days), env))
    clean = tmp_path / "clean.duckdb"
    reference_run(
        settings_from(bnpl_env(**PLAN), monkeypatch, warehouse={"path": clean}), START, _end(days)
    )
    ledger = _frame(path, "SELECT * FROM bnpl_raw.source_batches ORDER BY transaction_date")
    assert ledger.height == days
    assert (
        ledger["records_received"] == ledger["records_loaded"] + ledger["records_quarantined"]
    ).all()
    assert ledger["attempts"].max() > 1, "the fault seed must make some request retry"
    clean_ledger = _frame(clean, "SELECT * FROM bnpl_raw.source_batches ORDER BY transaction_date")
    assert ledger["records_received"].to_list() == clean_ledger["records_loaded"].to_list()
    con = duckdb.connect()
    con.sql(f"ATTACH '{path}' AS f (READ_ONLY)")
    con.sql(f"ATTACH '{clean}' AS c (READ_ONLY)")
    cols = ", ".join(f'"{c}"' for c in _columns(con, "transactions") if c != "loaded_at")
    extra_rows = con.sql(
        f"SELECT {cols} FROM f.bnpl_raw.transactions EXCEPT ALL SELECT {cols} FROM c.bnpl_raw.transactions"
    ).fetchall()
    assert extra_rows == [], "a loaded row differs from the clean run"
    missing = con.sql(
        "SELECT transaction_date, _record_id + 1 AS line FROM c.bnpl_raw.transactions "
        "EXCEPT SELECT transaction_date, _record_id + 1 FROM f.bnpl_raw.transactions ORDER BY 1, 2"
    ).fetchall()
    quarantined = con.sql(
        "SELECT transaction_date, line_number, check_name, raw_line, failures "
        "FROM f.bnpl_raw.quarantine ORDER BY 1, 2"
    ).fetchall()
    assert missing, "the fault seed must corrupt some lines"
    assert [(d, n) for d, n, *_ in quarantined] == missing
    assert {check for _, _, check, _, _ in quarantined} == {"json_parse"}
    assert all(json.loads(failures)[0]["check"] == "json_parse" for *_, failures in quarantined)
    dup = con.sql("SELECT count(*) - count(DISTINCT transaction_key) FROM f.bnpl_raw.transactions")
    assert dup.fetchall() == [(0,)]


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = 'f' "
        "AND table_schema = 'bnpl_raw' AND table_name = $t ORDER BY ordinal_position",
        params={"t": table},
    ).fetchall()
    return [r[0] for r in rows]


def test_schema_drift_is_kept_or_quarantined_never_crashes(cli: Cli, tmp_path, monkeypatch):
    """Extra fields are kept in ``extra``; missing fields and floats in int/bool fields are
    quarantined; typed columns hold only values the clean run has."""
    days = 5
    path = tmp_path / "drift.duckdb"
    env = cli.env(
        warehouse__path=path,
        simulator__faults__seed=5,
        simulator__faults__extra_field_rate=0.05,
        simulator__faults__missing_field_rate=0.03,
        simulator__faults__float_drift_rate=0.03,
        ingest__quarantine_threshold=0.5,
        **PLAN,
    )
    _assert_ok(cli.run(_backfill(days), env))
    clean = tmp_path / "clean.duckdb"
    reference_run(
        settings_from(bnpl_env(**PLAN), monkeypatch, warehouse={"path": clean}), START, _end(days)
    )
    ledger = _frame(path, "SELECT * FROM bnpl_raw.source_batches")
    assert (
        ledger["records_received"] == ledger["records_loaded"] + ledger["records_quarantined"]
    ).all()
    unknown = {f for v in ledger["unknown_fields"].drop_nulls() for f in json.loads(v)}
    assert unknown == {"injected_unknown_field"}
    tx = _frame(path, "SELECT * FROM bnpl_raw.transactions")
    extras = tx["extra"].drop_nulls()
    assert extras.len() > 0
    assert all(set(json.loads(e)) == {"injected_unknown_field"} for e in extras)
    checks = set(_frame(path, "SELECT DISTINCT check_name FROM bnpl_raw.quarantine")["check_name"])
    assert {"required_field", "type"} <= checks, checks
    assert set(tx["installment_count"].unique()) <= {4, 6}
    assert tx["will_default"].dtype == pl.Boolean and tx["will_default"].null_count() == 0
    con = duckdb.connect()
    con.sql(f"ATTACH '{path}' AS f (READ_ONLY)")
    con.sql(f"ATTACH '{clean}' AS c (READ_ONLY)")
    cols = ", ".join(
        f'"{c}"' for c in _columns(con, "transactions") if c not in ("loaded_at", "extra")
    )
    differing = con.sql(
        f"SELECT {cols} FROM f.bnpl_raw.transactions EXCEPT ALL SELECT {cols} FROM c.bnpl_raw.transactions"
    ).fetchall()
    assert differing == []


def test_two_overlapping_backfills_at_once_make_no_duplicates(cli: Cli, tmp_path, monkeypatch):
    """Two processes loading overlapping ranges into one file end with the clean run's tables."""
    path = tmp_path / "shared.duckdb"
    first = ["backfill", "--start", str(START), "--end", str(_end(12)), "--concurrency", "2"]
    second = ["backfill", "--start", str(_end(7)), "--end", str(_end(18)), "--concurrency", "2"]
    procs = [cli.popen(args, cli.env(warehouse__path=path, **PLAN)) for args in (first, second)]
    outputs: list[tuple[str, str]] = [("", "")] * 2

    def finish(i: int) -> None:
        outputs[i] = procs[i].communicate(timeout=300)

    threads = [threading.Thread(target=finish, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, f"{out}\n{err[-4000:]}"
    keys = _frame(
        path,
        "SELECT count(*) AS n, count(DISTINCT transaction_key) AS k FROM bnpl_raw.transactions",
    )
    assert keys["n"][0] == keys["k"][0] > 0
    per_day = _frame(
        path, "SELECT transaction_date, count(*) AS n FROM bnpl_raw.source_batches GROUP BY 1"
    )
    assert per_day.height == 18 and set(per_day["n"]) == {1}
    reference = tmp_path / "reference.duckdb"
    reference_run(
        settings_from(bnpl_env(**PLAN), monkeypatch, warehouse={"path": reference}), START, _end(18)
    )
    assert fingerprints(path) == fingerprints(reference)
