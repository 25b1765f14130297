"""The production warehouse: Google BigQuery.

Four datasets, ``<prefix>bnpl_raw``, ``<prefix>bnpl_intermediate``, ``<prefix>bnpl_marts`` and
``<prefix>bnpl_audit``, in ``settings.location``; tables from ``schemas/<dataset>/*.json`` with their
partitioning, clustering and ``require_partition_filter``.

Loading a day (DESIGN.md, "Idempotency"): each non-empty frame goes by a load job (Parquet,
explicit schema) into its own staging table ``<prefix>bnpl_raw._stage_<table>_<batch_id>_<token>``;
then ONE script job runs one transaction that deletes the day from every raw day table, inserts
from the staging tables and replaces the ledger row, with the day bound as ``@day``. Any failure
rolls the whole day back. Staging tables are dropped afterwards and expire after a day if the
process dies first. Partition decorators (``table$YYYYMMDD``) are never used.

Credentials, first match wins: the ``credentials`` argument; ``credentials_json`` (a service-account
key); ``credentials_block``, resolved by a block loader (bnpl/ never imports prefect: the loader
comes from the caller or from :func:`set_credentials_block_loader`, which ``flows/`` calls with the
prefect-gcp one); anonymous when ``api_endpoint`` is a loopback address (the local emulator);
application-default credentials. Credentials are never logged or put into error messages.

Every job carries the labels ``pipeline=bnpl``, ``model`` (``adhoc`` unless named), ``run_id``
(``adhoc`` unless named) and ``operation``, merged with :func:`bnpl.warehouse.labels.job_labels`
and the ``labels`` argument of each call; values are sanitised to BigQuery's label rules.
"""

from __future__ import annotations

import concurrent.futures
import io
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any, ClassVar
from urllib.parse import urlsplit

import google.auth
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import requests
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import Forbidden, GoogleAPIError, NotFound
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import DefaultCredentialsError, GoogleAuthError
from google.cloud import bigquery
from google.oauth2 import service_account

from bnpl.errors import ConfigError, WarehouseError
from bnpl.settings import BigQuerySettings
from bnpl.warehouse.base import (
    DATASETS,
    RAW_DAY_TABLES,
    SCHEMAS_DIR,
    DayBatch,
    Dialect,
    TableSpec,
    declared_tables,
    table_spec,
)
from bnpl.warehouse.bigquery_params import TypedParam, query_parameters
from bnpl.warehouse.labels import current_job_labels, sanitise_label_key, sanitise_label_value

logger = logging.getLogger(__name__)

__all__ = [
    "BigQueryWarehouse",
    "CredentialsLoader",
    "TypedParam",
    "set_credentials_block_loader",
]

CredentialsLoader = Callable[[str], Credentials]
"""Turns a credentials block name into Google credentials (e.g. a prefect-gcp ``GcpCredentials``)."""

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
STAGING_TTL = timedelta(days=1)
"""Staging tables left behind by a killed process expire after this long."""

_BASE_LABELS = {"pipeline": "bnpl", "model": "adhoc", "run_id": "adhoc"}
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_]+")
_API_ERRORS = (
    GoogleAPIError,
    GoogleAuthError,
    requests.RequestException,
    concurrent.futures.TimeoutError,
)
_ARROW_TYPES: dict[str, pa.DataType] = {
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

_block_loader: CredentialsLoader | None = None


def set_credentials_block_loader(loader: CredentialsLoader | None) -> None:
    """Register how ``credentials_block`` names become credentials, for every adapter in the process.

    ``flows/`` registers the prefect-gcp loader; a notebook can register its own. None unregisters.
    """
    global _block_loader
    _block_loader = loader


@cache
def _partition_type(dataset: str, name: str) -> str:
    doc = json.loads((SCHEMAS_DIR / dataset / f"{name}.json").read_text())
    return str((doc.get("time_partitioning") or {}).get("type", "DAY"))


def _schema(spec: TableSpec, *, nullable: bool = False) -> list[bigquery.SchemaField]:
    return [
        bigquery.SchemaField(
            c.name,
            c.type,
            mode="NULLABLE" if nullable or c.nullable else "REQUIRED",
            description=c.description,
        )
        for c in spec.columns
    ]


def _describe(exc: BaseException) -> str:
    """The service's own message, without the request URL's query string or any header."""
    errors = getattr(exc, "errors", None)
    if errors and isinstance(errors[0], dict) and errors[0].get("message"):
        return str(errors[0]["message"])
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message).split("\n", 1)[0]


