"""bnpl_audit.model_monitor on the BigQuery emulator: a run's periods round-trip with their NULLs
(no figures while one class is missing, no PSI for the first period), values bound."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import pytest

from bnpl.governance import monitor_figures
from bnpl.governance.monitor_figures import (
    MonitorResult,
    PeriodFigures,
    latest_figures,
    write_figures,
)
from bnpl.settings import BigQuerySettings
from bnpl.warehouse.names import MODEL_MONITOR


@pytest.mark.emulator
@pytest.mark.parametrize("rows_per_insert", [600, 1])
def test_monitor_rows_in_bigquery(
    bq_settings: BigQuerySettings, monkeypatch: pytest.MonkeyPatch, rows_per_insert: int
) -> None:
    """Two periods of one version, one with figures and one without, written (in one statement,
    or one each) and read back; promote's evidence reads them."""
    from bnpl.warehouse.bigquery import BigQueryWarehouse

    monkeypatch.setattr(monitor_figures, "ROWS_PER_INSERT", rows_per_insert)

    name = "m'; DROP TABLE x; --"
    result = MonitorResult(
        name,
        date(2024, 6, 10),
        "week",
        (
            PeriodFigures(
                3,
                "champion",
                date(2024, 4, 1),
                8,
                7,
                3,
                0.375,
                0.4,
                11 / 12,
                0.15,
                0.2,
                3 / 7,
                None,
            ),
            PeriodFigures(
                3, "champion", date(2024, 4, 8), 8, 0, 0, 0.375, 0.4, None, None, None, None, 0.0
            ),
        ),
    )
    warehouse = BigQueryWarehouse(bq_settings)
    try:
        write_figures(warehouse, result, flow_run_id=None)
        rows = warehouse.read_table(str(MODEL_MONITOR)).sort("period_start")
        first, second = rows.row(0, named=True), rows.row(1, named=True)
        assert first["registered_model"] == name and first["roc_auc"] == pytest.approx(11 / 12)
        assert first["score_psi"] is None and first["default_rate"] == pytest.approx(3 / 7)
        assert second["roc_auc"] is None and second["default_rate"] is None
        assert second["score_psi"] == 0.0 and second["flow_run_id"] is None
        evidence = latest_figures(warehouse, name, [3])
        assert evidence["3"]["scores"] == 16 and evidence["3"]["latest_period"] == "2024-04-01"
        # the newest run by computed_at is the evidence, whatever was written last
        newer = replace(result, periods=result.periods[:1], run_id="newer",
                        computed_at=result.computed_at + timedelta(hours=1))  # fmt: skip
        older = replace(result, run_id="older", computed_at=result.computed_at - timedelta(days=1))
        write_figures(warehouse, newer, flow_run_id=None)
        write_figures(warehouse, older, flow_run_id=None)
        evidence = latest_figures(warehouse, name, [3])
        assert (evidence["3"]["run_id"], evidence["3"]["scores"]) == ("newer", 8)
    finally:
        warehouse.close()
