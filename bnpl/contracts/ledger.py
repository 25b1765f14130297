"""The ledger's contract: ``bnpl_raw.source_batches``, one row per loaded day."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.engines.polars_engine import DateTime

from bnpl.contracts._screen import check_or_raise
from bnpl.contracts.rules import HEX_KEY, UTC_TS, polars_schema
from bnpl.warehouse import names


class SourceBatches(pa.DataFrameModel):
    """``bnpl_raw.source_batches``: the ledger, one row per loaded day (batch)."""

    batch_id: str = pa.Field(str_matches=HEX_KEY)
    transaction_date: pl.Date
    source_url: str = pa.Field(str_length={"min_value": 1})
    generator: str = pa.Field(str_length={"min_value": 1})
    request_body: str = pa.Field(str_startswith="{")
    request_seed: int = pa.Field(nullable=True)
    identity_scope: str = pa.Field(isin=("batch", "source"))
    expected_records: int = pa.Field(nullable=True, ge=0)
    records_received: int = pa.Field(ge=0)
    records_loaded: int = pa.Field(ge=0)
    records_quarantined: int = pa.Field(ge=0)
    customers_loaded: int = pa.Field(ge=0)
    customers_changed_attributes: int = pa.Field(ge=0)
    unknown_fields: str = pa.Field(nullable=True, str_startswith="[")
    content_sha256: str = pa.Field(str_matches=r"^[0-9a-f]{64}$")
    status: str = pa.Field(eq="loaded")
    attempts: int = pa.Field(ge=1)
    started_at: DateTime = pa.Field(dtype_kwargs=UTC_TS)
    fetched_at: DateTime = pa.Field(dtype_kwargs=UTC_TS)
    finished_at: DateTime = pa.Field(dtype_kwargs=UTC_TS)
    flow_run_id: str = pa.Field(nullable=True)
    bnpl_version: str = pa.Field(str_length={"min_value": 1})

    @pa.dataframe_check(name="received_is_loaded_plus_quarantined")
    def _received_adds_up(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("records_received") == pl.col("records_loaded") + pl.col("records_quarantined")
        )

    @pa.dataframe_check(name="timestamps_in_order")
    def _in_order(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("started_at") <= pl.col("fetched_at"))
            & (pl.col("fetched_at") <= pl.col("finished_at"))
        )

    class Config:
        name = str(names.LEDGER)
        strict = True
        ordered = True


def check_ledger_row(row: Mapping[str, Any]) -> None:
    """Validate one ``source_batches`` row (built by bnpl) against :class:`SourceBatches`.

    Raises:
        ContractError: the row breaks the ledger's contract: a bug in bnpl, nothing is loaded.
    """
    schema = polars_schema(names.LEDGER.table, names.LEDGER.dataset)
    frame = pl.DataFrame([{name: row.get(name) for name in schema}], schema=schema)
    check_or_raise(frame, SourceBatches)
