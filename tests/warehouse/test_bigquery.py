"""bnpl.warehouse.bigquery: the BigQuery adapter, unit-tested and run against the local emulator."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from emulator import SETUP, EmulatorError, prepare
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import bigquery
from polars.testing import assert_frame_equal

from bnpl.bundle import SCHEMAS_DIR
from bnpl.errors import ConfigError, WarehouseError
from bnpl.ingest.failures import FailedDay, write_failures
from bnpl.settings import BigQuerySettings, load_settings
from bnpl.warehouse import DayBatch, open_warehouse
from bnpl.warehouse.bigquery import BigQueryWarehouse, TypedParam, set_credentials_block_loader
from bnpl.warehouse.bigquery_load import day_script, staging_name
from bnpl.warehouse.bigquery_params import query_parameter, query_parameters
from bnpl.warehouse.labels import job_labels, sanitise_label_key, sanitise_label_value
from bnpl.warehouse.names import DATASETS, RAW_DAY_TABLES

DAY1, DAY2, DAY3, DAY4, DAY5, DAY6, DAY7 = (date(2024, 3, d) for d in range(1, 8))
SECRET = "SECRET-MARKER-7f3a"


def _settings(**overrides: Any) -> BigQuerySettings:
    return BigQuerySettings(**{"project": "p-unit", "location": "EU", **overrides})


def _raw_rows(warehouse: BigQueryWarehouse, table: str, day: date) -> pl.DataFrame:
    return warehouse.query(
        f"SELECT * FROM {warehouse.qualified('bnpl_raw', table)} WHERE transaction_date = @day",
        {"day": day},
    )


def _sorted(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort(frame.columns[0])


def _jobs(warehouse: BigQueryWarehouse, run_id: str, since: datetime) -> list[Any]:
    """The jobs created since ``since`` that carry the label ``run_id``."""
    jobs = warehouse.client().list_jobs(min_creation_time=since)
    return [job for job in jobs if (job.labels or {}).get("run_id") == run_id]


# --- parameters and labels (no emulator) -----------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "BOOL"),
        (7, "INT64"),
        (1.5, "FLOAT64"),
        (Decimal("1.25"), "NUMERIC"),
        ("x", "STRING"),
        (b"x", "BYTES"),
        (date(2024, 1, 2), "DATE"),
        (datetime(2024, 1, 2, 3), "DATETIME"),
        (datetime(2024, 1, 2, 3, tzinfo=UTC), "TIMESTAMP"),
        (time(3, 4), "TIME"),
    ],
)
def test_parameter_types_are_inferred(value: Any, expected: str) -> None:
    """Each Python scalar becomes a named parameter of its BigQuery type."""
    param = query_parameter("p", value)
    assert isinstance(param, bigquery.ScalarQueryParameter)
    assert (param.name, param.type_, param.value) == ("p", expected, value)


def test_list_parameter_becomes_typed_array() -> None:
    """A list of dates becomes an ARRAY<DATE> parameter."""
    param = query_parameter("days", [DAY1, DAY2])
    assert isinstance(param, bigquery.ArrayQueryParameter)
    assert (param.array_type, param.values) == ("DATE", [DAY1, DAY2])


def test_none_parameter_needs_a_type() -> None:
    """A bare None is refused with a message naming the parameter; TypedParam gives it a type."""
    with pytest.raises(ConfigError, match="'end_date' is None"):
        query_parameter("end_date", None)
    typed = query_parameter("end_date", TypedParam("DATE", None))
    assert isinstance(typed, bigquery.ScalarQueryParameter)
    assert (typed.type_, typed.value) == ("DATE", None)


def test_unsupported_parameter_type_is_refused() -> None:
    """A value with no BigQuery type (a dict) is a ConfigError, not a failed job."""
    with pytest.raises(ConfigError, match="'p' has a dict"):
        query_parameter("p", {"a": 1})


def test_only_referenced_parameters_are_sent() -> None:
    """Parameters the SQL does not mention as @name are left out (@@error is not @error)."""
    params = query_parameters(
        {"day": DAY1, "error": "x", "days": 1}, "SELECT @day; RAISE USING MESSAGE = @@error.message"
    )
    assert [p.name for p in params] == ["day"]


@pytest.mark.parametrize(
    ("raw", "key", "value"),
    [
        ("Model", "model", "model"),
        ("9lives", "l_9lives", "9lives"),
        ("mart_bnpl.Daily Volume/v2", "mart_bnpl_daily_volume_v2", "mart_bnpl_daily_volume_v2"),
    ],
)
def test_labels_are_sanitised(raw: str, key: str, value: str) -> None:
    """Keys start with a letter; keys and values hold only lowercase letters, digits, _ and -."""
    assert sanitise_label_key(raw) == key
    assert sanitise_label_value(raw) == value


def test_label_values_are_truncated_to_63_characters() -> None:
    """BigQuery caps label keys and values at 63 characters."""
    assert len(sanitise_label_value("a" * 100)) == 63
    assert len(sanitise_label_key("k" * 100)) == 63


def test_job_labels_merge_base_block_and_call() -> None:
    """pipeline/model/run_id defaults are overridden by a job_labels block, then by the call."""
    warehouse = BigQueryWarehouse(_settings(), labels={"team": "Risk"})
    assert warehouse.job_labels("query") == {
        "pipeline": "bnpl",
        "model": "adhoc",
        "run_id": "adhoc",
        "team": "risk",
        "operation": "query",
    }
    with job_labels(model="mart_bnpl_transactions", run_id="Run-1"), job_labels(run_id="Run-2"):
        labels = warehouse.job_labels("execute", {"step": "publish"})
    assert labels["model"] == "mart_bnpl_transactions"
    assert labels["run_id"] == "run-2"
    assert labels["step"] == "publish"
    assert warehouse.job_labels("query")["model"] == "adhoc"


def test_settings_select_bigquery_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """BNPL_WAREHOUSE__KIND=bigquery plus project and location opens the BigQuery adapter."""
    monkeypatch.setenv("BNPL_WAREHOUSE__KIND", "bigquery")
    monkeypatch.setenv("BNPL_WAREHOUSE__PROJECT", "acme-data")
    monkeypatch.setenv("BNPL_WAREHOUSE__LOCATION", "EU")
    monkeypatch.setenv("BNPL_WAREHOUSE__DATASET_PREFIX", "dev_")
    warehouse = open_warehouse(load_settings())
    assert isinstance(warehouse, BigQueryWarehouse)
    assert warehouse.dialect == "bigquery"
    assert (
        warehouse.qualified("bnpl_raw", "transactions") == "`acme-data.dev_bnpl_raw.transactions`"
    )


def test_dataset_prefix_must_be_a_dataset_id(monkeypatch: pytest.MonkeyPatch) -> None:
    """A prefix BigQuery cannot use in a dataset id is a ConfigError naming the variable."""
    monkeypatch.setenv("BNPL_WAREHOUSE__KIND", "bigquery")
    monkeypatch.setenv("BNPL_WAREHOUSE__PROJECT", "acme-data")
    monkeypatch.setenv("BNPL_WAREHOUSE__DATASET_PREFIX", "dev-")
    with pytest.raises(ConfigError, match="BNPL_WAREHOUSE__DATASET_PREFIX"):
        load_settings()


def test_loopback_endpoint_uses_anonymous_credentials() -> None:
    """The local emulator needs no credentials; a loopback endpoint gets anonymous ones."""
    warehouse = BigQueryWarehouse(_settings(api_endpoint="http://127.0.0.1:1"))
    assert isinstance(warehouse.client()._credentials, AnonymousCredentials)


def test_missing_application_default_credentials_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With no credential source at all the error says how to provide one."""
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="application-default login"):
        BigQueryWarehouse(_settings()).client()


