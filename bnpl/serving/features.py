"""Online features from the training SQL itself: ``mart_bnpl_ml_features`` run in-process.

One definition, not two. The online path runs the very models the warehouse builds,
``stg_bnpl_raw_transactions`` -> ``int_bnpl_transactions_enriched`` -> ``mart_bnpl_ml_features``,
parsed from ``sql/`` and transpiled to DuckDB, over a private in-memory DuckDB database holding
only what one checkout needs:

* ``checkout_raw``: the checkout as one ``bnpl_raw.transactions`` row (outcome columns NULL);
* ``checkout_customer``: its ``stg_bnpl_extracted_customers`` row (identity scope);
* ``history``: the customer's earlier transactions from the online store, in the enriched
  table's schema (only the columns the windows read are filled);
* ``market_days``: the store's daily counts and amounts, which replace the mart's
  ``market_days`` CTE (the same CTE computes them when the store is materialized, see
  :func:`market_days_query`), so the daily aggregate is defined once too.

Per checkout, two statements run: the enriched row of the checkout (staging and intermediate
models, composed as subqueries, with the calendar model and its bound holidays) into
``checkout_enriched``, then the mart over ``checkout_enriched UNION ALL history`` for the checkout's
day. The mart's windows look strictly backwards, so the store may hold anything up to the checkout.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

import duckdb
from sqlglot import exp

from bnpl.models import Model, Project, load_project
from bnpl.models.compile import _holidays_relation, holiday_parameter_names
from bnpl.models.dialect import to_dialect
from bnpl.models.plan import holidays_for
from bnpl.models.render import HOLIDAYS_PLACEHOLDER, REF_PREFIX, SOURCE_PREFIX
from bnpl.warehouse.base import table_spec
from bnpl.warehouse.duckdb import create_table_sql
from bnpl.warehouse.names import RAW

MART = "mart_bnpl_ml_features"
ENRICHED = "int_bnpl_transactions_enriched"
CUSTOMERS_MODEL = "stg_bnpl_extracted_customers"

HISTORY_COLUMNS: tuple[str, ...] = (
    "transaction_key",
    "customer_key",
    "transaction_date",
    "transaction_ts",
    "device_id",
    "payment_method_id",
    "amount_cents",
    "risk_score",
    "risk_scenario",
)
"""The enriched columns the mart reads from a customer's earlier transactions."""


def _insert(table: str, columns: Sequence[str]) -> str:
    """``INSERT INTO table (columns) VALUES (?, ...)``: one bound parameter per column."""
    values = exp.values([tuple(exp.Placeholder() for _ in columns)])
    return exp.insert(values, table, columns=list(columns)).sql("duckdb")


_INSERT_HISTORY = _insert("history", HISTORY_COLUMNS)

HISTORY_DAYS = 366
"""The mart's history reaches this many days before the checkout's day."""

MARKET_DAYS = 28
"""The mart's market features read this many days before the checkout's day."""


def _replace_tables(tree: exp.Expr, replace: Any) -> exp.Expr:
    for table in list(tree.find_all(exp.Table)):
        replacement = replace(table.name)
        if replacement is None:
            continue
        alias = table.args.get("alias")
        if isinstance(replacement, exp.Query):
            replacement = replacement.subquery(alias or table.name)
        elif alias is not None:
            replacement.set("alias", alias)
        table.replace(replacement)
    return tree


def _compose(project: Project, name: str, leaves: Mapping[str, str], holidays: int) -> exp.Query:
    """``name``'s tree with its refs inlined as subqueries down to ``leaves`` (model -> table)."""
    tree = project.model(name).tree.copy()

    def replace(table: str) -> exp.Expr | None:
        if table.startswith(REF_PREFIX):
            child = table.removeprefix(REF_PREFIX)
            if child in leaves:
                return exp.to_table(leaves[child])
            return _compose(project, child, leaves, holidays)
        if table.startswith(SOURCE_PREFIX):
            source, _, source_table = table.removeprefix(SOURCE_PREFIX).partition("__")
            return exp.to_table(leaves[f"source:{source}.{source_table}"])
        if table == HOLIDAYS_PLACEHOLDER:
            return _holidays_relation(holidays)
        return None

    composed = _replace_tables(tree, replace)
    assert isinstance(composed, exp.Query)
    return composed


