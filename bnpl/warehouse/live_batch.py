"""What one live micro-batch writes (:meth:`bnpl.warehouse.base.Warehouse.write_live_batch`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from bnpl.errors import WarehouseError
from bnpl.warehouse.names import LIVE_OFFSETS, LIVE_TRANSACTIONS, QUARANTINE, TableName
from bnpl.warehouse.specs import table_spec


@dataclass(frozen=True)
class LiveBatch:
    """What one micro-batch writes.

    Attributes:
        rows: ``bnpl_raw.live_transactions`` rows (exactly its columns).
        dead_letters: ``bnpl_raw.quarantine`` rows, each with an ``event_id``.
        offsets: ``bnpl_raw.live_offsets`` rows (one per consumer and partition).
        also_days: days where an event of the batch may sit from an earlier write although its
            new row is on another day (a replayed dead letter filed under its arrival day).
        table: the table of ``rows`` (``bnpl_raw.live_transactions``; the scores stream writes
            ``bnpl_raw.scores``), partitioned by ``transaction_date``.
        id_column: the column of ``rows`` holding the event id (several rows may share one).
        key_columns: what identifies one row of ``table`` (the MERGE key).
    """

    rows: pl.DataFrame
    dead_letters: pl.DataFrame
    offsets: pl.DataFrame
    also_days: tuple[date, ...] = ()
    table: TableName = LIVE_TRANSACTIONS
    id_column: str = "event_id"
    key_columns: tuple[str, ...] = ("event_id",)

    @property
    def event_ids(self) -> list[str]:
        """Every event of the batch (rows and dead letters), each once."""
        rows = list(dict.fromkeys(self.rows[self.id_column].to_list()))
        return [*rows, *self.dead_letters["event_id"].to_list()]

    @property
    def days(self) -> list[date]:
        """Every day a row of the batch may be on, sorted."""
        found = {
            *self.rows["transaction_date"].to_list(),
            *self.dead_letters["transaction_date"].to_list(),
            *self.also_days,
        }
        return sorted(found)

    def checked(self) -> LiveBatch:
        """The batch, checked: each frame has exactly its table's columns, every dead letter an
        event id, and no event is twice in the batch.

        Raises:
            WarehouseError: a bug in the caller; nothing is written.
        """
        for frame, name in (
            (self.rows, self.table),
            (self.dead_letters, QUARANTINE),
            (self.offsets, LIVE_OFFSETS),
        ):
            expected = table_spec(*name).column_names
            if frame.columns != expected:
                raise WarehouseError(
                    f"frame for {name} does not match schemas/{name.dataset}/{name.table}.json "
                    f"(missing {sorted(set(expected) - set(frame.columns))}, unexpected "
                    f"{sorted(set(frame.columns) - set(expected))}, or a different order)"
                )
        if self.dead_letters["event_id"].null_count():
            raise WarehouseError("a dead letter without an event_id cannot be written live")
        ids = self.event_ids
        keys = self.rows.select(self.key_columns)
        if len(set(ids)) != len(ids) or keys.is_duplicated().any():
            raise WarehouseError("a micro-batch holds one event twice; de-duplicate it first")
        return self
