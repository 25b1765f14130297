"""Loading the model project: discovery, config, columns, the graph and selection, and every kind
of bad template failing with the model, file and line named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from model_data import ISSUE_4_MODELS

from bnpl.errors import ConfigError, ModelError
from bnpl.models import Project, load_project


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``{"staging/x.sql": text}`` under ``root/sql`` and return the sql directory."""
    sql = root / "sql"
    for name, text in files.items():
        path = sql / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"))
    return sql


def model(
    body: str = "SELECT 1 AS a", *, config: str = "materialized='view'", columns: str = ""
) -> str:
    """A small template: config, one INT64 column ``a`` (unless ``columns`` replaces it), body."""
    cols = columns or "{{ column('a', 'INT64', 'the value') }}"
    return (
        f"{{{{ config({config}, description='test model', grain='one row') }}}}\n{cols}\n{body}\n"
    )


def load_error(tmp_path: Path, files: dict[str, str]) -> str:
    """The message of the ModelError loading ``files`` raises."""
    with pytest.raises(ModelError) as caught:
        load_project(write(tmp_path, files))
    return str(caught.value)


# --- the repository's project ----------------------------------------------------------------------


def test_repository_models_load(project: Project) -> None:
    """Every model of issue 4 is discovered, with the layer its folder names."""
    assert set(project.models) >= ISSUE_4_MODELS
    assert project.models["stg_bnpl_raw_transactions"].layer == "staging"
    assert project.models["mart_bnpl_daily_volume"].dataset == "bnpl_marts"


def test_repository_models_are_documented(project: Project) -> None:
    """Every model states purpose and grain, and documents every column."""
    for m in project.models.values():
        assert len(m.config.description) > 40, m.name
        assert m.config.grain, m.name
        assert m.columns and all(c.description for c in m.columns), m.name


def test_repository_order_puts_parents_first(project: Project) -> None:
    """Every model comes after the models it refs."""
    order = list(project.models)
    for m in project.models.values():
        assert all(order.index(r) < order.index(m.name) for r in m.refs), m.name


def test_marts_declare_keys_and_relationships(project: Project) -> None:
    """Transactions reference customers by key; both marts declare their unique key."""
    transactions = project.models["mart_bnpl_transactions"]
    customers = project.models["mart_bnpl_customers"]
    assert transactions.config.unique_key == ("transaction_key",)
    assert customers.config.unique_key == ("customer_key",)
    by_name = {c.name: c for c in transactions.columns}
    assert by_name["customer_key"].references == "mart_bnpl_customers.customer_key"


def test_ml_features_carry_no_labels(project: Project) -> None:
    """mart_bnpl_ml_features has neither outcome column (nor the generator's class)."""
    names = set(project.models["mart_bnpl_ml_features"].column_names)
    assert not names & {
        "will_default",
        "days_to_first_missed_payment",
        "risk_scenario",
        "loaded_at",
    }


# --- selection -------------------------------------------------------------------------------------

GRAPH = {
    "staging/a.sql": "SELECT 1 AS a",
    "intermediate/b.sql": "SELECT x.a FROM {{ ref('a') }} AS x",
    "intermediate/d.sql": "SELECT x.a FROM {{ ref('a') }} AS x",
    "marts/c.sql": "SELECT x.a FROM {{ ref('b') }} AS x",
}
"""a -> b -> c and a -> d."""


@pytest.fixture
def graph(tmp_path: Path) -> Project:
    """A small project with a known graph."""
    files = {
        name: model(body, config="materialized='table'" if "ref" in body else "materialized='view'")
        for name, body in GRAPH.items()
    }
    return load_project(write(tmp_path, files))


def names(project: Project, selectors: list[str]) -> list[str]:
    return [m.name for m in project.order(selectors)]


def test_no_selector_selects_everything(graph: Project) -> None:
    """No selector builds every model, parents first."""
    assert names(graph, []) == ["a", "b", "c", "d"]


def test_select_one_model(graph: Project) -> None:
    """A bare name selects just that model."""
    assert names(graph, ["b"]) == ["b"]


def test_select_downstream(graph: Project) -> None:
    """name+ adds every model that depends on it, directly or not."""
    assert names(graph, ["a+"]) == ["a", "b", "c", "d"]
    assert names(graph, ["b+"]) == ["b", "c"]


def test_select_upstream(graph: Project) -> None:
    """+name adds every model it depends on, in dependency order."""
    assert names(graph, ["+c"]) == ["a", "b", "c"]


