"""The training set as a Polars frame: the SQL of ``mart_bnpl_ml_training_set`` run for an as-of
date, and the list of its feature columns with their documented definitions."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import polars as pl
from sqlglot import exp

from bnpl.errors import ConfigError, ModelError
from bnpl.models import Project, check_schema, load_project, plan_build
from bnpl.models.dialect import to_dialect
from bnpl.settings import Settings
from bnpl.sqltext import param
from bnpl.warehouse import Warehouse, open_warehouse
from bnpl.warehouse.names import LEDGER, MARTS, POLARS_TYPES

logger = logging.getLogger(__name__)

TRAINING_SET = "mart_bnpl_ml_training_set"
"""The model whose SQL is the training set."""
FEATURES_MODEL = "mart_bnpl_ml_features"
"""The per-transaction feature mart the training set reads."""
KEY_COLUMNS = ("transaction_key", "customer_key", "transaction_date", "transaction_ts")
"""Identify a row; never features (time is what the split is made of)."""
LABEL_COLUMNS = ("will_default", "days_to_first_missed_payment")
"""The outcomes. ``will_default`` is the label the evaluation predicts."""
META_COLUMNS = ("identity_scope", "label_matures_ts", "as_of_date", "split")
"""Bookkeeping: how ids are scoped, when the label matured, the as-of date, the split."""
LABEL = "will_default"
"""The label the evaluation predicts."""
SPLITS = ("train", "validation", "test")
"""Values of the ``split`` column, oldest days first."""
ROW_ORDER = ("transaction_date", "transaction_ts", "transaction_key")
"""The fixed row order of every frame and file (transaction_key is unique)."""

FeatureKind = Literal["numeric", "boolean", "categorical"]
_KIND: dict[str, FeatureKind] = {
    "INT64": "numeric",
    "FLOAT64": "numeric",
    "NUMERIC": "numeric",
    "BOOL": "boolean",
    "STRING": "categorical",
}


@dataclass(frozen=True, slots=True)
class Feature:
    """One feature column of the training set.

    Attributes:
        name: the column.
        type: its declared BigQuery type.
        kind: how a model consumes it: ``numeric``, ``boolean`` or ``categorical``.
        definition: the column's documentation in the model template.
    """

    name: str
    type: str
    kind: FeatureKind
    definition: str


def feature_columns(project: Project | None = None) -> tuple[Feature, ...]:
    """The training set's feature columns in table order, with their documented definitions:
    every column except :data:`KEY_COLUMNS`, :data:`LABEL_COLUMNS` and :data:`META_COLUMNS`."""
    model = (project or load_project()).model(TRAINING_SET)
    skip = {*KEY_COLUMNS, *LABEL_COLUMNS, *META_COLUMNS}
    return tuple(
        Feature(c.name, c.type, _KIND[c.type], c.description)
        for c in model.columns
        if c.name not in skip
    )


@contextmanager
def opened(settings: Settings | None, warehouse: Warehouse | None) -> Iterator[Warehouse]:
    """The given warehouse (left open), or one opened from ``settings`` and closed at the end.
    Settings are read once by the caller (the CLI, a flow, a notebook), not here.

    Raises:
        ConfigError: neither is given.
    """
    if warehouse is not None:
        yield warehouse
        return
    if settings is None:
        raise ConfigError(
            "pass settings=bnpl.load_settings() (or an open warehouse=) to read the training set"
        )
    fresh = open_warehouse(settings)
    try:
        yield fresh
    finally:
        fresh.close()


def _last_day(warehouse: Warehouse, dataset: str, table: str, up_to: date | None) -> date | None:
    """Latest ``transaction_date`` of a table, optionally among the days on or before ``up_to``."""
    query = exp.select(exp.func("MAX", exp.column("transaction_date")).as_("last_day")).from_(
        warehouse.table(dataset, table)
    )
    params: dict[str, Any] | None = None
    if up_to is not None:
        query = query.where(exp.LTE(this=exp.column("transaction_date"), expression=param("up_to")))
        params = {"up_to": up_to}
    value = warehouse.query(to_dialect(query, warehouse.dialect), params).item()
    return value if isinstance(value, date) else None


def last_loaded_day(warehouse: Warehouse) -> date:
    """The newest day in the ledger.

    Raises:
        ConfigError: nothing is loaded.
    """
    if not warehouse.table_exists(*LEDGER):
        raise ConfigError("nothing is loaded yet; run bnpl backfill first")
    day = _last_day(warehouse, *LEDGER, None)
    if day is None:
        raise ConfigError(f"the ledger {LEDGER} is empty; run bnpl backfill first")
    return day


def ledger_through(warehouse: Warehouse, day: date) -> pl.DataFrame:
    """Ledger rows on or before ``day`` (day, batch, identity scope, rows loaded, content
    hash), sorted by day and batch."""
    columns = ["transaction_date", "batch_id", "identity_scope", "records_loaded", "content_sha256"]
    query = (
        exp.select(*columns)
        .from_(warehouse.table(*LEDGER))
        .where(exp.LTE(this=exp.column("transaction_date"), expression=param("day")))
    )
    frame = warehouse.query(to_dialect(query, warehouse.dialect), {"day": day})
    return frame.sort("transaction_date", "batch_id")


def check_as_of(warehouse: Warehouse, as_of: date) -> None:
    """Raise unless ``as_of`` is covered by the loaded days and by the published feature mart.

    Raises:
        ConfigError: nothing is loaded, or ``as_of`` is after the last loaded day (days up to it
            could still arrive and change the set).
        ModelError: the published ``mart_bnpl_ml_features`` stops before the last loaded day
            on or before ``as_of``.
    """
    last = last_loaded_day(warehouse)
    if as_of > last:
        raise ConfigError(
            f"as-of {as_of} is after the last loaded day {last}: days up to it could still "
            f"arrive and change the set; load through {as_of} or use an as-of on or before {last}"
        )
    if not warehouse.table_exists(MARTS, FEATURES_MODEL):
        raise ModelError(f"{MARTS}.{FEATURES_MODEL} does not exist; run bnpl build first")
    needed = _last_day(warehouse, *LEDGER, as_of)
    built = _last_day(warehouse, MARTS, FEATURES_MODEL, None)
    if needed is not None and (built is None or built < needed):
        raise ModelError(
            f"{MARTS}.{FEATURES_MODEL} is built through {built}, but {needed} is loaded and "
            f"on or before the as-of {as_of}; run bnpl build first"
        )


_SET = "__bnpl_training_set__"
"""Stands for the training set's query in :func:`_read_statement`; replaced by its text."""