def test_credentials_block_is_resolved_by_the_injected_loader() -> None:
    """credentials_block goes to the loader by name and its credentials are used."""
    seen: list[str] = []
    creds = AnonymousCredentials()

    def loader(name: str) -> Credentials:
        seen.append(name)
        return creds

    warehouse = BigQueryWarehouse(
        _settings(credentials_block="bnpl-prod"), credentials_block_loader=loader
    )
    assert warehouse.client()._credentials is creds
    assert seen == ["bnpl-prod"]


def test_registered_block_loader_is_the_default() -> None:
    """bnpl_flows/ registers one loader for the process; adapters without their own use it."""
    creds = AnonymousCredentials()
    set_credentials_block_loader(lambda name: creds)
    try:
        warehouse = BigQueryWarehouse(_settings(credentials_block="bnpl-prod"))
        assert warehouse.client()._credentials is creds
    finally:
        set_credentials_block_loader(None)


def test_credentials_block_without_loader_is_a_config_error() -> None:
    """A block name with no loader registered says how to get one (bnpl/ never imports prefect)."""
    with pytest.raises(ConfigError, match="set_credentials_block_loader"):
        BigQueryWarehouse(_settings(credentials_block="bnpl-prod")).client()


@pytest.mark.parametrize(
    "key_json",
    [
        f'{{"type": "service_account", "private_key": "{SECRET}"',  # not JSON
        json.dumps({"type": "service_account", "private_key": SECRET}),  # fields missing
        json.dumps(
            {
                "type": "service_account",
                "client_email": "x@p.iam.gserviceaccount.com",
                "token_uri": "https://oauth2.example/token",
                "private_key": f"-----BEGIN PRIVATE KEY-----\n{SECRET}\n-----END PRIVATE KEY-----\n",
            }
        ),  # key unreadable
    ],
)
def test_bad_credentials_json_never_reveals_the_key(
    key_json: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A bad service-account key is a ConfigError whose text, cause and logs hold no key material."""
    caplog.set_level(logging.DEBUG)
    warehouse = BigQueryWarehouse(_settings(credentials_json=key_json))
    with pytest.raises(ConfigError) as raised:
        warehouse.client()
    assert "CREDENTIALS_JSON" in str(raised.value)
    assert SECRET not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert SECRET not in caplog.text
    assert SECRET not in repr(warehouse) and SECRET not in repr(warehouse.settings)


def test_failing_block_loader_message_is_not_repeated(caplog: pytest.LogCaptureFixture) -> None:
    """An exception from the block loader (which may quote the block) is not copied into the error."""
    caplog.set_level(logging.DEBUG)

    def loader(name: str) -> Credentials:
        raise ValueError(f"bad key {SECRET}")

    warehouse = BigQueryWarehouse(_settings(credentials_block="b"), credentials_block_loader=loader)
    with pytest.raises(ConfigError) as raised:
        warehouse.client()
    assert "'b'" in str(raised.value) and SECRET not in str(raised.value)
    assert SECRET not in caplog.text


def test_load_day_checks_frames_before_contacting_bigquery(
    day_batch: Callable[..., DayBatch],
) -> None:
    """A frame with a missing column or a row of another day is refused before any job runs."""
    warehouse = BigQueryWarehouse(_settings(api_endpoint="http://127.0.0.1:1"))
    good = day_batch(DAY1)
    missing = DayBatch(
        day=DAY1,
        batch_id="b",
        transactions=good.transactions.drop("amount"),
        customers=good.customers,
        quarantine=good.quarantine,
        ledger=good.ledger,
    )
    with pytest.raises(WarehouseError, match=r"bnpl_raw.transactions .*missing \['amount'\]"):
        warehouse.load_day(missing)
    other_day = DayBatch(
        day=DAY1,
        batch_id="b",
        transactions=good.transactions,
        customers=good.customers.with_columns(transaction_date=pl.lit(DAY2)),
        quarantine=good.quarantine,
        ledger=good.ledger,
    )
    with pytest.raises(WarehouseError, match="rows dated outside 2024-03-01"):
        warehouse.load_day(other_day)
    assert warehouse._bq is None


def _quoted(dataset: str, table: str) -> str:
    return f"`p.{dataset}.{table}`"


def test_day_script_is_one_transaction_over_every_raw_table(
    day_batch: Callable[..., DayBatch],
) -> None:
    """The script deletes the bound day from each raw table and the ledger, inserts only staged tables, inside one transaction."""
    batch = day_batch(DAY1)
    script, params = day_script(
        _quoted, DAY1, {"transactions": "`p.bnpl_raw._stage_t`"}, batch.ledger
    )
    statements = [line for line in script.splitlines() if line.strip()]
    assert statements[:2] == ["BEGIN", "BEGIN TRANSACTION;"]
    assert statements.count("COMMIT TRANSACTION;") == 1
    assert "ROLLBACK TRANSACTION;" in statements[statements.index("EXCEPTION WHEN ERROR THEN") :]
    for table in ("transactions", "customers", "source_batches"):
        assert f"DELETE FROM `p.bnpl_raw.{table}` WHERE transaction_date = @day;" in statements
    # the live path's dead letters (quarantine rows with an event id) are kept
    assert (
        "DELETE FROM `p.bnpl_raw.quarantine` WHERE transaction_date = @day AND event_id IS NULL;"
        in statements
    )
    inserts = [line for line in statements if line.startswith("INSERT INTO")]
    assert [line.split()[2] for line in inserts] == [
        "`p.bnpl_raw.transactions`",
        "`p.bnpl_raw.source_batches`",
    ]
    assert inserts[0].endswith("FROM `p.bnpl_raw._stage_t`;")
    assert "$" not in script and str(DAY1) not in script
    assert params["day"] == DAY1
    assert params["ledger_records_loaded"] == TypedParam("INT64", batch.ledger["records_loaded"])
    assert params["ledger_flow_run_id"].type == "STRING"


def test_staging_names_are_plain_identifiers() -> None:
    """Staging table names keep only letters, digits and _, whatever the batch id holds."""
    name = staging_name("transactions", "simulator:bnpl/0.1$2024-01-01", "ab12")
    assert name == "_stage_transactions_simulator_bnpl_0_1_2024_01_01_ab12"


def test_setup_script_fails_loudly_without_python_313(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing 3.13 interpreter makes emulator preparation fail with a message saying so."""
    monkeypatch.setenv("BQ_EMULATOR_PYTHON", "/nonexistent/python3.13")
    with pytest.raises(EmulatorError, match=r"Python 3\.13 interpreter not found") as raised:
        prepare()
    assert SETUP.name in str(raised.value)


# --- against the local BigQuery emulator -------------------------------------------------------


@pytest.mark.emulator
@pytest.mark.slow
def test_ensure_schema_creates_declared_datasets_and_tables(
    bq_warehouse: BigQueryWarehouse, bq_settings: BigQuerySettings
) -> None:
    """Four prefixed datasets in the location; tables with the schema files' fields, partitioning, clustering and filter rule."""
    client = bq_warehouse.client()
    for name in DATASETS:
        dataset = client.get_dataset(f"{bq_settings.project}.{bq_settings.dataset_prefix}{name}")
        assert dataset.location == "US"
    declared = sorted(SCHEMAS_DIR.glob("bnpl_*/*.json"))
    assert declared
    for path in declared:
        doc = json.loads(path.read_text())
        table = client.get_table(
            f"{bq_settings.project}.{bq_settings.dataset_prefix}{path.parent.name}.{path.stem}"
        )
        assert [(f.name, f.field_type, f.mode) for f in table.schema] == [
            (
                f["name"],
                {"INT64": "INTEGER", "FLOAT64": "FLOAT", "BOOL": "BOOLEAN"}.get(
                    f["type"], f["type"]
                ),
                f.get("mode", "NULLABLE"),
            )
            for f in doc["fields"]
        ]
        partitioning = doc.get("time_partitioning")
        if partitioning:
            assert table.time_partitioning.type_ == partitioning["type"]
            assert table.time_partitioning.field == partitioning["field"]
        assert (table.clustering_fields or []) == doc.get("clustering", [])
        assert bool(table.require_partition_filter) == doc.get("require_partition_filter", False)
    # transactions: day-partitioned on transaction_date, clustered by customer_key, filter required
    tx = client.get_table(
        f"{bq_settings.project}.{bq_settings.dataset_prefix}bnpl_raw.transactions"
    )
    assert (tx.time_partitioning.field, tx.clustering_fields, tx.require_partition_filter) == (
        "transaction_date",
        ["customer_key"],
        True,
    )
    again = BigQueryWarehouse(bq_settings)
    again.ensure_schema()  # idempotent on existing datasets and tables
    assert again.table_exists("bnpl_raw", "transactions")
    assert not again.table_exists("bnpl_raw", "nope")


@pytest.mark.emulator
@pytest.mark.slow
def test_load_day_is_idempotent_and_days_are_independent(
    bq_warehouse: BigQueryWarehouse, day_batch: Callable[..., DayBatch]
) -> None:
    """Loading a day twice leaves each row once; reloading one day leaves the other untouched."""
    first = day_batch(DAY1, tx=4, cust=2, quar=1, tag="a")
    bq_warehouse.load_day(first)
    bq_warehouse.load_day(first)
    second = day_batch(DAY2, tx=3, cust=1, quar=0, tag="b")
    bq_warehouse.load_day(second)
    for name, frame in [
        ("transactions", first.transactions),
        ("customers", first.customers),
        ("quarantine", first.quarantine),
    ]:
        assert_frame_equal(_sorted(_raw_rows(bq_warehouse, name, DAY1)), _sorted(frame))
    replacement = day_batch(DAY1, tx=2, cust=1, quar=0, tag="c")
    bq_warehouse.load_day(replacement)
    assert_frame_equal(
        _sorted(_raw_rows(bq_warehouse, "transactions", DAY1)), _sorted(replacement.transactions)
    )
    assert _raw_rows(bq_warehouse, "quarantine", DAY1).height == 0
    assert_frame_equal(
        _sorted(_raw_rows(bq_warehouse, "transactions", DAY2)), _sorted(second.transactions)
    )
    ledger = bq_warehouse.read_table("bnpl_raw.source_batches").sort("transaction_date")
    assert ledger["batch_id"].to_list() == [replacement.batch_id, second.batch_id]
    assert ledger.row(0, named=True) == dict(replacement.ledger)


@pytest.mark.emulator
@pytest.mark.slow
def test_failing_statement_rolls_back_the_whole_day(
    bq_shared: BigQueryWarehouse, day_batch: Callable[..., DayBatch]
) -> None:
    """A day whose third INSERT fails (NULL in a REQUIRED column) leaves the previous load intact."""
    good = day_batch(DAY3, tx=3, cust=2, quar=1, tag="good")
    bq_shared.load_day(good)
    bad = day_batch(DAY3, tx=5, cust=3, quar=2, tag="bad")
    # Transactions and customers are fine and are deleted+inserted first; quarantine then breaks
    # its NOT NULL raw_line, after the other tables were already rewritten inside the transaction.
    bad = DayBatch(
        day=bad.day,
        batch_id=bad.batch_id,
        transactions=bad.transactions,
        customers=bad.customers,
        quarantine=bad.quarantine.with_columns(raw_line=pl.lit(None, dtype=pl.String)),
        ledger=bad.ledger,
    )
    with pytest.raises(WarehouseError) as raised:
        bq_shared.load_day(bad)
    message = str(raised.value)
    assert "load of 2024-03-03" in message and "raw_line" in message
    assert "(job bnpl_" in message
    for name, frame in [
        ("transactions", good.transactions),
        ("customers", good.customers),
        ("quarantine", good.quarantine),
    ]:
        assert_frame_equal(_sorted(_raw_rows(bq_shared, name, DAY3)), _sorted(frame))
    ledger = bq_shared.read_table("bnpl_raw.source_batches")
    assert ledger.filter(pl.col("transaction_date") == DAY3)["batch_id"].to_list() == [
        good.batch_id
    ]
    staging = [
        t.table_id
        for t in bq_shared.client().list_tables(bq_shared.dataset_id("bnpl_raw"))
        if t.table_id.startswith("_stage_")
    ]
    assert staging == []


@pytest.mark.emulator
@pytest.mark.slow
def test_no_table_or_job_destination_uses_a_partition_decorator(
    bq_shared: BigQueryWarehouse, day_batch: Callable[..., DayBatch]
) -> None:
    """After loads, no table in any dataset and no load job's destination contains '$'."""
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC)
    with job_labels(run_id=run_id):
        bq_shared.load_day(day_batch(DAY4))
        bq_shared.load_day(day_batch(DAY5))
    client = bq_shared.client()
    names = [t.table_id for d in DATASETS for t in client.list_tables(bq_shared.dataset_id(d))]
    assert set(RAW_DAY_TABLES) <= set(names)
    assert [n for n in names if "$" in n or n.startswith("_stage_")] == []
    loads = [j for j in _jobs(bq_shared, run_id, since) if j.job_type == "load"]
    assert len(loads) == 6  # three non-empty frames per day
    assert all("$" not in j.destination.table_id for j in loads)


