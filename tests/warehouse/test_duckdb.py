"""bnpl.warehouse.duckdb: the embedded warehouse, its atomic day load and its file sharing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pytest
import stamina

import bnpl
from bnpl.errors import ConfigError, WarehouseError, WarehouseLockedError
from bnpl.settings import DuckDBSettings
from bnpl.warehouse import DayBatch, open_warehouse, table_spec
from bnpl.warehouse.base import LIVE_QUARANTINE_COLUMNS
from bnpl.warehouse.duckdb import (
    LOAD_MEMORY_LIMIT_MB,
    DuckDBWarehouse,
    _at_most_threads,
    _used_params,
)
from bnpl.warehouse.names import DATASETS

DAY = date(2024, 3, 1)
LOADED_AT = datetime(2024, 3, 2, 1, 2, 3, tzinfo=UTC)

_DTYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INT64": pl.Int64(),
    "FLOAT64": pl.Float64(),
    "BOOL": pl.Boolean(),
    "DATE": pl.Date(),
    "DATETIME": pl.Datetime("us"),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
}


def _value(type_: str, day: date, i: int) -> Any:
    return {
        "STRING": f"v{i}",
        "INT64": i,
        "FLOAT64": i + 0.25,
        "BOOL": i % 2 == 0,
        "DATE": day,
        "DATETIME": datetime(day.year, day.month, day.day, 10, i % 60),
        "TIMESTAMP": LOADED_AT,
    }[type_]


def table_frame(name: str, day: date, rows: int, *, tag: str = "") -> pl.DataFrame:
    """A frame with exactly the declared columns of ``bnpl_raw.<name>`` and ``rows`` rows (the
    quarantine's live columns null: a day's rows are never dead letters)."""
    spec = table_spec("bnpl_raw", name)
    data: dict[str, list[Any]] = {}
    for col in spec.columns:
        values = [_value(col.type, day, i) for i in range(rows)]
        if col.type == "STRING":
            values = [f"{col.name}-{day}-{tag}{i}" for i in range(rows)]
        if name == "quarantine" and col.name in LIVE_QUARANTINE_COLUMNS:
            values = [None] * rows
        data[col.name] = values
    schema = {c.name: _DTYPES[c.type] for c in spec.columns}
    return pl.DataFrame(data, schema=schema)


def ledger_row(day: date, batch_id: str, **overrides: Any) -> dict[str, Any]:
    frame = table_frame("source_batches", day, 1)
    row = frame.row(0, named=True)
    row.update(batch_id=batch_id, **overrides)
    return row


def day_batch(day: date, *, tx: int = 3, cust: int = 2, quar: int = 1, tag: str = "") -> DayBatch:
    batch_id = f"batch-{day}-{tag}"
    return DayBatch(
        day=day,
        batch_id=batch_id,
        transactions=table_frame("transactions", day, tx, tag=tag),
        customers=table_frame("customers", day, cust, tag=tag),
        quarantine=table_frame("quarantine", day, quar, tag=tag),
        ledger=ledger_row(day, batch_id, records_received=tx + quar, records_loaded=tx),
    )


def count(wh: DuckDBWarehouse, table: str, day: date | None = None) -> int:
    where = "" if day is None else " WHERE transaction_date = $day"
    params = None if day is None else {"day": day}
    wh.ensure_schema()
    return int(wh.query(f"SELECT count(*) FROM bnpl_raw.{table}{where}", params).item())


@pytest.fixture
def wh(tmp_path: Path):
    warehouse = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "w" / "bnpl.duckdb"))
    yield warehouse
    warehouse.close()


def test_ensure_schema_creates_datasets_and_declared_columns(wh):
    """ensure_schema creates the four schemas and every raw table with its declared column order."""
    wh.ensure_schema()
    wh.ensure_schema()
    schemas = set(wh.query("SELECT schema_name FROM information_schema.schemata")["schema_name"])
    assert set(DATASETS) <= schemas
    for name in ("transactions", "customers", "quarantine", "source_batches"):
        cols = wh.query(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'bnpl_raw' AND table_name = $t ORDER BY ordinal_position",
            {"t": name},
        )["column_name"].to_list()
        assert cols == table_spec("bnpl_raw", name).column_names


def test_load_day_writes_every_table_and_the_ledger(wh):
    """One load writes the day's rows to the three raw tables and one ledger row."""
    wh.load_day(day_batch(DAY, tx=3, cust=2, quar=1))
    assert (count(wh, "transactions"), count(wh, "customers"), count(wh, "quarantine")) == (3, 2, 1)
    ledger = wh.read_table("bnpl_raw.source_batches")
    assert ledger.height == 1
    assert ledger.row(0, named=True)["batch_id"] == f"batch-{DAY}-"


