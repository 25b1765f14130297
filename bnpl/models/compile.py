"""From a parsed model to the statements one warehouse runs: placeholders resolved, DDL and DML
written from ``config()``, everything generated in the warehouse's dialect.

Actions (chosen by :mod:`bnpl.models.run`):

``view``
    ``CREATE OR REPLACE VIEW``.
``create``
    ``CREATE OR REPLACE TABLE ... [PARTITION BY] [CLUSTER BY] AS SELECT``: one atomic statement; on
    a partitioned model only rows inside the run's days are kept. Used by ``table`` models, by
    full refreshes and by the first build of an incremental model.
``replace_range``
    ``DELETE`` the run's days, ``INSERT`` the model's rows for those days: one transaction. The
    model may read days before ``@start_date`` (windows need history); only rows in range land.
``merge``
    The model returns complete rows for every key whose data the run's days may change; they go to
    a temporary table, then one transaction deletes the target's rows of those keys (and, with
    ``active_between``, every row whose span overlaps the run's days, so keys that vanished from a
    reloaded day go too) and inserts the new rows. ``{{ this }}`` is the target before the run,
    which is how a model finds keys whose rows overlap the run's days.

Every result column is ``CAST`` to its declared type, so both warehouses store the same types.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from sqlglot import exp

from bnpl.models import dialect
from bnpl.models.model import Model
from bnpl.models.render import HOLIDAYS_PLACEHOLDER, REF_PREFIX, SOURCE_PREFIX, THIS_PLACEHOLDER
from bnpl.sqltext import param
from bnpl.warehouse.base import Dialect

Action = Literal["view", "create", "replace_range", "merge"]

TEMP_TABLE = "_bnpl_new"
"""Session-scoped table holding a merge model's new rows (dropped at the end of the merge)."""


@dataclass(frozen=True, slots=True)
class Relation:
    """A table or view: logical dataset (``bnpl_marts``) and table name."""

    dataset: str
    table: str

    def __str__(self) -> str:
        return f"{self.dataset}.{self.table}"


@dataclass(frozen=True)
class Resolver:
    """How placeholders become relations for one build.

    Attributes:
        dialect: the warehouse's dialect.
        qualify: ``(dataset, table)`` -> the warehouse's qualified table (a parsed node).
        ref: model name -> the relation a ``ref()`` reads in this build.
        source: ``(source, table)`` -> its relation.
        holidays: number of holidays bound as ``@holiday_date_<i>``/``@holiday_name_<i>``.
    """

    dialect: Dialect
    qualify: Callable[[str, str], exp.Table]
    ref: Callable[[str], Relation]
    source: Callable[[str, str], Relation]
    holidays: int = 0


@dataclass(frozen=True)
class CompiledModel:
    """What one model runs in one build.

    Attributes:
        model: the model.
        target: where it is written.
        action: see the module docstring.
        query: the model's SELECT in the warehouse dialect.
        probe: ``query`` with ``LIMIT 0`` (and, with ``partition_by``, a filter on the run's days,
            which BigQuery's partition-filter enforcement needs even for a view): its result's
            columns are checked before anything is written.
        statements: what the action runs, in order (one transaction when more than one).
        probe_parameters: the ``@name`` parameters ``probe`` uses.
        parameters: the ``@name`` parameters each statement uses, in statement order.
    """

    model: Model
    target: Relation
    action: Action
    query: str
    probe: str
    statements: tuple[str, ...]
    probe_parameters: frozenset[str]
    parameters: tuple[frozenset[str], ...]

    @property
    def all_parameters(self) -> frozenset[str]:
        """Every parameter the probe or a statement uses."""
        return self.probe_parameters.union(*self.parameters)


def holiday_parameter_names(index: int) -> tuple[str, str]:
    """The bound parameters of the ``index``-th holiday: its date and its name."""
    return f"holiday_date_{index}", f"holiday_name_{index}"


@cache
def _parsed_type(name: str) -> exp.DataType:
    return exp.DataType.build(name, dialect=dialect.READ)


def _type(name: str) -> exp.DataType:
    """A fresh node of the BigQuery type ``name`` (parsed once)."""
    return _parsed_type(name).copy()