@pytest.mark.emulator
@pytest.mark.slow
def test_partition_filter_is_enforced_and_the_adapter_satisfies_it(
    bq_shared: BigQueryWarehouse, day_batch: Callable[..., DayBatch]
) -> None:
    """A raw-table query without a transaction_date filter is rejected; the adapter's own jobs all pass it."""
    run_id = f"run-{uuid.uuid4().hex[:8]}"
    since = datetime.now(UTC)
    with job_labels(run_id=run_id):
        bq_shared.load_day(day_batch(DAY6, tx=2))
        bq_shared.load_day(day_batch(DAY6, tx=2))
        everything = bq_shared.read_table("bnpl_raw.transactions")
    assert everything.filter(pl.col("transaction_date") == DAY6).height == 2
    jobs = _jobs(bq_shared, run_id, since)
    assert {j.labels["operation"] for j in jobs} == {"stage", "load_day", "query"}
    assert all(j.state == "DONE" and j.error_result is None for j in jobs)
    for table in RAW_DAY_TABLES:
        with pytest.raises(WarehouseError, match="without a filter over column"):
            bq_shared.query(f"SELECT count(*) AS n FROM {bq_shared.qualified('bnpl_raw', table)}")


@pytest.mark.emulator
@pytest.mark.slow
def test_query_returns_polars_types_and_binds_every_parameter_type(
    bq_shared: BigQueryWarehouse,
) -> None:
    """Each BigQuery type arrives as its Polars type; each inferred parameter type round-trips."""
    params: dict[str, Any] = {
        "i": 7,
        "f": 1.5,
        "s": "x'); DROP TABLE t; --",
        "b": True,
        "d": date(2024, 2, 29),
        "dt": datetime(2024, 2, 29, 23, 59, 58),
        "ts": datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC),
        "n": Decimal("12.345"),
        "days": [DAY1, DAY2],
        "none": TypedParam("INT64", None),
    }
    frame = bq_shared.query(
        "SELECT @i AS i, @f AS f, @s AS s, @b AS b, @d AS d, @dt AS dt, @ts AS ts, @n AS n, "
        "ARRAY_LENGTH(@days) AS days, @none AS none",
        params,
    )
    assert frame.schema == pl.Schema(
        {
            "i": pl.Int64(),
            "f": pl.Float64(),
            "s": pl.String(),
            "b": pl.Boolean(),
            "d": pl.Date(),
            "dt": pl.Datetime("us"),
            "ts": pl.Datetime("us", "UTC"),
            "n": pl.Decimal(38, 9),
            "days": pl.Int64(),
            "none": pl.Int64(),
        }
    )
    assert frame.row(0) == (
        7,
        1.5,
        "x'); DROP TABLE t; --",
        True,
        date(2024, 2, 29),
        datetime(2024, 2, 29, 23, 59, 58),
        datetime(2024, 2, 29, 23, 59, 58, tzinfo=UTC),
        Decimal("12.345000000"),
        2,
        None,
    )
    empty = bq_shared.query("SELECT 1 AS x FROM UNNEST([1]) WHERE FALSE")
    assert (empty.height, empty.columns) == (0, ["x"])


