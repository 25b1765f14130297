"""The statements of write-audit-publish on a warehouse without copy jobs (DuckDB).

A whole copy costs as much as the history there, so the audit area is kept equal to the published
marts *except for the changes of audited builds not yet published*, recorded in
:data:`bnpl.warehouse.names.UNPUBLISHED`:

* before an incremental mart is built into the audit area, an unpublished change left by an
  earlier build (whose gate failed) is undone there, by copying only its days or keys back from
  the published table, and the new change is recorded;
* publishing copies only the recorded days (``DELETE``/``INSERT`` by partition) or keys (merge
  marts: the keys whose rows overlap the change's days in either table), for every mart in one
  transaction, and clears the records.

A change that is not a range or a key set (a full rebuild) is not copied: the audit table itself
becomes the published data (:func:`swap`). DuckDB cannot move a table to another schema, so the
published data lives in the audit schema as ``<mart>__published`` and ``bnpl_marts.<mart>`` is a
view of it; the swap is a rename and a view replacement in the publishing transaction. The audit
copy is then a view of the published table, and the next build of that mart drops it; an
incremental one starts by copying the published table (as for a first audit). A mart published before this (a table in ``bnpl_marts``) is updated
in place by ranges and keys until its next full publish replaces it by the view. Every function here
returns sqlglot trees with bound parameters (:func:`bnpl.sqltext.param`); the adapter renders them
in its dialect and runs them (:class:`bnpl.warehouse.base.Warehouse`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import sqlglot
from sqlglot import exp

from bnpl.sqltext import param
from bnpl.warehouse.names import AUDIT, MARTS, UNPUBLISHED

Table = Callable[[str, str], exp.Table]
"""``(dataset, table)`` -> the table as this warehouse names it."""

DEFAULT_BOUNDS = ("change_start", "change_end")


@dataclass(frozen=True, slots=True)
class Change:
    """What an audited build changes in a mart's audit copy.

    Attributes:
        model: the mart.
        kind: ``full`` (rebuilt whole), ``range`` (the days ``start..end`` of ``column``) or
            ``keys`` (the ``column`` keys whose ``first..last`` span overlaps ``start..end``).
    """

    model: str
    kind: Literal["full", "range", "keys"]
    column: str | None = None
    first: str | None = None
    last: str | None = None
    start: date | None = None
    end: date | None = None


def copy(table: Table, source: str, target: str, name: str) -> exp.Create:
    """``CREATE OR REPLACE TABLE target.name AS SELECT * FROM source.name``."""
    return exp.Create(
        this=table(target, name),
        kind="TABLE",
        replace=True,
        expression=exp.select("*").from_(table(source, name)),
    )


PUBLISHED_SUFFIX = "__published"


def published_name(model: str) -> str:
    """The audit-schema table holding ``model``'s published rows (behind the
    ``bnpl_marts.<model>`` view)."""
    return model + PUBLISHED_SUFFIX


def swap(table: Table, model: str, *, marts_table: bool) -> list[exp.Expr]:
    """Statements publishing the audit table of ``model`` without copying it: the audit table is
    renamed to :func:`published_name` (replacing the previous one) and ``bnpl_marts.<model>``
    becomes (or stays) a view of it; ``marts_table``: it is a table today (dropped first). The
    audit area keeps a view of it too, so that checks reading a mart not built in a later run
    see the published rows; the next build of the mart drops that view first."""
    published = table(AUDIT, published_name(model))
    statements: list[exp.Expr] = [exp.Drop(tables=[published.copy()], kind="TABLE", exists=True)]
    if marts_table:
        statements.append(exp.Drop(tables=[table(MARTS, model)], kind="TABLE", exists=True))
    statements += [
        exp.Alter(
            this=table(AUDIT, model),
            kind="TABLE",
            actions=[exp.AlterRename(this=exp.to_table(published_name(model), quoted=True))],
        ),
        *(
            exp.Create(
                this=table(dataset, model),
                kind="VIEW",
                replace=True,
                expression=exp.select("*").from_(published.copy()),
            )
            for dataset in (MARTS, AUDIT)
        ),
    ]
    return statements


def apply(
    table: Table,
    change: Change,
    source: str,
    target: str,
    *,
    bounds: tuple[str, str] = DEFAULT_BOUNDS,
    into: exp.Table | None = None,
) -> list[exp.Expr]:
    """Statements making ``target.<mart>`` (or the table ``into``) equal ``source.<mart>`` where
    ``change`` applies; its first and last day are the parameters named ``bounds``."""
    if change.kind == "full":
        return [copy(table, source, target, change.model)]
    assert change.column is not None
    window = (param(bounds[0]), param(bounds[1]))
    src = table(source, change.model)
    dst = into.copy() if into is not None else table(target, change.model)
    if change.kind == "range":
        in_range = exp.column(change.column).between(*window)
        return [
            exp.delete(dst.copy(), where=in_range.copy()),
            exp.insert(exp.select("*").from_(src).where(in_range.copy()), dst.copy()),
        ]
    assert change.first is not None and change.last is not None
    key, first, last = change.column, change.first, change.last

    def overlapping(relation: exp.Table) -> exp.Select:
        overlap = exp.and_(
            exp.LTE(this=exp.column(first), expression=window[1].copy()),
            exp.GTE(this=exp.column(last), expression=window[0].copy()),
        )
        return exp.select(key).from_(relation.copy()).where(overlap)

    keys = exp.to_table("_bnpl_changed_keys")
    in_keys = exp.column(key).isin(query=exp.select(key).from_(keys.copy()))
    return [
        exp.Create(
            this=keys.copy(),
            kind="TABLE",
            replace=True,
            expression=exp.union(overlapping(src), overlapping(dst), distinct=True),
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        ),
        exp.delete(dst.copy(), where=in_keys.copy()),
        exp.insert(exp.select("*").from_(src.copy()).where(in_keys.copy()), dst.copy()),
        exp.Drop(tables=[keys.copy()], kind="TABLE", exists=True),
    ]


def bound(change: Change, names: tuple[str, str] = DEFAULT_BOUNDS) -> dict[str, Any]:
    """The values of :func:`apply`'s ``bounds`` parameters."""
    if change.kind == "full":
        return {}
    return {names[0]: change.start, names[1]: change.end}


