"""The live micro-batch on BigQuery (the local emulator): keyed MERGEs in one transaction,
idempotent on the event id."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from bnpl.contracts import polars_schema
from bnpl.live.log import Event
from bnpl.live.records import prepare_events
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.live import LiveBatch, read_dead_letters, read_live_day, read_offsets

sys.path.insert(0, str(Path(__file__).parents[1] / "live"))
from live_data import live_events

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
DAY = date(2026, 12, 3)


def _offsets(offset: str) -> pl.DataFrame:
    row = {
        "consumer_group": "g",
        "consumer": "c1",
        "log_partition": 0,
        "last_offset": offset,
        "last_received_at": NOW,
        "events": 1,
        "committed_at": NOW,
    }
    return pl.DataFrame([row], schema=polars_schema("live_offsets"), orient="row")


def _batch(events: list[Event], offset: str) -> LiveBatch:
    prepared = prepare_events(events, loaded_at=NOW)
    return LiveBatch(prepared.rows, prepared.dead_letters, _offsets(offset))


def test_live_batch_merge_is_idempotent_and_moves_replayed_events(
    bq_warehouse: BigQueryWarehouse,
) -> None:
    """Writing a batch twice leaves one row per event; a fixed dead letter becomes a row."""
    good = live_events(4)
    broken = Event(good[0].event_id, "", b'{"x": 1}', good[0].received_at)
    bq_warehouse.write_live_batch(_batch([broken, *good[1:]], "3"))
    bq_warehouse.write_live_batch(_batch([broken, *good[1:]], "4"))
    rows, _ = read_live_day(bq_warehouse, DAY)
    assert sorted(rows["event_id"]) == sorted(e.event_id for e in good[1:])
    dead = read_dead_letters(bq_warehouse, event_ids=[good[0].event_id])
    assert dead.height == 1 and dead["transaction_date"].item() == DAY
    assert read_offsets(bq_warehouse)["last_offset"].to_list() == ["4"]

    fixed = _batch([good[0]], "4")
    bq_warehouse.write_live_batch(
        LiveBatch(fixed.rows, fixed.dead_letters, fixed.offsets, also_days=(DAY,))
    )
    rows, _ = read_live_day(bq_warehouse, DAY)
    assert sorted(rows["event_id"]) == sorted(e.event_id for e in good)
    assert read_dead_letters(bq_warehouse, event_ids=[good[0].event_id]).is_empty()


def test_scores_batch_merge_is_idempotent_on_request_and_role(
    bq_warehouse: BigQueryWarehouse,
) -> None:
    """The scores stream's batch (two rows per request: champion and challenger) written twice
    leaves each (request_id, role) once in bnpl_raw.scores."""
    from bnpl.serving.scores import CHALLENGER, CHAMPION, ModelScore, ScoredRequest, ScoresSink

    requests = [
        ScoredRequest(
            f"req-{i}",
            f"t-{i}",
            "c",
            "k",
            datetime(2026, 12, 3, 10, i),
            NOW,
            "f" * 64,
            (
                ModelScore(CHAMPION, "m", 1, 0.1 * i, "approve"),
                ModelScore(CHALLENGER, "m", 2, 0.2 * i, "review"),
            ),
        )
        for i in range(3)
    ]
    sink = ScoresSink()
    rows, dead = sink.prepare([r.event(NOW) for r in requests], loaded_at=NOW)
    for offset in ("2", "3"):
        bq_warehouse.write_live_batch(sink.batch(rows, dead, _offsets(offset)))
    table = bq_warehouse.qualified("bnpl_raw", "scores")
    stored = bq_warehouse.query(f"SELECT request_id, role, score FROM {table}")
    assert stored.height == 6
    assert stored.select("request_id", "role").n_unique() == 6
