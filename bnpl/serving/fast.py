"""Online features in Python: ``mart_bnpl_ml_features`` for one checkout, without a database.

The serving path. It computes the same row as :class:`bnpl.serving.features.OnlineFeatures` (the
training SQL run in-process, kept as the parity reference) from the same inputs, the checkout's
``bnpl_raw.transactions`` row and the store's :class:`~bnpl.serving.features.History`, in tens of
microseconds instead of ~80 ms of DuckDB planning:

* the checkout's own fields and the enriched model's per-row expressions (calendar from
  :func:`bnpl.models.plan.holidays_for`, the hour, the three ``SAFE_DIVIDE`` ratios);
* the customer windows from :data:`bnpl.serving.spec.WINDOWS` (the declaration checked against the
  mart's ``customer_windows`` CTE by ``tests/serving/test_spec.py``);
* the market features from the store's daily counts of the 28 days before the checkout's day;
* the mart's final expressions (shares, averages, ratios, combined categories).

SQL semantics kept on purpose: ``SAFE_DIVIDE`` is NULL on a zero or NULL operand; ``SUM`` of no
(non-NULL) row is NULL; ``ROUND`` halves away from zero; integer sums are exact; a ratio is one
IEEE division of the two values DuckDB divides. ``tests/serving/test_parity.py`` asserts equality
with the mart on 1,000 transactions (floats within 1e-9).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from bnpl.models.plan import holidays_for
from bnpl.serving.features import MART, History
from bnpl.serving.spec import ROW_COLUMNS, WINDOWS, Window, epoch_seconds, round_half_away

PASSTHROUGH: tuple[str, ...] = (
    "transaction_key",
    "customer_key",
    "transaction_date",
    "transaction_ts",
    "amount_cents",
    "installment_count",
    "risk_score",
    "purchase_context",
    "checkout_speed",
    "cart_abandonment_count",
    "price_comparison_time",
    "time_on_site_seconds",
    "customer_age_bracket",
    "customer_tenure_days",
    "customer_income_bracket",
    "customer_credit_score_range",
    "customer_verification_level",
    "customer_address_stability",
    "product_category",
    "product_subcategory",
    "product_brand",
    "product_price",
    "product_bnpl_eligible",
    "product_risk_category",
    "device_type",
    "device_os",
    "device_is_trusted",
    "payment_provider",
    "payment_credit_limit",
)
"""The checkout's own fields the mart copies unchanged."""


def safe_divide(numerator: float | None, denominator: float | None) -> float | None:
    """``SAFE_DIVIDE``: NULL when either operand is NULL or the denominator is 0."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return float(numerator) / float(denominator)


@lru_cache(maxsize=1024)
def calendar(day: date) -> dict[str, Any]:
    """``int_bnpl_calendar_days``' columns of ``day``, from the holidays the build binds."""
    found = holidays_for(day, day)
    name = next((n for d, n in found if d == day), None)
    day_of_week = day.isoweekday() % 7 + 1  # 1 = Sunday ... 7 = Saturday
    weekend = day_of_week in (1, 7)
    ahead = [(d - day).days for d, _ in found if d >= day]
    behind = [(day - d).days for d, _ in found if d <= day]
    return {
        "day_type": "holiday" if name is not None else ("weekend" if weekend else "weekday"),
        "holiday_name": name,
        "day_of_week": day_of_week,
        "is_weekend": weekend,
        "days_to_next_holiday": min(ahead) if ahead else None,
        "days_since_previous_holiday": min(behind) if behind else None,
    }


def _window(spec: Window, now: int, checkout: Mapping[str, Any], rows: Sequence[Any]) -> Any:
    low, high = now - spec.seconds, now - 1
    keys = [(column, ROW_COLUMNS[column](checkout)) for column in spec.partition]
    values = [
        r[spec.column] if spec.column is not None else 1
        for r in rows
        if low <= r["ts_seconds"] <= high and all(r[c] == v for c, v in keys)
    ]
    if spec.aggregate == "count":
        return len(values)
    present = [v for v in values if v is not None]
    if not present:
        return spec.empty
    if spec.aggregate == "sum":
        return sum(present)
    return now - max(present)  # since_last