def _market_cte(tree: exp.Expr) -> exp.CTE:
    for cte in tree.find_all(exp.CTE):
        if cte.alias == "market_days":
            return cte
    raise LookupError(f"{MART} has no market_days CTE")


@dataclass(frozen=True)
class CompiledFeatures:
    """The DuckDB statements of one checkout, for one number of bound holidays, built once from
    the models' trees: create the enriched table's shape, enrich the checkout into it, and read
    the checkout's mart row (``$key``)."""

    create_enriched: str
    insert_enriched: str
    select_row: str
    columns: tuple[str, ...]


def _aliased(query: exp.Expr, alias: str) -> exp.Subquery:
    """``(query) AS alias``, to select from."""
    return exp.Subquery(this=query, alias=exp.TableAlias(this=exp.to_identifier(alias)))


def _compile(project: Project, holidays: int) -> CompiledFeatures:
    enrich_tree = _compose(
        project,
        ENRICHED,
        {
            "source:raw.transactions": "checkout_raw",
            CUSTOMERS_MODEL: "checkout_customer",
        },
        holidays,
    )
    mart_tree = project.model(MART).tree.copy()
    _market_cte(mart_tree).set(
        "this",
        exp.select("transaction_date", "txn_count", "amount_cents").from_("market_days"),
    )
    _replace_tables(
        mart_tree,
        lambda t: exp.to_table("enriched") if t == REF_PREFIX + ENRICHED else None,
    )
    mart_model: Model = project.model(MART)
    enriched = exp.to_table("checkout_enriched")
    shape = exp.select("*").from_(_aliased(enrich_tree.copy(), "e")).limit(0)
    row = (
        exp.select("*")
        .from_(_aliased(mart_tree, "m"))
        .where(exp.column("transaction_key").eq(exp.Parameter(this=exp.var("key"))))
    )
    return CompiledFeatures(
        create_enriched=to_dialect(
            exp.Create(this=enriched, kind="TABLE", expression=shape), "duckdb"
        ),
        insert_enriched=to_dialect(exp.insert(enrich_tree, enriched), "duckdb"),
        select_row=to_dialect(row, "duckdb"),
        columns=tuple(mart_model.column_names),
    )


def market_days_tree(project: Project, source: exp.Table) -> exp.Query:
    """The mart's own ``market_days`` CTE, reading the enriched transactions from ``source``
    (parameters ``@start_date``, ``@end_date``): what the store's market counts are
    materialized with, so the daily aggregate has one definition."""
    cte = _market_cte(project.model(MART).tree)
    select = cte.this.copy()
    _replace_tables(select, lambda t: source.copy() if t == REF_PREFIX + ENRICHED else None)
    assert isinstance(select, exp.Query)
    return select


@dataclass(frozen=True)
class History:
    """What the online store holds for one checkout: the customer's rows (dicts with
    :data:`HISTORY_COLUMNS`, ``transaction_ts`` a naive datetime) and the market's daily rows
    (``transaction_date``, ``txn_count``, ``amount_cents``) of the days before."""

    transactions: Sequence[Mapping[str, Any]]
    market_days: Sequence[Mapping[str, Any]]


