"""The made-up checkout ``bnpl serve`` scores before it says it is ready.

A server's first requests pay for lazy imports, the first store pages, the calendar's holidays and
the first allocations of every step (``python -m bench serving``: p99 252 ms in the first 10 s
after ready). :meth:`bnpl.serving.api.ScoringService.warm` runs this checkout through the whole
request path a few times (nothing logged, nothing counted) before ``/readyz`` answers 200.
"""

from __future__ import annotations

from typing import Any

from bnpl.serving.checkout import Checkout

WARM_PASSES = 3
"""Scoring passes through the request path before ready."""

_BODY: dict[str, Any] = {
    "transaction_id": "warm-up",
    "customer_id": "warm-up",
    "product_id": "warm-up",
    "device_id": "warm-up",
    "payment_method_id": "warm-up",
    "amount": 100.0,
    "currency": "USD",
    "status": "pending",
    "purchase_context": "normal",
    "time_on_site_seconds": 60,
    "risk_scenario": "low_risk_purchase",
    "risk_score": 0.3,
    "risk_level": "low",
    "installment_count": 4,
    "first_payment_amount": 25.0,
    "payment_frequency": "bi_weekly",
    "checkout_speed": "normal",
    "cart_abandonment_count": 0,
    "price_comparison_time": 30,
    "economic_stress_factor": 0.0,
    "customer_age_bracket": "25-34",
    "customer_tenure_days": 100,
    "customer_income_bracket": "50k-75k",
    "customer_credit_score_range": "good",
    "customer_verification_level": "verified",
    "customer_address_stability": "stable",
    "customer_state": "TX",
    "product_category": "clothing",
    "product_subcategory": "shoes",
    "product_brand": "warm-up",
    "product_price": 100.0,
    "product_bnpl_eligible": True,
    "product_risk_category": "low",
    "device_type": "desktop",
    "device_os": "Windows",
    "device_is_trusted": True,
    "payment_provider": "afterpay",
    "payment_type": "bnpl_account",
    "payment_credit_limit": 2500,
}


def warm_checkout() -> Checkout:
    """A valid checkout of now (validated like a request's body)."""
    return Checkout.model_validate(_BODY)
