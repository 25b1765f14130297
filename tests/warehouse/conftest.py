"""Fixtures for the warehouse tests: the local BigQuery emulator and day batches built to the raw schemas."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from emulator import Emulator

from bnpl.settings import BigQuerySettings
from bnpl.warehouse import DayBatch, table_spec
from bnpl.warehouse.base import LIVE_QUARANTINE_COLUMNS
from bnpl.warehouse.bigquery import BigQueryWarehouse

_DTYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INT64": pl.Int64(),
    "FLOAT64": pl.Float64(),
    "BOOL": pl.Boolean(),
    "DATE": pl.Date(),
    "DATETIME": pl.Datetime("us"),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
}


@pytest.fixture
def bq_warehouse(bq_settings: BigQuerySettings) -> Iterator[BigQueryWarehouse]:
    """A BigQuery adapter on the emulator, schema created."""
    warehouse = BigQueryWarehouse(bq_settings)
    warehouse.ensure_schema()
    yield warehouse
    warehouse.close()


@pytest.fixture(scope="module")
def bq_shared(bq_emulator: Emulator) -> Iterator[BigQueryWarehouse]:
    """One BigQuery adapter and schema for a whole test module; tests keep to their own days and tables."""
    warehouse = BigQueryWarehouse(
        BigQuerySettings(
            project=bq_emulator.project,
            location="US",
            dataset_prefix=f"m{uuid.uuid4().hex[:10]}_",
            api_endpoint=bq_emulator.endpoint,
        )
    )
    warehouse.ensure_schema()
    yield warehouse
    warehouse.close()


def _column(type_: str, name: str, day: date, tag: str, rows: int) -> list[Any]:
    start = datetime(day.year, day.month, day.day, 9)
    return {
        "STRING": [f"{name}-{day}-{tag}{i}" for i in range(rows)],
        "INT64": [i * 7 + 1 for i in range(rows)],
        "FLOAT64": [i + 0.25 for i in range(rows)],
        "BOOL": [i % 2 == 0 for i in range(rows)],
        "DATE": [day] * rows,
        "DATETIME": [start + timedelta(minutes=i) for i in range(rows)],
        "TIMESTAMP": [datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)] * rows,
    }[type_]


def table_frame(name: str, day: date, rows: int, *, tag: str = "") -> pl.DataFrame:
    """``rows`` rows with exactly the columns and types of ``schemas/bnpl_raw/<name>.json``.

    Nullable columns hold a null in every third row; strings are unique per (day, tag, row).
    The quarantine's live columns (``event_id``, ``received_at``) are null: a day's rows are never
    the live path's dead letters.
    """
    spec = table_spec("bnpl_raw", name)
    data = {}
    for col in spec.columns:
        values = _column(col.type, col.name, day, tag, rows)
        if col.nullable:
            values = [None if i % 3 == 2 else v for i, v in enumerate(values)]
        if name == "quarantine" and col.name in LIVE_QUARANTINE_COLUMNS:
            values = [None] * rows
        data[col.name] = values
    return pl.DataFrame(data, schema={c.name: _DTYPES[c.type] for c in spec.columns})


def make_day_batch(
    day: date, *, tx: int = 3, cust: int = 2, quar: int = 1, tag: str = ""
) -> DayBatch:
    """A day batch of synthetic rows shaped exactly like the raw tables."""
    batch_id = f"batch-{day}-{tag}"
    ledger = table_frame("source_batches", day, 1, tag=tag).row(0, named=True)
    ledger.update(batch_id=batch_id, records_loaded=tx, records_quarantined=quar)
    return DayBatch(
        day=day,
        batch_id=batch_id,
        transactions=table_frame("transactions", day, tx, tag=tag),
        customers=table_frame("customers", day, cust, tag=tag),
        quarantine=table_frame("quarantine", day, quar, tag=tag),
        ledger=ledger,
    )


@pytest.fixture
def day_batch() -> Callable[..., DayBatch]:
    """:func:`make_day_batch`, as a fixture."""
    return make_day_batch
