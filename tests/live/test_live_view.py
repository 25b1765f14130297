"""The seconds-fresh view: today so far, per minute, straight from the live table."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import polars as pl
from live_data import live_events

from bnpl import pipeline
from bnpl.contracts import polars_schema
from bnpl.live.records import prepare_events
from bnpl.warehouse import Warehouse
from bnpl.warehouse.live import LiveBatch

VIEW = '"bnpl_intermediate"."int_bnpl_live_minutes"'


def test_view_counts_todays_live_rows_per_minute(warehouse: Warehouse):
    """Rows of today appear in the view once written, per minute; yesterday's never do."""
    midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    today = live_events(90, start=midnight + timedelta(seconds=1), prefix="today")
    yesterday = live_events(5, start=midnight - timedelta(hours=1), prefix="old")
    prepared = prepare_events([*today, *yesterday], loaded_at=datetime.now(UTC))
    pipeline.build(warehouse, selection=["int_bnpl_live_minutes"])
    assert warehouse.query(f"SELECT * FROM {VIEW}").is_empty()

    offsets = pl.DataFrame(schema=polars_schema("live_offsets"))
    warehouse.write_live_batch(LiveBatch(prepared.rows, prepared.dead_letters, offsets))
    minutes = warehouse.query(f"SELECT * FROM {VIEW} ORDER BY minute")
    assert minutes["transaction_count"].to_list() == [59, 31]  # :00:01-:00:59, then :01:00-
    assert minutes["amount_cents"].sum() == prepared.rows.head(90)["amount_cents"].sum()
    risk = minutes.select(
        "low_risk_count", "medium_risk_count", "high_risk_count", "very_high_risk_count"
    ).sum_horizontal()
    assert risk.to_list() == minutes["transaction_count"].to_list()
