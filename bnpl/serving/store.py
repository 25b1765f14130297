"""The online store: what :mod:`bnpl.serving.features` needs to compute a checkout's features.

Two things, both keyed for one read per checkout:

* every transaction of the last :data:`~bnpl.serving.features.HISTORY_DAYS` days, with the columns
  the mart's customer windows read (:data:`~bnpl.serving.features.HISTORY_COLUMNS`), indexed by
  customer and time (the device and payment-method features are windows over the same rows);
* the market's daily transaction counts and amounts.

:meth:`OnlineStore.apply` adds transactions exactly once (by ``transaction_key``), updating the
day's market counts in the same transaction: the live loader calls it after each committed
micro-batch (:func:`bnpl.serving.hook.update_store`); ``bnpl serving materialize --as-of D``
bootstraps the store from the warehouse.

The embedded store is one SQLite file (WAL mode; readers never block the writer). The production
store is Redis (:mod:`bnpl.serving.redis_store`), behind the same methods.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from sqlglot import exp

from bnpl.errors import ServingError
from bnpl.serving.features import HISTORY_COLUMNS, HISTORY_DAYS, MARKET_DAYS, History

_SELECT_HISTORY = (
    exp.select(*HISTORY_COLUMNS)
    .from_("history")
    .where("customer_key = ? AND transaction_date BETWEEN ? AND ?", dialect="sqlite")
    .sql("sqlite")
)
"""A customer's rows of one window (bound: customer key, first and last day)."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
  transaction_key TEXT PRIMARY KEY,
  customer_key TEXT NOT NULL,
  transaction_date TEXT NOT NULL,
  transaction_ts TEXT NOT NULL,
  device_id TEXT,
  payment_method_id TEXT,
  amount_cents INTEGER NOT NULL,
  risk_score REAL,
  risk_scenario TEXT
);
CREATE INDEX IF NOT EXISTS history_customer ON history (customer_key, transaction_date);
CREATE TABLE IF NOT EXISTS market_days (
  transaction_date TEXT PRIMARY KEY,
  txn_count INTEGER NOT NULL,
  amount_cents INTEGER NOT NULL
);
"""


class OnlineStore(Protocol):
    """Where online features read history from."""

    def apply(self, rows: Iterable[Mapping[str, Any]], *, count_market: bool = True) -> int: ...

    def set_market_days(self, rows: Iterable[Mapping[str, Any]]) -> None: ...

    def history(self, customer_key: str, day: date) -> History: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class SqliteStore:
    """The embedded online store (one SQLite file; a connection per thread)."""

    def __init__(self, path: Path, *, busy_timeout_s: float = 10.0) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._local = threading.local()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            con = self._con()
            con.executescript(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            raise ServingError(f"cannot open the online store {path}: {exc}") from exc

    def _con(self) -> sqlite3.Connection:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            self._local.con = con
        return con

    def apply(self, rows: Iterable[Mapping[str, Any]], *, count_market: bool = True) -> int:
        """Add transactions not yet in the store (by ``transaction_key``); with ``count_market``,
        add each new one to its day's market counts. Returns how many were new."""
        con = self._con()
        added = 0
        try:
            con.execute("BEGIN IMMEDIATE")
            try:
                for row in rows:
                    cursor = con.execute(
                        "INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        [_to_sql(row[c]) for c in HISTORY_COLUMNS],
                    )
                    if cursor.rowcount != 1:
                        continue
                    added += 1
                    if count_market:
                        con.execute(
                            "INSERT INTO market_days VALUES (?, 1, ?) ON CONFLICT (transaction_date)"
                            " DO UPDATE SET txn_count = txn_count + 1,"
                            " amount_cents = amount_cents + excluded.amount_cents",
                            [_to_sql(row["transaction_date"]), row["amount_cents"]],
                        )
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise ServingError(f"cannot update the online store {self.path}: {exc}") from exc
        return added

    def set_market_days(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Replace the counts of the given days (materialization from the warehouse)."""
        try:
            self._con().executemany(
                "INSERT OR REPLACE INTO market_days VALUES (?, ?, ?)",
                [
                    [_to_sql(r["transaction_date"]), int(r["txn_count"]), int(r["amount_cents"])]
                    for r in rows
                ],
            )
        except sqlite3.Error as exc:
            raise ServingError(f"cannot update the online store {self.path}: {exc}") from exc

    def history(self, customer_key: str, day: date) -> History:
        """The customer's transactions from :data:`HISTORY_DAYS` days before ``day`` up to
        ``day``, and the market days of the :data:`MARKET_DAYS` days before it."""
        first = (day - timedelta(days=HISTORY_DAYS)).isoformat()
        try:
            con = self._con()
            rows = con.execute(
                _SELECT_HISTORY,
                [customer_key, first, day.isoformat()],
            ).fetchall()
            market = con.execute(
                "SELECT transaction_date, txn_count, amount_cents FROM market_days"
                " WHERE transaction_date BETWEEN ? AND ?",
                [(day - timedelta(days=MARKET_DAYS)).isoformat(), day.isoformat()],
            ).fetchall()
        except sqlite3.Error as exc:
            raise ServingError(f"cannot read the online store {self.path}: {exc}") from exc
        return History(
            transactions=[_history_row(r) for r in rows],
            market_days=[
                {
                    "transaction_date": date.fromisoformat(d),
                    "txn_count": n,
                    "amount_cents": a,
                }
                for d, n, a in market
            ],
        )

    def prune(self, before: date) -> int:
        """Drop transactions of days before ``before`` (no feature reads them any more)."""
        cursor = self._con().execute(
            "DELETE FROM history WHERE transaction_date < ?", [before.isoformat()]
        )
        return cursor.rowcount

    def ping(self) -> None:
        try:
            self._con().execute("SELECT 1 FROM market_days LIMIT 1").fetchall()
        except sqlite3.Error as exc:
            raise ServingError(f"online store {self.path} unreachable: {exc}") from exc

    def close(self) -> None:
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


def _to_sql(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _history_row(row: Sequence[Any]) -> dict[str, Any]:
    out = dict(zip(HISTORY_COLUMNS, row, strict=True))
    out["transaction_date"] = date.fromisoformat(out["transaction_date"])
    out["transaction_ts"] = datetime.fromisoformat(out["transaction_ts"])
    return out
