"""The live path's side of the warehouse: one micro-batch as the adapters write it, and the
statements that read the live rows back (written once as sqlglot trees, values bound).

A micro-batch (:class:`LiveBatch`) is written by :meth:`bnpl.warehouse.base.Warehouse.
write_live_batch` as one unit: every event in it ends as exactly one row, in
``bnpl_raw.live_transactions`` (valid) or in ``bnpl_raw.quarantine`` (a dead letter, with its
``event_id``), whatever either table held for it before; and the consumer's offsets are written
with the rows they cover. Writing the same batch twice leaves the same rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlglot import exp

from bnpl.sqltext import param
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.live_batch import LiveBatch as LiveBatch  # re-exported
from bnpl.warehouse.names import LEDGER, LIVE_OFFSETS, LIVE_SOURCE, LIVE_TRANSACTIONS, QUARANTINE

Table = Callable[[str, str], exp.Table]


def live_rows(table: Table, *, day: bool) -> exp.Select:
    """Live rows (of ``@day`` when ``day``), as stored."""
    query = exp.select("*").from_(table(*LIVE_TRANSACTIONS))
    if day:
        query = query.where(exp.column("transaction_date").eq(param("day")))
    return query


def dead_letters(
    table: Table,
    *,
    day: bool = False,
    reasons: int = 0,
    event_ids: int = 0,
    since: bool = False,
) -> exp.Select:
    """Dead letters (quarantine rows with an event id), filtered by ``@day``, ``@reason_<i>``
    (``check_name``), ``@event_id_<i>`` and ``@since`` (``quarantined_at`` at or after), each
    only when asked for."""
    quarantine = table(*QUARANTINE)
    where: exp.Expr = exp.column("event_id").is_(exp.null()).not_()
    # a filter the partition enforcement accepts, keeping every partition
    first_day = exp.cast(exp.Literal.string("0001-01-01"), "DATE")
    where = exp.and_(where, exp.column("transaction_date") >= first_day)
    if day:
        where = exp.and_(where, exp.column("transaction_date").eq(param("day")))
    if reasons:
        where = exp.and_(
            where, exp.column("check_name").isin(*[param(f"reason_{i}") for i in range(reasons)])
        )
    if event_ids:
        where = exp.and_(
            where, exp.column("event_id").isin(*[param(f"event_id_{i}") for i in range(event_ids)])
        )
    if since:
        where = exp.and_(where, exp.column("quarantined_at") >= param("since"))
    return exp.select("*").from_(quarantine).where(where)


def dead_letter_reasons(table: Table) -> exp.Select:
    """Dead letters per reason (``check_name``): ``reason``, ``n``, newest ``last_at``."""
    return (
        dead_letters(table)
        .select(
            exp.column("check_name").as_("reason"),
            exp.func("count", exp.Star()).as_("n"),
            exp.func("max", exp.column("quarantined_at")).as_("last_at"),
            append=False,
        )
        .group_by(exp.column("check_name"))
        .order_by(exp.column("check_name"))
    )


def live_day_counts(table: Table) -> exp.Select:
    """Per day: live rows, dead letters, and the newest write, from ``@start`` on."""
    live = (
        exp.select(
            exp.column("transaction_date").as_("day"),
            exp.func("count", exp.Star()).as_("live_rows"),
            exp.Literal.number(0).as_("dead_letters"),
            exp.func("max", exp.column("loaded_at")).as_("last_write"),
        )
        .from_(table(*LIVE_TRANSACTIONS))
        .where(exp.column("transaction_date") >= param("start"))
        .group_by(exp.column("transaction_date"))
    )
    dead = (
        exp.select(
            exp.column("transaction_date").as_("day"),
            exp.Literal.number(0).as_("live_rows"),
            exp.func("count", exp.Star()).as_("dead_letters"),
            exp.func("max", exp.column("quarantined_at")).as_("last_write"),
        )
        .from_(table(*QUARANTINE))
        .where(
            exp.and_(
                exp.column("transaction_date") >= param("start"),
                exp.column("event_id").is_(exp.null()).not_(),
            )
        )
        .group_by(exp.column("transaction_date"))
    )
    both = exp.union(live, dead, distinct=False).subquery("counts")
    return (
        exp.select(
            "day",
            exp.func("sum", exp.column("live_rows")).as_("live_rows"),
            exp.func("sum", exp.column("dead_letters")).as_("dead_letters"),
            exp.func("max", exp.column("last_write")).as_("last_write"),
        )
        .from_(both)
        .group_by("day")
        .order_by("day")
    )


def live_seals(table: Table) -> exp.Select:
    """Ledger rows written by a day seal (``source_url`` is ``live``), from ``@start`` on."""
    return (
        exp.select(
            exp.column("transaction_date").as_("day"),
            "batch_id",
            "records_loaded",
            "records_quarantined",
            "customers_loaded",
            "finished_at",
        )
        .from_(table(*LEDGER))
        .where(
            exp.and_(
                exp.column("transaction_date") >= param("start"),
                exp.column("source_url").eq(exp.Literal.string(LIVE_SOURCE)),
            )
        )
        .order_by("transaction_date")
    )


def offsets(table: Table) -> exp.Select:
    """Every consumer offset."""
    return exp.select("*").from_(table(*LIVE_OFFSETS))


# --- reading (every engine: trees rendered in the warehouse's dialect, values bound) -------------


def read_live_day(warehouse: Warehouse, day: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Day ``day`` of the live path: its live rows and its dead letters."""
    warehouse.ensure_schema()
    rows = warehouse.query(warehouse.render(live_rows(warehouse.table, day=True)), {"day": day})
    dead = warehouse.query(warehouse.render(dead_letters(warehouse.table, day=True)), {"day": day})
    return rows, dead


def read_dead_letters(
    warehouse: Warehouse,
    *,
    reasons: Sequence[str] = (),
    event_ids: Sequence[str] = (),
    since: datetime | None = None,
) -> pl.DataFrame:
    """Dead letters with a ``check_name`` in ``reasons``, an id in ``event_ids`` and quarantined at
    or after ``since`` (each filter only when given)."""
    warehouse.ensure_schema()
    statement = dead_letters(
        warehouse.table, reasons=len(reasons), event_ids=len(event_ids), since=since is not None
    )
    params: dict[str, Any] = {f"reason_{i}": r for i, r in enumerate(reasons)}
    params |= {f"event_id_{i}": e for i, e in enumerate(event_ids)}
    if since is not None:
        params["since"] = since
    return warehouse.query(warehouse.render(statement), params or None)


def read_day_counts(warehouse: Warehouse, start: date) -> pl.DataFrame:
    """Per day from ``start``: ``live_rows``, ``dead_letters`` and ``last_write``."""
    warehouse.ensure_schema()
    return warehouse.query(warehouse.render(live_day_counts(warehouse.table)), {"start": start})


def read_dead_letter_reasons(warehouse: Warehouse) -> pl.DataFrame:
    """Dead letters per reason: ``reason``, ``n``, ``last_at``."""
    warehouse.ensure_schema()
    return warehouse.query(warehouse.render(dead_letter_reasons(warehouse.table)))


def read_seals(warehouse: Warehouse, start: date) -> pl.DataFrame:
    """The ledger rows of sealed live days from ``start`` on."""
    warehouse.ensure_schema()
    return warehouse.query(warehouse.render(live_seals(warehouse.table)), {"start": start})


def read_offsets(warehouse: Warehouse) -> pl.DataFrame:
    """Every committed consumer offset."""
    warehouse.ensure_schema()
    return warehouse.query(warehouse.render(offsets(warehouse.table)))
