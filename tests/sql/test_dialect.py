"""The sqlglot traps of DESIGN.md (and those found while building the runner): each is handled
(golden BigQuery -> DuckDB text plus DuckDB executing to BigQuery's answer) or banned by the lint.

Where a trap is handled, a test also shows plain sqlglot still gets it wrong: if sqlglot fixes it,
that test fails and the runner's own fix must go (or it would apply twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import duckdb
import pytest
import sqlglot
import sqlglot.errors

from bnpl.models import dialect
from bnpl.models.dialect import lint, parse, to_dialect, transpile


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB connection."""
    connection = duckdb.connect()
    try:
        yield connection
    finally:
        connection.close()


def duck(sql: str) -> str:
    """The runner's DuckDB text for a BigQuery statement."""
    return to_dialect(parse(sql), "duckdb")


def banned(sql: str) -> list[str]:
    """Lint messages for a BigQuery query with no table names."""
    return [v.message for v in lint(parse(sql))]


# --- handled ---------------------------------------------------------------------------------------

WEEK = [date(2024, 11, 24 + i) for i in range(7)]  # Sunday 24th .. Saturday 30th


def test_dayofweek_golden() -> None:
    """EXTRACT(DAYOFWEEK) gains + 1 on DuckDB."""
    assert (
        duck("SELECT EXTRACT(DAYOFWEEK FROM d) AS dow FROM t")
        == "SELECT (EXTRACT(DAYOFWEEK FROM d) + 1) AS dow FROM t"
    )


def test_dayofweek_matches_bigquery_on_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    """Sunday is 1 and Saturday 7 on DuckDB, as on BigQuery."""
    sql = duck("SELECT EXTRACT(DAYOFWEEK FROM d) AS dow FROM UNNEST(@days) AS d")
    got = [row[0] for row in con.sql(sql, params={"days": WEEK}).fetchall()]
    assert got == [1, 2, 3, 4, 5, 6, 7]


def test_plain_sqlglot_dayofweek_is_still_off_by_one(con: duckdb.DuckDBPyConnection) -> None:
    """Without the runner, DuckDB answers 0 for a Sunday (the trap still exists in sqlglot)."""
    sql = sqlglot.transpile(
        "SELECT EXTRACT(DAYOFWEEK FROM DATE '2024-11-24')", read="bigquery", write="duckdb"
    )[0]
    assert con.sql(sql).fetchall()[0] == (0,)


@pytest.mark.parametrize(
    ("bigquery", "expected"),
    [
        (
            "SELECT DATE_ADD(d, INTERVAL 1 DAY) AS x FROM t",
            "SELECT CAST(d + INTERVAL '1' DAY AS DATE) AS x FROM t",
        ),
        (
            "SELECT DATE_SUB(d, INTERVAL 28 DAY) AS x FROM t",
            "SELECT CAST(d - INTERVAL '28' DAY AS DATE) AS x FROM t",
        ),
        (
            "SELECT DATE_TRUNC(d, MONTH) AS x FROM t",
            "SELECT CAST(DATE_TRUNC('MONTH', d) AS DATE) AS x FROM t",
        ),
    ],
)
def test_date_functions_golden(bigquery: str, expected: str) -> None:
    """DATE_ADD, DATE_SUB and DATE_TRUNC are cast back to DATE on DuckDB."""
    assert duck(bigquery) == expected


@pytest.mark.parametrize(
    "bigquery",
    [
        "SELECT DATE_ADD(DATE '2024-02-28', INTERVAL 1 DAY) AS x",
        "SELECT DATE_SUB(DATE '2024-03-01', INTERVAL 1 DAY) AS x",
        "SELECT DATE_TRUNC(DATE '2024-02-29', MONTH) AS x",
    ],
)
def test_date_functions_return_date_on_duckdb(
    con: duckdb.DuckDBPyConnection, bigquery: str
) -> None:
    """Each returns a DATE on DuckDB, like BigQuery (not a TIMESTAMP)."""
    result = con.sql(duck(bigquery))
    assert [str(t) for t in result.types] == ["DATE"]
    assert isinstance(result.fetchall()[0][0], date)  # type: ignore[index]


