"""Write-audit-publish: the audit copies of the marts, and publishing them.

An audited build writes each mart to ``bnpl_audit.<mart>``; an incremental mart must start from
the published table. :func:`publish_models` then makes ``bnpl_marts.<mart>`` equal the audit copy.

On adapters with the ``copy_table`` capability (BigQuery: copy jobs cost no query and replace the
table atomically) both steps copy whole tables. Elsewhere (DuckDB) a whole copy costs as much as
the history, so the audit area is kept equal to the published marts *except for the changes of
audited builds not yet published*, which are recorded in ``bnpl_audit._bnpl_unpublished``:

* before an incremental mart is built into the audit area, an unpublished change left by an
  earlier build (whose gate failed) is undone there, by copying only its days or keys back from
  the published table, and the new change is recorded;
* publishing copies only the recorded days (``DELETE``/``INSERT`` by partition) or keys (merge
  marts: the keys whose rows overlap the change's days in either table), for every mart in one
  transaction, and clears the records.

A change that is not a range or a key set (a full rebuild) is copied whole. When the audit copy is
missing, or has not the published row count while nothing is recorded, it is copied whole too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, Protocol, runtime_checkable

import sqlglot
from sqlglot import exp

from bnpl.errors import ModelError, WarehouseError
from bnpl.models import dialect
from bnpl.models.compile import Relation, copy_statement
from bnpl.models.model import LAYERS, Model
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.labels import job_labels

logger = logging.getLogger(__name__)

AUDIT_DATASET = "bnpl_audit"
MARTS_DATASET = LAYERS["marts"]
UNPUBLISHED = Relation(AUDIT_DATASET, "_bnpl_unpublished")
"""One row per audited mart whose audit copy differs from the published table."""

Qualify = Callable[[str, str], exp.Table]


@runtime_checkable
class SupportsCopyTable(Protocol):
    """Optional adapter capability: replace ``dst`` by a copy of ``src`` atomically (BigQuery copy
    job with WRITE_TRUNCATE). Used to publish audited marts and to seed the audit area."""

    def copy_table(
        self, src_dataset: str, src_table: str, dst_dataset: str, dst_table: str
    ) -> None:
        """Replace ``dst_dataset.dst_table`` by a copy of ``src_dataset.src_table``."""
        ...


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


def change_of(model: Model, action: str, start: date | None, end: date | None) -> Change:
    """The change an audited build of ``model`` with ``action`` over ``start..end`` makes."""
    config = model.config
    if action == "replace_range" and config.partition_by:
        return Change(model.name, "range", config.partition_by, start=start, end=end)
    if action == "merge" and config.active_between:
        first, last = config.active_between
        return Change(model.name, "keys", config.unique_key[0], first, last, start, end)
    return Change(model.name, "full")


def _param(name: str) -> exp.Parameter:
    return exp.Parameter(this=exp.var(name))


def _text(tree: exp.Expr, warehouse: Warehouse) -> str:
    return dialect.to_dialect(tree, warehouse.dialect, copy=False)


def _apply(
    warehouse: Warehouse,
    qualify: Qualify,
    change: Change,
    source: str,
    target: str,
    *,
    bounds: tuple[str, str] = ("change_start", "change_end"),
) -> list[str]:
    """Statements making ``target.<mart>`` equal ``source.<mart>`` where ``change`` applies; its
    first and last day are the parameters named ``bounds``."""
    src, dst = Relation(source, change.model), Relation(target, change.model)
    if change.kind == "full":
        return [copy_statement(qualify, src, dst, warehouse.dialect)]
    assert change.column is not None
    window = (_param(bounds[0]), _param(bounds[1]))
    if change.kind == "range":
        in_range = exp.column(change.column).between(*window)
        return [
            _text(exp.delete(qualify(target, change.model), where=in_range.copy()), warehouse),
            _text(
                exp.insert(
                    exp.select("*").from_(qualify(source, change.model)).where(in_range.copy()),
                    qualify(target, change.model),
                ),
                warehouse,
            ),
        ]
    assert change.first is not None and change.last is not None
    key, first, last = change.column, change.first, change.last

    def overlapping(dataset: str) -> exp.Select:
        overlap = exp.and_(
            exp.LTE(this=exp.column(first), expression=window[1].copy()),
            exp.GTE(this=exp.column(last), expression=window[0].copy()),
        )
        return exp.select(key).from_(qualify(dataset, change.model)).where(overlap)

    keys = exp.to_table("_bnpl_changed_keys")
    in_keys = exp.column(key).isin(query=exp.select(key).from_(keys.copy()))
    return [
        _text(
            exp.Create(
                this=keys.copy(),
                kind="TABLE",
                replace=True,
                expression=exp.union(overlapping(source), overlapping(target), distinct=True),
                properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
            ),
            warehouse,
        ),
        _text(exp.delete(qualify(target, change.model), where=in_keys.copy()), warehouse),
        _text(
            exp.insert(
                exp.select("*").from_(qualify(source, change.model)).where(in_keys.copy()),
                qualify(target, change.model),
            ),
            warehouse,
        ),
        _text(exp.Drop(tables=[keys.copy()], kind="TABLE", exists=True), warehouse),
    ]


def _ensure_ledger(warehouse: Warehouse, qualify: Qualify) -> None:
    ddl = sqlglot.parse_one(
        "CREATE TABLE IF NOT EXISTS t (model STRING, kind STRING, column_name STRING, "
        "first_column STRING, last_column STRING, start_date DATE, end_date DATE)",
        read=dialect.READ,
    )
    ddl.this.set("this", qualify(UNPUBLISHED.dataset, UNPUBLISHED.table))
    warehouse.execute(_text(ddl, warehouse))


def _recorded(warehouse: Warehouse, qualify: Qualify, models: Sequence[str]) -> dict[str, Change]:
    """The unpublished change recorded for each of ``models``."""
    _ensure_ledger(warehouse, qualify)
    select = exp.select("*").from_(qualify(UNPUBLISHED.dataset, UNPUBLISHED.table))
    rows = warehouse.query(_text(select, warehouse))
    found: dict[str, Change] = {}
    for row in rows.iter_rows(named=True):
        if row["model"] in models:
            found[row["model"]] = Change(
                row["model"],
                row["kind"],
                row["column_name"] or None,
                row["first_column"] or None,
                row["last_column"] or None,
                row["start_date"],
                row["end_date"],
            )
    return found


def _forget(
    qualify: Qualify, warehouse: Warehouse, models: Sequence[str]
) -> tuple[str, dict[str, Any]]:
    """``DELETE`` the records of ``models`` (names bound as ``@forget_<i>``)."""
    table = qualify(UNPUBLISHED.dataset, UNPUBLISHED.table)
    names = exp.column("model").isin(*[_param(f"forget_{i}") for i in range(len(models))])
    return _text(exp.delete(table, where=names), warehouse), {
        f"forget_{i}": m for i, m in enumerate(models)
    }


def _count(warehouse: Warehouse, qualify: Qualify, dataset: str, table: str) -> int:
    select = exp.select(exp.func("COUNT", exp.Star()).as_("n")).from_(qualify(dataset, table))
    return int(warehouse.query(_text(select, warehouse)).item())


def _bounds(
    change: Change, names: tuple[str, str] = ("change_start", "change_end")
) -> dict[str, Any]:
    if change.kind == "full":
        return {}
    return {names[0]: change.start, names[1]: change.end}


def prepare_audit(
    warehouse: Warehouse, qualify: Qualify, change: Change, *, incremental: bool
) -> None:
    """Before ``change.model`` is built into the audit area: make an incremental build start from
    the published table, and record ``change`` as unpublished."""
    name = change.model
    if isinstance(warehouse, SupportsCopyTable):
        if incremental:
            with job_labels(model=name):
                warehouse.copy_table(MARTS_DATASET, name, AUDIT_DATASET, name)
        return
    previous = _recorded(warehouse, qualify, [name]).get(name)
    statements: list[str] = []
    params: dict[str, Any] = {}
    if incremental:
        audit_ok = warehouse.table_exists(AUDIT_DATASET, name) and (
            previous is not None
            or _count(warehouse, qualify, AUDIT_DATASET, name)
            == _count(warehouse, qualify, MARTS_DATASET, name)
        )
        undo = previous if audit_ok and previous is not None else Change(name, "full")
        if not audit_ok or previous is not None:
            statements += _apply(warehouse, qualify, undo, MARTS_DATASET, AUDIT_DATASET)
            params |= _bounds(undo)
    forget, forget_params = _forget(qualify, warehouse, [name])
    statements.append(forget)
    params |= forget_params
    record = sqlglot.parse_one(
        "INSERT INTO t (model, kind, column_name, first_column, last_column, start_date, "
        "end_date) VALUES (@m_model, @m_kind, @m_column, @m_first, @m_last, @m_start, @m_end)",
        read=dialect.READ,
    )
    record.set("this", qualify(UNPUBLISHED.dataset, UNPUBLISHED.table))
    statements.append(_text(record, warehouse))
    params |= {
        "m_model": name,
        "m_kind": change.kind,
        "m_column": change.column or "",
        "m_first": change.first or "",
        "m_last": change.last or "",
        "m_start": change.start or date.min,
        "m_end": change.end or date.min,
    }
    warehouse.execute_many(statements, params)


def publish_models(warehouse: Warehouse, marts: Sequence[str]) -> None:
    """Make each ``bnpl_marts.<name>`` equal ``bnpl_audit.<name>``: one copy job per table on
    adapters with ``copy_table``, else the recorded changes of every mart in one transaction.

    Raises:
        ModelError: publishing failed; on transactional adapters nothing was published.
    """
    if not marts:
        return
    from bnpl.models.plan import qualifier, session  # plan imports this module

    qualify = qualifier(warehouse)
    try:
        with session(warehouse):
            if isinstance(warehouse, SupportsCopyTable):
                for name in marts:
                    with job_labels(model=name):
                        warehouse.copy_table(AUDIT_DATASET, name, MARTS_DATASET, name)
            else:
                _publish_changes(warehouse, qualify, marts)
    except WarehouseError as exc:
        raise ModelError(f"publishing {', '.join(marts)} failed: {exc}") from exc
    logger.info("published %s", ", ".join(marts))


def _publish_changes(warehouse: Warehouse, qualify: Qualify, marts: Sequence[str]) -> None:
    recorded = _recorded(warehouse, qualify, marts)
    statements: list[str] = []
    params: dict[str, Any] = {}
    for index, name in enumerate(marts):
        change = recorded.get(name, Change(name, "full"))
        if not warehouse.table_exists(MARTS_DATASET, name):
            change = Change(name, "full")
        # each mart's days get parameters of their own inside the one transaction
        names = (f"start_{index}", f"end_{index}")
        statements += _apply(warehouse, qualify, change, AUDIT_DATASET, MARTS_DATASET, bounds=names)
        params |= _bounds(change, names)
    forget, forget_params = _forget(qualify, warehouse, list(marts))
    statements.append(forget)
    warehouse.execute_many(statements, params | forget_params)
