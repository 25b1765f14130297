"""Opening the DuckDB file: waiting for another process's lock (one line, the holder named), a
damaged file noticed before anything is written, and opens that never create a file."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from test_duckdb import DAY, count, day_batch

from bnpl.errors import ConfigError, WarehouseDamagedError, WarehouseLockedError
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

DAYS, ROWS = 6, 1_000

_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(60)
"""


def test_lock_wait_logs_once_and_the_error_names_the_holder(tmp_path, caplog):
    """Waiting for a file another process holds logs one line naming the holder's PID (no retry
    warning per attempt), and the final WarehouseLockedError names the PID and what to do."""
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    caplog.set_level(logging.DEBUG)
    try:
        wh = DuckDBWarehouse(DuckDBSettings(path=path, lock_timeout_s=1.5))
        with pytest.raises(WarehouseLockedError) as caught:
            wh.query("SELECT 1")
    finally:
        holder.kill()
        holder.wait()
    assert f"PID {holder.pid}" in str(caught.value)
    assert "stop that process" in str(caught.value)
    waits = [r for r in caplog.records if "waiting for" in r.getMessage()]
    assert len(waits) == 1 and f"PID {holder.pid}" in waits[0].getMessage()
    assert not [r for r in caplog.records if r.name.startswith("stamina")]


def test_a_reopening_reader_warns_about_the_wait_once(tmp_path, caplog):
    """A file object that waits again on a later open (a poller that lets the file go between
    reads) logs the wait as a warning the first time and at debug level after that."""
    path = tmp_path / "held.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    caplog.set_level(logging.DEBUG, logger="bnpl.warehouse.duckdb_file")
    try:
        wh = DuckDBWarehouse(DuckDBSettings(path=path, lock_timeout_s=0.3))
        for _ in range(3):
            with pytest.raises(WarehouseLockedError):
                wh.query("SELECT 1")
    finally:
        holder.kill()
        holder.wait()
    waits = [r for r in caplog.records if "waiting for" in r.getMessage()]
    assert [r.levelno for r in waits] == [logging.WARNING, logging.DEBUG, logging.DEBUG]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file written and closed once per day (several checkpoints), built once per module."""
    path = tmp_path_factory.mktemp("open") / "written.duckdb"
    wh = DuckDBWarehouse(DuckDBSettings(path=path, idle_release_s=0))
    for i in range(DAYS):
        wh.load_day(day_batch(DAY.replace(day=DAY.day + i), tx=ROWS))
    wh.close()
    return path


def _good_file(tmp_path: Path, written: Path) -> Path:
    return Path(shutil.copy(written, tmp_path / "good.duckdb"))


def test_a_truncated_copy_is_refused_before_anything_is_written(tmp_path, written):
    """On a truncated copy of a good file, the first operation fails with WarehouseDamagedError
    (restore, or rebuild from the ledger's days) and the file is left exactly as it was."""
    good = _good_file(tmp_path, written)
    damaged = tmp_path / "damaged.duckdb"
    shutil.copy(good, damaged)
    with damaged.open("r+b") as f:
        f.truncate(good.stat().st_size // 2)
    before = damaged.read_bytes()
    wh = DuckDBWarehouse(DuckDBSettings(path=damaged))
    with pytest.raises(WarehouseDamagedError) as caught:
        wh.load_day(day_batch(DAY.replace(day=DAY.day + 20)))
    wh.close()
    message = str(caught.value)
    assert "damaged" in message and "Restore" in message and "bnpl backfill" in message
    assert damaged.read_bytes() == before


def test_a_good_file_passes_the_probe(tmp_path, written):
    """The integrity probe accepts an intact file that was written and closed many times."""
    good = _good_file(tmp_path, written)
    wh = DuckDBWarehouse(DuckDBSettings(path=good))
    try:
        assert count(wh, "transactions") == DAYS * ROWS
    finally:
        wh.close()


@pytest.mark.parametrize("access", ["existing", "read_only"])
def test_opens_that_must_not_create_refuse_a_missing_file(tmp_path, access):
    """An ``existing`` or ``read_only`` open of a missing file fails with ConfigError and creates
    neither the file nor its directory."""
    path = tmp_path / "new" / "bnpl.duckdb"
    wh = DuckDBWarehouse(DuckDBSettings(path=path), access=access)
    with pytest.raises(ConfigError, match="no warehouse at"):
        wh.query("SELECT 1")
    assert not path.parent.exists()


def test_read_only_open_writes_nothing(tmp_path, written):
    """A read-only open reads the file, creates no schema and refuses writes."""
    good = _good_file(tmp_path, written)
    before = good.read_bytes()
    wh = DuckDBWarehouse(DuckDBSettings(path=good), access="read_only")
    try:
        wh.ensure_schema()
        assert count(wh, "transactions") == DAYS * ROWS
        with pytest.raises(Exception, match="read-only"):
            wh.execute("CREATE SCHEMA extra")
    finally:
        wh.close()
    assert good.read_bytes() == before