@pytest.mark.emulator
@pytest.mark.slow
def test_copy_table_replaces_the_destination(bq_shared: BigQueryWarehouse) -> None:
    """copy_table writes the source over the destination (WRITE_TRUNCATE), creating it if needed."""
    audit = bq_shared.qualified("bnpl_audit", "mart_x")
    bq_shared.execute(f"CREATE TABLE {audit} AS SELECT n FROM UNNEST([1, 2, 3]) AS n")
    bq_shared.copy_table("bnpl_audit", "mart_x", "bnpl_marts", "mart_x")
    assert sorted(bq_shared.read_table("bnpl_marts.mart_x")["n"].to_list()) == [1, 2, 3]
    bq_shared.execute(f"CREATE OR REPLACE TABLE {audit} AS SELECT n FROM UNNEST([10, 20]) AS n")
    bq_shared.copy_table("bnpl_audit", "mart_x", "bnpl_marts", "mart_x")
    assert sorted(bq_shared.read_table("bnpl_marts.mart_x")["n"].to_list()) == [10, 20]
    with pytest.raises(
        WarehouseError, match=r"copy of bnpl_audit.missing to bnpl_marts.mart_x failed \(job"
    ):
        bq_shared.copy_table("bnpl_audit", "missing", "bnpl_marts", "mart_x")
    assert sorted(bq_shared.read_table("bnpl_marts.mart_x")["n"].to_list()) == [10, 20]


