"""The simtom BNPL record (contract §2): field names, JSON types, domains and key orders.

One home for what a record is, shared by the simulator (which writes it), the normaliser (which
types it) and the Pandera contracts (which check it). Read fields by name: the key order varies
by ``risk_scenario`` and ``credit_utilization`` exists only for ``credit_stretched``.
"""

from __future__ import annotations

from typing import Literal

JsonKind = Literal["str", "int", "float", "bool"]

FIELDS: dict[str, JsonKind] = {
    "transaction_id": "str",
    "customer_id": "str",
    "product_id": "str",
    "device_id": "str",
    "payment_method_id": "str",
    "amount": "float",
    "currency": "str",
    "status": "str",
    "credit_utilization": "float",
    "risk_scenario": "str",
    "risk_score": "float",
    "risk_level": "str",
    "installment_count": "int",
    "first_payment_amount": "float",
    "payment_frequency": "str",
    "purchase_context": "str",
    "checkout_speed": "str",
    "cart_abandonment_count": "int",
    "price_comparison_time": "int",
    "time_on_site_seconds": "int",
    "economic_stress_factor": "float",
    "will_default": "bool",
    "days_to_first_missed_payment": "int",
    "customer_age_bracket": "str",
    "customer_tenure_days": "int",
    "customer_income_bracket": "str",
    "customer_credit_score_range": "str",
    "customer_verification_level": "str",
    "customer_address_stability": "str",
    "customer_state": "str",
    "product_category": "str",
    "product_subcategory": "str",
    "product_brand": "str",
    "product_price": "float",
    "product_bnpl_eligible": "bool",
    "product_risk_category": "str",
    "device_type": "str",
    "device_os": "str",
    "device_is_trusted": "bool",
    "payment_provider": "str",
    "payment_type": "str",
    "payment_credit_limit": "int",
    "_timestamp": "str",
    "_record_id": "int",
    "_generator": "str",
}
"""Every field the source emits, with its JSON type, in the union of all key orders."""

NULLABLE: frozenset[str] = frozenset({"days_to_first_missed_payment"})
"""Fields whose value may be JSON ``null`` (when present)."""

OPTIONAL: frozenset[str] = frozenset({"credit_utilization"})
"""Fields whose key is absent in some records (``credit_utilization``: all but credit_stretched)."""

REQUIRED: tuple[str, ...] = tuple(f for f in FIELDS if f not in OPTIONAL)
"""The 44 keys every record carries."""

CUSTOMER_ATTRIBUTES: tuple[str, ...] = (
    "customer_age_bracket",
    "customer_tenure_days",
    "customer_income_bracket",
    "customer_credit_score_range",
    "customer_verification_level",
    "customer_address_stability",
    "customer_state",
)
"""Attributes that describe the customer; their fingerprint scopes ``customer_key``."""

_LOW_RISK_ORDER: tuple[str, ...] = tuple(f for f in FIELDS if f != "credit_utilization")


def _moved_after_status(moved: tuple[str, ...]) -> tuple[str, ...]:
    rest = [f for f in _LOW_RISK_ORDER if f not in moved]
    at = rest.index("status") + 1
    return (*rest[:at], *moved, *rest[at:])


KEY_ORDER: dict[str, tuple[str, ...]] = {
    "low_risk_purchase": _LOW_RISK_ORDER,
    "impulse_purchase": _moved_after_status(("purchase_context",)),
    "credit_stretched": _moved_after_status(("credit_utilization",)),
    "high_risk_behavior": _moved_after_status(("purchase_context", "time_on_site_seconds")),
}
"""Emission key order per ``risk_scenario`` (contract §2.1, scenario-dependent layout)."""

# --- domains (contract §2.1) ---------------------------------------------------------------------

RISK_SCENARIOS = ("low_risk_purchase", "impulse_purchase", "credit_stretched", "high_risk_behavior")
RISK_LEVELS = ("low", "medium", "high", "very_high")
INSTALLMENT_COUNTS = (4, 6)
PURCHASE_CONTEXTS = ("normal", "impulse", "rushed")
CHECKOUT_SPEEDS = ("normal", "slow", "fast", "very_fast")
AGE_BRACKETS = ("18-24", "25-34", "35-44", "45-54", "55+")
INCOME_BRACKETS = ("<25k", "25k-50k", "50k-75k", "75k-100k", "100k+")
CREDIT_SCORE_RANGES = ("excellent", "good", "fair", "poor")
VERIFICATION_LEVELS = ("verified", "partial", "unverified")
ADDRESS_STABILITIES = ("new", "stable", "frequent_mover")
US_STATES = (
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS",
    "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY",
    "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV",
    "WI", "WY", "DC", "AS", "FM", "GU", "MH", "MP", "PR", "PW", "VI",
)  # fmt: skip
"""Faker ``state_abbr()``: 50 states, DC and the territories simtom was seen to emit."""
PRODUCT_SUBCATEGORIES: dict[str, tuple[str, ...]] = {
    "electronics": ("smartphones", "laptops", "tablets", "headphones", "cameras"),
    "clothing": ("shoes", "dresses", "jeans", "jackets", "accessories"),
    "home": ("furniture", "appliances", "decor", "bedding", "kitchen"),
    "beauty": ("skincare", "makeup", "haircare", "fragrances", "tools"),
    "sports": ("fitness", "outdoor", "team_sports", "athletic_wear"),
}
PRODUCT_CATEGORIES = tuple(PRODUCT_SUBCATEGORIES)
PRODUCT_PRICE_RANGES: dict[str, tuple[float, float]] = {
    "electronics": (30.0, 400.0),
    "clothing": (20.0, 150.0),
    "home": (25.0, 300.0),
    "beauty": (15.0, 80.0),
    "sports": (25.0, 200.0),
}
PRODUCT_BRANDS = ("Apple", "Samsung", "Nike", "Adidas", "IKEA", "Sephora", "Zara", "H&M")
PRODUCT_RISK_CATEGORIES = ("low", "medium", "high")
DEVICE_TYPES = ("mobile", "desktop", "tablet")
DEVICE_OS = ("iOS", "Android", "Windows", "macOS", "Linux")
PAYMENT_PROVIDERS = ("affirm", "klarna", "afterpay", "sezzle")
PAYMENT_CREDIT_LIMITS = (500, 1000, 1500, 2500, 5000)
CONSTANTS: dict[str, object] = {
    "currency": "USD",
    "status": "completed",
    "payment_frequency": "bi_weekly",
    "payment_type": "bnpl_account",
    "economic_stress_factor": 0.0,
    "_generator": "BNPLGenerator",
}
"""Fields with one value over HTTP."""

RISK_LEVEL_THRESHOLDS = ((0.3, "low"), (0.6, "medium"), (0.8, "high"))
"""``risk_level`` is the first label whose threshold the score is below, else ``very_high``."""

INSTALLMENT_PERIOD_DAYS = 14
"""Days between instalments (``bi_weekly``); a missed-payment day is a multiple of this."""
