"""Keeping the online store fresh: the live loader's after-commit hook and materialization.

:func:`store_updater` returns the callable the live loader runs after each committed micro-batch
(``Loader(..., after_commit=store_updater(store))``): the batch's rows go into the store exactly
once (by ``transaction_key``, so a redelivered batch changes nothing). A store failure is logged
and never fails the loader: the warehouse is the record, and ``bnpl serving materialize`` rebuilds
the store from it.

:func:`materialize` bootstraps a store as of a day from the warehouse: the transactions of the
:data:`~bnpl.serving.features.HISTORY_DAYS` days before it, and the market's daily counts computed
by the mart's own ``market_days`` CTE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl
from sqlglot import exp

from bnpl.errors import ServingError
from bnpl.models import Project, load_project
from bnpl.models.dialect import to_dialect
from bnpl.serving.features import (
    ENRICHED,
    HISTORY_COLUMNS,
    HISTORY_DAYS,
    MARKET_DAYS,
    market_days_tree,
)
from bnpl.serving.store import OnlineStore
from bnpl.sqltext import param
from bnpl.warehouse.base import Warehouse

logger = logging.getLogger(__name__)


def store_updater(store: OnlineStore) -> Callable[[pl.DataFrame], None]:
    """The loader's after-commit hook: add a committed batch's transaction rows to ``store``."""

    def update(rows: pl.DataFrame) -> None:
        if rows.is_empty():
            return
        try:
            added = store.apply(rows.select(HISTORY_COLUMNS).to_dicts())
        except ServingError as exc:
            logger.error("online store not updated for %d rows: %s", rows.height, exc)
            return
        logger.debug("online store: %d of %d rows new", added, rows.height)

    return update


@dataclass(frozen=True)
class Materialized:
    """What :func:`materialize` wrote."""

    transactions: int
    market_days: int


def materialize(
    warehouse: Warehouse, store: OnlineStore, as_of: date, project: Project | None = None
) -> Materialized:
    """Fill ``store`` with what the features of checkouts from the start of ``as_of`` read: the
    transactions of the days before it, and the daily market counts of the mart's own
    ``market_days`` CTE (run over the warehouse's enriched transactions)."""
    project = project or load_project()
    source = warehouse.table(project.model(ENRICHED).dataset, ENRICHED)
    first, last = as_of - timedelta(days=HISTORY_DAYS), as_of - timedelta(days=1)
    history = (
        exp.select(*HISTORY_COLUMNS)
        .from_(source)
        .where(exp.column("transaction_date").between(param("first"), param("last")))
    )
    frame = warehouse.query(to_dialect(history, warehouse.dialect), {"first": first, "last": last})
    added = store.apply(frame.to_dicts(), count_market=False)
    market_tree = (
        exp.select("*")
        .from_(market_days_tree(project, source).subquery("m"))
        .where(exp.column("transaction_date").between(param("first"), param("last")))
    )
    market = warehouse.query(
        to_dialect(market_tree, warehouse.dialect),
        {
            "start_date": as_of,
            "end_date": last,
            "first": as_of - timedelta(days=MARKET_DAYS),
            "last": last,
        },
    )
    store.set_market_days(market.to_dicts())
    logger.info(
        "online store materialized as of %s: %d transactions, %d market days",
        as_of,
        added,
        market.height,
    )
    return Materialized(added, market.height)