@pytest.mark.emulator
@pytest.mark.slow
def test_every_job_carries_the_labels(
    bq_shared: BigQueryWarehouse, day_batch: Callable[..., DayBatch]
) -> None:
    """Load, script, query, statement and copy jobs carry pipeline, model and run_id labels."""
    run_id = f"Run {uuid.uuid4().hex[:8]}/A"
    since = datetime.now(UTC)
    expected_run = sanitise_label_value(run_id)
    table = bq_shared.qualified("bnpl_audit", "labelled")
    with job_labels(model="mart_bnpl_daily_volume", run_id=run_id):
        bq_shared.load_day(day_batch(DAY7))
        bq_shared.execute(f"CREATE TABLE {table} AS SELECT 1 AS x")
        bq_shared.execute_many([f"INSERT INTO {table} (x) VALUES (2)"])
        bq_shared.query(f"SELECT * FROM {table}", labels={"step": "audit"})
        bq_shared.copy_table("bnpl_audit", "labelled", "bnpl_marts", "labelled")
    jobs = _jobs(bq_shared, expected_run, since)
    assert sorted(j.labels["operation"] for j in jobs) == sorted(
        ["stage", "stage", "stage", "load_day", "execute", "execute_many", "query", "copy_table"]
    )
    for job in jobs:
        assert job.labels["pipeline"] == "bnpl"
        assert job.labels["model"] == "mart_bnpl_daily_volume"
    assert {j.job_type for j in jobs} == {"load", "query", "copy"}
    assert [j.labels.get("step") for j in jobs if j.labels["operation"] == "query"] == ["audit"]


