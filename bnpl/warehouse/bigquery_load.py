"""The pure half of a BigQuery day load: checks, staging files and the one transaction script.

:meth:`bnpl.warehouse.bigquery.BigQueryWarehouse.load_day` does the I/O: it writes each non-empty
frame to a staging table with a load job (:func:`to_parquet`, :func:`schema_fields`), then runs
:func:`day_script` as one script job. Nothing here talks to BigQuery.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Mapping
from datetime import date
from functools import cache
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from google.cloud import bigquery

from bnpl.bundle import SCHEMAS_DIR
from bnpl.errors import WarehouseError
from bnpl.sqltext import render_sql
from bnpl.warehouse.base import TableSpec, table_spec
from bnpl.warehouse.bigquery_params import TypedParam
from bnpl.warehouse.names import (
    LEDGER,
    LIVE_OFFSETS,
    LIVE_TRANSACTIONS,
    QUARANTINE,
    RAW,
    RAW_DAY_TABLES,
    TableName,
)

ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "JSON": pa.string(),
    "INT64": pa.int64(),
    "INTEGER": pa.int64(),
    "FLOAT64": pa.float64(),
    "FLOAT": pa.float64(),
    "BOOL": pa.bool_(),
    "BOOLEAN": pa.bool_(),
    "DATE": pa.date32(),
    "DATETIME": pa.timestamp("us"),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "NUMERIC": pa.decimal128(38, 9),
    "BYTES": pa.binary(),
}
"""The Arrow type written to Parquet for each BigQuery type (as google-cloud-bigquery does)."""

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]+")


@cache
def partition_type(dataset: str, name: str) -> str:
    """``time_partitioning.type`` of a declared table (``DAY`` when absent)."""
    doc = json.loads((SCHEMAS_DIR / dataset / f"{name}.json").read_text())
    return str((doc.get("time_partitioning") or {}).get("type", "DAY"))


def schema_fields(spec: TableSpec, *, nullable: bool = False) -> list[bigquery.SchemaField]:
    """The BigQuery schema of a declared table; ``nullable`` relaxes every mode (staging tables)."""
    return [
        bigquery.SchemaField(
            c.name,
            c.type,
            mode="NULLABLE" if nullable or c.nullable else "REQUIRED",
            description=c.description,
        )
        for c in spec.columns
    ]


def staging_name(table: str, batch_id: str, token: str) -> str:
    """``_stage_<table>_<batch_id>_<token>`` with anything outside ``[A-Za-z0-9_]`` replaced."""
    return f"_stage_{table}_{_UNSAFE_ID.sub('_', batch_id)[:200]}_{_UNSAFE_ID.sub('_', token)}"


def to_parquet(spec: TableSpec, frame: pl.DataFrame) -> io.BytesIO:
    """``frame`` as Parquet with the Arrow types of ``spec``, ready for a load job."""
    target = pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in spec.columns])
    try:
        arrow = frame.to_arrow().cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise WarehouseError(
            f"frame for {RAW}.{spec.name} has values that do not fit "
            f"schemas/{RAW}/{spec.name}.json: {exc}"
        ) from exc
    buffer = io.BytesIO()
    pq.write_table(arrow, buffer)
    buffer.seek(0)
    return buffer


def day_script(
    qualified: Callable[[str, str], str],
    day: date,
    staged: Mapping[str, str],
    ledger: Mapping[str, Any],
) -> tuple[str, dict[str, Any]]:
    """The one transaction that replaces ``day`` and its ledger row, and its parameters.

    Args:
        qualified: ``(dataset, table) -> quoted name`` of the adapter.
        day: bound as ``@day``.
        staged: raw table -> quoted staging table, for the tables with rows this day.
        ledger: the ``source_batches`` row, bound as ``@ledger_<column>`` with the declared types.

    Every raw day table loses its rows of ``day`` (the quarantine keeps live dead letters: rows
    with an ``event_id``); the staged ones get the staging rows. Any
    failing statement rolls everything back and the script fails with that statement's message.
    """

    def columns(name: str) -> list[str]:
        return [f"`{c}`" for c in table_spec(RAW, name).column_names]

    tables = [
        {
            "target": qualified(RAW, name),
            "staged": staged.get(name),
            "columns": columns(name),
            "keeps_dead_letters": name == QUARANTINE.table,
        }
        for name in RAW_DAY_TABLES
    ]
    spec = table_spec(*LEDGER)
    ledger_table = {
        "target": qualified(*LEDGER),
        "columns": columns(LEDGER.table),
        "names": spec.column_names,
    }
    script = render_sql(
        "warehouse/bigquery", "replace_day.sql", {"tables": tables, "ledger": ledger_table}
    )
    params: dict[str, Any] = {"day": day}
    for column in spec.columns:
        params[f"ledger_{column.name}"] = TypedParam(column.type, ledger[column.name])
    return script, params


def live_script(
    qualified: Callable[[str, str], str],
    staged: Mapping[TableName, str],
    *,
    days: list[date],
    event_ids: list[str],
    dead_ids: list[str],
    rows_table: TableName = LIVE_TRANSACTIONS,
    id_column: str = "event_id",
    key_columns: tuple[str, ...] = ("event_id",),
) -> tuple[str, dict[str, Any]]:
    """The one transaction that writes a live micro-batch (``write_live.sql``) and its
    parameters: ``staged`` maps each live table with rows to its quoted staging table; the rows
    go to ``rows_table`` (its event id in ``id_column``, a row identified by ``key_columns``)."""

    def table(name: TableName, keys: tuple[str, ...], partitioned: bool) -> dict[str, Any]:
        return {
            "target": qualified(*name),
            "staged": staged.get(name),
            "columns": [f"`{c}`" for c in table_spec(*name).column_names],
            "key_columns": [f"`{k}`" for k in keys],
            "partitioned": partitioned,
            "id": f"`{id_column}`" if name == rows_table else "`event_id`",
        }

    script = render_sql(
        "warehouse/bigquery",
        "write_live.sql",
        {
            "live": table(rows_table, key_columns, True),
            "quarantine": table(QUARANTINE, ("event_id",), True),
            "offsets": table(LIVE_OFFSETS, ("consumer_group", "consumer", "log_partition"), False),
        },
    )
    params: dict[str, Any] = {
        "days": TypedParam("DATE", days),
        "event_ids": TypedParam("STRING", event_ids),
        "dead_ids": TypedParam("STRING", dead_ids),
    }
    return script, params