def _empty_relation(model: Model) -> exp.Query:
    """The typed, empty stand-in for ``this`` before a model's first build."""
    columns = [exp.cast(exp.null(), _type(c.type)).as_(c.name) for c in model.columns]
    return exp.select(*columns).limit(0)


def _holidays_relation(count: int) -> exp.Query:
    if count == 0:
        return exp.select(
            exp.cast(exp.null(), _type("DATE")).as_("holiday_date"),
            exp.cast(exp.null(), _type("STRING")).as_("holiday_name"),
        ).limit(0)
    selects: list[exp.Query] = []
    for index in range(count):
        date_name, name_name = holiday_parameter_names(index)
        selects.append(
            exp.select(
                exp.cast(param(date_name), _type("DATE")).as_("holiday_date"),
                exp.cast(param(name_name), _type("STRING")).as_("holiday_name"),
            )
        )
    union: exp.Query = selects[0]
    for select in selects[1:]:
        union = exp.union(union, select, distinct=False)
    return union


def resolve(model: Model, resolver: Resolver, *, this: Relation | None) -> exp.Query:
    """The model's parsed SELECT with every placeholder replaced (a new tree).

    ``this`` is the relation ``{{ this }}`` reads, or None for the empty stand-in.
    """
    tree = model.tree.copy()
    assert isinstance(tree, exp.Query), "lint admits only queries"
    for table in list(tree.find_all(exp.Table)):
        name = table.name
        alias = table.args.get("alias")
        replacement: exp.Expr
        if name.startswith(REF_PREFIX):
            relation = resolver.ref(name.removeprefix(REF_PREFIX))
            replacement = resolver.qualify(relation.dataset, relation.table)
        elif name.startswith(SOURCE_PREFIX):
            source_name, _, source_table = name.removeprefix(SOURCE_PREFIX).partition("__")
            relation = resolver.source(source_name, source_table)
            replacement = resolver.qualify(relation.dataset, relation.table)
        elif name == THIS_PLACEHOLDER:
            if this is not None:
                replacement = resolver.qualify(this.dataset, this.table)
            else:
                replacement = _empty_relation(model).subquery(alias or "this")
                alias = None
        elif name == HOLIDAYS_PLACEHOLDER:
            replacement = _holidays_relation(resolver.holidays).subquery(alias or "holidays")
            alias = None
        else:
            continue
        if alias is not None:
            replacement.set("alias", alias)
        table.replace(replacement)
    return tree


def _range_filter(column: str, table: str | None = None) -> exp.Expr:
    return exp.column(column, table=table).between(param("start_date"), param("end_date"))


_QUERY = "__bnpl_query__"
"""Stands for the model's query in the runner's wrappers; replaced by the query's text, so the
large query tree is generated once per model rather than once per statement."""


def _query_ref() -> exp.Expr:
    return exp.to_table(_QUERY).as_("_m")


def _typed_select(model: Model, *, in_range: bool) -> exp.Select:
    columns = [
        exp.cast(exp.column(c.name, table="_m"), _type(c.type)).as_(c.name) for c in model.columns
    ]
    select = exp.select(*columns).from_(_query_ref())
    partition = model.config.partition_by
    if in_range and partition:
        select = select.where(_range_filter(partition, "_m"))
    return select


def _create_table(model: Model, target: exp.Table, select: exp.Expr) -> exp.Create:
    properties: list[exp.Expr] = []
    if model.config.partition_by:
        properties.append(
            exp.PartitionedByProperty(this=exp.to_identifier(model.config.partition_by))
        )
    if model.config.cluster_by:
        properties.append(
            exp.ClusterProperty(expressions=[exp.column(c) for c in model.config.cluster_by])
        )
    return exp.Create(
        this=target,
        kind="TABLE",
        replace=True,
        expression=select,
        properties=exp.Properties(expressions=properties) if properties else None,
    )