@pytest.mark.emulator
@pytest.mark.slow
def test_failed_jobs_become_warehouse_errors_with_job_id(bq_shared: BigQueryWarehouse) -> None:
    """A failing query is a WarehouseError naming the job and the service's message."""
    with pytest.raises(WarehouseError) as raised:
        bq_shared.query("SELEC 1")
    message = str(raised.value)
    assert message.startswith("BigQuery query failed (job bnpl_adhoc_")
    assert "Syntax error" in message
    job_id = message.split("(job ", 1)[1].split(")", 1)[0]
    assert bq_shared.client().get_job(job_id).error_result is not None


@pytest.mark.emulator
@pytest.mark.slow
def test_execute_many_is_all_or_nothing(bq_shared: BigQueryWarehouse) -> None:
    """When the second statement fails, the first one's insert is rolled back."""
    table = bq_shared.qualified("bnpl_audit", "txn")
    bq_shared.execute(f"CREATE TABLE {table} (x INT64 NOT NULL)")
    bq_shared.execute_many([f"INSERT INTO {table} (x) VALUES (@x)"], {"x": 1})
    with pytest.raises(WarehouseError, match="transaction failed"):
        bq_shared.execute_many(
            [f"INSERT INTO {table} (x) VALUES (@x);", f"INSERT INTO {table} (x) VALUES (NULL)"],
            {"x": 2},
        )
    assert bq_shared.read_table("bnpl_audit.txn")["x"].to_list() == [1]


