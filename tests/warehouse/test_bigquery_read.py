"""bnpl.read_table and bnpl.query on BigQuery: columns and days pushed into the job, names qualified."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime

import polars as pl
import pytest

import bnpl
from bnpl.errors import ConfigError
from bnpl.warehouse import DayBatch
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.labels import job_labels

DAYS = [date(2024, 5, d) for d in (10, 11, 12, 13)]

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


def _queries(warehouse: BigQueryWarehouse, run_id: str, since: datetime) -> list[object]:
    jobs = warehouse.client().list_jobs(min_creation_time=since)
    return [j for j in jobs if (j.labels or {}).get("run_id") == run_id and j.job_type == "query"]


@pytest.fixture
def loaded(bq_shared: BigQueryWarehouse, day_batch: Callable[..., DayBatch]) -> BigQueryWarehouse:
    """The module's BigQuery datasets with four days of synthetic raw rows (2, 3, 4, 5 rows)."""
    bq_shared.load_days([day_batch(d, tx=i + 2, tag="r") for i, d in enumerate(DAYS)])
    return bq_shared


def test_read_table_prunes_partitions_with_bound_days_and_reads_only_the_columns(
    loaded: BigQueryWarehouse,
) -> None:
    """The job reads the chosen columns with a WHERE on transaction_date whose days are parameters."""
    run_id = f"read-{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC)
    with job_labels(run_id=run_id):
        frame = bnpl.read_table(
            "bnpl_raw.transactions",
            columns=["transaction_key", "transaction_date"],
            start="2024-05-11",
            end=date(2024, 5, 12),
            warehouse=loaded,
        )
    assert frame.columns == ["transaction_key", "transaction_date"]
    assert frame.group_by("transaction_date").len().sort("transaction_date").rows() == [
        (DAYS[1], 3),
        (DAYS[2], 4),
    ]
    (job,) = _queries(loaded, run_id, since)
    sql = job.query  # type: ignore[attr-defined]
    assert "`transaction_date` >= @start_date" in sql and "`transaction_date` <= @end_date" in sql
    assert sql.startswith("SELECT `transaction_key`, `transaction_date` FROM")
    assert "2024-05-11" not in sql  # bound, not pasted
    bound = {p.name: p.value for p in job.query_parameters}  # type: ignore[attr-defined]
    assert bound == {"start_date": DAYS[1], "end_date": DAYS[2]}
    # lazy=True gives a LazyFrame; no days reads every partition despite the required filter
    lazy = bnpl.read_table("bnpl_raw.transactions", ["amount_cents"], lazy=True, warehouse=loaded)
    assert isinstance(lazy, pl.LazyFrame)
    whole = bnpl.read_table("bnpl_raw.transactions", warehouse=loaded)
    assert whole.filter(pl.col("transaction_date").is_in(DAYS)).height == 2 + 3 + 4 + 5
    # an unknown table lists the dataset's tables; an unknown column lists the table's columns
    with pytest.raises(ConfigError, match=r"bnpl_raw.nope does not exist.*transactions"):
        bnpl.read_table("bnpl_raw.nope", warehouse=loaded)
    with pytest.raises(ConfigError, match=r"no column 'nope'; its columns: transaction_key"):
        bnpl.read_table("bnpl_raw.transactions", ["nope"], warehouse=loaded)


def test_query_qualifies_dataset_names_and_binds_parameters(loaded: BigQueryWarehouse) -> None:
    """dataset.table gets the adapter's project and prefix; @day is bound."""
    frame = bnpl.query(
        "SELECT COUNT(*) AS n FROM bnpl_raw.transactions WHERE transaction_date = @day",
        {"day": DAYS[3]},
        warehouse=loaded,
    )
    assert frame["n"].item() == 5
