"""The same days and the same SQL models on DuckDB and on BigQuery (the local emulator) give the same tables."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import date

import polars as pl
import pytest
from emulator import Emulator

from bnpl import pipeline
from bnpl.ingest import IngestSession, admit_day, fetch_and_prepare, open_session, plan_range
from bnpl.models import BuildResult, build_models, load_project, publish_models
from bnpl.settings import BigQuerySettings, DuckDBSettings, PlanSettings, Settings
from bnpl.warehouse import Warehouse
from bnpl.warehouse.bigquery import BigQueryWarehouse
from bnpl.warehouse.names import RAW_DAY_TABLES

START, END = date(2024, 11, 27), date(2024, 11, 30)  # Wednesday..Saturday, Thanksgiving inside
NEXT = date(2024, 12, 1)  # loaded and built incrementally after the first build
LOAD_TIME_COLUMNS = {"finished_at"}
"""Ledger columns stamped at load time, different on each engine by design."""

pytestmark = [pytest.mark.emulator, pytest.mark.slow]


@dataclasses.dataclass(frozen=True)
class Engines:
    duckdb: Warehouse
    bigquery: BigQueryWarehouse
    session: IngestSession
    settings: Settings

    def load(self, day: date) -> None:
        """Fetch ``day`` once from the simulator and load it into both warehouses."""
        (request,) = plan_range(self.settings, day, day)
        ready = fetch_and_prepare(self.session, request)
        on_bigquery = dataclasses.replace(self.session, warehouse=self.bigquery)
        pipeline.load_day(self.session, admit_day(self.session, ready))
        pipeline.load_day(on_bigquery, admit_day(on_bigquery, ready))


@pytest.fixture(scope="module")
def engines(bq_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engines]:
    """Four days fetched once from the bundled simulator and loaded into both warehouses."""
    workdir = tmp_path_factory.mktemp("cross-engine")
    with pytest.MonkeyPatch.context() as patch:
        for name in [n for n in os.environ if n.startswith("BNPL_")]:
            patch.delenv(name)
        patch.chdir(workdir)
        settings = Settings(
            warehouse=DuckDBSettings(path=workdir / "bnpl.duckdb"),
            plan=PlanSettings(
                weekday_base_volume=150, weekend_base_volume=150, holiday_base_volume=150
            ),
        )
        bigquery = BigQueryWarehouse(
            BigQuerySettings(
                project=bq_emulator.project,
                location="US",
                dataset_prefix="xeng_",
                api_endpoint=bq_emulator.endpoint,
            )
        )
        bigquery.ensure_schema()
        with open_session(settings) as session:
            engines = Engines(session.warehouse, bigquery, session, settings)
            for request in plan_range(settings, START, END):
                engines.load(request.day)
            yield engines
        bigquery.close()


def canonical(frame: pl.DataFrame) -> pl.DataFrame:
    """Columns sorted by name, rows sorted, floats rounded to 1e-6, datetimes as naive UTC in µs."""
    columns = []
    for name in sorted(frame.columns):
        dtype = frame.schema[name]
        column = pl.col(name)
        if dtype.is_float() or dtype.is_decimal():
            column = column.cast(pl.Float64).round(6)
        elif isinstance(dtype, pl.Datetime):
            if dtype.time_zone:
                column = column.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
            column = column.dt.cast_time_unit("us")
        columns.append(column.alias(name))
    out = frame.select(columns)
    return out.sort(out.columns, nulls_last=True)


def checksum(frame: pl.DataFrame) -> tuple[int, int]:
    """(rows, order-independent hash of every canonical row) of a table."""
    rows = canonical(frame)
    digest = rows.hash_rows(seed=0).cast(pl.Int128).sum() if rows.height else 0
    return rows.height, int(digest)


def assert_same_table(name: str, engines: Engines, *, drop: set[str] = frozenset()) -> None:
    duck = engines.duckdb.read_table(name).drop(drop, strict=False)
    big = engines.bigquery.read_table(name).drop(drop, strict=False)
    left, right = canonical(duck), canonical(big)
    assert left.schema == right.schema, f"{name}: column types differ"
    assert checksum(duck) == checksum(big), f"{name}: rows or content differ"
    assert left.equals(right), f"{name}: content differs"


def test_raw_tables_match_across_engines(engines: Engines) -> None:
    """The ingested days land identically in DuckDB and BigQuery (counts, types, checksums)."""
    ledger = engines.bigquery.read_table("bnpl_raw.source_batches")
    assert sorted(ledger["transaction_date"].to_list()) == [
        date(2024, 11, 27),
        date(2024, 11, 28),
        date(2024, 11, 29),
        date(2024, 11, 30),
    ]
    assert engines.bigquery.read_table("bnpl_raw.transactions").height > 400
    for table in RAW_DAY_TABLES:
        assert_same_table(f"bnpl_raw.{table}", engines)
    assert_same_table("bnpl_raw.source_batches", engines, drop=LOAD_TIME_COLUMNS)


def test_every_model_builds_identically_on_both_engines(engines: Engines) -> None:
    """Building every model (audit, then publish by copy job) gives the same tables on both engines."""
    project = load_project()
    results: dict[str, BuildResult] = {}
    for label, warehouse in (("duckdb", engines.duckdb), ("bigquery", engines.bigquery)):
        results[label] = build_models(warehouse, project, audit=True)
        publish_models(warehouse, results[label].marts)
    built = [f"{m.target.dataset}.{m.target.table}" for m in results["duckdb"].models]
    assert built == [f"{m.target.dataset}.{m.target.table}" for m in results["bigquery"].models]
    assert {m.name for m in project.models.values()} == {m.name for m in results["bigquery"].models}
    for name in built:
        assert_same_table(name, engines)
    for mart in results["bigquery"].marts:
        assert_same_table(f"bnpl_marts.{mart}", engines)

    # then the daily path: one more day, built incrementally (replace_range and merge on
    # BigQuery, the audit copies seeded from the published marts by copy jobs), then published
    engines.load(NEXT)
    for label, warehouse in (("duckdb", engines.duckdb), ("bigquery", engines.bigquery)):
        results[label] = build_models(warehouse, project, start=NEXT, end=NEXT, audit=True)
        publish_models(warehouse, results[label].marts)
    actions = {m.name: m.action for m in results["bigquery"].models}
    incremental = [
        m.name for m in project.models.values() if m.config.materialized == "incremental"
    ]
    assert incremental and all(actions[name] in ("replace_range", "merge") for name in incremental)
    assert {actions[name] for name in incremental} == {"replace_range", "merge"}
    for name in built:
        assert_same_table(name, engines)
    for mart in results["bigquery"].marts:
        assert_same_table(f"bnpl_marts.{mart}", engines)
    client = engines.bigquery.client()
    tables = [
        t.table_id
        for d in ("bnpl_raw", "bnpl_intermediate", "bnpl_marts", "bnpl_audit")
        for t in client.list_tables(engines.bigquery.dataset_id(d))
    ]
    assert [t for t in tables if "$" in t] == [], "a table name holds a partition decorator"