def test_plain_sqlglot_date_add_still_returns_timestamp(con: duckdb.DuckDBPyConnection) -> None:
    """Without the runner, DATE_ADD on a DATE is a TIMESTAMP on DuckDB."""
    sql = sqlglot.transpile(
        "SELECT DATE_ADD(DATE '2024-02-28', INTERVAL 1 DAY)", read="bigquery", write="duckdb"
    )[0]
    assert [str(t) for t in con.sql(sql).types] == ["TIMESTAMP"]


def test_numeric_keeps_bigquery_precision(con: duckdb.DuckDBPyConnection) -> None:
    """NUMERIC becomes DECIMAL(38, 9) on DuckDB (plain sqlglot gives DECIMAL(18, 3))."""
    sql = duck("SELECT CAST(x AS NUMERIC) AS n FROM (SELECT 0.123456789 AS x)")
    assert "DECIMAL(38, 9)" in sql
    assert str(con.sql(sql).fetchall()[0][0]) == "0.123456789"  # type: ignore[index]
    plain = sqlglot.transpile(
        "SELECT CAST(0.123456789 AS NUMERIC)", read="bigquery", write="duckdb"
    )
    assert str(con.sql(plain[0]).fetchall()[0][0]) == "0.123"  # type: ignore[index]


def test_runner_ddl_keeps_partitioning_on_bigquery_and_drops_it_on_duckdb() -> None:
    """PARTITION BY, CLUSTER BY and OPTIONS survive for BigQuery and are removed for DuckDB."""
    ddl = parse(
        "CREATE OR REPLACE TABLE `d`.`t` PARTITION BY day CLUSTER BY k OPTIONS (description='x') "
        "AS SELECT 1 AS k, DATE '2024-01-01' AS day"
    )
    assert to_dialect(ddl, "bigquery") == (
        "CREATE OR REPLACE TABLE `d`.`t` PARTITION BY day CLUSTER BY k OPTIONS (description='x') "
        "AS SELECT 1 AS k, CAST('2024-01-01' AS DATE) AS day"
    )
    assert to_dialect(ddl, "duckdb") == (
        'CREATE OR REPLACE TABLE "d"."t" AS SELECT 1 AS k, CAST(\'2024-01-01\' AS DATE) AS day'
    )


def test_parameters_become_duckdb_parameters() -> None:
    """@start_date is written $start_date for DuckDB and kept for BigQuery."""
    tree = parse("SELECT * FROM t WHERE d BETWEEN @start_date AND @end_date")
    assert to_dialect(tree, "duckdb") == "SELECT * FROM t WHERE d BETWEEN $start_date AND $end_date"
    assert (
        to_dialect(tree, "bigquery") == "SELECT * FROM t WHERE d BETWEEN @start_date AND @end_date"
    )
    assert dialect.parameters(tree) == {"start_date", "end_date"}


def test_to_dialect_leaves_the_tree_unchanged() -> None:
    """Transpiling copies: the parsed model can be compiled again for another warehouse."""
    tree = parse("SELECT EXTRACT(DAYOFWEEK FROM d) AS x FROM t")
    before = tree.sql("bigquery")
    to_dialect(tree, "duckdb")
    assert tree.sql("bigquery") == before


# --- banned ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bigquery", "fragment"),
    [
        ("SELECT ARRAY_AGG(x ORDER BY ts DESC LIMIT 1)[OFFSET(0)] AS x FROM t", "MAX_BY"),
        ("SELECT LAX_INT64(j) AS x FROM t", "LAX_INT64"),
        ("SELECT LAX_STRING(j) AS x FROM t", "SAFE_CAST"),
        ("SELECT STRING(j) AS x FROM t", "JSON_VALUE"),
        ("SELECT EXTRACT(WEEK FROM d) AS x FROM t", "ISOWEEK"),
        ("SELECT TIMESTAMP(d) AS x FROM t", "time zone"),
        ("SELECT UNIX_SECONDS(ts) AS x FROM t", "DATETIME_DIFF"),
        ("SELECT CAST(d AS TIMESTAMP) AS x FROM t", "time zone"),
        ("SELECT CAST(x AS BIGNUMERIC) AS x FROM t", "BIGNUMERIC"),
    ],
)
def test_banned_constructs(bigquery: str, fragment: str) -> None:
    """Each banned construct is reported with what to write instead."""
    messages = [m for m in banned(bigquery) if "named directly" not in m]
    assert len(messages) == 1
    assert fragment in messages[0]


