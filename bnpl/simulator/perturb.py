"""simtom's noise and drift post-processing (contract §1.2, §4.9), vectorised.

With any ``noise_type`` or ``drift_type`` other than ``none`` (even at level 0) every numeric and
boolean field that does not start with ``_`` is written as a float: ``installment_count`` 4
becomes ``4.0``, ``will_default`` true becomes ``1.0``. ``amount`` and ``product_price`` are
perturbed separately, so the §2.2 invariants stop holding; ``risk_level`` is not recomputed; a
null ``days_to_first_missed_payment`` stays null.

Noise is seeded with the response. Drift depends on the wall-clock time since ``start_time``
(hours × ``time_compression``), as in simtom, so drifted output is not reproducible; its
per-value direction comes from the value's bits instead of simtom's per-process ``hash``.
"""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import numpy.typing as npt
import polars as pl

from bnpl.simulator.records import Columns
from bnpl.simulator.render import float_text
from bnpl.source.request import DriftType, NoiseType, StreamRequest

Floats = npt.NDArray[np.float64]

SUDDEN_DRIFT_AFTER_HOURS = 6.0
"""Sudden drift applies once more than this many compressed hours have passed."""
OUTLIER_PROBABILITY = 0.05
"""Share of values turned into outliers by ``noise_type: outliers``."""


def perturbation_active(request: StreamRequest) -> bool:
    """True when noise or drift rewrites numeric fields."""
    return request.noise_type is not NoiseType.NONE or request.drift_type is not DriftType.NONE


def numeric_fields(columns: Columns) -> dict[str, Floats]:
    """Every numeric and boolean field of the records as float64 (NaN for null or absent)."""
    c = columns
    will = np.asarray(c["will_default"], dtype=np.float64)
    return {
        "amount": c["amount_cents"] / 100,
        "credit_utilization": np.asarray(c["credit_utilization"], dtype=np.float64),
        "risk_score": np.asarray(c["risk_score"], dtype=np.float64),
        "installment_count": np.asarray(c["installment_count"], dtype=np.float64),
        "first_payment_amount": c["first_payment_cents"] / 100,
        "cart_abandonment_count": np.asarray(c["cart_abandonment_count"], dtype=np.float64),
        "price_comparison_time": np.asarray(c["price_comparison_time"], dtype=np.float64),
        "time_on_site_seconds": np.asarray(c["time_on_site_seconds"], dtype=np.float64),
        "economic_stress_factor": np.zeros(len(will)),
        "will_default": will,
        "days_to_first_missed_payment": np.where(
            will == 1, np.asarray(c["days_to_first_missed_payment"], dtype=np.float64), np.nan
        ),
        "customer_tenure_days": np.asarray(c["customer_tenure_days"], dtype=np.float64),
        "product_price": c["amount_cents"] / 100,
        "product_bnpl_eligible": np.asarray(c["product_eligible"], dtype=np.float64),
        "device_is_trusted": np.asarray(c["device_trusted"], dtype=np.float64),
        "payment_credit_limit": np.take(
            (500.0, 1000.0, 1500.0, 2500.0, 5000.0), np.asarray(c["method_limit"])
        ),
    }


def _noise(values: Floats, request: StreamRequest, rng: np.random.Generator) -> Floats:
    n, level, scale = len(values), request.noise_level, np.abs(values)
    if request.noise_type is NoiseType.GAUSSIAN:
        return values + rng.normal(0.0, 1.0, n) * scale * level
    if request.noise_type is NoiseType.UNIFORM:
        return values + rng.uniform(-1.0, 1.0, n) * scale * level
    if request.noise_type is NoiseType.OUTLIERS:
        outlier = rng.random(n) < OUTLIER_PROBABILITY
        factor = rng.uniform(2.0, 5.0, n) * rng.choice((-1.0, 1.0), n)
        small = values + rng.normal(0.0, 1.0, n) * scale * (level * 0.1)
        return np.where(outlier, values * factor, small)
    return values


def _direction(values: Floats) -> Floats:
    bits = np.ascontiguousarray(values).view(np.uint64)
    mixed = (bits * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(63)
    direction: Floats = np.where(mixed == 0, 1.0, -1.0)
    return direction


def _drift(values: Floats, request: StreamRequest, hours: float) -> Floats:
    strength = request.drift_strength
    if request.drift_type is DriftType.LINEAR:
        return values + values * strength * hours * _direction(values) * 0.1
    if request.drift_type is DriftType.SEASONAL:
        return values * (1 + math.sin((hours % 24) / 24 * 2 * math.pi) * strength)
    if request.drift_type is DriftType.SUDDEN:
        if hours > SUDDEN_DRIFT_AFTER_HOURS:
            return values + values * strength * _direction(values)
        return values + 0.0
    if request.drift_type is DriftType.GRADUAL:
        factor = strength * (1 - math.exp(-0.1 * hours))
        return values * (1 + factor * _direction(values))
    return values


def drift_hours(request: StreamRequest, now: datetime) -> float:
    """Compressed hours since ``start_time`` (naive UTC ``now``).

    Raises:
        TypeError: ``start_time`` carries a time zone (simtom fails the same way mid-stream).
    """
    return (now - request.start_time).total_seconds() / 3600.0 * request.time_compression


def perturbed_atoms(
    columns: Columns, request: StreamRequest, rng: np.random.Generator, now: datetime
) -> dict[str, pl.Series]:
    """Float text of every numeric and boolean field after noise, then drift."""
    hours = drift_hours(request, now) if request.drift_type is not DriftType.NONE else 0.0
    atoms: dict[str, pl.Series] = {}
    for field, values in numeric_fields(columns).items():
        present = ~np.isnan(values)
        changed = values.copy()
        if request.noise_type is not NoiseType.NONE:
            changed = _noise(changed, request, rng)
        if request.drift_type is not DriftType.NONE:
            changed = _drift(changed, request, hours)
        changed = np.where(present, changed, 0.0)
        text = float_text(changed)
        if field == "days_to_first_missed_payment":
            text = text.zip_with(pl.Series(present), pl.Series(["null"] * len(text)))
        atoms[field] = text
    return atoms
