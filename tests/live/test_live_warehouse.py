"""The warehouse's live operations on DuckDB: one transaction per micro-batch, idempotent on the
event id; a day replace keeps the dead letters."""

from __future__ import annotations

from datetime import UTC, date, datetime

import duckdb
import polars as pl
import pytest
from live_data import live_events

from bnpl.contracts import polars_schema
from bnpl.errors import WarehouseError
from bnpl.live.log import Event
from bnpl.live.records import prepare_events
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse, open_warehouse
from bnpl.warehouse.live import LiveBatch, read_dead_letters, read_live_day, read_offsets

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DAY = date(2026, 12, 3)


def offsets(offset: str, consumer: str = "c1") -> pl.DataFrame:
    """One offsets row of group g, partition 0."""
    return pl.DataFrame(
        [
            {
                "consumer_group": "g",
                "consumer": consumer,
                "log_partition": 0,
                "last_offset": offset,
                "last_received_at": NOW,
                "events": 1,
                "committed_at": NOW,
            }
        ],
        schema=polars_schema("live_offsets"),
        orient="row",
    )


def batch(events: list[Event], offset: str = "1") -> LiveBatch:
    """The live batch of ``events``."""
    prepared = prepare_events(events, loaded_at=NOW)
    return LiveBatch(prepared.rows, prepared.dead_letters, offsets(offset))


def test_writing_a_batch_twice_leaves_one_row_per_event(warehouse: Warehouse):
    """Rows, dead letters and offsets are replaced, never duplicated."""
    events = [*live_events(30), Event("bad", "", b"{}", NOW)]
    warehouse.write_live_batch(batch(events, "5"))
    warehouse.write_live_batch(batch(events, "9"))
    rows, _ = read_live_day(warehouse, DAY)
    assert sorted(rows["event_id"]) == sorted(e.event_id for e in events[:30])
    dead = read_dead_letters(warehouse, event_ids=["bad"])
    assert dead.height == 1
    assert read_offsets(warehouse)["last_offset"].to_list() == ["9"]


def test_a_replayed_event_moves_from_the_dead_letters_to_the_rows(warehouse: Warehouse):
    """An event written as a dead letter and later valid is a row only, and vice versa."""
    good = live_events(1)[0]
    broken = Event(good.event_id, "", b'{"not": "a record"}', good.received_at)
    warehouse.write_live_batch(batch([broken]))
    assert read_dead_letters(warehouse, event_ids=[good.event_id]).height == 1
    fixed = batch([good])
    warehouse.write_live_batch(
        LiveBatch(fixed.rows, fixed.dead_letters, fixed.offsets, also_days=(NOW.date(),))
    )
    assert read_dead_letters(warehouse, event_ids=[good.event_id]).is_empty()
    assert read_live_day(warehouse, DAY)[0]["event_id"].to_list() == [good.event_id]
    warehouse.write_live_batch(batch([broken]))
    assert read_live_day(warehouse, DAY)[0].is_empty()


def test_a_failing_batch_writes_nothing(warehouse: Warehouse):
    """A batch whose insert fails is rolled back whole: rows, dead letters and offsets."""
    events = [*live_events(3), Event("bad", "", b"{}", NOW)]
    good = batch(events)
    broken = good.rows.with_columns(customer_key=pl.lit(None, pl.String))  # NOT NULL column
    with pytest.raises(WarehouseError, match="rolled back"):
        warehouse.write_live_batch(LiveBatch(broken, good.dead_letters, good.offsets))
    assert read_live_day(warehouse, DAY)[0].is_empty()
    assert read_dead_letters(warehouse, event_ids=["bad"]).is_empty()
    assert read_offsets(warehouse).is_empty()


def test_a_batch_with_one_event_twice_is_refused(warehouse: Warehouse):
    """The caller de-duplicates; the adapter refuses a batch holding an event twice."""
    one = batch(live_events(1))
    twice = LiveBatch(pl.concat([one.rows, one.rows]), one.dead_letters, one.offsets)
    with pytest.raises(WarehouseError, match="twice"):
        warehouse.write_live_batch(twice)


def test_a_day_replace_keeps_the_dead_letters(warehouse: Warehouse):
    """Loading a day deletes its batch quarantine rows but not the live path's dead letters."""
    from bnpl.live.seal import LiveDay, seal_batch

    warehouse.write_live_batch(batch([*live_events(3), Event("bad", "", b"{}", NOW)]))
    dead_day = read_dead_letters(warehouse, event_ids=["bad"])["transaction_date"].item()
    rows, dead = read_live_day(warehouse, dead_day)
    sealed = seal_batch(
        LiveDay(dead_day, rows, dead, NOW, NOW), generator="bnpl", finished_at=NOW, flow_run_id=None
    )
    warehouse.load_day(sealed)
    assert read_dead_letters(warehouse, event_ids=["bad"]).height == 1


def test_an_older_quarantine_table_gets_the_new_columns(live_settings: Settings):
    """A warehouse created before the live path gains the quarantine's nullable columns."""
    path = str(live_settings.warehouse.path)  # type: ignore[union-attr]
    con = duckdb.connect(path)
    con.sql("CREATE SCHEMA bnpl_raw")
    con.sql(
        "CREATE TABLE bnpl_raw.quarantine (batch_id VARCHAR NOT NULL, transaction_date DATE "
        "NOT NULL, line_number BIGINT NOT NULL, record_id BIGINT, raw_line VARCHAR NOT NULL, "
        "check_name VARCHAR NOT NULL, column_name VARCHAR, failures VARCHAR NOT NULL, "
        "quarantined_at TIMESTAMPTZ NOT NULL)"
    )
    con.close()
    warehouse = open_warehouse(live_settings)
    try:
        warehouse.write_live_batch(batch([Event("bad", "", b"{}", NOW)]))
        assert read_dead_letters(warehouse)["event_id"].to_list() == ["bad"]
    finally:
        warehouse.close()
