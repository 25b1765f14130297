"""The contracts' shared pieces: the raw tables' Polars schemas, the value rules of contract §2
(scenario table, device systems, BNPL eligibility) and the exact first-payment arithmetic."""

from __future__ import annotations

from functools import cache
from typing import Any

import polars as pl
from pandera.api.polars.types import PolarsData

from bnpl import normalize
from bnpl.warehouse import names
from bnpl.warehouse.base import table_spec
from bnpl.warehouse.names import POLARS_TYPES


@cache
def polars_schema(table: str, dataset: str = names.RAW) -> pl.Schema:
    """The Polars column names, order and types of a table declared in ``schemas/``."""
    spec = table_spec(dataset, table)
    return pl.Schema({c.name: POLARS_TYPES[c.type] for c in spec.columns})


HEX_KEY = rf"^[0-9a-f]{{{normalize.KEY_HEX_DIGITS}}}$"
# per-row keys are SHA-256 hex made by bnpl itself: their length is checked, not a regex (cheaper)
KEY_LENGTH = {"min_value": normalize.KEY_HEX_DIGITS, "max_value": normalize.KEY_HEX_DIGITS}
LOCAL_TS: dict[str, Any] = {"time_unit": "us"}
UTC_TS: dict[str, Any] = {"time_unit": "us", "time_zone": "UTC"}

SCENARIO_RULES: dict[str, dict[str, tuple[Any, ...]]] = {
    # column -> scenario -> allowed values (a tuple of names) or an inclusive (low, high) range
    "purchase_context": {
        "low_risk_purchase": ("normal",),
        "impulse_purchase": ("impulse",),
        "credit_stretched": ("normal",),
        "high_risk_behavior": ("rushed",),
    },
    "checkout_speed": {
        "low_risk_purchase": ("normal", "slow"),
        "impulse_purchase": ("fast",),
        "credit_stretched": ("normal",),
        "high_risk_behavior": ("very_fast",),
    },
    "price_comparison_time": {
        "low_risk_purchase": (60, 300),
        "impulse_purchase": (0, 60),
        "credit_stretched": (60, 300),
        "high_risk_behavior": (0, 30),
    },
    "time_on_site_seconds": {
        "low_risk_purchase": (180, 900),
        "impulse_purchase": (120, 300),
        "credit_stretched": (300, 600),
        "high_risk_behavior": (30, 120),
    },
}
"""Scenario-determined fields (contract §2.1): allowed values or inclusive ranges."""

DEVICE_OS_BY_TYPE: dict[str, tuple[str, ...]] = {
    "mobile": ("iOS", "Android"),
    "desktop": ("Windows", "macOS", "Linux"),
    "tablet": ("iOS", "Android", "Windows"),
}
"""Operating systems simtom draws for each device type (contract §2.1)."""

BNPL_ELIGIBLE_CATEGORIES = ("electronics", "clothing", "home")
BNPL_ELIGIBLE_MIN_CENTS = 5_000


def cents(expr: pl.Expr) -> pl.Expr:
    return (expr * 100).round().cast(pl.Int64, strict=False)


def python_quarter_cents(amount: pl.Expr) -> pl.Expr:
    """``round(amount * 0.25, 2)`` in cents, exactly as CPython computes it, for cent amounts.

    ``amount * 0.25`` is exact in binary, and Python rounds the exact binary value (half to even
    only on an exact tie). With ``c`` the amount in cents, ``c / 4`` cents is a half-cent tie only
    when ``c % 4 == 2``; the double nearest ``c / 100`` then lies above or below ``c / 100`` (or on
    it), which decides the direction. The sign of ``amount * 100 - c`` is computed exactly with
    Dekker's error-free product (``100`` splits exactly), so no decimal arithmetic is needed.
    """
    c = cents(amount)
    product = amount * 100.0
    split = amount * 134_217_729.0  # 2**27 + 1
    high = split - (split - amount)
    low = amount - high
    error = (high * 100.0 - product) + low * 100.0
    above = (product - c.cast(pl.Float64)) + error  # exact sign of amount*100 - c
    half, rest = c // 4, c % 4
    tie_up = pl.when(above > 0).then(True).when(above < 0).then(False).otherwise(half % 2 == 1)
    up = pl.when(rest == 3).then(True).when(rest == 2).then(tie_up).otherwise(False)
    return half + up.cast(pl.Int64)


def rule(data: PolarsData, expr: pl.Expr) -> pl.LazyFrame:
    return data.lazyframe.select(expr)
