"""Replaying dead letters: chosen dead letters go through the loader's preparation again (after a
fix to bnpl, or to the contract) and are written back as one micro-batch.

A replayed event leaves the dead letters when it now passes (its row lands in the live table) and
stays a dead letter, with its new reason, when it still fails; either way it is one row, never
two, so replaying twice changes nothing more. A replay does not read the event log: the dead
letter keeps the raw payload, the event id and the arrival time.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime

import polars as pl

from bnpl import timeutil
from bnpl.contracts import polars_schema
from bnpl.errors import ConfigError
from bnpl.live.log import Event
from bnpl.live.records import prepare_events
from bnpl.warehouse import Warehouse, names
from bnpl.warehouse.live import LiveBatch, read_dead_letters

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplayResult:
    """What a replay did: dead letters chosen, now rows, still dead (by their new reason)."""

    chosen: int
    loaded: int
    still_dead: dict[str, int]


def replay_dead_letters(
    warehouse: Warehouse,
    *,
    reasons: list[str] | None = None,
    event_ids: list[str] | None = None,
    since: datetime | None = None,
    everything: bool = False,
    now: datetime | None = None,
) -> ReplayResult:
    """Re-process the dead letters matching every filter given (``reasons``: their check name;
    ``event_ids``; ``since``: quarantined at or after); ``everything`` must be set to take every
    dead letter.

    Raises:
        ConfigError: no filter and not ``everything``.
        WarehouseError: the write failed (nothing of it is written).
    """
    if not (reasons or event_ids or since or everything):
        raise ConfigError(
            "choose the dead letters to replay: --reason, --event-id or --since (or --all)"
        )
    now = now or timeutil.utc_now()
    with warehouse.session():
        chosen = read_dead_letters(
            warehouse, reasons=reasons or (), event_ids=event_ids or (), since=since
        )
        if chosen.is_empty():
            logger.info("no dead letters match; nothing replayed")
            return ReplayResult(0, 0, {})
        chosen = chosen.sort("quarantined_at").unique("event_id", keep="last", maintain_order=True)
        events = [
            Event(
                event_id=r["event_id"],
                key="",
                payload=r["raw_line"].encode("utf-8"),
                received_at=r["received_at"] or r["quarantined_at"],
            )
            for r in chosen.iter_rows(named=True)
        ]
        prepared = prepare_events(events, loaded_at=now)
        batch = LiveBatch(
            prepared.rows,
            prepared.dead_letters,
            pl.DataFrame(schema=polars_schema(names.LIVE_OFFSETS.table)),
            also_days=tuple(sorted(set(chosen["transaction_date"].to_list()))),
        )
        warehouse.write_live_batch(batch)
    still = dict(Counter(prepared.dead_letters["check_name"].to_list()))
    logger.info(
        "replayed %d dead letters: %d now loaded, %d still dead %s",
        chosen.height,
        prepared.rows.height,
        prepared.dead_letters.height,
        still,
    )
    return ReplayResult(chosen.height, prepared.rows.height, still)