def _job_id_of(exc: BaseException, job: Any) -> str:
    if job is not None:
        return str(job.job_id)
    failed = getattr(exc, "query_job", None)
    return str(failed.job_id) if failed is not None else "not started"


def _to_polars(table: pa.Table) -> pl.DataFrame:
    # The client tags DATETIME/JSON/GEOGRAPHY columns with Arrow extension metadata; drop it so
    # Polars sees plain timestamps and strings.
    plain = pa.schema([f.remove_metadata() for f in table.schema])
    frame = pl.from_arrow(table.cast(plain))
    assert isinstance(frame, pl.DataFrame)
    return frame


class BigQueryWarehouse:
    """:class:`bnpl.warehouse.base.Warehouse` on Google BigQuery (or the local emulator)."""

    dialect: ClassVar[Dialect] = "bigquery"
    supports_transactions: ClassVar[bool] = True
    supports_partition_filter_enforcement: ClassVar[bool] = True

    def __init__(
        self,
        settings: BigQuerySettings,
        *,
        credentials: Credentials | None = None,
        credentials_block_loader: CredentialsLoader | None = None,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        """Nothing is contacted until the first operation.

        Args:
            settings: project, location, dataset prefix, endpoint and credential sources.
            credentials: use these and ignore every other source.
            credentials_block_loader: resolves ``settings.credentials_block`` (default: the loader
                registered with :func:`set_credentials_block_loader`).
            labels: labels for every job of this adapter (under any ``job_labels`` block).
        """
        self.settings = settings
        self.project = settings.project
        self._credentials = credentials
        self._block_loader = credentials_block_loader
        self._labels = dict(labels or {})
        self._lock = threading.Lock()
        self._bq: bigquery.Client | None = None
        self._schema_ready = False

    def __repr__(self) -> str:
        return (
            f"BigQueryWarehouse(project={self.project!r}, location={self.settings.location!r}, "
            f"dataset_prefix={self.settings.dataset_prefix!r})"
        )

    # --- client and credentials -----------------------------------------------------------------

    def _resolve_credentials(self) -> Credentials:
        s = self.settings
        if self._credentials is not None:
            return self._credentials
        if s.credentials_json is not None:
            try:
                info = json.loads(s.credentials_json.get_secret_value())
                return service_account.Credentials.from_service_account_info(info, scopes=SCOPES)  # type: ignore[no-untyped-call,no-any-return]
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                raise ConfigError(
                    "BNPL_WAREHOUSE__CREDENTIALS_JSON is not a usable service-account key "
                    f"({type(exc).__name__}); paste the whole key JSON or use "
                    "BNPL_WAREHOUSE__CREDENTIALS_BLOCK or application-default credentials"
                ) from None
        if s.credentials_block is not None:
            loader = self._block_loader or _block_loader
            if loader is None:
                raise ConfigError(
                    f"BNPL_WAREHOUSE__CREDENTIALS_BLOCK={s.credentials_block!r} needs a block "
                    "loader: run through the Prefect flows (they register prefect-gcp's), or call "
                    "bnpl.warehouse.bigquery.set_credentials_block_loader(...) first"
                )
            try:
                return loader(s.credentials_block)
            except (ValueError, KeyError, OSError, GoogleAuthError) as exc:
                raise ConfigError(
                    f"cannot load credentials block {s.credentials_block!r} "
                    f"({type(exc).__name__}); check the block name and its contents"
                ) from None
        if s.api_endpoint and urlsplit(s.api_endpoint).hostname in _LOOPBACK:
            return AnonymousCredentials()  # type: ignore[no-untyped-call]
        try:
            found, _ = google.auth.default(scopes=SCOPES)
        except DefaultCredentialsError:
            raise ConfigError(
                "no Google credentials found: run `gcloud auth application-default login`, or set "
                "BNPL_WAREHOUSE__CREDENTIALS_BLOCK (a prefect-gcp GcpCredentials block) or "
                "BNPL_WAREHOUSE__CREDENTIALS_JSON"
            ) from None
        return found

    def client(self) -> bigquery.Client:
        """The google-cloud-bigquery client, created on first use."""
        with self._lock:
            if self._bq is None:
                options = ClientOptions(api_endpoint=self.settings.api_endpoint)
                self._bq = bigquery.Client(
                    project=self.project,
                    credentials=self._resolve_credentials(),
                    location=self.settings.location,
                    client_options=options if self.settings.api_endpoint else None,
                )
            return self._bq

    # --- names, labels, jobs --------------------------------------------------------------------

    def dataset_id(self, dataset: str) -> str:
        """The physical dataset id of a logical one (``bnpl_raw`` -> ``<prefix>bnpl_raw``)."""
        return f"{self.settings.dataset_prefix}{dataset}" if dataset in DATASETS else dataset

    def _ref(self, dataset: str, table: str) -> bigquery.TableReference:
        return bigquery.TableReference(
            bigquery.DatasetReference(self.project, self.dataset_id(dataset)), table
        )

    def qualified(self, dataset: str, table: str) -> str:
        return f"`{self.project}.{self.dataset_id(dataset)}.{table}`"

    def job_labels(self, operation: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The labels a job gets: base, adapter, ``job_labels`` block, call, ``operation``."""
        merged = {
            **_BASE_LABELS,
            **self._labels,
            **current_job_labels(),
            **(extra or {}),
            "operation": operation,
        }
        return {sanitise_label_key(k): sanitise_label_value(v) for k, v in merged.items()}

    def _failure(self, what: str, exc: BaseException, job: Any = None) -> WarehouseError:
        hint = "check the statement and the job in the BigQuery console"
        if isinstance(exc, Forbidden):
            hint = "grant the credentials BigQuery Job User and Data Editor on the project"
        elif isinstance(exc, NotFound):
            hint = "check the project and dataset names, or run ensure_schema()"
        elif isinstance(exc, requests.RequestException):
            hint = "check the network and BNPL_WAREHOUSE__API_ENDPOINT"
        return WarehouseError(
            f"BigQuery {what} failed (job {_job_id_of(exc, job)}): {_describe(exc)}; {hint}"
        )

    def _query_job(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        operation: str,
        labels: Mapping[str, str] | None = None,
        what: str = "query",
    ) -> bigquery.QueryJob:
        job_labels = self.job_labels(operation, labels)
        config = bigquery.QueryJobConfig(
            query_parameters=query_parameters(params or {}, sql), labels=job_labels
        )
        job = None
        try:
            job = self.client().query(
                sql, job_config=config, job_id_prefix=f"bnpl_{job_labels['model']}_"
            )
            job.result()
        except _API_ERRORS as exc:
            raise self._failure(what, exc, job) from exc
        logger.debug("%s job %s done", operation, job.job_id)
        return job

    # --- the Warehouse interface ----------------------------------------------------------------

    @contextmanager
    def session(self) -> Iterator[BigQueryWarehouse]:
        """Parity with the DuckDB adapter: BigQuery needs no connection held open."""
        yield self

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
                missing = sorted(set(spec.column_names) - {f.name for f in existing.schema})
                if missing:
                    raise WarehouseError(
                        f"{self.qualified(spec.dataset, spec.name)} lacks columns {missing} declared "
                        f"in schemas/{spec.dataset}/{spec.name}.json; add them with ALTER TABLE ... "
                        "ADD COLUMN or drop the table and run ensure_schema() again"
                    )
        except _API_ERRORS as exc:
            raise self._failure("schema setup", exc) from exc
        self._schema_ready = True

    def _table_from_spec(self, spec: TableSpec) -> bigquery.Table:
        table = bigquery.Table(self._ref(spec.dataset, spec.name), schema=_schema(spec))
        table.description = spec.description or None
        if spec.partition_field:
            table.time_partitioning = bigquery.TimePartitioning(
                type_=_partition_type(spec.dataset, spec.name), field=spec.partition_field
            )
            table.require_partition_filter = spec.require_partition_filter
        if spec.clustering:
            table.clustering_fields = list(spec.clustering)
        return table

    def load_day(self, batch: DayBatch) -> None:
        frames = {
            "transactions": batch.transactions,
            "customers": batch.customers,
            "quarantine": batch.quarantine,
        }
        for name, frame in frames.items():
            _check_frame(name, frame, batch.day)
        ledger = _check_ledger(batch)
        self.ensure_schema()
        token = uuid.uuid4().hex[:8]
        staged: dict[str, bigquery.TableReference] = {}
        try:
            for name, frame in frames.items():
                if frame.height:
                    ref = self._ref("bnpl_raw", _staging_name(name, batch.batch_id, token))
                    staged[name] = ref
                    self._stage(ref, table_spec("bnpl_raw", name), frame)
            script, params = self._day_script(batch.day, staged, ledger)
            self._query_job(
                script, params, operation="load_day", what=f"load of {batch.day} ({batch.batch_id})"
            )
        finally:
            for ref in staged.values():
                try:
                    self.client().delete_table(ref, not_found_ok=True)
                except _API_ERRORS as exc:
                    logger.warning("could not drop staging table %s: %s", ref, _describe(exc))
        logger.info(
            "loaded %s: %d transactions, %d customers, %d quarantined",
            batch.day,
            batch.transactions.height,
            batch.customers.height,
            batch.quarantine.height,
        )

    def _stage(self, ref: bigquery.TableReference, spec: TableSpec, frame: pl.DataFrame) -> None:
        """Write ``frame`` to a new staging table (all columns nullable; the INSERT enforces modes)."""
        target = pa.schema([pa.field(c.name, _ARROW_TYPES[c.type]) for c in spec.columns])
        try:
            arrow = frame.to_arrow().cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise WarehouseError(
                f"frame for bnpl_raw.{spec.name} has values that do not fit "
                f"schemas/bnpl_raw/{spec.name}.json: {exc}"
            ) from exc
        buffer = io.BytesIO()
        pq.write_table(arrow, buffer)
        buffer.seek(0)
        schema = _schema(spec, nullable=True)
        table = bigquery.Table(ref, schema=schema)
        table.expires = datetime.now(UTC) + STAGING_TTL
        config = bigquery.LoadJobConfig(
            source_format=bigquery.SourceFormat.PARQUET,
            schema=schema,
            write_disposition=bigquery.WriteDisposition.WRITE_TRUNCATE,
            labels=self.job_labels("stage"),
        )
        job = None
        try:
            client = self.client()
            client.create_table(table, exists_ok=True)
            job = client.load_table_from_file(
                buffer, ref, job_config=config, job_id_prefix="bnpl_stage_"
            )
            job.result()
        except _API_ERRORS as exc:
            raise self._failure(f"load into {ref.table_id}", exc, job) from exc

    def _day_script(
        self,
        day: date,
        staged: Mapping[str, bigquery.TableReference],
        ledger: Mapping[str, Any],
    ) -> tuple[str, dict[str, Any]]:
        lines = ["BEGIN", "BEGIN TRANSACTION;"]
        for name in RAW_DAY_TABLES:
            target = self.qualified("bnpl_raw", name)
            lines.append(f"DELETE FROM {target} WHERE transaction_date = @day;")  # noqa: S608
            if name in staged:
                ref = staged[name]
                cols = ", ".join(f"`{c}`" for c in table_spec("bnpl_raw", name).column_names)
                source = f"`{ref.project}.{ref.dataset_id}.{ref.table_id}`"
                lines.append(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {source};")  # noqa: S608 - names from schemas/
        spec = table_spec("bnpl_raw", "source_batches")
        target = self.qualified("bnpl_raw", "source_batches")
        cols = ", ".join(f"`{c}`" for c in spec.column_names)
        values = ", ".join(f"@ledger_{c}" for c in spec.column_names)
        lines += [
            f"DELETE FROM {target} WHERE transaction_date = @day;",  # noqa: S608 - names from schemas/
            f"INSERT INTO {target} ({cols}) VALUES ({values});",  # noqa: S608
            "COMMIT TRANSACTION;",
            "EXCEPTION WHEN ERROR THEN",
            "ROLLBACK TRANSACTION;",
            "RAISE USING MESSAGE = @@error.message;",
            "END;",
        ]
        params: dict[str, Any] = {"day": day}
        for column in spec.columns:
            params[f"ledger_{column.name}"] = TypedParam(column.type, ledger[column.name])
        return "\n".join(lines), params

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        labels: Mapping[str, str] | None = None,
    ) -> pl.DataFrame:
        job = self._query_job(sql, params, operation="query", labels=labels)
        try:
            table = job.result().to_arrow(create_bqstorage_client=False)
        except _API_ERRORS as exc:
            raise self._failure("reading query results", exc, job) from exc
        return _to_polars(table)

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

    def read_table(self, name: str) -> pl.DataFrame:
        dataset, _, table = name.partition(".")
        if not table or dataset not in DATASETS:
            raise ConfigError(f"table {name!r} is not 'dataset.table' with a dataset in {DATASETS}")
        try:
            meta = self.client().get_table(self._ref(dataset, table))
        except NotFound:
            raise WarehouseError(
                f"table {name} does not exist in project {self.project} "
                f"(dataset {self.dataset_id(dataset)}); load or build it first"
            ) from None
        except _API_ERRORS as exc:
            raise self._failure(f"reading {name}", exc) from exc
        sql = f"SELECT * FROM {self.qualified(dataset, table)}"  # noqa: S608 - names checked above
        partitioning = meta.time_partitioning
        if meta.require_partition_filter and partitioning is not None and partitioning.field:
            # Every partition, with a filter the enforcement accepts.
            sql += f" WHERE `{partitioning.field}` >= DATE '0001-01-01'"
        return self.query(sql)

    def table_exists(self, dataset: str, table: str) -> bool:
        try:
            self.client().get_table(self._ref(dataset, table))
        except NotFound:
            return False
        except _API_ERRORS as exc:
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
        except _API_ERRORS as exc:
            raise self._failure(
                f"copy of {src_dataset}.{src_table} to {dst_dataset}.{dst_table}", exc, job
            ) from exc

    def close(self) -> None:
        with self._lock:
            if self._bq is not None:
                self._bq.close()  # type: ignore[no-untyped-call]
                self._bq = None


def _staging_name(table: str, batch_id: str, token: str) -> str:
    return f"_stage_{table}_{_UNSAFE_ID.sub('_', batch_id)[:200]}_{token}"


def _check_frame(name: str, frame: pl.DataFrame, day: date) -> None:
    expected = table_spec("bnpl_raw", name).column_names
    if frame.columns != expected:
        missing = sorted(set(expected) - set(frame.columns))
        extra = sorted(set(frame.columns) - set(expected))
        raise WarehouseError(
            f"frame for bnpl_raw.{name} does not match schemas/bnpl_raw/{name}.json "
            f"(missing {missing}, unexpected {extra}, or a different order)"
        )
    other = frame.filter(pl.col("transaction_date") != day).height
    if other:
        raise WarehouseError(
            f"frame for bnpl_raw.{name} has {other} rows dated outside {day}; a day batch may "
            "only hold its own day (fix the split before loading)"
        )


def _check_ledger(batch: DayBatch) -> Mapping[str, Any]:
    expected = table_spec("bnpl_raw", "source_batches").column_names
    if set(batch.ledger) != set(expected):
        raise WarehouseError(
            f"ledger row for {batch.day} does not match schemas/bnpl_raw/source_batches.json "
            f"(missing {sorted(set(expected) - set(batch.ledger))}, "
            f"unexpected {sorted(set(batch.ledger) - set(expected))})"
        )
    if batch.ledger["transaction_date"] != batch.day:
        raise WarehouseError(
            f"ledger row says {batch.ledger['transaction_date']} but the batch is {batch.day}"
        )
    return batch.ledger