def windows(
    checkout: Mapping[str, Any], transactions: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Every :data:`~bnpl.serving.spec.WINDOWS` value of ``checkout`` over the customer's rows."""
    now = epoch_seconds(checkout["transaction_ts"])
    rows = [{name: derive(t) for name, derive in ROW_COLUMNS.items()} for t in transactions]
    return {spec.name: _window(spec, now, checkout, rows) for spec in WINDOWS}


def market(day: date, days: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The mart's ``market_features`` of ``day``: the loaded days among the 28 before it."""
    first, week, previous = day - timedelta(days=28), day - timedelta(days=7), day - timedelta(1)
    loaded = [m for m in days if first <= m["transaction_date"] <= previous]
    prev = [m["txn_count"] for m in loaded if m["transaction_date"] == previous]
    last_week = [m["txn_count"] for m in loaded if m["transaction_date"] >= week]
    count_28d = sum(m["txn_count"] for m in loaded) if loaded else None
    amount_28d = sum(m["amount_cents"] for m in loaded) if loaded else None
    return {
        "txn_count_prev_day": sum(prev) if prev else None,
        "avg_daily_txn_7d": safe_divide(sum(last_week) if last_week else None, len(last_week)),
        "avg_daily_txn_28d": safe_divide(count_28d, len(loaded)),
        "avg_amount_cents_28d": safe_divide(amount_28d, count_28d),
    }


class FastFeatures:
    """:class:`bnpl.serving.features.OnlineFeatures`' interface, evaluated in Python (stateless,
    thread-safe)."""

    def __init__(self, columns: Sequence[str] | None = None) -> None:
        if columns is None:
            from bnpl.models import load_project

            columns = load_project().model(MART).column_names
        self.columns = tuple(columns)

    def compute(
        self,
        checkout: Mapping[str, Any],
        history: History,
        *,
        identity_scope: str = "source",
    ) -> dict[str, Any]:
        """The mart's row for ``checkout`` (see :meth:`OnlineFeatures.compute`)."""
        values = {name: checkout[name] for name in PASSTHROUGH}
        values["identity_scope"] = identity_scope
        values.update(calendar(checkout["transaction_date"]))
        values["hour_of_day"] = checkout["transaction_ts"].hour
        amount = checkout["amount_cents"]
        limit = checkout["payment_credit_limit"]
        limit_cents = None if limit is None else limit * 100
        first_payment = checkout["first_payment_amount"]
        first_cents = None if first_payment is None else int(round_half_away(first_payment * 100))
        w = windows(checkout, history.transactions)
        m = market(checkout["transaction_date"], history.market_days)
        count = w["prior_txn_count_365d"]
        trusted = checkout["device_is_trusted"]
        risk = checkout["product_risk_category"]
        values.update(
            {
                name: w[name]
                for name in (
                    "prior_txn_count_7d",
                    "prior_txn_count_28d",
                    "prior_txn_count_365d",
                    "prior_amount_cents_7d",
                    "prior_amount_cents_28d",
                    "prior_amount_cents_365d",
                    "seconds_since_previous_txn",
                )
            }
        )
        micros = safe_divide(w["prior_risk_score_micros"], count)
        values.update(
            {
                "prior_impulse_share": safe_divide(w["prior_impulse_count"], count),
                "prior_high_risk_share": safe_divide(w["prior_high_risk_count"], count),
                "prior_avg_risk_score": (
                    None if micros is None else round_half_away(micros) / 1_000_000
                ),
                "is_new_device": w["prior_device_txn_count"] == 0,
                "is_new_payment_method": w["prior_payment_method_txn_count"] == 0,
                "market_txn_count_prev_day": m["txn_count_prev_day"],
                "market_avg_daily_txn_7d": m["avg_daily_txn_7d"],
                "market_avg_daily_txn_28d": m["avg_daily_txn_28d"],
                "market_volume_trend": safe_divide(m["avg_daily_txn_7d"], m["avg_daily_txn_28d"]),
                "market_avg_amount_cents_28d": m["avg_amount_cents_28d"],
                "product_device_risk": f"{risk}/{'trusted' if trusted else 'untrusted'}",
                "category_risk": f"{checkout['product_category']}/{risk}",
                "device_platform": f"{checkout['device_type']}/{checkout['device_os']}",
                "high_risk_product_on_untrusted_device": risk == "high" and not trusted,
                "first_payment_ratio": safe_divide(first_cents, amount),
                "amount_to_credit_limit_ratio": safe_divide(amount, limit_cents),
                "time_on_site_to_comparison_ratio": safe_divide(
                    checkout["time_on_site_seconds"], checkout["price_comparison_time"]
                ),
                "amount_to_prior_avg_ratio": safe_divide(
                    None if amount is None else amount * count, w["prior_amount_cents_365d"]
                ),
                "exposure_28d_to_credit_limit_ratio": safe_divide(
                    None if amount is None else w["prior_amount_cents_28d"] + amount, limit_cents
                ),
                "amount_to_market_avg_ratio": safe_divide(amount, m["avg_amount_cents_28d"]),
            }
        )
        return {name: values[name] for name in self.columns}

    def close(self) -> None:
        """Nothing to release (the interface of :class:`OnlineFeatures`)."""
