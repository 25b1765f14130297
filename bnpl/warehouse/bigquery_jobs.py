"""The BigQuery client of an adapter and the jobs it runs: credentials on first use, the
physical names of datasets and tables, job labels, one query job and its error translation.
:class:`bnpl.warehouse.bigquery.BigQueryWarehouse` runs every statement through it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import re
import threading
from collections.abc import Mapping
from typing import Any

import polars as pl
import pyarrow as pa
import requests
from google.api_core.client_options import ClientOptions
from google.api_core.exceptions import Forbidden, GoogleAPIError, NotFound
from google.auth.credentials import Credentials
from google.auth.exceptions import GoogleAuthError
from google.cloud import bigquery

from bnpl.errors import WarehouseError
from bnpl.settings import BigQuerySettings
from bnpl.warehouse.bigquery_auth import CredentialsLoader, resolve_credentials
from bnpl.warehouse.bigquery_params import query_parameters
from bnpl.warehouse.labels import current_job_labels, sanitise_label_key, sanitise_label_value
from bnpl.warehouse.names import DATASETS

logger = logging.getLogger(__name__)

_BASE_LABELS = {"pipeline": "bnpl", "model": "adhoc", "run_id": "adhoc"}
_JOB_ID_IN_MESSAGE = re.compile(r"Job ID: ([A-Za-z0-9_.:-]+)")
API_ERRORS = (
    GoogleAPIError,
    GoogleAuthError,
    requests.RequestException,
    concurrent.futures.TimeoutError,
)


def describe_error(exc: BaseException) -> str:
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
    if failed is not None:
        return str(failed.job_id)
    named = _JOB_ID_IN_MESSAGE.search(str(exc))
    return named.group(1) if named else "not started"


def to_polars(table: pa.Table) -> pl.DataFrame:
    # The client tags DATETIME/JSON/GEOGRAPHY columns with Arrow extension metadata; drop it so
    # Polars sees plain timestamps and strings.
    plain = pa.schema([f.remove_metadata() for f in table.schema])
    frame = pl.from_arrow(table.cast(plain))
    assert isinstance(frame, pl.DataFrame)
    return frame


class BigQueryJobs:
    """A BigQuery project's client (created on first use) and the jobs run on it."""

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

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(project={self.project!r}, location={self.settings.location!r}, "
            f"dataset_prefix={self.settings.dataset_prefix!r})"
        )

    # --- client and credentials -----------------------------------------------------------------

    def client(self) -> bigquery.Client:
        """The google-cloud-bigquery client, created on first use."""
        with self._lock:
            if self._bq is None:
                options = ClientOptions(api_endpoint=self.settings.api_endpoint)
                self._bq = bigquery.Client(
                    project=self.project,
                    credentials=resolve_credentials(
                        self.settings,
                        credentials=self._credentials,
                        block_loader=self._block_loader,
                    ),
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
            f"BigQuery {what} failed (job {_job_id_of(exc, job)}): {describe_error(exc)}; {hint}"
        )

    def _query_job(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        *,
        operation: str,
        labels: Mapping[str, str] | None = None,
        what: str = "query",
    ) -> pa.Table:
        """Run ``sql`` as one query job and wait for it; its result as Arrow."""
        job_labels = self.job_labels(operation, labels)
        config = bigquery.QueryJobConfig(
            query_parameters=query_parameters(params or {}, sql), labels=job_labels
        )
        job = None
        try:
            job = self.client().query(
                sql, job_config=config, job_id_prefix=f"bnpl_{job_labels['model']}_"
            )
            table = job.result().to_arrow(create_bqstorage_client=False)
        except API_ERRORS as exc:
            raise self._failure(what, exc, job) from exc
        logger.debug("%s job %s done", operation, job.job_id)
        return table

    def close(self) -> None:
        with self._lock:
            if self._bq is not None:
                self._bq.close()  # type: ignore[no-untyped-call]
                self._bq = None
