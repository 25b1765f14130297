"""BigQuery SQL in, the warehouse's dialect out: parsing, the trap lint, and transpilation.

Models are written in BigQuery Standard SQL. sqlglot transpiles them for DuckDB, but several
constructs change meaning or fail on the way (measured with sqlglot 30, DuckDB 2.0). Each is either
**handled** here (the DuckDB text is rewritten so the result equals BigQuery's) or **banned** by
:func:`lint` (the model fails to load with a message that says what to write instead):

===========================================  =====================================================
trap                                         treatment
===========================================  =====================================================
``EXTRACT(DAYOFWEEK ...)``: BigQuery 1-7      handled: ``+ 1`` on DuckDB (Sunday = 1 on both)
from Sunday, DuckDB 0-6
``ARRAY_AGG(... LIMIT n)``: not supported     banned: use ``MAX_BY(x, ts)`` or
on DuckDB                                     ``ANY_VALUE(x HAVING MAX ts)``
``DATE_ADD``/``DATE_SUB``/``DATE_TRUNC`` on   handled: ``CAST(... AS DATE)`` on DuckDB (these
a DATE return TIMESTAMP on DuckDB             functions are for DATE values; use ``DATETIME_*``
                                              for DATETIME)
``PARTITION BY``/``CLUSTER BY``/``OPTIONS``   banned in models (a model is one query); the runner
dropped on DuckDB                             writes the DDL from ``config()`` per warehouse
``STRING(json)`` keeps JSON quotes            banned: use ``JSON_VALUE(x, '$')`` or ``CAST``
``LAX_INT64`` and other ``LAX_*`` are not     banned: use ``SAFE_CAST(JSON_VALUE(x, '$') AS ...)``
translated
``project.dataset.table`` names need an       banned: every table comes from ``ref()``,
attached database on DuckDB                   ``source()``, ``this`` or a CTE; the adapter
                                              qualifies names
``NUMERIC`` becomes DuckDB ``DECIMAL(18,3)``  handled: ``DECIMAL(38, 9)``, BigQuery's precision
(found here)
``EXTRACT(WEEK ...)``: Sunday-based weeks     banned: use ``ISOWEEK``
on BigQuery, ISO weeks on DuckDB (found here)
``TIMESTAMP(x)``, ``CAST(x AS TIMESTAMP)``,   banned: DuckDB converts through its session time
``UNIX_SECONDS``: naive values take DuckDB's  zone; event times are naive DATETIME, use
session time zone (found here)                ``DATETIME_DIFF``
``BIGNUMERIC``: no DuckDB equivalent          banned
===========================================  =====================================================

Two more differences are caught by the runner's schema check rather than here, because they depend
on types sqlglot does not know: ``NUMERIC / INT64`` is a DOUBLE on DuckDB (a declared NUMERIC
column then fails the build; write ``x * NUMERIC '0.01'``), and DuckDB sums BIGINT into HUGEINT
(accepted as INT64 and cast back by the runner).

Generation runs with ``unsupported_level=RAISE``, so anything else sqlglot cannot express in the
target dialect fails loudly instead of producing different SQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import sqlglot
import sqlglot.errors
from sqlglot import exp

from bnpl.models.render import PLACEHOLDER_PREFIX
from bnpl.warehouse.base import Dialect

READ = "bigquery"
"""The dialect every template is written in."""


@dataclass(frozen=True, slots=True)
class Violation:
    """A banned construct found by :func:`lint`.

    Attributes:
        message: what was found and what to write instead.
        line: line of the rendered SQL, when sqlglot recorded one.
    """

    message: str
    line: int | None


def parse(sql: str) -> exp.Expr:
    """Parse one BigQuery statement.

    Raises:
        sqlglot.errors.ParseError, sqlglot.errors.TokenError: the text is not valid BigQuery SQL.
        ValueError: the text holds no statement or more than one.
    """
    statements = [s for s in sqlglot.parse(sql, read=READ) if s is not None]
    if len(statements) != 1:
        raise ValueError(f"expected one SQL statement, found {len(statements)}")
    return statements[0]


def line_of(node: exp.Expr) -> int | None:
    """The first source line sqlglot recorded in ``node`` or its descendants."""
    for child in node.walk():
        line = child.meta.get("line") if child.meta else None
        if isinstance(line, int):
            return line
    return None


def _is_timestamp(data_type: exp.DataType) -> bool:
    # sqlglot reads BigQuery DATETIME as TIMESTAMP (naive) and TIMESTAMP as TIMESTAMPTZ
    return data_type.this in (exp.DataType.Type.TIMESTAMPTZ, exp.DataType.Type.TIMESTAMPLTZ)


def _trap(node: exp.Expr) -> str | None:
    """The ban message for ``node``, or None."""
    if isinstance(node, exp.ArrayAgg) and isinstance(node.this, exp.Limit):
        return (
            "ARRAY_AGG(... LIMIT n) does not transpile to DuckDB; use MAX_BY(x, ts) or "
            "ANY_VALUE(x HAVING MAX ts)"
        )
    if type(node).__name__.startswith("Lax") or (
        isinstance(node, exp.Anonymous) and str(node.this).upper().startswith("LAX_")
    ):
        return (
            f"{node.sql(READ).split('(')[0]} is not translated to DuckDB; use "
            "SAFE_CAST(JSON_VALUE(x, '$') AS <type>)"
        )
    if isinstance(node, exp.String):
        return "STRING(json) keeps the JSON quotes on DuckDB; use JSON_VALUE(x, '$') or CAST"
    if isinstance(node, exp.Extract) and node.this.sql(READ).upper().startswith("WEEK"):
        return (
            "EXTRACT(WEEK ...) counts Sunday weeks on BigQuery and ISO weeks on DuckDB; use ISOWEEK"
        )
    if isinstance(node, exp.Timestamp | exp.UnixSeconds | exp.UnixMillis | exp.UnixMicros) or (
        isinstance(node, exp.Cast) and _is_timestamp(node.to)
    ):
        return (
            "TIMESTAMP conversions of naive values use DuckDB's session time zone; event times "
            "are DATETIME, use DATETIME_DIFF(ts, DATETIME '1970-01-01 00:00:00', SECOND)"
        )
    if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.BIGDECIMAL:
        return "BIGNUMERIC has no DuckDB equivalent; use NUMERIC"
    if isinstance(node, exp.Property):
        return (
            "PARTITION BY, CLUSTER BY and OPTIONS are dropped on DuckDB; declare partition_by and "
            "cluster_by in config() and the runner writes the DDL"
        )
    return None


def lint(tree: exp.Expr, *, check_tables: bool = True) -> list[Violation]:
    """Every banned construct in a model's parsed SELECT (see the module docstring).

    With ``check_tables``, a table that is not a runner placeholder or a CTE of the query is
    reported: models name tables only through ``ref()``, ``source()`` and ``this``.
    """
    found: list[Violation] = []
    if not isinstance(tree, exp.Query):
        found.append(
            Violation(
                f"a model is one SELECT query, not {type(tree).__name__.upper()}; the runner "
                "writes CREATE/INSERT/DELETE (and PARTITION BY, CLUSTER BY, OPTIONS) itself",
                line_of(tree),
            )
        )
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        message = _trap(node)
        if message:
            found.append(Violation(message, line_of(node)))
        if check_tables and isinstance(node, exp.Table) and node.name:
            bare = not node.args.get("db") and not node.args.get("catalog")
            if node.name.startswith(PLACEHOLDER_PREFIX) or (bare and node.name in ctes):
                continue
            found.append(
                Violation(
                    f"table {node.sql(READ)} is named directly; use ref('model'), "
                    "source('raw', 'table') or this, so the runner resolves it per warehouse",
                    line_of(node),
                )
            )
    return found


def parameters(tree: exp.Expr) -> set[str]:
    """Names of the ``@name`` parameters used in ``tree``."""
    return {p.name for p in tree.find_all(exp.Parameter)}


def _wrap(node: exp.Expr, build: Callable[[exp.Expr], exp.Expr]) -> None:
    """Replace ``node`` in its tree by ``build(node)`` (which contains ``node`` itself)."""
    hole = exp.Null()
    node.replace(hole)
    hole.replace(build(node))


def _fix_for_duckdb(tree: exp.Expr) -> exp.Expr:
    """Rewrite the handled traps so DuckDB computes what BigQuery computes (in place)."""
    for extract in list(tree.find_all(exp.Extract)):
        if extract.this.sql(READ).upper() == "DAYOFWEEK":
            _wrap(extract, lambda n: exp.paren(exp.Add(this=n, expression=exp.Literal.number(1))))
    for date_fn in list(tree.find_all(exp.DateAdd, exp.DateSub, exp.DateTrunc)):
        _wrap(date_fn, lambda n: exp.Cast(this=n, to=exp.DataType.build("DATE")))
    for data_type in list(tree.find_all(exp.DataType)):
        if data_type.this == exp.DataType.Type.DECIMAL and not data_type.expressions:
            data_type.replace(exp.DataType.build("DECIMAL(38, 9)", dialect="duckdb"))
    for prop in list(tree.find_all(exp.PartitionedByProperty, exp.ClusterProperty, exp.Property)):
        # DuckDB has no partitioning, clustering or table OPTIONS (plain Property nodes); dropping
        # them is the intent. Other properties (TEMPORARY) are subclasses and stay.
        if type(prop) in (exp.PartitionedByProperty, exp.ClusterProperty, exp.Property):
            prop.pop()
    properties = tree.args.get("properties")
    if isinstance(properties, exp.Properties) and not properties.expressions:
        tree.set("properties", None)
    return tree


_FIXES: dict[Dialect, Callable[[exp.Expr], exp.Expr]] = {
    "duckdb": _fix_for_duckdb,
    "bigquery": lambda tree: tree,
}


def to_dialect(tree: exp.Expr, dialect: Dialect, *, pretty: bool = False, copy: bool = True) -> str:
    """SQL text of a BigQuery-parsed tree in ``dialect``, with the handled traps rewritten.

    The tree is copied, never modified, unless ``copy`` is False (for a tree the caller
    discards). ``pretty`` writes one clause per line.

    Raises:
        sqlglot.errors.UnsupportedError: sqlglot cannot express something in ``dialect``.
    """
    fixed = _FIXES[dialect](tree.copy() if copy else tree)
    return fixed.sql(dialect=dialect, unsupported_level=sqlglot.ErrorLevel.RAISE, pretty=pretty)


@lru_cache(maxsize=1024)
def transpile(sql: str, dialect: Dialect) -> str:
    """One BigQuery statement (no runner placeholders) in ``dialect``, traps handled or refused.

    For SQL outside the model runner (assertions, ad hoc queries). Tables are not checked. A pure
    function of its arguments, so results are cached: the quality gate transpiles the same
    assertion texts (values are bound parameters) in every run of a process.

    Raises:
        ValueError: the SQL uses a banned construct (the message lists them).
        sqlglot.errors.ParseError, sqlglot.errors.UnsupportedError: as :func:`parse`,
            :func:`to_dialect`.
    """
    return transpile_tree(parse(sql), dialect)


def transpile_tree(tree: exp.Expr, dialect: Dialect) -> str:
    """:func:`transpile` of an already parsed statement (``tree`` is not modified).

    Raises:
        ValueError, sqlglot.errors.UnsupportedError: as :func:`transpile`.
    """
    violations = [v for v in lint(tree, check_tables=False) if not v.message.startswith("a model")]
    if violations:
        raise ValueError("; ".join(v.message for v in violations))
    return to_dialect(tree, dialect)
