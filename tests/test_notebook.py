"""bnpl.notebook: the notebook API on a warehouse backfilled from the bundled simulator, and
docs/notebook.ipynb executed headless against it."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import nbformat
import polars as pl
import pytest
from nbclient import NotebookClient

import bnpl
from bnpl.calendar import parse_day
from bnpl.errors import ConfigError
from bnpl.settings import Settings

NOTEBOOK = Path(__file__).parents[1] / "docs" / "notebook.ipynb"
START, END = date(2024, 6, 3), date(2024, 6, 5)


@pytest.fixture(scope="module")
def built_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DuckDB file holding START..END from the bundled simulator, built and published."""
    path = tmp_path_factory.mktemp("notebook") / "bnpl.duckdb"
    settings = bnpl.load_settings(warehouse={"path": path})
    summary = bnpl.backfill(START.isoformat(), END, settings=settings)
    assert len(summary.loaded) == 3 and not summary.failures
    bnpl.build(settings=settings)
    return path


@pytest.fixture
def settings(built_db: Path, tmp_path: Path) -> Settings:
    """Settings for this test's own copy of the built warehouse."""
    shutil.copy(built_db, tmp_path / "bnpl.duckdb")
    return bnpl.load_settings(warehouse={"path": tmp_path / "bnpl.duckdb"})


@pytest.mark.slow
def test_read_table_selects_columns_and_days(settings: Settings) -> None:
    """Only the asked columns and the days start..end (str or date) come back; lazy gives a LazyFrame."""
    everything = bnpl.read_table("bnpl_marts.mart_bnpl_transactions", settings=settings)
    one_day = bnpl.read_table(
        "bnpl_marts.mart_bnpl_transactions",
        columns=["transaction_key", "transaction_date"],
        start="2024-06-04",
        end=date(2024, 6, 4),
        settings=settings,
    )
    assert one_day.columns == ["transaction_key", "transaction_date"]
    assert one_day["transaction_date"].unique().to_list() == [date(2024, 6, 4)]
    assert (
        one_day.height == everything.filter(pl.col("transaction_date") == date(2024, 6, 4)).height
    )
    open_end = bnpl.read_table(
        "bnpl_raw.transactions", ["amount"], start="2024-06-05", lazy=True, settings=settings
    )
    assert isinstance(open_end, pl.LazyFrame)
    assert open_end.collect().height == everything.filter(pl.col("transaction_date") == END).height


@pytest.mark.slow
def test_query_resolves_refs_and_dataset_names_and_binds_parameters(settings: Settings) -> None:
    """ref('model'), dataset.table and bare model names resolve as in the models; @params are bound."""
    tx = bnpl.read_table(
        "bnpl_marts.mart_bnpl_transactions", ["transaction_date"], settings=settings
    )
    daily = bnpl.query(
        "SELECT transaction_date, COUNT(*) AS n FROM {{ ref('mart_bnpl_transactions') }} "
        "WHERE transaction_date >= @since GROUP BY 1 ORDER BY 1",
        {"since": date(2024, 6, 4)},
        settings=settings,
    )
    expected = tx.filter(pl.col("transaction_date") >= date(2024, 6, 4)).group_by(
        "transaction_date"
    )
    assert daily.rows() == sorted(expected.len().rows())
    joined = bnpl.query(
        "SELECT COUNT(*) AS n FROM bnpl_raw.transactions AS t "
        "JOIN mart_bnpl_customers AS c USING (customer_key)",
        settings=settings,
    )
    assert joined["n"].item() == tx.height


@pytest.mark.slow
def test_open_warehouse_is_a_context_manager_that_closes(settings: Settings) -> None:
    """Reads share the warehouse inside the block; it is closed after."""
    with bnpl.open_warehouse(settings) as wh:
        assert wh._con is not None  # type: ignore[attr-defined]  # held for the block
        first = bnpl.read_table("bnpl_raw.source_batches", ["transaction_date"], warehouse=wh)
        n = bnpl.query("SELECT COUNT(*) AS n FROM bnpl_raw.source_batches", warehouse=wh)
    assert first.height == n["n"].item() == 3
    assert wh._con is None  # type: ignore[attr-defined]  # the file was released