def test_reloading_a_day_replaces_it_and_leaves_other_days(wh):
    """Loading day D again replaces D in every table; day D+1 is untouched."""
    other = DAY + timedelta(days=1)
    wh.load_day(day_batch(DAY, tx=5))
    wh.load_day(day_batch(other, tx=4))
    wh.load_day(day_batch(DAY, tx=2, cust=1, quar=0, tag="again"))
    assert count(wh, "transactions", DAY) == 2
    assert count(wh, "customers", DAY) == 1
    assert count(wh, "quarantine", DAY) == 0
    assert count(wh, "source_batches", DAY) == 1
    assert count(wh, "transactions", other) == 4
    keys = wh.query(
        "SELECT transaction_key FROM bnpl_raw.transactions WHERE transaction_date = $d", {"d": DAY}
    )
    assert all("again" in k for k in keys["transaction_key"])


def test_a_failing_load_changes_nothing(wh):
    """A load that fails mid-transaction (NULL in a required column) leaves the previous day intact."""
    wh.load_day(day_batch(DAY, tx=3))
    broken = day_batch(DAY, tx=7, tag="bad")
    customers = broken.customers.with_columns(customer_key=pl.lit(None, pl.String))
    broken = DayBatch(
        DAY, broken.batch_id, broken.transactions, customers, broken.quarantine, broken.ledger
    )
    with pytest.raises(WarehouseError, match="rolled back"):
        wh.load_day(broken)
    assert count(wh, "transactions", DAY) == 3
    assert wh.read_table("bnpl_raw.source_batches")["batch_id"].to_list() == [f"batch-{DAY}-"]


def _threads(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT current_setting('threads')").fetchone()
    assert row is not None
    return int(row[0])


def test_at_most_threads_lowers_the_setting_inside_only():
    """_at_most_threads lowers DuckDB's threads inside the block and puts them back after it,
    also when the block raises; a limit above the setting changes nothing."""
    con = duckdb.connect(config={"threads": 2})
    with _at_most_threads(con, 1):
        assert _threads(con) == 1
    assert _threads(con) == 2
    with pytest.raises(RuntimeError), _at_most_threads(con, 1):
        raise RuntimeError("boom")
    assert _threads(con) == 2
    with _at_most_threads(con, 4):
        assert _threads(con) == 2
    con.close()


def _failing_batch() -> DayBatch:
    """A day whose customers break a NOT NULL column: the load fails inside its transaction."""
    broken = day_batch(DAY, tx=7, tag="bad")
    customers = broken.customers.with_columns(customer_key=pl.lit(None, pl.String))
    return DayBatch(
        DAY, broken.batch_id, broken.transactions, customers, broken.quarantine, broken.ledger
    )


def _setting(wh: DuckDBWarehouse, name: str) -> object:
    return wh.query("SELECT current_setting($name) AS v", {"name": name})["v"].item()


def test_loads_give_the_configured_threads_back(tmp_path):
    """After a day load, and after a failed (rolled-back) one, the same open connection runs on
    the configured threads again (the load's own script runs on LOAD_THREADS)."""
    wh = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "bnpl.duckdb", threads=2))
    try:
        with wh.session():
            wh.load_day(day_batch(DAY))
            assert _setting(wh, "threads") == 2
            with pytest.raises(WarehouseError, match="rolled back"):
                wh.load_day(_failing_batch())
            assert _setting(wh, "threads") == 2
        assert count(wh, "transactions", DAY) == 3
    finally:
        wh.close()


