"""Live events become rows through the batch path's parse, keys and contract."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import polars as pl
from live_data import live_events

from bnpl import normalize
from bnpl.live.log import Event
from bnpl.live.records import (
    GATEWAY_REJECTED,
    live_batch_id,
    prepare_events,
)
from bnpl.warehouse import table_spec

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def test_valid_events_become_live_rows_with_stable_keys():
    """Every valid event is one row with the live table's columns; keys depend on the event only."""
    events = live_events(40)
    first = prepare_events(events, loaded_at=NOW)
    again = prepare_events(list(reversed(events)), loaded_at=NOW)
    assert first.dead_letters.is_empty()
    assert first.rows.columns == table_spec("bnpl_raw", "live_transactions").column_names
    assert first.rows["event_id"].to_list() == [e.event_id for e in events]
    keys = dict(zip(first.rows["event_id"], first.rows["transaction_key"], strict=True))
    assert keys == dict(zip(again.rows["event_id"], again.rows["transaction_key"], strict=True))
    assert keys["evt-7-000000"] == normalize.stable_key("live", "evt-7-000000")
    assert set(first.rows["batch_id"]) == {live_batch_id(date(2026, 12, 3))}


def test_live_keys_never_equal_batch_keys():
    """A live transaction key hashes the text 'live' where a batch key hashes a 32-hex batch id."""
    event = live_events(1)[0]
    row = prepare_events([event], loaded_at=NOW).rows.row(0, named=True)
    batch_key = normalize.stable_key(live_batch_id(date(2026, 12, 3)), row["transaction_id"])
    assert row["transaction_key"] != batch_key
    assert len(row["transaction_key"]) == normalize.KEY_HEX_DIGITS


def test_realtime_microsecond_timestamps_are_naive_utc():
    """A real-time _timestamp with microseconds parses; its day is the row's day."""
    row = prepare_events(live_events(1), loaded_at=NOW).rows.row(0, named=True)
    assert row["transaction_ts"] == datetime(2026, 12, 3, 10, 0)
    assert row["transaction_date"] == date(2026, 12, 3)


def test_repeated_transaction_ids_across_events_are_not_quarantined():
    """Two events with the same transaction id are two transactions (the event id is the key)."""
    one, two = live_events(1, seed=7, prefix="a")[0], live_events(1, seed=7, prefix="b")[0]
    prepared = prepare_events([one, two], loaded_at=NOW)
    assert prepared.rows.height == 2 and prepared.dead_letters.is_empty()


def test_pretty_printed_body_is_one_record():
    """A webhook body with line breaks between tokens is read like its compact form."""
    event = live_events(1)[0]
    pretty = json.dumps(json.loads(event.payload), indent=2).encode()
    prepared = prepare_events([Event("pretty", "", pretty, event.received_at)], loaded_at=NOW)
    assert prepared.rows.height == 1


def test_rejects_are_dead_letters_with_reason_and_raw_payload():
    """A contract failure and a gateway reject are dead letters; the rest of the batch loads."""
    events = live_events(5)
    broken = json.loads(events[1].payload)
    broken["amount"] = 9999.0
    bad = Event("bad", "", json.dumps(broken).encode(), events[1].received_at)
    rejected = Event("rej", "", b"\x00not json", events[2].received_at, rejected="body is not JSON")
    prepared = prepare_events([events[0], bad, rejected, *events[3:]], loaded_at=NOW)
    assert prepared.rows["event_id"].to_list() == [
        events[0].event_id,
        *(e.event_id for e in events[3:]),
    ]
    dead = prepared.dead_letters.sort("event_id")
    assert dead["event_id"].to_list() == ["bad", "rej"]
    assert dead["check_name"].to_list()[1] == GATEWAY_REJECTED
    assert "body is not JSON" in dead["failures"][1]
    assert dead["check_name"][0] in {"amount_equals_price", "in_range"}
    assert dead["raw_line"][0] == bad.payload.decode()
    assert dead["received_at"].to_list() == [bad.received_at, rejected.received_at]
    assert prepared.by_reason[GATEWAY_REJECTED] == 1


def test_unparsable_record_is_filed_under_its_arrival_day():
    """A record without a usable timestamp is a dead letter on the UTC day it arrived."""
    at = datetime(2026, 12, 5, 23, 59, tzinfo=UTC)
    prepared = prepare_events([Event("x", "", b'{"a": 1}', at)], loaded_at=NOW)
    assert prepared.dead_letters["transaction_date"].to_list() == [date(2026, 12, 5)]
    assert prepared.dead_letters["batch_id"].to_list() == [live_batch_id(date(2026, 12, 5))]
    assert prepared.dead_letters.schema["received_at"] == pl.Datetime("us", "UTC")