@pytest.mark.emulator
@pytest.mark.slow
def test_failure_log_rows_round_trip_through_bigquery(bq_shared: BigQueryWarehouse) -> None:
    """The failure log's insert, in BigQuery's dialect with bound parameters, appends its rows."""
    failed_at = datetime(2024, 3, 8, 6, 30, tzinfo=UTC)
    failures = [
        FailedDay(
            DAY6, "a" * 32, '{"seed":6}', "TransientSourceError", "TransientSourceError: 503"
        ),
        FailedDay(DAY7, "b" * 32, '{"seed":7}', "WarehouseError", "WarehouseError: it's full"),
    ]
    for flow_run_id in ("run-1", None):
        write_failures(
            bq_shared,
            failures,
            source_url="http://simtom",
            failed_at=failed_at,
            flow_run_id=flow_run_id,
            bnpl_version="1.0",
        )
    log = bq_shared.read_table("bnpl_audit.ingest_failures").sort("flow_run_id", "transaction_date")
    assert log.select(
        "transaction_date", "batch_id", "request_body", "error_type", "error", "flow_run_id"
    ).rows() == [
        (f.day, f.batch_id, f.request_body, f.error_type, f.error, run)
        for run in (None, "run-1")
        for f in failures
    ]
    assert set(log["failed_at"]) == {failed_at}
    assert set(log["source_url"]) == {"http://simtom"}