@pytest.mark.slow
def test_a_bare_table_name_reads_the_one_dataset_holding_it(settings: Settings) -> None:
    """``transactions`` reads bnpl_raw.transactions and a mart's name its published table (not
    the audit area's copy); a name two datasets hold is refused, naming both."""
    raw = bnpl.read_table("bnpl_raw.transactions", settings=settings)
    assert bnpl.read_table("transactions", settings=settings).equals(raw)
    mart = bnpl.read_table(
        "bnpl_marts.mart_bnpl_transactions", ["transaction_key"], settings=settings
    )
    bare = bnpl.read_table("mart_bnpl_transactions", ["transaction_key"], settings=settings)
    assert bare.sort("transaction_key").equals(mart.sort("transaction_key")) and bare.height
    with bnpl.open_warehouse(settings) as wh:
        wh.execute("CREATE TABLE bnpl_marts.source_batches AS SELECT 1 AS x")
        with pytest.raises(
            ConfigError, match=r"name one of bnpl_raw\.source_batches, bnpl_marts\.source_batches"
        ):
            bnpl.read_table("source_batches", warehouse=wh)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: bnpl.read_table("bnpl_marts.nope", settings=s), r"bnpl_marts.nope does not exist.*mart_bnpl_customers"),
        (lambda s: bnpl.read_table("marts.x", settings=s), r"not 'dataset.table' with a dataset in bnpl_raw"),
        (lambda s: bnpl.read_table("nope", settings=s), r"no table 'nope' in bnpl_raw, .*'dataset.table'"),
        (lambda s: bnpl.read_table("bnpl_raw.transactions", ["amount", "nope"], settings=s), r"no column 'nope'; its columns: transaction_key"),
        (lambda s: bnpl.read_table("bnpl_marts.mart_bnpl_customers", start="2024-06-04", settings=s), r"no partition column"),
        (lambda s: bnpl.read_table("bnpl_raw.transactions", start="2024-06-31", settings=s), r"start '2024-06-31' is not a date"),
        (lambda s: bnpl.read_table("bnpl_raw.transactions", start="2024-06-05", end="2024-06-04", settings=s), r"after end"),
        (lambda s: bnpl.query("SELECT * FROM nope", settings=s), r"table 'nope', which is no model"),
        (lambda s: bnpl.query("SELECT * FROM bnpl_raw.nope", settings=s), r"bnpl_raw.nope does not exist.*transactions"),
        (lambda s: bnpl.query("SELECT * FROM {{ ref('nope') }}", settings=s), r"ref\('nope'\) names no model"),
        (lambda s: bnpl.query("SELECT @x AS x", settings=s), r"misses \['x'\]"),
        (lambda s: bnpl.query("SELECT 1 AS x", {"x": 1}, settings=s), r"adds unused \['x'\]"),
        (lambda s: bnpl.query("SELEC 1", settings=s), r"query"),
        (lambda s: bnpl.query("DELETE FROM bnpl_raw.transactions WHERE TRUE", settings=s), r"runs one SELECT"),
    ],
)  # fmt: skip
def test_bad_input_is_one_config_error_naming_what_exists(
    settings: Settings, call, message
) -> None:  # type: ignore[no-untyped-def]
    """Unknown tables, columns, models, days and parameters each raise one ConfigError saying what exists."""
    with pytest.raises(ConfigError, match=message):
        call(settings)
    assert bnpl.read_table("bnpl_raw.source_batches", settings=settings).height == 3  # nothing lost


def test_days_are_strings_or_dates_through_one_parser() -> None:
    """parse_day takes 'YYYY-MM-DD' or a date, and refuses datetimes and other values by name."""
    assert parse_day("2024-06-01") == parse_day(date(2024, 6, 1)) == date(2024, 6, 1)
    for bad in ("June 1", 20240601, None):
        with pytest.raises(ConfigError, match=r"start .* is not a date"):
            parse_day(bad, name="start")  # type: ignore[arg-type]
    from datetime import datetime

    with pytest.raises(ConfigError, match="is not a date"):
        parse_day(datetime(2024, 6, 1, 12), name="start")


@pytest.mark.slow
def test_example_notebook_runs_headless(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/notebook.ipynb executes top to bottom; its row-count cell shows the rows of the two days."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(settings.warehouse.path))  # type: ignore[union-attr]
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = {
        tag: cell.outputs
        for cell in notebook.cells
        if cell.cell_type == "code"
        for tag in cell.metadata.get("tags", [])
    }

    def shown(tag: str) -> str:
        (result,) = [o for o in outputs[tag] if o.output_type == "execute_result"]
        return str(result.data["text/plain"])

    tx = bnpl.read_table(
        "bnpl_marts.mart_bnpl_transactions", ["transaction_date"], settings=settings
    )
    two_days = tx.filter(pl.col("transaction_date") >= date(2024, 6, 4)).height
    assert shown("days") == "3"
    assert shown("row-count") == str(two_days)
    assert "2024-06-05" in shown("query") and "2024-06-03" not in shown("query")
    assert "pass" in shown("dq") and "fail" not in shown("dq")


def test_reading_a_missing_warehouse_creates_nothing(tmp_path: Path) -> None:
    """read_table and query on a warehouse file that does not exist raise ConfigError and write no file."""
    settings = bnpl.load_settings(warehouse={"path": tmp_path / "none.duckdb"})
    with pytest.raises(ConfigError):
        bnpl.read_table("bnpl_raw.transactions", settings=settings)
    with pytest.raises(ConfigError):
        bnpl.query("SELECT COUNT(*) AS n FROM bnpl_raw.transactions", settings=settings)
    assert not (tmp_path / "none.duckdb").exists()


@pytest.mark.slow  # rebuilds every model
def test_check_gates_a_range_given_as_strings_and_stores_the_results(settings: Settings) -> None:
    """bnpl.check runs the gate over start..end, publishes, and its results are in dq_results."""
    gate = bnpl.check("2024-06-04", "2024-06-05", settings=settings)
    assert (gate.start, gate.end, gate.logical_date) == (date(2024, 6, 4), END, END)
    assert gate.passed and "mart_bnpl_transactions" in gate.published
    stored = bnpl.query(
        "SELECT check_name FROM bnpl_audit.dq_results WHERE run_id = @run",
        {"run": gate.run_id},
        settings=settings,
    )
    assert sorted(stored["check_name"]) == sorted(r.check_name for r in gate.results)