@pytest.mark.parametrize(
    ("configured", "inside"), [("1GB", "244.1 MiB"), ("128MB", "122.0 MiB"), (None, "244.1 MiB")]
)
def test_a_load_runs_under_the_lower_memory_limit_and_gives_the_configured_one_back(
    tmp_path, configured, inside
):
    """The load's script runs under LOAD_MEMORY_LIMIT_MB when the current limit is higher (or
    DuckDB's default), never above a lower one; after a load, and after a failed one, the same
    open connection has the configured limit back exactly."""
    wh = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "bnpl.duckdb", memory_limit=configured))
    try:
        with wh.session():
            configured_text = _setting(wh, "memory_limit")
            with wh.connection() as con, wh._at_most_memory(con, LOAD_MEMORY_LIMIT_MB):
                assert _setting(wh, "memory_limit") == inside
            assert _setting(wh, "memory_limit") == configured_text
            wh.load_day(day_batch(DAY))
            assert _setting(wh, "memory_limit") == configured_text
            with pytest.raises(WarehouseError, match="rolled back"):
                wh.load_day(_failing_batch())
            assert _setting(wh, "memory_limit") == configured_text
        assert count(wh, "transactions", DAY) == 3
    finally:
        wh.close()


def test_a_limit_set_at_run_time_is_neither_raised_nor_replaced_by_a_load(tmp_path):
    """A notebook's lower ``SET memory_limit`` holds during and after a load; a higher one is
    lowered for the load and put back (to within DuckDB's rounding, the same after many loads)."""
    wh = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "bnpl.duckdb"))
    try:
        with wh.session():
            wh.execute("SET memory_limit = '200MB'")
            with wh.connection() as con, wh._at_most_memory(con, LOAD_MEMORY_LIMIT_MB):
                assert _setting(wh, "memory_limit") == "190.7 MiB"
            wh.load_day(day_batch(DAY))
            assert _setting(wh, "memory_limit") == "190.7 MiB"
            wh.execute("SET memory_limit = '2GB'")
            with wh.connection() as con, wh._at_most_memory(con, LOAD_MEMORY_LIMIT_MB):
                assert _setting(wh, "memory_limit") == "244.1 MiB"
            assert _setting(wh, "memory_limit") == "1.8 GiB"
            for _ in range(3):  # DuckDB truncates the text it reads back: no drift per load
                wh.load_day(day_batch(DAY))
            assert _setting(wh, "memory_limit") == "1.8 GiB"
    finally:
        wh.close()


def test_frame_with_wrong_columns_is_rejected_before_writing(wh):
    """A frame whose columns differ from the declared ones is refused and nothing is written."""
    batch = day_batch(DAY)
    bad = DayBatch(
        DAY,
        batch.batch_id,
        batch.transactions.drop("amount"),
        batch.customers,
        batch.quarantine,
        batch.ledger,
    )
    with pytest.raises(WarehouseError, match="missing \\['amount'\\]"):
        wh.load_day(bad)
    assert count(wh, "transactions") == 0


def test_rows_of_another_day_are_rejected(wh):
    """A batch may only hold rows of its own day (else a later load of that day would lose them)."""
    batch = day_batch(DAY)
    stray = batch.transactions.with_columns(transaction_date=pl.lit(DAY + timedelta(days=1)))
    bad = DayBatch(DAY, batch.batch_id, stray, batch.customers, batch.quarantine, batch.ledger)
    with pytest.raises(WarehouseError, match="only touch its own partition"):
        wh.load_day(bad)
    assert count(wh, "transactions") == 0


def test_incomplete_ledger_row_is_rejected(wh):
    """A ledger row missing a declared column is refused, naming it."""
    batch = day_batch(DAY)
    ledger = {k: v for k, v in batch.ledger.items() if k != "records_loaded"}
    with pytest.raises(WarehouseError, match="records_loaded"):
        wh.load_day(
            DayBatch(
                DAY, batch.batch_id, batch.transactions, batch.customers, batch.quarantine, ledger
            )
        )


def test_ledger_row_order_does_not_matter(wh):
    """The ledger is a mapping: its key order is irrelevant."""
    batch = day_batch(DAY)
    reordered = dict(reversed(list(batch.ledger.items())))
    wh.load_day(
        DayBatch(
            DAY, batch.batch_id, batch.transactions, batch.customers, batch.quarantine, reordered
        )
    )
    assert count(wh, "source_batches") == 1


def test_timestamps_come_back_in_utc(wh):
    """TIMESTAMP columns read back as UTC-aware datetimes with the written instant."""
    wh.load_day(day_batch(DAY))
    loaded_at = wh.read_table("bnpl_raw.transactions")["loaded_at"]
    assert loaded_at.dtype == pl.Datetime("us", "UTC")
    assert loaded_at[0] == LOADED_AT


