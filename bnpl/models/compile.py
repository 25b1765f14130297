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

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlglot import exp

from bnpl.models import dialect
from bnpl.models.project import Model
from bnpl.models.render import HOLIDAYS_PLACEHOLDER, REF_PREFIX, SOURCE_PREFIX, THIS_PLACEHOLDER
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
        query: the model's SELECT in the warehouse dialect (for the schema probe and for reading).
        probe: ``query`` with ``LIMIT 0``: its result's columns are checked before writing.
        statements: what the action runs, in order (one transaction when more than one).
        parameters: the ``@name`` parameters ``statements`` and ``probe`` use.
    """

    model: Model
    target: Relation
    action: Action
    query: str
    probe: str
    statements: tuple[str, ...]
    parameters: frozenset[str]


def holiday_parameter_names(index: int) -> tuple[str, str]:
    """The bound parameters of the ``index``-th holiday: its date and its name."""
    return f"holiday_date_{index}", f"holiday_name_{index}"


def _param(name: str) -> exp.Parameter:
    return exp.Parameter(this=exp.var(name))


def _type(name: str) -> exp.DataType:
    return exp.DataType.build(name, dialect=dialect.READ)


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
                exp.cast(_param(date_name), _type("DATE")).as_("holiday_date"),
                exp.cast(_param(name_name), _type("STRING")).as_("holiday_name"),
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
    return exp.column(column, table=table).between(_param("start_date"), _param("end_date"))


def _typed_select(model: Model, query: exp.Query, *, in_range: bool) -> exp.Select:
    columns = [
        exp.cast(exp.column(c.name, table="_m"), _type(c.type)).as_(c.name) for c in model.columns
    ]
    select = exp.select(*columns).from_(query.subquery("_m"))
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


def _statements(
    model: Model, action: Action, target: exp.Table, query: exp.Query
) -> list[exp.Expr]:
    names = [c.name for c in model.columns]
    if action == "view":
        return [exp.Create(this=target, kind="VIEW", replace=True, expression=query)]
    if action == "create":
        return [_create_table(model, target, _typed_select(model, query, in_range=True))]
    if action == "replace_range":
        partition = model.config.partition_by
        assert partition is not None
        return [
            exp.delete(target.copy(), where=_range_filter(partition)),
            exp.insert(_typed_select(model, query, in_range=True), target.copy(), columns=names),
        ]
    key = model.config.unique_key[0]
    temp = exp.to_table(TEMP_TABLE)
    stale: exp.Expr = exp.column(key).isin(query=exp.select(key).from_(temp.copy()))
    if model.config.active_between:
        first, last = model.config.active_between
        overlap = exp.and_(
            exp.LTE(this=exp.column(first), expression=_param("end_date")),
            exp.GTE(this=exp.column(last), expression=_param("start_date")),
        )
        stale = exp.or_(stale, exp.paren(overlap))
    return [
        exp.Create(
            this=temp.copy(),
            kind="TABLE",
            replace=True,
            expression=_typed_select(model, query, in_range=False),
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
    target_node = resolver.qualify(target.dataset, target.table)
    statements = _statements(model, action, target_node, query)
    probe = exp.select("*").from_(query.subquery("_m")).limit(0)
    used: set[str] = dialect.parameters(probe)
    for statement in statements:
        used |= dialect.parameters(statement)
    return CompiledModel(
        model=model,
        target=target,
        action=action,
        query=dialect.to_dialect(query, resolver.dialect),
        probe=dialect.to_dialect(probe, resolver.dialect),
        statements=tuple(dialect.to_dialect(s, resolver.dialect) for s in statements),
        parameters=frozenset(used),
    )


def copy_statement(
    qualify: Callable[[str, str], exp.Table], source: Relation, target: Relation, dialect_: Dialect
) -> str:
    """``CREATE OR REPLACE TABLE target AS SELECT * FROM source`` in ``dialect_`` (publishing and
    cloning on warehouses without a copy-table capability)."""
    select = exp.select("*").from_(qualify(source.dataset, source.table))
    create = exp.Create(
        this=qualify(target.dataset, target.table), kind="TABLE", replace=True, expression=select
    )
    return dialect.to_dialect(create, dialect_)


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


def drop_statement(
    qualify: Callable[[str, str], exp.Table], relation: Relation, dialect_: Dialect
) -> str:
    """``DROP TABLE IF EXISTS relation``."""
    drop = exp.Drop(tables=[qualify(relation.dataset, relation.table)], kind="TABLE", exists=True)
    return dialect.to_dialect(drop, dialect_)


def statements_text(compiled: Sequence[CompiledModel]) -> str:
    """Every statement of a build, one block per model (for ``bnpl build --dry-run`` and tests)."""
    blocks = []
    for item in compiled:
        body = ";\n".join(item.statements)
        blocks.append(f"-- {item.model.name}: {item.action} {item.target}\n{body};")
    return "\n\n".join(blocks)