def create_records(table: Table) -> exp.Expr:
    """``CREATE TABLE IF NOT EXISTS`` of the records of unpublished changes."""
    ddl = sqlglot.parse_one(
        "CREATE TABLE IF NOT EXISTS t (model STRING, kind STRING, column_name STRING, "
        "first_column STRING, last_column STRING, start_date DATE, end_date DATE)",
        read="bigquery",
    )
    ddl.this.set("this", table(*UNPUBLISHED))
    return ddl


def select_records(table: Table) -> exp.Select:
    return exp.select("*").from_(table(*UNPUBLISHED))


def changes_of(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> dict[str, Change]:
    """The recorded change of each of ``models`` among the records ``rows``."""
    return {
        row["model"]: Change(
            row["model"],
            row["kind"],
            row["column_name"] or None,
            row["first_column"] or None,
            row["last_column"] or None,
            row["start_date"],
            row["end_date"],
        )
        for row in rows
        if row["model"] in models
    }


def forget(table: Table, models: Sequence[str]) -> tuple[exp.Expr, dict[str, Any]]:
    """``DELETE`` the records of ``models`` (names bound as ``@forget_<i>``)."""
    names = exp.column("model").isin(*[param(f"forget_{i}") for i in range(len(models))])
    return exp.delete(table(*UNPUBLISHED), where=names), {
        f"forget_{i}": m for i, m in enumerate(models)
    }


def record(table: Table, change: Change) -> tuple[exp.Expr, dict[str, Any]]:
    """``INSERT`` the record of ``change``."""
    statement = sqlglot.parse_one(
        "INSERT INTO t (model, kind, column_name, first_column, last_column, start_date, "
        "end_date) VALUES (@m_model, @m_kind, @m_column, @m_first, @m_last, @m_start, @m_end)",
        read="bigquery",
    )
    statement.set("this", table(*UNPUBLISHED))
    return statement, {
        "m_model": change.model,
        "m_kind": change.kind,
        "m_column": change.column or "",
        "m_first": change.first or "",
        "m_last": change.last or "",
        "m_start": change.start or date.min,
        "m_end": change.end or date.min,
    }


def count(table: Table, dataset: str, name: str) -> exp.Select:
    return exp.select(exp.func("COUNT", exp.Star()).as_("n")).from_(table(dataset, name))


def kinds(dataset: str) -> tuple[exp.Select, dict[str, Any]]:
    """Every relation of the schema ``dataset`` with its type (``BASE TABLE`` or ``VIEW``), and
    the bound schema name."""
    select = (
        exp.select("table_name", "table_type")
        .from_(exp.to_table("information_schema.tables"))
        .where(exp.column("table_schema").eq(param("kinds_schema")))
    )
    return select, {"kinds_schema": dataset}