def test_select_both_ways_and_several(graph: Project) -> None:
    """+name+ and several selectors combine."""
    assert names(graph, ["+b+"]) == ["a", "b", "c"]
    assert names(graph, ["c", "d"]) == ["c", "d"]


def test_select_unknown_model(graph: Project) -> None:
    """A selector naming no model is a ConfigError listing the models."""
    with pytest.raises(ConfigError, match=r"names no model.*a, b, c, d"):
        graph.order(["nope+"])


def test_repository_selection(project: Project) -> None:
    """In the repository, +mart_bnpl_daily_volume is the volume mart and its inputs."""
    chosen = names(project, ["+mart_bnpl_daily_volume"])
    assert set(chosen) == {
        "mart_bnpl_daily_volume",
        "mart_bnpl_transactions",
        "int_bnpl_transactions_enriched",
        "int_bnpl_calendar_days",
        "stg_bnpl_raw_transactions",
        "stg_bnpl_extracted_customers",
    }
    assert chosen[-1] == "mart_bnpl_daily_volume"


# --- bad templates ---------------------------------------------------------------------------------


def test_unknown_ref_names_file_and_line(tmp_path: Path) -> None:
    """ref() to a model that does not exist names the model, the file and the line."""
    message = load_error(
        tmp_path,
        {"marts/m.sql": model("SELECT a\nFROM {{ ref('nope') }}", config="materialized='table'")},
    )
    assert "model m (sql/marts/m.sql:4)" in message and "ref('nope')" in message


def test_cycle_names_the_files(tmp_path: Path) -> None:
    """A ref() cycle is an error naming every model and file on it."""
    message = load_error(
        tmp_path,
        {
            "staging/a.sql": model("SELECT a FROM {{ ref('b') }}", config="materialized='table'"),
            "staging/b.sql": model("SELECT a FROM {{ ref('a') }}", config="materialized='table'"),
        },
    )
    assert "cycle a -> b -> a" in message
    assert "sql/staging/a.sql" in message and "sql/staging/b.sql" in message


def test_self_ref_is_a_cycle(tmp_path: Path) -> None:
    """A model that ref()s itself is told about the cycle (this is the way to read itself)."""
    message = load_error(
        tmp_path,
        {"staging/a.sql": model("SELECT a FROM {{ ref('a') }}", config="materialized='table'")},
    )
    assert "cycle a -> a" in message


def test_sql_syntax_error_names_template_line(tmp_path: Path) -> None:
    """A SQL syntax error points at the template line, after a multi-line config and comment."""
    text = """
        {# a comment
           over two lines #}
        {{ config(
            materialized='view',
            description='test model',
            grain='one row',
        ) }}
        {{ column('a', 'INT64', 'the value') }}
        SELECT
          1 AS a,
          (2 +) AS b
        FROM x
    """
    message = load_error(tmp_path, {"staging/s.sql": text})
    assert "model s (sql/staging/s.sql:11)" in message
    assert "not valid BigQuery SQL" in message


def test_jinja_syntax_error_names_line(tmp_path: Path) -> None:
    """A template that does not render names its file and line."""
    message = load_error(tmp_path, {"staging/j.sql": model("SELECT 1 AS a\n{% if %}")})
    assert "model j (sql/staging/j.sql:4)" in message and "does not render" in message


def test_undefined_jinja_name_is_reported(tmp_path: Path) -> None:
    """An unknown Jinja variable is an error naming the file and line."""
    message = load_error(tmp_path, {"staging/u.sql": model("SELECT {{ nope }} AS a")})
    assert "model u (sql/staging/u.sql:3)" in message and "nope" in message


def test_banned_construct_names_template_line(tmp_path: Path) -> None:
    """A trap the runner bans is reported at its template line."""
    body = "SELECT\n  1 AS a,\n  LAX_INT64(x) AS b\nFROM {{ source('raw', 'transactions') }}"
    message = load_error(tmp_path, {"staging/b.sql": model(body)})
    assert "model b (sql/staging/b.sql:5)" in message and "LAX_INT64" in message


