"""The assertions and the results store in BigQuery's own dialect, on the local emulator: the same
data gives the same results as on DuckDB."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from quality_data import BQ_DAYS

from bnpl.quality import all_checks, read_results, run_checks, write_results
from bnpl.settings import QualitySettings
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.duckdb import DuckDBWarehouse

CHECKS = all_checks()  # the bundled project's checks, in run order

pytestmark = [pytest.mark.emulator, pytest.mark.slow]
RAW_CHECKS = [c for c in CHECKS if "." in c.model]


def test_bigquery_and_duckdb_agree_on_every_raw_check(
    bq_quality: BigQueryWarehouse, duck_twin: DuckDBWarehouse
) -> None:
    """Every check of the raw tables gives the same status and value on the emulator as on DuckDB."""
    start, end = BQ_DAYS
    kwargs = {"start": start, "end": end, "logical_date": end, "checks": RAW_CHECKS}
    on_bq = {r.check_name: r for r in run_checks(bq_quality, QualitySettings(), **kwargs)}  # type: ignore[arg-type]
    on_duck = {r.check_name: r for r in run_checks(duck_twin, QualitySettings(), **kwargs)}  # type: ignore[arg-type]
    assert {n: r.status for n, r in on_bq.items()} == {n: r.status for n, r in on_duck.items()}
    assert all(r.status in ("pass", "skip") for r in on_bq.values()), {
        n: r.details for n, r in on_bq.items() if r.status not in ("pass", "skip")
    }
    for name, result in on_bq.items():
        assert result.observed_value == pytest.approx(on_duck[name].observed_value, abs=1e-9), name


def test_results_round_trip_through_bigquery(bq_quality: BigQueryWarehouse) -> None:
    """Results written with bound parameters (nulls included) read back unchanged."""
    start, end = BQ_DAYS
    results = run_checks(
        bq_quality, QualitySettings(), start=start, end=end, logical_date=end, checks=RAW_CHECKS
    )
    write_results(
        bq_quality,
        results,
        run_id="bq-run",
        logical_date=end,
        start=start,
        end=end,
        checked_at=datetime.now(UTC),
    )
    stored = {r["check_name"]: r for r in read_results(bq_quality, "bq-run").iter_rows(named=True)}
    assert set(stored) == {r.check_name for r in results}
    for r in results:
        row = stored[r.check_name]
        assert (row["status"], row["severity"], row["details"]) == (r.status, r.severity, r.details)
        assert row["observed_value"] == r.observed_value
