"""The scoring API's input: a checkout (a source record before its outcome), validated and turned
into the ``bnpl_raw.transactions`` row the feature models read, by the live path's own parse and
keys (:func:`bnpl.normalize.parse_records`, :func:`bnpl.normalize.shape_transactions`, the live
customer scope), so a checkout's ``customer_key`` is the one its loaded event will have."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr

from bnpl import normalize
from bnpl import record as bnpl_record
from bnpl.contracts import polars_schema
from bnpl.live.records import LIVE_SCOPE, LIVE_SOURCE
from bnpl.warehouse import names

OUTCOME_FIELDS: tuple[str, ...] = ("will_default", "days_to_first_missed_payment")
"""Known only after the purchase: a checkout carrying one is refused (422)."""

Number = StrictFloat | StrictInt


class Checkout(BaseModel):
    """A checkout: every field of a source record except the outcomes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    transaction_id: StrictStr
    customer_id: StrictStr
    product_id: StrictStr
    device_id: StrictStr
    payment_method_id: StrictStr
    amount: Number
    currency: StrictStr
    status: StrictStr = "pending"
    credit_utilization: Number | None = None
    risk_scenario: StrictStr | None = None
    risk_score: Number
    risk_level: StrictStr
    installment_count: StrictInt
    first_payment_amount: Number
    payment_frequency: StrictStr
    purchase_context: StrictStr
    checkout_speed: StrictStr
    cart_abandonment_count: StrictInt
    price_comparison_time: StrictInt
    time_on_site_seconds: StrictInt
    economic_stress_factor: Number
    customer_age_bracket: StrictStr
    customer_tenure_days: StrictInt
    customer_income_bracket: StrictStr
    customer_credit_score_range: StrictStr
    customer_verification_level: StrictStr
    customer_address_stability: StrictStr
    customer_state: StrictStr
    product_category: StrictStr
    product_subcategory: StrictStr
    product_brand: StrictStr
    product_price: Number
    product_bnpl_eligible: StrictBool
    product_risk_category: StrictStr
    device_type: StrictStr
    device_os: StrictStr
    device_is_trusted: StrictBool
    payment_provider: StrictStr
    payment_type: StrictStr
    payment_credit_limit: StrictInt
    timestamp: datetime | None = None
    """When the checkout happened (naive UTC); default: now."""


def raw_row(checkout: Checkout, *, now: datetime | None = None) -> dict[str, Any]:
    """The checkout as a ``bnpl_raw.transactions`` row (outcome columns NULL)."""
    at = checkout.timestamp or (now or datetime.now(UTC)).replace(tzinfo=None)
    record = checkout.model_dump(exclude={"timestamp"})
    record.update(
        {
            "will_default": False,  # the parse wants every field; blanked below
            "days_to_first_missed_payment": None,
            "_timestamp": at.replace(tzinfo=None).isoformat(),
            "_record_id": 0,
            "_generator": "checkout",
        }
    )
    if record["risk_scenario"] is None:
        record["risk_scenario"] = "unknown"
    parsed = normalize.parse_records([json.dumps(record).encode()])
    if parsed.rejections:
        raise ValueError("; ".join(str(r) for r in parsed.rejections))
    columns = list(polars_schema(names.TRANSACTIONS.table))
    shaped = normalize.shape_transactions(
        parsed.frame,
        batch_id="0" * normalize.KEY_HEX_DIGITS,
        customer_scope=LIVE_SCOPE,
        loaded_at=datetime.now(UTC),
        columns=columns,
        realtime=True,
    ).with_columns(
        transaction_key=pl.lit(
            normalize.stable_key(LIVE_SOURCE, "checkout", checkout.transaction_id)
        )
    )
    row: dict[str, Any] = shaped.select(columns).row(0, named=True)
    for name in OUTCOME_FIELDS:
        row[name] = None
    return row


_TRANSACTION_COLUMNS: tuple[str, ...] = tuple(polars_schema(names.TRANSACTIONS.table))
_BATCH_ID = "0" * normalize.KEY_HEX_DIGITS


def _key_part(value: Any) -> str:
    """A value as Polars casts it to text for a key (booleans ``true``/``false``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fast_raw_row(checkout: Checkout, *, now: datetime | None = None) -> dict[str, Any]:
    """:func:`raw_row` computed in Python (the API's path: no Polars frame per request).

    The same row: the live scope's ``customer_key`` over the attribute fingerprint, the checkout
    key, ``amount_cents`` rounded half to even as Polars rounds, ``transaction_ts`` the naive
    timestamp; ``tests/serving/test_checkout.py`` asserts equality with :func:`raw_row` on
    simulator records."""
    at = (checkout.timestamp or (now or datetime.now(UTC))).replace(tzinfo=None)
    record = checkout.model_dump(exclude={"timestamp"})
    if record["risk_scenario"] is None:
        record["risk_scenario"] = "unknown"
    fingerprint = normalize.stable_key(
        *(_key_part(record[a]) for a in bnpl_record.CUSTOMER_ATTRIBUTES)
    )
    amount = float(record["amount"])
    record.update(
        {
            "transaction_key": normalize.stable_key(
                LIVE_SOURCE, "checkout", checkout.transaction_id
            ),
            "transaction_date": at.date(),
            "transaction_ts": at,
            "batch_id": _BATCH_ID,
            "customer_key": normalize.stable_key(LIVE_SCOPE, checkout.customer_id, fingerprint),
            "amount_cents": round(amount * 100),
            "will_default": None,
            "days_to_first_missed_payment": None,
            "_timestamp": at.isoformat(),
            "_record_id": 0,
            "_generator": "checkout",
            "extra": None,
            "loaded_at": datetime.now(UTC),
        }
    )
    for name in (
        "amount",
        "credit_utilization",
        "risk_score",
        "first_payment_amount",
        "economic_stress_factor",
        "product_price",
    ):
        if record[name] is not None:
            record[name] = float(record[name])
    return {name: record[name] for name in _TRANSACTION_COLUMNS}
