"""The live loader keeps the online store fresh through its after-commit hook."""

from __future__ import annotations

from pathlib import Path

from live_data import live_events

from bnpl.live.engines import open_event_log
from bnpl.live.loader import Loader
from bnpl.serving.hook import store_updater
from bnpl.serving.store import SqliteStore
from bnpl.settings import load_settings
from bnpl.warehouse import open_warehouse


def test_each_committed_batch_reaches_the_store_once(tmp_path: Path) -> None:
    """After the loader runs, every loaded row is in the store; a second run adds nothing."""
    settings = load_settings(
        warehouse={"path": str(tmp_path / "bnpl.duckdb")},
        live={"log_path": str(tmp_path / "events.sqlite"), "batch_max_ms": 50},
    )
    warehouse = open_warehouse(settings)
    warehouse.ensure_schema()
    store = SqliteStore(tmp_path / "online.sqlite")
    try:
        with open_event_log(settings) as log:
            log.append(live_events(60))
            loader = Loader(
                log, warehouse, settings.live, consumer="c1", after_commit=store_updater(store)
            )
            stats = loader.run(once=True)
        rows = warehouse.read_table("bnpl_raw.live_transactions")
        assert stats.rows == rows.height == 60
        last = rows["transaction_date"].max()
        held = {
            r["transaction_key"]
            for customer in rows["customer_key"].unique().to_list()
            for r in store.history(customer, last).transactions
        }
        assert held == set(rows["transaction_key"].to_list())
        market = store.history("nobody", last).market_days
        assert sum(m["txn_count"] for m in market) == 60
        assert store.apply(rows.to_dicts()) == 0
    finally:
        store.close()
        warehouse.close()
