"""Issue 16 end to end: ``bnpl`` subprocesses against the hostile source on 127.0.0.1.

A short or empty reply fails the day and a plain re-run loads it; a trickling source ends within
its budget; a planted secret reaches no output, table or Prefect database; bad settings are one
line; Prefect's telemetry stays off without the Makefile's environment.
"""

from __future__ import annotations

import base64
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import duckdb
import pytest
from backfill_support import BNPL, Cli, base_env
from hostile_source import HostileSource

pytestmark = pytest.mark.slow

DAY = date(2024, 2, 6)
BACKFILL = ["backfill", "--start", str(DAY), "--end", str(DAY)]
PLAN = {
    "plan__weekday_base_volume": 60,
    "plan__weekend_base_volume": 60,
    "plan__holiday_base_volume": 60,
}
FAST_FAIL = {"source__max_attempts": 1, "source__retry_initial_wait_s": 0}


def _out(proc: subprocess.CompletedProcess[str]) -> str:
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr[-4000:]}"


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[str]:
    """``bnpl simulate serve`` on a free port (a good source to relay to); yields its URL."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [str(BNPL), "simulate", "serve", "--port", str(port)],
        env=base_env(),
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ends = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < ends and proc.poll() is None, "simulator did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.parametrize("mode", ["empty", "half"])
def test_a_short_reply_fails_the_day_and_a_plain_rerun_loads_it(
    cli: Cli, tmp_path: Path, hostile_source: HostileSource, simulator: str, mode: str
):
    """A 200 with no records or half of them: exit 1, a failure row, no ledger row; once the same
    source is healthy, a plain re-run (no --force) fetches and loads the day."""
    path = tmp_path / "w.duckdb"
    env = cli.env(warehouse__path=path, source__url=hostile_source.url, **PLAN)
    hostile_source.mode = mode
    failed = cli.run(BACKFILL, env)
    assert failed.returncode == 1, _out(failed)
    assert "VolumeMismatchError" in failed.stdout + failed.stderr, _out(failed)
    assert _rows(path, "SELECT count(*) FROM bnpl_raw.source_batches") == [(0,)]
    errors = _rows(path, "SELECT error_type FROM bnpl_audit.ingest_failures")
    assert errors == [("VolumeMismatchError",)]
    hostile_source.mode, hostile_source.upstream = "relay", simulator
    again = cli.run(BACKFILL, env)
    assert again.returncode == 0, _out(again)
    loaded = _rows(path, "SELECT expected_records, records_received FROM bnpl_raw.source_batches")
    assert len(loaded) == 1 and loaded[0][0] == loaded[0][1], loaded


def test_a_trickling_source_ends_within_its_budget(
    cli: Cli, tmp_path: Path, hostile_source: HostileSource
):
    """One byte per 0.5 s, each in time for the read timeout: the day fails with a deadline
    message within the retry budget + 10 s of the time a fast failure takes."""
    budget = 6.0
    env = cli.env(
        warehouse__path=tmp_path / "w.duckdb",
        source__url=hostile_source.url,
        source__request_deadline_s=2,
        source__retry_budget_s=budget,
        source__retry_initial_wait_s=0.1,
        **PLAN,
    )
    hostile_source.mode = "refuse"
    started = time.monotonic()
    quick = cli.run(BACKFILL, {**env, **{"BNPL_SOURCE__MAX_ATTEMPTS": "1"}}, timeout=120)
    baseline = time.monotonic() - started
    assert quick.returncode == 1, _out(quick)
    hostile_source.mode, hostile_source.trickle_s = "trickle", 0.5
    started = time.monotonic()
    slow = cli.run(BACKFILL, env, timeout=baseline + budget + 60)
    elapsed = time.monotonic() - started
    assert slow.returncode == 1, _out(slow)
    assert "deadline" in slow.stdout + slow.stderr, _out(slow)
    assert elapsed < baseline + budget + 10, (elapsed, baseline)


def _dump_duckdb(path: Path) -> str:
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        parts = []
        for schema, table in tables:
            relation = con.table(f"{schema}.{table}")
            parts.append(repr(relation.fetchall()))
        return "\n".join(parts)
    finally:
        con.close()


def _dump_sqlite(home: Path) -> bytes:
    """Every row of every table of Prefect's databases under ``home``, and their raw bytes."""
    found = b""
    for db in sorted(home.glob("*.db")):
        con = sqlite3.connect(db)
        try:
            for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
                found += repr(con.execute(f'SELECT * FROM "{table}"').fetchall()).encode()
        finally:
            con.close()
    for raw in sorted(home.glob("*.db*")):
        found += raw.read_bytes()
    return found