@pytest.mark.emulator
@pytest.mark.slow
def test_read_table_errors_are_actionable(bq_shared: BigQueryWarehouse) -> None:
    """A missing table, or a bare name no dataset holds, is a clear error naming what exists."""
    with pytest.raises(ConfigError, match=r"bnpl_marts\.nope does not exist.*tables there: "):
        bq_shared.read_table("bnpl_marts.nope")
    with pytest.raises(ConfigError, match=r"no table 'nope' in bnpl_raw.*'dataset\.table'"):
        bq_shared.read_table("nope")


@pytest.mark.emulator
@pytest.mark.slow
def test_configuration_alone_reaches_the_emulator(
    bq_settings: BigQuerySettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """BNPL_WAREHOUSE__* variables alone open a working BigQuery warehouse (bnpl.read_table path)."""
    monkeypatch.setenv("BNPL_WAREHOUSE__KIND", "bigquery")
    monkeypatch.setenv("BNPL_WAREHOUSE__PROJECT", bq_settings.project)
    monkeypatch.setenv("BNPL_WAREHOUSE__LOCATION", "US")
    monkeypatch.setenv("BNPL_WAREHOUSE__DATASET_PREFIX", bq_settings.dataset_prefix)
    monkeypatch.setenv("BNPL_WAREHOUSE__API_ENDPOINT", str(bq_settings.api_endpoint))
    import bnpl

    warehouse = open_warehouse(load_settings())
    warehouse.ensure_schema()
    assert bnpl.read_table("bnpl_raw.source_batches").height == 0


@pytest.mark.emulator
@pytest.mark.slow
def test_credentials_block_loader_reaches_the_emulator(bq_settings: BigQuerySettings) -> None:
    """Credentials from a block loader are the ones the client sends requests with."""
    names: list[str] = []

    def loader(name: str) -> Credentials:
        names.append(name)
        return AnonymousCredentials()

    settings = bq_settings.model_copy(update={"credentials_block": "emulator-block"})
    warehouse = BigQueryWarehouse(settings, credentials_block_loader=loader)
    assert warehouse.query("SELECT 1 AS one")["one"].to_list() == [1]
    assert names == ["emulator-block"]
