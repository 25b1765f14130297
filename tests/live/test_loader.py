"""The loader on the real SQLite event log and a DuckDB warehouse: micro-batches written, then
acknowledged; stale events taken over; poison events dead-lettered; dead letters replayed."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from live_data import live_events

from bnpl.errors import ConfigError
from bnpl.live.engines import open_event_log
from bnpl.live.loader import Loader, offset_order
from bnpl.live.log import Event, EventLog
from bnpl.live.records import DELIVERY_LIMIT
from bnpl.live.replay import replay_dead_letters
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse
from bnpl.warehouse.live import read_dead_letters, read_offsets


def _live_ids(warehouse: Warehouse) -> list[str]:
    return sorted(warehouse.read_table("bnpl_raw.live_transactions")["event_id"].to_list())


def test_loader_writes_every_event_once_then_acknowledges(
    live_settings: Settings, warehouse: Warehouse, event_log: EventLog
):
    """On each engine, each appended event ends as one row or one dead letter, written again
    to the same rows if read again; the group's lag is then zero."""
    events = [*live_events(120), Event("bad", "", b'{"not": "a record"}', datetime.now(UTC))]
    log = event_log
    log.append(events)
    stats = Loader(log, warehouse, live_settings.live, consumer="c1").run(once=True)
    assert log.stats(live_settings.live.loader_group).lag_events == 0
    assert log.stats(live_settings.live.loader_group).pending == 0
    assert stats.events == 121 and stats.rows == 120 and stats.dead_letters == 1
    assert _live_ids(warehouse) == sorted(e.event_id for e in events[:120])
    assert read_dead_letters(warehouse)["event_id"].to_list() == ["bad"]
    committed = read_offsets(warehouse)
    assert set(committed["consumer"]) == {"c1"} and committed["log_partition"].n_unique() >= 1

    log.seek(live_settings.live.loader_group, {p: "" for p in committed["log_partition"]})
    again = Loader(log, warehouse, live_settings.live, consumer="c1").run(once=True)
    assert again.events == 121  # replayed from the start of the log: the same rows, once
    assert _live_ids(warehouse) == sorted(e.event_id for e in events[:120])
    assert read_dead_letters(warehouse)["event_id"].to_list() == ["bad"]


def test_events_a_dead_consumer_held_are_taken_over_and_written_once(
    live_settings: Settings, warehouse: Warehouse
):
    """A consumer that read and died leaves its events pending; another loader claims them."""
    settings = live_settings.live.model_copy(update={"claim_idle_ms": 4000})
    events = live_events(30)
    group = settings.loader_group
    with open_event_log(live_settings) as log:
        log.append(events)
        held = log.read(group, "dead", max_events=10)
        assert len(held) == 10
        started = time.monotonic()
        Loader(log, warehouse, settings, consumer="c2").run(once=True)
        if time.monotonic() - started < 3.5:  # the held ten were not idle long enough yet
            assert len(_live_ids(warehouse)) == 20
        time.sleep(settings.claim_idle_ms / 1000 + 0.2)
        Loader(log, warehouse, settings, consumer="c2").run(once=True)
        assert log.stats(group).pending == 0
    assert _live_ids(warehouse) == sorted(e.event_id for e in events)


def test_a_poison_event_is_dead_lettered_and_replayable(
    live_settings: Settings, warehouse: Warehouse
):
    """An event handed out more than max_deliveries times becomes a delivery_limit dead letter
    without blocking the others; replaying it after the fix loads it."""
    settings = live_settings.live.model_copy(update={"max_deliveries": 1})
    events = live_events(5)
    group = settings.loader_group
    with open_event_log(live_settings) as log:
        log.append(events[:1])
        assert len(log.read(group, "crashing", max_events=1)) == 1  # delivery 1, never acked
        log.append(events[1:])
        time.sleep(settings.claim_idle_ms / 1000 + 0.2)
        Loader(log, warehouse, settings, consumer="c3").run(once=True)
        assert log.stats(group).pending == 0
    dead = read_dead_letters(warehouse)
    assert dead["event_id"].to_list() == [events[0].event_id]
    assert dead["check_name"].to_list() == [DELIVERY_LIMIT]
    assert _live_ids(warehouse) == sorted(e.event_id for e in events[1:])

    result = replay_dead_letters(warehouse, reasons=[DELIVERY_LIMIT])
    assert (result.chosen, result.loaded) == (1, 1)
    assert read_dead_letters(warehouse).is_empty()
    assert _live_ids(warehouse) == sorted(e.event_id for e in events)
    assert replay_dead_letters(warehouse, reasons=[DELIVERY_LIMIT]).chosen == 0


def test_replay_needs_a_filter(warehouse: Warehouse):
    """Replaying without a filter or --all is refused with one line."""
    with pytest.raises(ConfigError, match="--reason"):
        replay_dead_letters(warehouse)


def test_offsets_compare_as_numbers():
    """Engine offsets order numerically (SQLite integers, Redis ms-seq ids)."""
    assert offset_order("10") > offset_order("9")
    assert offset_order("1700000000000-12") > offset_order("1700000000000-3")
    assert sorted(["2", "10", "1"], key=offset_order) == ["1", "2", "10"]
    assert pl.Series(["a"]).len() == 1


def test_the_loader_trims_what_every_group_acknowledged_past_the_retention(
    live_settings: Settings, warehouse: Warehouse, event_log: EventLog
):
    """On each engine, the loader's periodic trim drops the events older than the retention
    once every group acknowledged them; younger ones, or ones another group still holds, stay."""
    log = event_log
    log.append(live_events(40))
    other = log.read("other", "o1", max_events=10)  # a second group holds 10 unacknowledged
    settings = live_settings.live.model_copy(
        update={"log_trim_interval_s": 0, "log_retention_h": 1}
    )
    Loader(log, warehouse, settings, consumer="c1").run(once=True)  # within the retention
    assert log.stats(settings.loader_group).depth == 40

    later = datetime.now(UTC) + timedelta(hours=2)
    loader = Loader(log, warehouse, settings, consumer="c1", clock=lambda: later)
    assert loader.trim() == 0  # "other" holds its first 10 and never read the rest
    log.ack("other", other)
    while batch := log.read("other", "o1", max_events=100):
        log.ack("other", batch)
    loader.run(once=True)
    assert log.stats(settings.loader_group).depth == 0
    assert len(_live_ids(warehouse)) == 40