def test_concurrent_loads_from_threads_are_serialised(wh):
    """Loads from many threads of one process all land, through the single writer."""
    days = [DAY + timedelta(days=i) for i in range(8)]
    errors: list[BaseException] = []

    def load(day: date) -> None:
        try:
            wh.load_day(day_batch(day, tx=10))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=load, args=(d,)) for d in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(wh, "transactions") == 80
    assert count(wh, "source_batches") == 8


def test_read_table_rejects_bad_names(wh):
    """read_table wants dataset.table with a known dataset, and an existing table (it lists those that exist)."""
    with pytest.raises(ConfigError, match=r"dataset\.table"):
        wh.read_table("transactions")
    with pytest.raises(ConfigError):
        wh.read_table("elsewhere.transactions")
    with pytest.raises(ConfigError, match=r"does not exist.*tables in bnpl_raw: customers"):
        wh.read_table("bnpl_raw.nope")


def test_bnpl_read_table_reads_the_configured_file(tmp_path, monkeypatch):
    """bnpl.read_table('bnpl_raw.transactions') returns the rows of BNPL_WAREHOUSE__PATH as Polars."""
    path = tmp_path / "nb" / "w.duckdb"
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    writer = DuckDBWarehouse(DuckDBSettings(path=path))
    writer.load_day(day_batch(DAY, tx=4))
    writer.close()
    frame = bnpl.read_table("bnpl_raw.transactions")
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == 4
    assert frame.columns == table_spec("bnpl_raw", "transactions").column_names
    # the notebook call released the file: a fresh connection can open it
    duckdb.connect(str(path)).close()


def test_open_warehouse_picks_duckdb(tmp_path):
    """open_warehouse returns the DuckDB adapter for DuckDB settings."""
    settings = bnpl.load_settings(warehouse={"path": tmp_path / "x.duckdb"})
    assert isinstance(open_warehouse(settings), DuckDBWarehouse)


def test_unwritable_path_is_a_config_error(tmp_path):
    """A path under a regular file cannot be created: ConfigError naming BNPL_WAREHOUSE__PATH."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    wh = DuckDBWarehouse(DuckDBSettings(path=blocker / "w.duckdb"))
    with pytest.raises(ConfigError, match="BNPL_WAREHOUSE__PATH"):
        wh.ensure_schema()


def test_a_file_that_is_not_duckdb_is_a_config_error(tmp_path):
    """An existing non-DuckDB file is refused with a ConfigError, and left as it was."""
    path = tmp_path / "notes.duckdb"
    path.write_text("hello, not a database\n" * 100)
    wh = DuckDBWarehouse(DuckDBSettings(path=path))
    with pytest.raises(ConfigError, match="BNPL_WAREHOUSE__PATH"):
        wh.ensure_schema()
    assert path.read_text().startswith("hello")


def test_execute_many_is_all_or_nothing(wh):
    """A failing statement rolls back the ones before it."""
    wh.ensure_schema()
    wh.execute("CREATE TABLE bnpl_audit.t (x BIGINT)")
    with pytest.raises(WarehouseError, match="rolled back"):
        wh.execute_many(
            ["INSERT INTO bnpl_audit.t VALUES ($x)", "INSERT INTO bnpl_audit.nope VALUES (1)"],
            {"x": 1},
        )
    assert wh.query("SELECT count(*) FROM bnpl_audit.t").item() == 0


def test_used_params_match_whole_names():
    """Only parameters named in the statement are bound; $day does not match $day_end."""
    assert _used_params("SELECT $day_end", {"day": 1, "day_end": 2}) == {"day_end": 2}
    assert _used_params("SELECT 1", {"day": 1}) is None


def test_content_checksum_ignores_order_and_excluded_columns(tmp_path):
    """Same rows in another order, with other load times, give the same count and checksum."""
    a = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "a.duckdb"))
    b = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "b.duckdb"))
    batch = day_batch(DAY, tx=6)
    a.load_day(batch)
    later = batch.transactions.reverse().with_columns(
        loaded_at=pl.lit(datetime(2030, 1, 1, tzinfo=UTC))
    )
    b.load_day(
        DayBatch(DAY, batch.batch_id, later, batch.customers, batch.quarantine, batch.ledger)
    )
    exclude = ["loaded_at"]
    assert a.content_checksum("bnpl_raw", "transactions", exclude=exclude) == b.content_checksum(
        "bnpl_raw", "transactions", exclude=exclude
    )
    assert a.content_checksum("bnpl_raw", "transactions") != b.content_checksum(
        "bnpl_raw", "transactions"
    )
    a.close()
    b.close()


def test_content_checksum_sees_duplicates_and_changes(wh):
    """A duplicated row or a changed value changes the checksum."""
    wh.load_day(day_batch(DAY, tx=3))
    base = wh.content_checksum("bnpl_raw", "transactions")
    wh.execute("INSERT INTO bnpl_raw.transactions SELECT * FROM bnpl_raw.transactions LIMIT 1")
    dup = wh.content_checksum("bnpl_raw", "transactions")
    assert dup[0] == base[0] + 1 and dup[1] != base[1]
    wh.execute("DELETE FROM bnpl_raw.transactions")
    wh.load_day(day_batch(DAY, tx=3))
    assert wh.content_checksum("bnpl_raw", "transactions") == base
    wh.execute("UPDATE bnpl_raw.transactions SET amount = amount + 1 WHERE _record_id = 0")
    assert wh.content_checksum("bnpl_raw", "transactions")[1] != base[1]


# --- sharing the file between processes --------------------------------------------------------

_HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.close()
"""


