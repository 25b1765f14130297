"""Rendering of the SQL assertion templates in ``sql/assertions/``.

Templates are BigQuery Standard SQL with Jinja for structure only: table names (``relation``,
``source(...)``, ``ref(...)``), column names and loops over declared columns. Values (dates,
accepted values, limits) are query parameters written ``@name`` and always bound. Rendering parses
the SQL at once, so a mistake names the template and line; on DuckDB the SQL is transpiled by
sqlglot through the model runner's transpiler, so there is one SQL path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlglot.errors

from bnpl import sqlcache as sql_cache
from bnpl.errors import ModelError
from bnpl.models import dialect as sql_dialect
from bnpl.sqltext import render_sql
from bnpl.warehouse import names
from bnpl.warehouse.base import Dialect, Warehouse


def relation_name(warehouse: Warehouse, dataset: str, table: str) -> str:
    """``dataset.table`` as written in BigQuery-dialect SQL for this warehouse.

    BigQuery gets the adapter's own qualified name (project and dataset prefix included); other
    warehouses get a backquoted BigQuery name that transpiles to theirs.
    """
    return warehouse.bigquery_name(dataset, table)


def render_assertion(template: str, variables: Mapping[str, Any]) -> str:
    """Render ``sql/assertions/<template>.sql`` to BigQuery SQL.

    Raises:
        ModelError: the template is missing or does not render (names the file).
    """
    return render_sql("assertions", f"{template}.sql", variables)


@dataclass(frozen=True, slots=True)
class CompiledSql:
    """An assertion ready to run: SQL in the warehouse's dialect and the parameters it uses."""

    sql: str
    params: frozenset[str]

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The values of :attr:`params`, taken from ``values``.

        Raises:
            ModelError: the SQL uses a parameter that ``values`` does not provide.
        """
        missing = sorted(self.params - set(values))
        if missing:
            raise ModelError(f"assertion SQL uses unbound parameters {missing}")
        return {name: values[name] for name in sorted(self.params)}


def row_params(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Parameters of a multi-row ``VALUES`` template: row ``i``'s ``name`` as ``name_i``."""
    return {f"{name}_{i}": value for i, row in enumerate(rows) for name, value in row.items()}


@lru_cache(maxsize=1024)
def compile_sql(sql: str, dialect: Dialect, *, template: str) -> CompiledSql:
    """Parse one BigQuery statement, find its ``@parameters`` and write it in ``dialect``.

    Uses the model runner's parser and transpiler (:mod:`bnpl.models.dialect`), so assertions and
    models take one SQL path: the same handled traps, the same banned constructs. Cached in the
    process and on disk (:mod:`bnpl.sqlcache`): the rendered text holds no values (they are
    bound parameters), so every gate run compiles the same texts.

    Raises:
        ModelError: the SQL does not parse or uses a banned construct; names the template.
    """
    where = f"sql/assertions/{template}.sql"
    entry = sql_cache.key("assertion", dialect, sql)
    hit = sql_cache.get(entry)
    if hit is not None and isinstance(hit.get("sql"), str) and isinstance(hit.get("params"), list):
        return CompiledSql(hit["sql"], frozenset(map(str, hit["params"])))
    try:
        tree = sql_dialect.parse(sql)
        compiled = CompiledSql(
            sql_dialect.transpile_tree(tree, dialect), frozenset(sql_dialect.parameters(tree))
        )
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        raise ModelError(
            f"{where} (rendered) line {first.get('line', '?')}: "
            f"{first.get('description', exc)}; fix the template"
        ) from None
    except (ValueError, sqlglot.errors.SqlglotError) as exc:
        raise ModelError(f"{where}: {exc}; fix the template") from None
    sql_cache.put(entry, {"sql": compiled.sql, "params": sorted(compiled.params)})
    return compiled


def compile_template(
    warehouse: Warehouse,
    template: str,
    variables: Mapping[str, Any] | None = None,
    *,
    marts_dataset: str = names.AUDIT,
) -> CompiledSql:
    """Render ``sql/assertions/<template>.sql`` and compile it for ``warehouse``.

    Templates may call ``source('raw', 'transactions')`` (dataset ``bnpl_raw``; ``audit`` and
    ``marts`` work alike) and ``ref('mart_…')`` (the model in ``marts_dataset``: the audit area
    while gating).
    """

    def source(dataset: str, table: str) -> str:
        return relation_name(warehouse, f"bnpl_{dataset.removeprefix('bnpl_')}", table)

    def ref(model: str) -> str:
        return relation_name(warehouse, marts_dataset, model)

    sql = render_assertion(template, {"source": source, "ref": ref, **(variables or {})})
    return compile_sql(sql, warehouse.dialect, template=template)
