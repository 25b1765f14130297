"""The project's SQL text templates under ``sql/`` (Jinja; the folder is
:data:`bnpl.bundle.SQL_DIR`), rendered by path; the one home of :func:`param`, the
bound-parameter node every sqlglot tree uses.

One environment for every template that is not a model: the quality gate's assertions
(``sql/assertions/``) and the warehouse's own statements (``sql/warehouse/``). Templates receive
identifiers only (already quoted by the caller); values are always bound parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2
from sqlglot import exp

from bnpl import sqlcache
from bnpl.bundle import SQL_DIR
from bnpl.errors import ModelError


def param(name: str) -> exp.Parameter:
    """A bound query parameter in a sqlglot tree (``@name`` in BigQuery, ``$name`` in DuckDB)."""
    return exp.Parameter(this=exp.var(name))


@cache
def _environment(folder: str) -> jinja2.Environment:
    # one environment per folder: its templates include and extend each other by names
    # relative to the folder
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(SQL_DIR / folder),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        bytecode_cache=sqlcache.jinja_bytecode_cache("sql"),
    )


def render_sql(folder: str, name: str, variables: Mapping[str, Any]) -> str:
    """Render ``sql/<folder>/<name>``.

    Raises:
        ModelError: the template is missing or does not render (names the file and line).
    """
    path = f"{folder}/{name}"
    try:
        return _environment(folder).get_template(name).render(**variables)
    except jinja2.TemplateNotFound:
        raise ModelError(f"SQL template sql/{path} does not exist") from None
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        where = f"sql/{path}" + (f":{line}" if line else "")
        raise ModelError(f"{where}: {exc}; fix the template") from exc