def test_a_planted_secret_reaches_no_output_table_or_prefect_database(
    cli: Cli, tmp_path: Path, hostile_source: HostileSource, simulator: str
):
    """A password in BNPL_SOURCE__URL and a key in a misspelled variable, through a refusing
    source, bad settings and a good backfill run as a flow (--prefect: Prefect's temporary API,
    its own database)."""
    backfill = [*BACKFILL, "--prefect"]
    secret = "pw-ccf1e2d3b4a5968778695a4b"
    path = tmp_path / "w.duckdb"
    home = tmp_path / "prefect-home"
    home.mkdir()
    url = hostile_source.url.replace("http://", f"http://bnpl:{secret}@")
    env = cli.env(ephemeral=True, warehouse__path=path, source__url=url, **PLAN, **FAST_FAIL)
    env["PREFECT_HOME"] = str(home)

    hostile_source.mode = "refuse"
    refused = cli.run(backfill, env)
    assert secret not in refused.stdout + refused.stderr, _out(refused)
    assert refused.returncode == 1, _out(refused)
    assert "HTTP 503" in _dump_duckdb(path)  # the failure was recorded ...
    assert secret not in _dump_duckdb(path)  # ... without the secret
    for name, value in [
        ("BNPL_WAREHOUSE__CREDENTIAL_JSON", secret),
        ("BNPL_SOURCE__URL", f"http://bnpl:{secret}@127.0.0.1:99999/"),
        ("BNPL_SOURCE__URL", f"ftp://bnpl:{secret}@127.0.0.1/"),
    ]:
        bad = cli.run(backfill, {**env, name: value})
        assert secret not in bad.stdout + bad.stderr, _out(bad)
        assert bad.returncode == 2 and name in bad.stderr, _out(bad)
    hostile_source.mode, hostile_source.upstream = "relay", simulator
    good = cli.run(backfill, env)
    assert secret not in good.stdout + good.stderr, _out(good)
    assert good.returncode == 0, _out(good)

    token = base64.b64encode(f"bnpl:{secret}".encode()).decode()
    assert hostile_source.authorizations[-1] == f"Basic {token}"  # the source was authenticated
    assert secret not in _dump_duckdb(path)
    prefect_db = _dump_sqlite(home)
    assert prefect_db, f"no Prefect database under {home}"
    assert secret.encode() not in prefect_db
    assert token.encode() not in prefect_db


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BNPL_QUALITY__SEVERITY_OVERRIDES", "{weekend_dip: warn"),
        ("BNPL_SOURCE__URL", "http://simtom:99999"),
        ("BNPL_WAREHOUSE__MEMORY_LIMIT", "4 gigs"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(cli: Cli, tmp_path: Path, name: str, value: str):
    """A malformed JSON, an invalid port or memory limit: one error line naming it, exit 2."""
    env = {**cli.env(warehouse__path=tmp_path / "w.duckdb", **PLAN), name: value}
    proc = cli.run(BACKFILL, env, timeout=120)
    assert proc.returncode == 2, _out(proc)
    lines = proc.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: invalid settings: {name}"), _out(proc)
    assert "Traceback" not in proc.stderr


def test_prefect_telemetry_is_off_without_the_makefiles_environment(cli: Cli, tmp_path: Path):
    """A run on Prefect's temporary API (--prefect), with no PREFECT_SERVER_ANALYTICS_ENABLED nor
    DO_NOT_TRACK set, says nothing about telemetry and its server started with analytics off."""
    env = cli.env(ephemeral=True, warehouse__path=tmp_path / "w.duckdb", **PLAN)
    for name in ("PREFECT_SERVER_ANALYTICS_ENABLED", "DO_NOT_TRACK"):
        env.pop(name, None)
    env["PREFECT_LOGGING_LEVEL"] = "DEBUG"
    proc = cli.run([*BACKFILL, "--prefect"], env)
    assert proc.returncode == 0, _out(proc)
    assert "Starting temporary server" in proc.stderr
    assert "telemetry" not in (proc.stdout + proc.stderr).lower(), _out(proc)
