"""bnpl.settings: one Settings object from BNPL_ environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnpl.errors import ConfigError
from bnpl.settings import BigQuerySettings, DuckDBSettings, load_settings


def test_defaults_are_embedded(monkeypatch):
    """With no environment the warehouse is DuckDB under .bnpl/ and the source is the simulator."""
    s = load_settings()
    assert isinstance(s.warehouse, DuckDBSettings)
    assert s.warehouse.path == Path(".bnpl/bnpl.duckdb")
    assert s.source.url is None


def test_nested_env_vars(monkeypatch):
    """BNPL_SECTION__FIELD sets nested fields; the path alone selects DuckDB."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", "x/y.duckdb")
    monkeypatch.setenv("BNPL_INGEST__CONCURRENCY", "7")
    s = load_settings()
    assert s.warehouse == DuckDBSettings(path=Path("x/y.duckdb"))
    assert s.ingest.concurrency == 7


def test_bigquery_is_configuration_only(monkeypatch):
    """BNPL_WAREHOUSE__KIND=bigquery with a project selects BigQuery."""
    monkeypatch.setenv("BNPL_WAREHOUSE__KIND", "bigquery")
    monkeypatch.setenv("BNPL_WAREHOUSE__PROJECT", "p1")
    s = load_settings()
    assert isinstance(s.warehouse, BigQuerySettings)
    assert s.warehouse.project == "p1"


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("BNPL_WAREHOUSE__KIND", "bq", "BNPL_WAREHOUSE"),
        ("BNPL_INGEST__CONCURRENCY", "zero", "BNPL_INGEST__CONCURRENCY"),
        ("BNPL_PLAN__SEED", "0", "BNPL_PLAN__SEED"),
        ("BNPL_NOT_A_SECTION", "1", "BNPL_NOT_A_SECTION"),
    ],
)
def test_bad_settings_name_the_variable(monkeypatch, var, value, needle):
    """An invalid or unknown variable is a ConfigError naming it."""
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError, match=needle):
        load_settings()


def test_secrets_are_not_echoed(monkeypatch):
    """A rejected credential value never appears in the error message."""
    monkeypatch.setenv("BNPL_WAREHOUSE__KIND", "bigquery")
    monkeypatch.setenv("BNPL_WAREHOUSE__CREDENTIALS_JSON", "s3cr3t-value")
    with pytest.raises(ConfigError) as info:
        load_settings()  # project is missing
    assert "s3cr3t-value" not in str(info.value)