class OnlineFeatures:
    """Computes ``mart_bnpl_ml_features`` for one checkout at a time (thread-safe: one private
    in-memory DuckDB database, used under a lock; make one per worker thread for parallelism)."""

    def __init__(self, project: Project | None = None) -> None:
        self._project = project or load_project()
        self._compiled: dict[int, CompiledFeatures] = {}
        self._lock = threading.Lock()
        self._con = duckdb.connect(":memory:")
        self._con.execute("SET TimeZone = 'UTC'")
        self._con.execute("SET threads = 1")  # one checkout is a few rows: threads only cost
        raw = table_spec(RAW, "transactions")
        self._raw_columns = tuple(c.name for c in raw.columns)
        # a checkout has no outcome yet: every column nullable
        nullable = replace(raw, columns=tuple(replace(c, nullable=True) for c in raw.columns))
        self._con.execute(create_table_sql(nullable, "checkout_raw"))
        customers = self._project.model(CUSTOMERS_MODEL)
        self._con.execute(
            "CREATE TABLE checkout_customer (customer_key VARCHAR, transaction_date DATE, "
            "batch_id VARCHAR, identity_scope VARCHAR, attribute_fingerprint VARCHAR, "
            "attributes_changed BOOLEAN)"
        )
        assert {"customer_key", "identity_scope"} <= set(customers.column_names)
        self._con.execute(
            "CREATE TABLE market_days (transaction_date DATE, txn_count BIGINT, amount_cents BIGINT)"
        )
        first = self._statements(date(2024, 1, 1))
        self._con.execute(first.create_enriched, self._params(date(2024, 1, 1)))
        self._con.execute("CREATE TABLE history AS SELECT * FROM checkout_enriched LIMIT 0")
        self._con.execute(
            "CREATE VIEW enriched AS SELECT * FROM checkout_enriched UNION ALL BY NAME "
            "SELECT * FROM history"
        )
        self.columns = first.columns
        self._insert_raw = _insert("checkout_raw", self._raw_columns)

    def _statements(self, day: date) -> CompiledFeatures:
        count = len(_holidays(day))
        compiled = self._compiled.get(count)
        if compiled is None:
            compiled = self._compiled[count] = _compile(self._project, count)
        return compiled

    @staticmethod
    def _params(day: date) -> dict[str, Any]:
        params: dict[str, Any] = {"start_date": day, "end_date": day}
        for index, (holiday, name) in enumerate(_holidays(day)):
            date_name, name_name = holiday_parameter_names(index)
            params[date_name] = holiday
            params[name_name] = name
        return params

    def compute(
        self,
        checkout: Mapping[str, Any],
        history: History,
        *,
        identity_scope: str = "source",
    ) -> dict[str, Any]:
        """The mart's row for ``checkout`` (a ``bnpl_raw.transactions`` row: ``transaction_key``,
        ``transaction_date``, naive ``transaction_ts``, the record's fields; outcome fields may be
        absent) given the customer's earlier transactions and the market days in ``history``."""
        day: date = checkout["transaction_date"]
        compiled = self._statements(day)
        params = self._params(day)
        raw = [checkout.get(c) for c in self._raw_columns]
        with self._lock:
            con = self._con
            con.execute("BEGIN")
            try:
                con.execute("DELETE FROM checkout_raw")
                con.execute("DELETE FROM checkout_customer")
                con.execute("DELETE FROM checkout_enriched")
                con.execute("DELETE FROM history")
                con.execute("DELETE FROM market_days")
                con.execute(self._insert_raw, raw)
                con.execute(
                    "INSERT INTO checkout_customer VALUES (?, ?, ?, ?, NULL, FALSE)",
                    [checkout["customer_key"], day, checkout["batch_id"], identity_scope],
                )
                if history.transactions:
                    con.executemany(
                        _INSERT_HISTORY,
                        [[row[c] for c in HISTORY_COLUMNS] for row in history.transactions],
                    )
                if history.market_days:
                    con.executemany(
                        "INSERT INTO market_days VALUES (?, ?, ?)",
                        [
                            [m["transaction_date"], m["txn_count"], m["amount_cents"]]
                            for m in history.market_days
                        ],
                    )
                con.execute(compiled.insert_enriched, params)
                cursor = con.execute(
                    compiled.select_row,
                    {"start_date": day, "end_date": day, "key": checkout["transaction_key"]},
                )
                names = [d[0] for d in cursor.description or ()]
                row = cursor.fetchone()
            finally:
                con.execute("ROLLBACK")
        if row is None:
            raise LookupError(f"no feature row for transaction {checkout['transaction_key']}")
        return dict(zip(names, row, strict=True))

    def close(self) -> None:
        self._con.close()


@cache
def _holidays(day: date) -> tuple[tuple[date, str], ...]:
    return tuple(holidays_for(day, day))


def history_window(day: date) -> tuple[date, date]:
    """The days of history the mart reads for a checkout on ``day``: customer rows from the
    first, market days up to the day before."""
    return day - timedelta(days=HISTORY_DAYS), day


def epoch_seconds(ts: datetime) -> int:
    """Seconds since 1970 of a naive event time (the mart's ``ts_seconds``)."""
    return int((ts - datetime(1970, 1, 1)).total_seconds())