def test_ddl_in_a_model_is_banned() -> None:
    """A model that writes its own DDL (with PARTITION BY/CLUSTER BY/OPTIONS) is refused."""
    messages = banned("CREATE TABLE x PARTITION BY d CLUSTER BY k AS SELECT 1 AS k")
    assert any("one SELECT query" in m for m in messages)
    assert any("PARTITION BY, CLUSTER BY and OPTIONS" in m for m in messages)


@pytest.mark.parametrize("name", ["proj.ds.tbl", "ds.tbl", "tbl", "`proj.ds.tbl`"])
def test_direct_table_names_are_banned(name: str) -> None:
    """Three-part (and any other literal) table names are refused: use ref() or source()."""
    (message,) = banned(f"SELECT a FROM {name}")
    assert "named directly" in message and "ref(" in message


def test_ctes_and_placeholders_are_not_direct_names() -> None:
    """CTE names and the runner's placeholders pass the table lint."""
    sql = "WITH a AS (SELECT x FROM __bnpl_ref__m) SELECT x FROM a JOIN __bnpl_this__ USING (x)"
    assert banned(sql) == []


def test_plain_sqlglot_still_cannot_write_array_agg_limit_for_duckdb() -> None:
    """sqlglot refuses ARRAY_AGG ... LIMIT for DuckDB when asked to be strict (why it is banned)."""
    tree = sqlglot.parse_one("SELECT ARRAY_AGG(x ORDER BY y LIMIT 1) FROM t", read="bigquery")
    with pytest.raises(sqlglot.errors.UnsupportedError):
        tree.sql("duckdb", unsupported_level=sqlglot.ErrorLevel.RAISE)


def test_plain_sqlglot_still_keeps_json_quotes(con: duckdb.DuckDBPyConnection) -> None:
    """STRING(json) transpiles to a cast that keeps the quotes (why it is banned)."""
    sql = sqlglot.transpile("SELECT STRING(j) FROM t", read="bigquery", write="duckdb")[0]
    con.sql("""CREATE TABLE t AS SELECT '"abc"'::JSON AS j""")
    assert con.sql(sql).fetchall()[0] == ('"abc"',)


def test_plain_sqlglot_still_leaves_lax_untranslated() -> None:
    """LAX_INT64 reaches DuckDB unchanged, where no such function exists (why it is banned)."""
    assert (
        "LAX_INT64"
        in sqlglot.transpile("SELECT LAX_INT64(j) FROM t", read="bigquery", write="duckdb")[0]
    )


def test_plain_sqlglot_still_keeps_three_part_names() -> None:
    """project.dataset.table reaches DuckDB as a catalog name that no database has (why the
    runner resolves every name itself)."""
    assert sqlglot.transpile("SELECT * FROM p.d.t", read="bigquery", write="duckdb")[0] == (
        "SELECT * FROM p.d.t"
    )


# --- transpile() for SQL outside the runner ------------------------------------------------------


def test_transpile_handles_traps_for_other_sql() -> None:
    """transpile() applies the same handling to assertion or ad hoc SQL."""
    assert transpile("SELECT EXTRACT(DAYOFWEEK FROM d) AS x FROM ds.t", "duckdb") == (
        "SELECT (EXTRACT(DAYOFWEEK FROM d) + 1) AS x FROM ds.t"
    )


def test_transpile_refuses_banned_constructs() -> None:
    """transpile() raises ValueError naming the banned construct."""
    with pytest.raises(ValueError, match="LAX_INT64"):
        transpile("SELECT LAX_INT64(j) FROM t", "duckdb")