def _statements(model: Model, action: Action, target: exp.Table) -> list[exp.Expr]:
    names = [c.name for c in model.columns]
    if action == "view":
        return [exp.Create(this=target, kind="VIEW", replace=True, expression=exp.to_table(_QUERY))]
    if action == "create":
        return [_create_table(model, target, _typed_select(model, in_range=True))]
    if action == "replace_range":
        partition = model.config.partition_by
        assert partition is not None
        return [
            exp.delete(target.copy(), where=_range_filter(partition)),
            exp.insert(_typed_select(model, in_range=True), target.copy(), columns=names),
        ]
    key = model.config.unique_key[0]
    temp = exp.to_table(TEMP_TABLE)
    stale: exp.Expr = exp.column(key).isin(query=exp.select(key).from_(temp.copy()))
    if model.config.active_between:
        first, last = model.config.active_between
        overlap = exp.and_(
            exp.LTE(this=exp.column(first), expression=param("end_date")),
            exp.GTE(this=exp.column(last), expression=param("start_date")),
        )
        stale = exp.or_(stale, exp.paren(overlap))
    return [
        exp.Create(
            this=temp.copy(),
            kind="TABLE",
            replace=True,
            expression=_typed_select(model, in_range=False),
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        ),
        exp.delete(target.copy(), where=stale),
        exp.insert(exp.select(*names).from_(temp.copy()), target.copy(), columns=names),
        exp.Drop(tables=[temp.copy()], kind="TABLE", exists=True),
    ]


def compile_model(
    model: Model,
    resolver: Resolver,
    *,
    target: Relation,
    action: Action,
    this: Relation | None = None,
) -> CompiledModel:
    """The statements that build ``model`` into ``target`` with ``action``.

    Raises:
        sqlglot.errors.UnsupportedError: the warehouse dialect cannot express the SQL.
    """
    query = resolve(model, resolver, this=this)
    query_parameters = dialect.parameters(query)
    query_text = dialect.to_dialect(query, resolver.dialect, pretty=True, copy=False)
    statements = _statements(model, action, resolver.qualify(target.dataset, target.table))
    probe = exp.select("*").from_(_query_ref())
    if model.config.partition_by:
        probe = probe.where(_range_filter(model.config.partition_by, "_m"))
    probe = probe.limit(0)

    def text(statement: exp.Expr) -> str:
        wrapper = dialect.to_dialect(statement, resolver.dialect, pretty=True, copy=False)
        # a view's body is the query itself; elsewhere the query is a subquery
        body = (
            query_text
            if isinstance(statement, exp.Create) and statement.kind == "VIEW"
            else ("(\n" + query_text + "\n)")
        )
        return re.sub(rf"\b{_QUERY}\b", lambda _: body, wrapper)

    def used(statement: exp.Expr) -> frozenset[str]:
        embeds = any(t.name == _QUERY for t in statement.find_all(exp.Table))
        return frozenset(dialect.parameters(statement) | (query_parameters if embeds else set()))

    probe_parameters = used(probe)
    parameters = tuple(used(s) for s in statements)
    return CompiledModel(
        model=model,
        target=target,
        action=action,
        query=query_text,
        probe=text(probe),
        statements=tuple(text(s) for s in statements),
        probe_parameters=probe_parameters,
        parameters=parameters,
    )


def select_all(
    qualify: Callable[[str, str], exp.Table],
    relation: Relation,
    dialect_: Dialect,
    *,
    limit: int | None = None,
) -> str:
    """``SELECT * FROM relation [LIMIT n]`` in ``dialect_``."""
    select = exp.select("*").from_(qualify(relation.dataset, relation.table))
    return dialect.to_dialect(select.limit(limit) if limit is not None else select, dialect_)


def span_query(
    qualify: Callable[[str, str], exp.Table], ledger: Relation, dialect_: Dialect
) -> str:
    """First and last loaded day in the ledger (``first_day``, ``last_day``)."""
    select = exp.select(
        exp.func("MIN", exp.column("transaction_date")).as_("first_day"),
        exp.func("MAX", exp.column("transaction_date")).as_("last_day"),
    ).from_(qualify(ledger.dataset, ledger.table))
    return dialect.to_dialect(select, dialect_)


def statements_text(compiled: Sequence[CompiledModel]) -> str:
    """Every statement of a build, one block per model (for ``bnpl build --dry-run`` and tests)."""
    blocks = []
    for item in compiled:
        body = ";\n".join(item.statements)
        blocks.append(f"-- {item.model.name}: {item.action} {item.target}\n{body};")
    return "\n\n".join(blocks)
