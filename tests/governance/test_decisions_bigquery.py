"""bnpl_audit.model_decisions in both warehouses (DuckDB, the BigQuery emulator): a compared decision keeps its figures, one
without a comparison keeps NULLs, every value bound as a parameter."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from bnpl.governance.decisions import Decision, write_decision
from bnpl.governance.metrics import compare
from bnpl.governance.window import Window
from bnpl.settings import BigQuerySettings, DuckDBSettings
from bnpl.warehouse import Warehouse
from bnpl.warehouse.names import MODEL_DECISIONS


def _decisions() -> list[Decision]:
    rng = np.random.default_rng(1)
    p = rng.random(2000)
    y = rng.random(2000) < p
    comparison = compare(y, p, np.clip(p + 0.05, 0, 1), baseline=p, resamples=60)
    return [
        Decision("initial", "initial", "m'; DROP TABLE x; --", None, 1, 1, "first champion"),
        Decision(
            "promote",
            "kept",
            "m'; DROP TABLE x; --",
            1,
            2,
            1,
            "kept the champion: it's calibrated worse",
            as_of=date(2024, 12, 31),
            window=Window(date(2024, 9, 11), date(2024, 10, 8)),
            comparison=comparison,
        ),
    ]


def _check(warehouse: Warehouse) -> None:
    decisions = _decisions()
    for d in decisions:
        write_decision(warehouse, d, flow_run_id=None)
    rows = warehouse.read_table(str(MODEL_DECISIONS)).sort("action")
    assert rows.height == 2
    first, second = rows.row(0, named=True), rows.row(1, named=True)
    assert first["action"] == "initial" and first["champion_version"] is None
    assert first["window_start"] is None and first["roc_auc_champion"] is None
    assert first["flow_run_id"] is None and json.loads(first["figures"]) == {}
    assert second["registered_model"] == "m'; DROP TABLE x; --"
    assert (second["champion_version"], second["challenger_version"]) == (1, 2)
    assert second["window_start"] == date(2024, 9, 11) and second["rows"] == 2000
    c = decisions[1].comparison
    assert c is not None
    assert second["roc_auc_delta_low"] == pytest.approx(c.deltas["roc_auc"].low)
    assert json.loads(second["figures"])["resamples"] == 60


def test_decisions_in_duckdb(tmp_path: Path) -> None:
    """Both kinds of decision round-trip through the DuckDB table."""
    from bnpl.warehouse.duckdb import DuckDBWarehouse

    warehouse = DuckDBWarehouse(DuckDBSettings(path=tmp_path / "bnpl.duckdb"))
    try:
        _check(warehouse)
    finally:
        warehouse.close()


@pytest.mark.emulator
def test_decisions_in_bigquery(bq_settings: BigQuerySettings) -> None:
    """Both kinds of decision round-trip through the table on the BigQuery emulator."""
    from bnpl.warehouse.bigquery import BigQueryWarehouse

    warehouse = BigQueryWarehouse(bq_settings)
    try:
        _check(warehouse)
    finally:
        warehouse.close()
