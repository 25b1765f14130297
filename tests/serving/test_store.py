"""The online store on SQLite and on a real redis-server, the loader hook, and materialization."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from redis_server import RedisServer

from bnpl.models import load_project
from bnpl.serving.features import ENRICHED, HISTORY_COLUMNS
from bnpl.serving.hook import materialize, store_updater
from bnpl.serving.redis_store import RedisStore
from bnpl.serving.store import OnlineStore, SqliteStore
from bnpl.warehouse.duckdb import DuckDBWarehouse


def _row(key: str, customer: str, ts: datetime, amount: int = 1000) -> dict[str, Any]:
    return {
        "transaction_key": key,
        "customer_key": customer,
        "transaction_date": ts.date(),
        "transaction_ts": ts,
        "device_id": f"{customer}_device",
        "payment_method_id": f"{customer}_pm",
        "amount_cents": amount,
        "risk_score": 0.123456789,
        "risk_scenario": "impulse_purchase",
    }


@pytest.fixture(params=["sqlite", "redis"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, redis_server: RedisServer
) -> Iterator[OnlineStore]:
    """An empty online store of each engine (Redis: a fresh key prefix)."""
    opened: OnlineStore
    if request.param == "sqlite":
        opened = SqliteStore(tmp_path / "online.sqlite")
    else:
        opened = RedisStore(redis_server.url, prefix=f"test:{uuid.uuid4().hex}")
    try:
        yield opened
    finally:
        opened.close()


def test_apply_adds_each_transaction_once_and_counts_the_market(store: OnlineStore) -> None:
    """A redelivered batch changes nothing; market counts and history reads follow the rows."""
    t0 = datetime(2024, 3, 1, 12, 0, 0)
    rows = [
        _row("a", "c1", t0, 1000),
        _row("b", "c1", t0 + timedelta(days=1), 2000),
        _row("c", "c2", t0, 500),
        _row("old", "c1", t0 - timedelta(days=400), 700),
    ]
    assert store.apply(rows) == 4
    assert store.apply(rows[:2]) == 0
    got = store.history("c1", date(2024, 3, 2))
    assert sorted(r["transaction_key"] for r in got.transactions) == ["a", "b"]
    first = next(r for r in got.transactions if r["transaction_key"] == "a")
    assert first == rows[0]
    market = {m["transaction_date"]: (m["txn_count"], m["amount_cents"]) for m in got.market_days}
    assert market == {date(2024, 3, 1): (2, 1500), date(2024, 3, 2): (1, 2000)}
    assert store.history("nobody", date(2024, 3, 2)).transactions == []
    store.ping()


def test_the_loader_hook_updates_the_store_from_a_committed_batch(store: OnlineStore) -> None:
    """store_updater takes a micro-batch frame (live rows carry more columns) into the store."""
    rows = [_row(f"k{i}", "c9", datetime(2024, 3, 1, 10, i)) for i in range(3)]
    frame = pl.DataFrame(rows).with_columns(event_id=pl.lit("e"))
    store_updater(store)(frame)
    store_updater(store)(frame)
    assert len(store.history("c9", date(2024, 3, 1)).transactions) == 3


@pytest.mark.slow
def test_materialize_equals_replaying_the_transactions(
    weeks: DuckDBWarehouse, tmp_path: Path
) -> None:
    """A store materialized as of a day holds what replaying every earlier transaction gives."""
    as_of = date(2024, 2, 1)
    project = load_project()
    built = SqliteStore(tmp_path / "materialized.sqlite")
    done = materialize(weeks, built, as_of, project)
    history = weeks.query(
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM bnpl_intermediate.{ENRICHED} "
        "WHERE transaction_date < DATE '2024-02-01'"
    ).to_dicts()
    replayed = SqliteStore(tmp_path / "replayed.sqlite")
    replayed.apply(history)
    assert done.transactions == len(history) > 0
    assert done.market_days == 28
    customers = sorted({r["customer_key"] for r in history})
    for customer in itertools.islice(customers, 0, None, max(1, len(customers) // 25)):
        a, b = built.history(customer, as_of), replayed.history(customer, as_of)
        key = lambda r: r["transaction_key"]  # noqa: E731
        assert sorted(a.transactions, key=key) == sorted(b.transactions, key=key)
        assert sorted(a.market_days, key=str) == sorted(b.market_days, key=str)
