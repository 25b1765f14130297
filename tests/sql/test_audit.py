"""Write, audit, publish: marts are built into bnpl_audit, refs between marts read the audit
copies, and publishing replaces the published marts atomically (or by the adapter's copy jobs)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from model_data import DAYS, content, copy_project, write_audit_publish

from bnpl.errors import ModelError, QualityGateError
from bnpl.models import Project, build_models, load_project, publish_models
from bnpl.quality import GateResult, all_checks
from bnpl.warehouse.base import CopyJobPublishing
from bnpl.warehouse.duckdb import DuckDBWarehouse

CHECKS = all_checks()  # the bundled project's checks, in run order

MARTS = {m.name for m in load_project().models.values() if m.layer == "marts"}
"""Every mart of the repository (issue 4's four and those added since)."""


LEDGER_CHECK = next(c for c in CHECKS if c.name == "transactions_match_ledger")
"""A declared error-level check that fails for a day whose raw transactions were deleted after
the ledger recorded them."""


EMPTY_AUDIT_TRANSACTIONS = (
    'DROP VIEW IF EXISTS "bnpl_audit"."mart_bnpl_transactions"; '
    'CREATE TABLE "bnpl_audit"."mart_bnpl_transactions" AS '
    'SELECT * FROM "bnpl_marts"."mart_bnpl_transactions" LIMIT 0'
)
"""An audit copy that holds something else than the published mart (here: nothing)."""


def marts(warehouse: DuckDBWarehouse) -> dict[str, Any]:
    """The content of every published mart."""
    return {name: content(warehouse, f"bnpl_marts.{name}") for name in sorted(MARTS)}


def test_audit_build_writes_marts_to_the_audit_area_only(
    loaded: DuckDBWarehouse, project: Project
) -> None:
    """With audit=True marts land in bnpl_audit and nothing is published until publish_models;
    publishing a first build moves each audit table behind its bnpl_marts view (no copy)."""
    result = build_models(loaded, project, audit=True)
    assert set(result.marts) == MARTS
    for name in MARTS:
        assert loaded.table_exists("bnpl_audit", name)
        assert not loaded.table_exists("bnpl_marts", name)
    assert loaded.table_exists("bnpl_intermediate", "int_bnpl_transactions_enriched")
    audited = {name: content(loaded, f"bnpl_audit.{name}") for name in MARTS}
    publish_models(loaded, result.marts)
    for name in MARTS:
        assert content(loaded, f"bnpl_marts.{name}").equals(audited[name])
        assert content(loaded, f"bnpl_audit.{name}").equals(audited[name])
        assert loaded.table_exists("bnpl_audit", f"{name}__published")
    kinds = loaded.query(
        "SELECT DISTINCT table_type FROM information_schema.tables "
        "WHERE table_schema IN ('bnpl_marts', 'bnpl_audit') AND table_name LIKE 'mart_%' "
        "AND table_name NOT LIKE '%__published'"
    )
    assert kinds["table_type"].to_list() == ["VIEW"]


def test_incremental_audit_build_starts_from_the_published_marts(
    built: DuckDBWarehouse, project: Project
) -> None:
    """An incremental audit build first copies each published mart, so the audit copy holds
    every day, even when the audit area held something else."""
    built.execute(EMPTY_AUDIT_TRANSACTIONS)
    result = build_models(built, project, start=DAYS[2], end=DAYS[2], audit=True)
    actions = {m.name: m.action for m in result.models}
    assert actions["mart_bnpl_transactions"] == "replace_range"
    assert actions["mart_bnpl_customers"] == "merge"
    assert content(built, "bnpl_audit.mart_bnpl_transactions").equals(
        content(built, "bnpl_marts.mart_bnpl_transactions")
    )


def test_refs_between_marts_read_the_audit_copies(built: DuckDBWarehouse, project: Project) -> None:
    """A mart built in the same audited run is read from bnpl_audit; one not built in the run is
    read from bnpl_marts."""
    day = DAYS[1]
    built.execute(
        'DELETE FROM "bnpl_audit"."mart_bnpl_transactions__published" WHERE transaction_date = $day',
        {"day": day},
    )
    build_models(
        built, project, selection=["mart_bnpl_transactions+"], start=day, end=day, audit=True
    )
    audited = built.read_table("bnpl_audit.mart_bnpl_daily_volume")
    assert audited.filter(transaction_date=day)["transaction_count"].item() == 407
    build_models(
        built, project, selection=["mart_bnpl_daily_volume"], start=day, end=day, audit=True
    )
    stale = built.read_table("bnpl_audit.mart_bnpl_daily_volume")
    assert stale.filter(transaction_date=day)["transaction_count"].item() == 0


def test_publish_is_all_or_nothing(built: DuckDBWarehouse) -> None:
    """If one mart cannot be published, none is: the published marts stay as they were."""
    built.execute(EMPTY_AUDIT_TRANSACTIONS)
    before = marts(built)
    with pytest.raises(ModelError, match="publishing"):
        publish_models(built, ["mart_bnpl_transactions", "mart_bnpl_missing"])
    after = marts(built)
    assert all(after[name].equals(before[name]) for name in before)


def test_failed_gate_publishes_nothing(built: DuckDBWarehouse, project: Project) -> None:
    """A failing error-level check stops publication; the audit area holds the new build."""
    built.execute(
        'DELETE FROM "bnpl_raw"."transactions" WHERE transaction_date = $day', {"day": DAYS[1]}
    )
    before = marts(built)
    seen: list[GateResult] = []

    with pytest.raises(QualityGateError, match="transactions_match_ledger"):
        write_audit_publish(
            built,
            project,
            start=DAYS[1],
            end=DAYS[1],
            checks=(LEDGER_CHECK,),
            on_result=seen.append,
        )
    assert set(seen[0].built) == MARTS and seen[0].published == ()
    after = marts(built)
    assert all(after[name].equals(before[name]) for name in before)
    audit = built.read_table("bnpl_audit.mart_bnpl_daily_volume")
    assert audit.filter(transaction_date=DAYS[1])["transaction_count"].item() == 0


def test_rejected_changes_never_reach_a_later_publish(
    built: DuckDBWarehouse, project: Project
) -> None:
    """After a gate rejects a day, the next audited build starts again from the published marts:
    publishing it carries its own day, and the rejected day's rows stay as published."""
    built.execute(
        'DELETE FROM "bnpl_raw"."transactions" WHERE transaction_date = $day', {"day": DAYS[1]}
    )

    def rejected_day(warehouse: DuckDBWarehouse) -> dict[str, pl.DataFrame]:
        rows = {}
        for name in sorted(MARTS):
            config = project.models[name].config
            column = config.partition_by or (config.active_between or (None,))[0]
            if config.materialized == "incremental" and column:
                rows[name] = content(warehouse, f"bnpl_marts.{name}").filter(
                    pl.col(column) == DAYS[1]
                )
        return rows

    before = rejected_day(built)
    assert before["mart_bnpl_transactions"].height == 407

    with pytest.raises(QualityGateError, match="transactions_match_ledger"):
        write_audit_publish(built, project, start=DAYS[1], end=DAYS[1], checks=(LEDGER_CHECK,))
    write_audit_publish(built, project, start=DAYS[2], end=DAYS[2], checks=(LEDGER_CHECK,))
    after = rejected_day(built)
    assert all(after[name].equals(before[name]) for name in before)
    for name in MARTS:
        assert content(built, f"bnpl_audit.{name}").equals(content(built, f"bnpl_marts.{name}"))


def test_publish_copies_only_the_recorded_change(built: DuckDBWarehouse, project: Project) -> None:
    """Publishing an incremental build replaces the built days in the published mart and nothing
    else (no whole-table copy)."""
    build_models(
        built, project, selection=["mart_bnpl_transactions"], start=DAYS[2], end=DAYS[2], audit=True
    )
    built.execute(
        'UPDATE "bnpl_audit"."mart_bnpl_transactions" SET risk_level = $level WHERE transaction_date = $day',
        {"level": "edited", "day": DAYS[0]},
    )
    publish_models(built, ["mart_bnpl_transactions"])
    published = built.read_table("bnpl_marts.mart_bnpl_transactions")
    assert "edited" not in set(published["risk_level"])
    assert published.height == 686


class CopyingWarehouse(CopyJobPublishing, DuckDBWarehouse):
    """DuckDB publishing by whole-table copies as BigQuery does, recording each copy."""

    def __init__(self, inner: DuckDBWarehouse) -> None:
        super().__init__(inner._settings)
        self.copies: list[tuple[str, str, str, str]] = []

    def copy_table(
        self,
        src_dataset: str,
        src_table: str,
        dst_dataset: str,
        dst_table: str,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.copies.append((src_dataset, src_table, dst_dataset, dst_table))
        # the fixture's marts were published by renaming, as views; a copy job writes tables
        self.execute(f'DROP VIEW IF EXISTS "{dst_dataset}"."{dst_table}"')
        super().copy_table(src_dataset, src_table, dst_dataset, dst_table, labels=labels)


def test_copy_job_publishing_copies_whole_tables(built: DuckDBWarehouse, project: Project) -> None:
    """An adapter publishing by copies (BigQuery) clones and publishes marts with copy_table, one
    copy per table, instead of recorded changes."""
    built.close()
    warehouse = CopyingWarehouse(built)
    assert isinstance(warehouse, CopyJobPublishing)
    for name in MARTS:  # the fixture published by renaming; copy jobs know tables only
        warehouse.execute(f'DROP VIEW IF EXISTS "bnpl_audit"."{name}"')
    try:
        result = write_audit_publish(warehouse, project, start=DAYS[0], end=DAYS[0])
    finally:
        warehouse.close()
    incremental = {
        m.name for m in result.models if m.name in MARTS and m.action in ("replace_range", "merge")
    }
    clones = {(s, t) for s, t, d, _ in warehouse.copies if d == "bnpl_audit"}
    published = {(d, t) for _, _, d, t in warehouse.copies if d == "bnpl_marts"}
    assert clones == {("bnpl_marts", name) for name in incremental}
    assert published == {("bnpl_marts", name) for name in MARTS}


def test_build_failure_publishes_nothing(built: DuckDBWarehouse, tmp_path: Path) -> None:
    """A mart whose result breaks its declared schema (here: NUMERIC / INT64, a DOUBLE on DuckDB)
    fails the build, naming model and file; the published marts are unchanged."""
    sql = copy_project(
        tmp_path,
        {
            "marts/mart_bnpl_daily_volume.sql": (
                "CAST(COALESCE(v.amount_cents, 0) AS NUMERIC) * NUMERIC '0.01' AS amount,",
                "CAST(COALESCE(v.amount_cents, 0) AS NUMERIC) / 100 AS amount,",
            )
        },
    )
    before = marts(built)
    with pytest.raises(ModelError) as caught:
        write_audit_publish(built, load_project(sql), start=DAYS[0], end=DAYS[0])
    message = str(caught.value)
    assert "model mart_bnpl_daily_volume (sql/marts/mart_bnpl_daily_volume.sql)" in message
    assert "amount is FLOAT64, declared NUMERIC" in message
    after = marts(built)
    assert all(after[name].equals(before[name]) for name in before)


def test_lookback_extends_the_rebuilt_days(built: DuckDBWarehouse, project: Project) -> None:
    """Rebuilding a past day also rebuilds the windowed mart's later loaded days; other models
    rebuild the day alone."""
    result = build_models(built, project, start=DAYS[0], end=DAYS[0], audit=True)
    days: Mapping[str, tuple[date | None, date | None]] = {
        m.name: (m.start, m.end) for m in result.models
    }
    assert days["mart_bnpl_ml_features"] == (DAYS[0], DAYS[2])
    assert days["mart_bnpl_transactions"] == (DAYS[0], DAYS[0])