def test_hard_coded_table_is_refused(tmp_path: Path) -> None:
    """A table named in SQL instead of ref()/source() is refused."""
    message = load_error(
        tmp_path, {"staging/h.sql": model("SELECT 1 AS a FROM myproj.bnpl_raw.transactions")}
    )
    assert "named directly" in message


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    """source() must name a declared raw table."""
    message = load_error(
        tmp_path, {"staging/s.sql": model("SELECT 1 AS a FROM {{ source('raw', 'nope') }}")}
    )
    assert "model s (sql/staging/s.sql:3)" in message and "schemas/bnpl_raw/nope.json" in message


def test_missing_config_is_refused(tmp_path: Path) -> None:
    """A template without config() is refused."""
    message = load_error(
        tmp_path, {"staging/c.sql": "{{ column('a', 'INT64', 'x') }}\nSELECT 1 AS a\n"}
    )
    assert "calls config(...) 0 times" in message


@pytest.mark.parametrize(
    ("config", "fragment"),
    [
        ("materialized='ephemeral'", "use 'view', 'table' or 'incremental'"),
        ("materialized='table', partiton_by='a'", "unknown keys ['partiton_by']"),
        ("materialized='incremental', partition_by='a'", "is INT64, not DATE"),
        ("materialized='incremental', partition_by='nope'", "not a column"),
        ("materialized='incremental'", "declare unique_key"),
        ("materialized='table', active_between=['a', 'a']", "is INT64, not DATE"),
    ],
)
def test_bad_config_is_refused(tmp_path: Path, config: str, fragment: str) -> None:
    """Config values are validated against the declared columns."""
    message = load_error(tmp_path, {"marts/c.sql": model(config=config)})
    assert "model c (sql/marts/c.sql)" in message and fragment in message


def test_view_cannot_take_parameters(tmp_path: Path) -> None:
    """A view reading @start_date is refused (a view has no parameters)."""
    message = load_error(
        tmp_path, {"staging/v.sql": model("SELECT 1 AS a WHERE @start_date IS NOT NULL")}
    )
    assert "a view cannot read run parameters" in message


def test_undeclared_parameter_is_refused(tmp_path: Path) -> None:
    """A parameter that is neither a run parameter nor declared is refused."""
    message = load_error(
        tmp_path,
        {
            "marts/p.sql": model(
                "SELECT 1 AS a WHERE @as_of IS NOT NULL", config="materialized='table'"
            )
        },
    )
    assert "['@as_of']" in message


def test_unknown_column_type_is_refused(tmp_path: Path) -> None:
    """Column types are BigQuery names from the supported list."""
    message = load_error(
        tmp_path, {"staging/t.sql": model(columns="{{ column('a', 'VARCHAR', 'x') }}")}
    )
    assert "has type 'VARCHAR'" in message


def test_duplicate_model_names_are_refused(tmp_path: Path) -> None:
    """Two files with the same name in different folders are refused."""
    message = load_error(tmp_path, {"staging/d.sql": model(), "marts/d.sql": model()})
    assert "also used by" in message


def test_bad_reference_is_refused(tmp_path: Path) -> None:
    """A column reference must name a model and one of its columns."""
    columns = "{{ column('a', 'INT64', 'x', references='nope.a') }}"
    message = load_error(tmp_path, {"marts/r.sql": model(columns=columns)})
    assert "references 'nope.a'" in message


def test_columns_inherit_from_sources_and_models(tmp_path: Path) -> None:
    """columns_from_source and columns_from copy declared columns, with only/exclude."""
    sql = write(
        tmp_path,
        {
            "staging/s.sql": model(
                "SELECT b.batch_id, b.transaction_date FROM {{ source('raw', 'source_batches') }} AS b",
                columns="{{ columns_from_source('raw', 'source_batches', only=['batch_id', 'transaction_date']) }}",
            ),
            "marts/m.sql": model(
                "SELECT s.batch_id FROM {{ ref('s') }} AS s",
                config="materialized='table'",
                columns="{{ columns_from('s', exclude=['transaction_date']) }}",
            ),
        },
    )
    project = load_project(sql)
    assert project.models["s"].column_names == ["batch_id", "transaction_date"]
    assert project.models["s"].columns[1].type == "DATE"
    assert project.models["m"].column_names == ["batch_id"]
    assert project.models["m"].columns[0].description.startswith("hash(source URL")


def test_assertions_folder_is_not_models(tmp_path: Path) -> None:
    """sql/assertions belongs to the quality gate: its files are not loaded as models."""
    sql = write(tmp_path, {"staging/a.sql": model(), "assertions/x.sql": "SELECT {{ whatever }}"})
    assert list(load_project(sql).models) == ["a"]
