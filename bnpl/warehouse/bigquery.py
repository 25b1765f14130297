"""The production warehouse: Google BigQuery.

Four datasets, ``<prefix>bnpl_raw``, ``<prefix>bnpl_intermediate``, ``<prefix>bnpl_marts`` and
``<prefix>bnpl_audit``, in ``settings.location``; tables from ``schemas/<dataset>/*.json`` with their
partitioning, clustering and ``require_partition_filter``.

Loading a day (DESIGN.md, "Idempotency"): each non-empty frame goes by a load job (Parquet,
explicit schema) into its own staging table ``<prefix>bnpl_raw._stage_<table>_<batch_id>_<token>``;
then ONE script job runs one transaction (:func:`bnpl.warehouse.bigquery_load.day_script`) that
deletes the day from every raw day table, inserts from the staging tables and replaces the ledger
row, with the day bound as ``@day``. Any failure rolls the whole day back. Staging tables are dropped afterwards and expire after a day if the
process dies first. Partition decorators (``table$YYYYMMDD``) are never used.

Credentials: see :mod:`bnpl.warehouse.bigquery_auth` (argument, key JSON, a prefect-gcp block via
an injected loader, anonymous for a loopback emulator, application-default credentials); they are
never logged or put into error messages. Query parameters: :mod:`bnpl.warehouse.bigquery_params`.

The client, job labels and error translation are :mod:`bnpl.warehouse.bigquery_jobs`'s. Every
job carries the labels ``pipeline=bnpl``, ``model`` (``adhoc`` unless named), ``run_id``
(``adhoc`` unless named) and ``operation``, merged with :func:`bnpl.warehouse.labels.job_labels`
and the ``labels`` argument of each call; values are sanitised to BigQuery's label rules.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import polars as pl
from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from bnpl.errors import ConfigError, WarehouseError
from bnpl.warehouse.base import (
    CopyJobPublishing,
    DayBatch,
    Dialect,
    TableSpec,
    declared_tables,
    table_spec,
)
from bnpl.warehouse.bigquery_auth import CredentialsLoader, set_credentials_block_loader
from bnpl.warehouse.bigquery_jobs import API_ERRORS, BigQueryJobs, describe_error, to_polars
from bnpl.warehouse.bigquery_load import (
    day_script,
    live_script,
    partition_type,
    schema_fields,
    staging_name,
    to_parquet,
)
from bnpl.warehouse.bigquery_params import TypedParam
from bnpl.warehouse.live_batch import LiveBatch
from bnpl.warehouse.names import (
    DATASETS,
    LIVE_OFFSETS,
    QUARANTINE,
    RAW,
    TableName,
)
from bnpl.warehouse.read import TableInfo

logger = logging.getLogger(__name__)

__all__ = [
    "BigQueryWarehouse",
    "CredentialsLoader",
    "TypedParam",
    "set_credentials_block_loader",
]

STAGING_TTL = timedelta(days=1)
"""Staging tables left behind by a killed process expire after this long."""


class BigQueryWarehouse(BigQueryJobs, CopyJobPublishing):
    """:class:`bnpl.warehouse.base.Warehouse` on Google BigQuery (or the local emulator); audited
    marts are seeded and published by copy jobs (:class:`~bnpl.warehouse.base.CopyJobPublishing`)."""

    dialect: ClassVar[Dialect] = "bigquery"

    _schema_ready = False
    """Whether :meth:`ensure_schema` has run in this process (set on the instance)."""

    # --- the Warehouse interface ----------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[BigQueryWarehouse]:
        """Parity with the DuckDB adapter: BigQuery needs no connection held open."""
        yield self

    def bigquery_name(self, dataset: str, table: str) -> str:
        """Source SQL names the physical table itself (project and dataset prefix included)."""
        return self.qualified(dataset, table)

    def ensure_schema(self) -> None:
        if self._schema_ready:
            return
        client = self.client()
        try:
            for name in DATASETS:
                dataset = bigquery.Dataset(
                    bigquery.DatasetReference(self.project, self.dataset_id(name))
                )
                dataset.location = self.settings.location
                client.create_dataset(dataset, exists_ok=True)
            for spec in declared_tables():
                existing = client.create_table(self._table_from_spec(spec), exists_ok=True)
                present = {f.name for f in existing.schema}
                added = [f for f in schema_fields(spec) if f.name not in present and f.is_nullable]
                if added:  # an additive change (a nullable column declared later) is applied
                    existing.schema = [*existing.schema, *added]
                    existing = client.update_table(existing, ["schema"])
                missing = sorted(set(spec.column_names) - {f.name for f in existing.schema})
                if missing:
                    raise WarehouseError(
                        f"{self.qualified(spec.dataset, spec.name)} lacks columns {missing} declared "
                        f"in schemas/{spec.dataset}/{spec.name}.json; add them with ALTER TABLE ... "
                        "ADD COLUMN or drop the table and run ensure_schema() again"
                    )
        except API_ERRORS as exc:
            raise self._failure("schema setup", exc) from exc
        self._schema_ready = True

    def _table_from_spec(self, spec: TableSpec) -> bigquery.Table:
        table = bigquery.Table(self._ref(spec.dataset, spec.name), schema=schema_fields(spec))
        table.description = spec.description or None
        if spec.partition_field:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=partition_type(spec.dataset, spec.name), field=spec.partition_field
            )
            table.require_partition_filter = spec.require_partition_filter
        if spec.clustering:
            table.clustering_fields = list(spec.clustering)
        return table

    def load_days(self, batches: Sequence[DayBatch]) -> None:
        """Each day in its own transaction, in order (see :meth:`load_day`)."""
        for batch in batches:
            self.load_day(batch)

    def load_day(self, batch: DayBatch) -> None:
        frames = batch.checked_frames()
        ledger = batch.checked_ledger()
        self.ensure_schema()
        token = uuid.uuid4().hex[:8]
        staged: dict[str, bigquery.TableReference] = {}
        try:
            loads = []  # started together, awaited together: the jobs run in parallel
            for name, frame in frames.items():
                if frame.height:
                    ref = self._ref(RAW, staging_name(name, batch.batch_id, token))
                    staged[name] = ref
                    loads.append(self._start_stage(ref, table_spec(RAW, name), frame))
            for job in loads:
                try:
                    job.result()
                except API_ERRORS as exc:
                    raise self._failure(f"load into {job.destination.table_id}", exc, job) from exc
            script, params = day_script(
                self.qualified,
                batch.day,
                {name: f"`{r.project}.{r.dataset_id}.{r.table_id}`" for name, r in staged.items()},
                ledger,
            )
            self._query_job(
                script, params, operation="load_day", what=f"load of {batch.day} ({batch.batch_id})"
            )
        finally:
            for ref in staged.values():
                try:
                    self.client().delete_table(ref, not_found_ok=True)
                except API_ERRORS as exc:
                    logger.warning("could not drop staging table %s: %s", ref, describe_error(exc))
        logger.info(
            "loaded %s: %d transactions, %d customers, %d quarantined",
            batch.day,
            batch.transactions.height,
            batch.customers.height,
            batch.quarantine.height,
        )

    def write_live_batch(self, batch: LiveBatch) -> None:
        """Stage the non-empty frames by load jobs, then one script job (``write_live.sql``):
        a keyed MERGE of the live rows on ``event_id``, one transaction that moves the dead
        letters (a keyed replace: the quarantine's partition filter rules out a MERGE), and a
        keyed MERGE of the offsets. Idempotent; a failure part-way leaves an event in both
        tables at worst, and the batch, unacknowledged, is written again."""
        batch = batch.checked()
        self.ensure_schema()
        token = uuid.uuid4().hex[:8]
        staged: dict[TableName, bigquery.TableReference] = {}
        try:
            loads = []
            for name, frame in (
                (batch.table, batch.rows),
                (QUARANTINE, batch.dead_letters),
                (LIVE_OFFSETS, batch.offsets),
            ):
                if frame.height:
                    ref = self._ref(RAW, staging_name(name.table, "live", token))
                    staged[name] = ref
                    loads.append(self._start_stage(ref, table_spec(*name), frame))
            for job in loads:
                try:
                    job.result()
                except API_ERRORS as exc:
                    raise self._failure(f"load into {job.destination.table_id}", exc, job) from exc
            script, params = live_script(
                self.qualified,
                {name: f"`{r.project}.{r.dataset_id}.{r.table_id}`" for name, r in staged.items()},
                days=batch.days,
                event_ids=batch.event_ids,
                dead_ids=batch.dead_letters["event_id"].to_list(),
                rows_table=batch.table,
                id_column=batch.id_column,
                key_columns=batch.key_columns,
            )
            self._query_job(
                script,
                params,
                operation="write_live_batch",
                what=f"live micro-batch of {len(batch.event_ids)} events",
            )
        finally:
            for ref in staged.values():
                try:
                    self.client().delete_table(ref, not_found_ok=True)
                except API_ERRORS as exc:
                    logger.warning("could not drop staging table %s: %s", ref, describe_error(exc))

    def _start_stage(
        self, ref: bigquery.TableReference, spec: TableSpec, frame: pl.DataFrame
    ) -> bigquery.LoadJob:
        """Create a staging table (all columns nullable: the INSERT enforces the modes) and start
        the load job that fills it. The table must exist: a load never re-creates a dropped one."""
        buffer = to_parquet(spec, frame)
        schema = schema_fields(spec, nullable=True)
        table = bigquery.Table(ref, schema=schema)
        table.expires = datetime.now(UTC) + STAGING_TTL
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=schema,
            create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            labels=self.job_labels("stage"),
        )
        try:
            client = self.client()
            client.create_table(table, exists_ok=True)
            return client.load_table_from_file(
                buffer, ref, job_config=config, job_id_prefix="bnpl_stage_"
            )
        except API_ERRORS as exc:
            raise self._failure(f"load into {ref.table_id}", exc) from exc

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> pl.DataFrame:
        return to_polars(self._query_job(sql, params, operation="query", labels=labels))

    def execute(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self._query_job(sql, params, operation="execute", labels=labels, what="statement")

    def execute_many(
        self,
        statements: Sequence[str],
        params: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Run the statements as one script in one transaction (DML only on real BigQuery:
        it refuses DDL on permanent tables inside a transaction)."""
        body = "\n".join(s.strip().rstrip(";") + ";" for s in statements if s.strip())
        script = (
            "BEGIN\nBEGIN TRANSACTION;\n"
            f"{body}\n"
            "COMMIT TRANSACTION;\n"
            "EXCEPTION WHEN ERROR THEN\nROLLBACK TRANSACTION;\n"
            "RAISE USING MESSAGE = @@error.message;\nEND;"
        )
        self._query_job(script, params, operation="execute_many", labels=labels, what="transaction")

    def describe_table(self, dataset: str, table: str) -> TableInfo:
        try:
            meta = self.client().get_table(self._ref(dataset, table))
        except NotFound:
            raise ConfigError(
                f"table {dataset}.{table} does not exist in project {self.project} "
                f"(dataset {self.dataset_id(dataset)}); tables there: "
                f"{', '.join(self._tables(dataset)) or 'none (load or build first)'}"
            ) from None
        except API_ERRORS as exc:
            raise self._failure(f"reading {dataset}.{table}", exc) from exc
        partitioning = meta.time_partitioning
        return TableInfo(
            columns=tuple(f.name for f in meta.schema),
            partition_column=partitioning.field if partitioning is not None else None,
            require_partition_filter=bool(meta.require_partition_filter),
        )

    def _tables(self, dataset: str) -> list[str]:
        """Names of the tables in ``dataset`` (empty when it does not exist)."""
        try:
            return sorted(t.table_id for t in self.client().list_tables(self.dataset_id(dataset)))
        except NotFound:
            return []
        except API_ERRORS as exc:
            raise self._failure(f"listing {dataset}", exc) from exc

    def table_exists(self, dataset: str, table: str) -> bool:
        try:
            self.client().get_table(self._ref(dataset, table))
        except NotFound:
            return False
        except API_ERRORS as exc:
            raise self._failure(f"looking up {dataset}.{table}", exc) from exc
        return True

    def copy_table(
        self,
        src_dataset: str,
        src_table: str,
        dst_dataset: str,
        dst_table: str,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Replace ``dst_dataset.dst_table`` with a copy of the source by one copy job
        (``WRITE_TRUNCATE``): readers see the old or the new table, never a mix."""
        config = bigquery.CopyJobConfig(
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            create_disposition=bigquery.CreateDisposition.CREATE_IF_NEEDED,
            labels=self.job_labels("copy_table", labels),
        )
        job = None
        try:
            job = self.client().copy_table(
                self._ref(src_dataset, src_table),
                self._ref(dst_dataset, dst_table),
                job_config=config,
                job_id_prefix="bnpl_copy_",
            )
            job.result()
        except API_ERRORS as exc:
            raise self._failure(
                f"copy of {src_dataset}.{src_table} to {dst_dataset}.{dst_table}", exc, job
            ) from exc
