"""One home for the warehouse's names and type map.

Datasets (BigQuery) and schemas (DuckDB) have the same four names, optionally prefixed on
BigQuery: :data:`RAW` (loaded source data and the ledger), :data:`INTERMEDIATE`, :data:`MARTS`
(published) and :data:`AUDIT` (write-audit-publish staging and quality results). Tables every
module names are here too; a model's table is named after its template.

Every other module imports these names instead of spelling them.
"""

from __future__ import annotations

from typing import NamedTuple

import polars as pl

from bnpl import timeutil

RAW = "bnpl_raw"
INTERMEDIATE = "bnpl_intermediate"
MARTS = "bnpl_marts"
AUDIT = "bnpl_audit"
DATASETS: tuple[str, ...] = (RAW, INTERMEDIATE, MARTS, AUDIT)


class TableName(NamedTuple):
    """A table by dataset and name (unqualified: each adapter qualifies it)."""

    dataset: str
    table: str

    def __str__(self) -> str:
        return f"{self.dataset}.{self.table}"


TRANSACTIONS = TableName(RAW, "transactions")
CUSTOMERS = TableName(RAW, "customers")
QUARANTINE = TableName(RAW, "quarantine")
LEDGER = TableName(RAW, "source_batches")
"""The batch ledger: one row per loaded day."""
RAW_DAY_TABLES: tuple[str, ...] = (TRANSACTIONS.table, CUSTOMERS.table, QUARANTINE.table)
"""Raw tables replaced per day by ``Warehouse.load_day`` (plus the :data:`LEDGER` row)."""
LIVE_TRANSACTIONS = TableName(RAW, "live_transactions")
"""The live path's rows: one per event that passed the contract, keyed by ``event_id``."""
LIVE_OFFSETS = TableName(RAW, "live_offsets")
"""The live loader's consumer offsets, committed with the rows they cover."""
SCORES = TableName(RAW, "scores")
"""Every score the scoring API gave (champion and shadow challenger), keyed by request and role."""
LIVE_SOURCE = "live"
"""``source_url`` of a ledger row written by a day seal (the day's rows arrived live)."""
DQ_RESULTS = TableName(AUDIT, "dq_results")
"""Every quality check result."""
INGEST_FAILURES = TableName(AUDIT, "ingest_failures")
"""One row per failed day and run."""
MODEL_DECISIONS = TableName(AUDIT, "model_decisions")
"""One row per model governance decision (promote, initial champion, rollback)."""
MODEL_MONITOR = TableName(AUDIT, "model_monitor")
"""Monitor figures per run, model version and period (``bnpl model monitor``)."""

PUBLISH_LOG = TableName(AUDIT, "publish_log")
"""One row per mart each time a passed gate published it."""
UNPUBLISHED = TableName(AUDIT, "_bnpl_unpublished")
"""One row per audited mart whose audit copy differs from the published table (DuckDB)."""

POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INT64": pl.Int64(),
    "INTEGER": pl.Int64(),
    "FLOAT64": pl.Float64(),
    "FLOAT": pl.Float64(),
    "NUMERIC": pl.Decimal(38, 9),
    "BOOL": pl.Boolean(),
    "BOOLEAN": pl.Boolean(),
    "DATE": pl.Date(),
    "DATETIME": timeutil.LOCAL_DATETIME,
    "TIMESTAMP": timeutil.UTC_TIMESTAMP,
}
"""The Polars type of each BigQuery type a declared column can have (``INTEGER``, ``FLOAT`` and
``BOOLEAN`` are BigQuery's legacy aliases; ``NUMERIC`` is BigQuery's scale 9)."""
