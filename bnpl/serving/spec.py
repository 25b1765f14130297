"""The customer-window features of ``mart_bnpl_ml_features``, declared once as data.

Each :class:`Window` is one column of the mart's ``customer_windows`` CTE: an aggregate of one
history column over the customer's transactions whose ``ts_seconds`` lies in
``[t - seconds, t - 1]`` (``RANGE BETWEEN seconds PRECEDING AND 1 PRECEDING`` on whole seconds:
a transaction in the same second as the checkout is never "before" it), optionally narrowed to
the rows sharing the checkout's value of ``partition`` (device, payment method).

Two consumers, one declaration:

* :mod:`bnpl.serving.fast` evaluates these windows in Python per checkout (the serving path);
* ``tests/serving/test_spec.py`` reads the mart's SQL tree and checks that its ``customer_windows``
  CTE declares exactly these columns with these aggregates, sources, frames and partitions, so a
  change to the training SQL that the spec does not follow fails before any value is compared;
  ``tests/serving/test_parity.py`` then checks the values on 1,000 transactions.

Empty windows follow SQL: ``COUNT`` is 0, ``SUM``/``MAX`` are NULL unless the mart coalesces
them (``empty=0``). Every summed column is an integer, so sums do not depend on order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

DAY_SECONDS = 86_400

Aggregate = Literal["count", "sum", "since_last"]
"""``count``: ``COUNT(*)``; ``sum``: ``SUM(column)``; ``since_last``: the checkout's
``ts_seconds`` minus ``MAX(ts_seconds)`` of the window (seconds since the latest earlier row)."""


@dataclass(frozen=True)
class Window:
    """One windowed aggregate of the customer's earlier transactions."""

    name: str
    days: int
    aggregate: Aggregate
    column: str | None = None
    partition: tuple[str, ...] = ()
    """History columns (besides ``customer_key``) the rows must share with the checkout."""
    empty: int | None = None
    """The value of an empty window when the mart coalesces it (``COALESCE(SUM(...), 0)``)."""

    @property
    def seconds(self) -> int:
        return self.days * DAY_SECONDS


WINDOWS: tuple[Window, ...] = (
    Window("prior_txn_count_365d", 365, "count"),
    Window("prior_amount_cents_365d", 365, "sum", "amount_cents", empty=0),
    Window("prior_txn_count_7d", 7, "count"),
    Window("prior_txn_count_28d", 28, "count"),
    Window("prior_amount_cents_7d", 7, "sum", "amount_cents", empty=0),
    Window("prior_amount_cents_28d", 28, "sum", "amount_cents", empty=0),
    Window("seconds_since_previous_txn", 365, "since_last", "ts_seconds"),
    Window("prior_impulse_count", 365, "sum", "is_impulse"),
    Window("prior_high_risk_count", 365, "sum", "is_high_risk"),
    Window("prior_risk_score_micros", 365, "sum", "risk_score_micros"),
    Window("prior_device_txn_count", 365, "count", partition=("device_id",)),
    Window("prior_payment_method_txn_count", 365, "count", partition=("payment_method_id",)),
)
"""The mart's ``customer_windows`` columns, in its order."""

EPOCH = datetime(1970, 1, 1)


def epoch_seconds(ts: datetime) -> int:
    """``DATETIME_DIFF(ts, DATETIME '1970-01-01', SECOND)`` of a naive event time: whole seconds
    (the difference of the truncated seconds, exact integer arithmetic)."""
    return (ts.replace(microsecond=0) - EPOCH) // timedelta(seconds=1)


def round_half_away(value: float) -> float:
    """SQL ``ROUND(x)`` of a DOUBLE: to the nearest integer, halves away from zero (exact: the
    fraction of a double is computed without rounding)."""
    whole = float(int(value))  # truncates toward zero, exactly
    fraction = abs(value - whole)
    if fraction >= 0.5:
        whole += 1.0 if value > 0 else -1.0
    return whole


def _micros(row: Mapping[str, Any]) -> int | None:
    score = row["risk_score"]
    return None if score is None else int(round_half_away(score * 1_000_000))


ROW_COLUMNS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "ts_seconds": lambda r: epoch_seconds(r["transaction_ts"]),
    "amount_cents": lambda r: r["amount_cents"],
    "risk_score_micros": _micros,
    "is_impulse": lambda r: 1 if r["risk_scenario"] == "impulse_purchase" else 0,
    "is_high_risk": lambda r: 1 if r["risk_scenario"] == "high_risk_behavior" else 0,
    "device_id": lambda r: r["device_id"],
    "payment_method_id": lambda r: r["payment_method_id"],
}
"""The mart's ``history`` CTE: each column the windows read, from a store row."""