def _hold_file(path: Path, seconds: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def _can_open(path: Path) -> bool:
    code = "import sys, duckdb; duckdb.connect(sys.argv[1]).close()"
    return (
        subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True).returncode == 0
    )


def test_locked_file_raises_after_the_timeout(tmp_path):
    """When another process keeps the file, an operation gives up with WarehouseLockedError."""
    path = tmp_path / "held.duckdb"
    creator = DuckDBWarehouse(DuckDBSettings(path=path))
    creator.ensure_schema()
    creator.close()
    holder = _hold_file(path, 30)
    try:
        wh = DuckDBWarehouse(DuckDBSettings(path=path, lock_timeout_s=0.5))
        with pytest.raises(WarehouseLockedError, match="BNPL_WAREHOUSE__LOCK_TIMEOUT_S"):
            wh.query("SELECT 1")
    finally:
        holder.kill()
        holder.wait()


def test_waits_for_another_process_to_release_the_file(tmp_path):
    """An operation waits while another process holds the file, then proceeds."""
    stamina.set_testing(False)  # real back-off: the holder needs a moment to let go
    path = tmp_path / "held.duckdb"
    holder = _hold_file(path, 1.0)
    try:
        wh = DuckDBWarehouse(DuckDBSettings(path=path, lock_timeout_s=30))
        wh.load_day(day_batch(DAY))
        assert count(wh, "transactions") == 3
        wh.close()
    finally:
        holder.wait()


def test_releases_the_file_after_each_operation_when_idle_release_is_zero(tmp_path):
    """With idle_release_s=0 another process can open the file right after an operation."""
    path = tmp_path / "shared.duckdb"
    wh = DuckDBWarehouse(DuckDBSettings(path=path, idle_release_s=0))
    wh.load_day(day_batch(DAY))
    assert _can_open(path)


def test_keeps_the_file_between_operations_then_releases_it(tmp_path):
    """Back-to-back operations share a connection; the file is released once idle."""
    path = tmp_path / "shared.duckdb"
    wh = DuckDBWarehouse(DuckDBSettings(path=path, idle_release_s=0.3))
    wh.ensure_schema()
    con = wh._con
    assert con is not None
    wh.query("SELECT 1")
    assert wh._con is con
    deadline = time.monotonic() + 10
    while wh._con is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert wh._con is None
    assert _can_open(path)


def test_a_busy_process_lets_go_after_max_hold(tmp_path):
    """Once the connection is older than max_hold_s, the next operation closes it afterwards."""
    wh = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "w.duckdb", max_hold_s=60))
    wh.ensure_schema()
    wh.query("SELECT 1")
    assert wh._con is not None
    wh._opened_at -= 61  # as if the file had been held for a minute
    wh.query("SELECT 1")
    assert wh._con is None


def test_session_keeps_the_connection_until_it_ends(tmp_path):
    """Inside session() every operation uses one connection; it is closed when the session ends."""
    wh = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "w.duckdb", idle_release_s=0))
    with wh.session():
        wh.ensure_schema()
        con = wh._con
        wh.query("SELECT 1")
        assert wh._con is con is not None
    assert wh._con is None