def _read_statement(
    query: str, names: Sequence[str], dialect: Any, *, start: date | None, end: date | None
) -> str:
    """``names`` of the training set ``query``, only the days ``start..end`` when given, in
    :data:`ROW_ORDER`: the filter and the sort run in the warehouse, not in Polars."""
    select = exp.select(*(exp.column(n) for n in names)).from_(exp.to_table(_SET).as_("s"))
    day = exp.column("transaction_date")
    if start is not None:
        select = select.where(exp.GTE(this=day, expression=param("window_start")))
    if end is not None:
        select = select.where(exp.LTE(this=day.copy(), expression=param("window_end")))
    select = select.order_by(*ROW_ORDER)
    wrapper = to_dialect(select, dialect, pretty=True, copy=False)
    return re.sub(rf"\b{_SET}\b", lambda _: "(\n" + query + "\n)", wrapper)


def training_frame(
    *,
    as_of: date,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
    project: Project | None = None,
    columns: Sequence[str] | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """The training set as of the end of ``as_of``, in :data:`ROW_ORDER`, with the declared
    column types; only ``columns`` (default: all, in table order) and only the rows whose
    ``transaction_date`` is in ``start..end`` (inclusive; None: unbounded) when given.

    Runs the SQL of ``mart_bnpl_ml_training_set`` with ``@end_date = as_of`` (a bound parameter)
    against the published marts; nothing is written. The column choice, the day filter and the
    sort run in the warehouse, so only the rows and columns asked for reach Python; the split
    is still computed over every matured day, so a row's split does not depend on the filter.
    ``warehouse`` is used as given and left open; without it one is opened from ``settings``.

    Raises:
        ConfigError: nothing is loaded, ``as_of`` is after the last loaded day, or an unknown
            column is asked for.
        ModelError: the feature marts are not built through ``as_of`` (run ``bnpl build``).
    """
    project = project or load_project(user_dir=settings.project.dir if settings else None)
    model = project.model(TRAINING_SET)
    known = {c.name: c for c in model.columns}
    names = [c.name for c in model.columns] if columns is None else list(dict.fromkeys(columns))
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"the training set has no column(s) {', '.join(unknown)}")
    with opened(settings, warehouse) as wh:
        check_as_of(wh, as_of)
        (compiled,) = plan_build(wh, project, selection=[TRAINING_SET])
        # the set reads nothing after @end_date; @start_date (unused today) would mean "all"
        values: dict[str, Any] = {"start_date": date(1970, 1, 1), "end_date": as_of}
        params = {name: values[name] for name in sorted(model.parameters)}
        if start is not None:
            params["window_start"] = start
        if end is not None:
            params["window_end"] = end
        sql = _read_statement(compiled.query, names, wh.dialect, start=start, end=end)
        frame = wh.query(sql, params or None)
    if columns is None:
        check_schema(model, frame.schema, f"the training set as of {as_of}")
    frame = frame.select(
        pl.col(n).cast(POLARS_TYPES[known[n].type]) if known[n].type in POLARS_TYPES else pl.col(n)
        for n in names
    )
    logger.info("training set as of %s: %d rows", as_of, frame.height)
    return frame
