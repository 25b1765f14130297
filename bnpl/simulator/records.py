"""Record content of one response, drawn vectorised (contract §2.1-§2.3, §4.2-§4.4).

:class:`RecordDrawer` holds the state simtom keeps for one response (customer counter and the
capped registries, or the stable universe; the product catalogue) and draws records in batches.
Content is independent of the timestamp, as in simtom. Every value is either an integer code or
a number computed with the same IEEE operations in the same order as simtom's Python, so the
float text is the one simtom writes (e.g. ``risk_score`` 0.30000000000000004).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import numpy.typing as npt

from bnpl import record
from bnpl.simulator import entities
from bnpl.simulator.entities import Codes, FifoRegistry, Table

Array = npt.NDArray[Any]
"""A column of codes, integers or floats."""
Columns = dict[str, Array]
"""Record columns, one row per record: codes, integers and floats (see :meth:`RecordDrawer.draw`)."""

NEW_CUSTOMER_PROBABILITY = 0.3
"""Each record creates a new customer with this probability (the first record always does)."""
PRODUCT_ID_SPACE = 5_000
"""Product ids are uniform over 1..5000; a response's catalogue holds all of them."""

SCENARIO_WEIGHTS = (60, 20, 15, 5)  # record.RISK_SCENARIOS order
_CREDIT_RISK = (0.1, 0.3, 0.6, 0.9)  # excellent, good, fair, poor
_VERIFICATION_RISK = (0.1, 0.4, 0.8)  # verified, partial, unverified
_INCOME_RISK = (0.8, 0.6, 0.3, 0.2, 0.1)  # <25k .. 100k+
_DEVICE_RISK = (0.7, 0.2)  # untrusted, trusted
_PRODUCT_RISK = (0.1, 0.3, 0.6)  # low, medium, high
_SCENARIO_RISK = (0.1, 0.4, 0.7, 0.9)
_TIME_ON_SITE = ((180, 900), (120, 300), (300, 600), (30, 120))  # by scenario, inclusive
_PRICE_COMPARISON = ((60, 300), (0, 60), (60, 300), (0, 30))
PURCHASE_CONTEXT_BY_SCENARIO = (0, 1, 0, 2)
"""Code into ``record.PURCHASE_CONTEXTS`` for each scenario code (fixed by the scenario)."""
_CHECKOUT_SPEED = (-1, 2, 0, 3)  # record.CHECKOUT_SPEEDS code by scenario; -1: normal/slow
_STRETCH_LIMITS = (500, 1000, 1500)
_CREDIT_STRETCHED = record.RISK_SCENARIOS.index("credit_stretched")
_MISSED_PERIOD_WEIGHTS = {4: (0.2, 0.4, 0.3, 0.1), 6: (0.1, 0.42, 0.74, 0.74, 0.42, 0.1)}


@dataclass(frozen=True, slots=True)
class PoolCaps:
    """Registry caps of one response (simtom: 10,000 customers, 15,000 devices, 20,000 payment
    methods). Small caps let tests exercise eviction cheaply."""

    customers: int = 10_000
    devices: int = 15_000
    payment_methods: int = 20_000


SIMTOM_CAPS = PoolCaps()
"""simtom's caps."""


@lru_cache(maxsize=1)
def first_payment_cents() -> npt.NDArray[np.int64]:
    """``round(amount * 0.25, 2)`` in cents for every amount in cents 0..40,000, computed with
    Python's own ``round`` (binary-float rounding, so a decimal recomputation can differ)."""
    table = np.asarray(
        [round(round((k / 100) * 0.25, 2) * 100) for k in range(40_001)], dtype=np.int64
    )
    table.flags.writeable = False  # shared by every thread
    return table


def risk_score(
    credit: Codes,
    verification: Codes,
    income: Codes,
    trusted: Codes,
    product: Codes,
    scenario: Codes,
) -> npt.NDArray[np.float64]:
    """The weighted risk sum, left to right as simtom adds it, capped at 1.0 (stress factor 0)."""
    score = 0.3 * np.take(_CREDIT_RISK, credit)
    score = score + 0.2 * np.take(_VERIFICATION_RISK, verification)
    score = score + 0.2 * np.take(_INCOME_RISK, income)
    score = score + 0.1 * np.take(_DEVICE_RISK, trusted)
    score = score + 0.1 * np.take(_PRODUCT_RISK, product)
    score = score + 0.1 * np.take(_SCENARIO_RISK, scenario)
    return np.minimum(score * 1.0, 1.0)


def risk_level(score: npt.NDArray[np.float64]) -> Codes:
    """Code into ``record.RISK_LEVELS``: lower bounds 0.3, 0.6, 0.8 inclusive."""
    bounds = [threshold for threshold, _ in record.RISK_LEVEL_THRESHOLDS]
    return np.searchsorted(bounds, score, side="right").astype(np.int64)


def _uniform_int(rng: np.random.Generator, bounds: Codes, n: int) -> Codes:
    """One integer per row, uniform over the inclusive ``bounds[i] = (lo, hi)``."""
    low, high = bounds[:, 0], bounds[:, 1]
    return low + np.floor(rng.random(n) * (high - low + 1)).astype(np.int64)


class RecordDrawer:
    """Draws the records of one response in order; successive :meth:`draw` calls continue it."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        caps: PoolCaps = SIMTOM_CAPS,
        universe: entities.Universe | None = None,
    ) -> None:
        self._rng = rng
        self._universe = universe
        self._catalogue = entities.draw_catalogue(rng, PRODUCT_ID_SPACE)
        self._customers_created = 0
        self._customers = FifoRegistry(caps.customers, entities.draw_customers)
        self._devices = FifoRegistry(caps.devices, entities.draw_devices)
        self._methods = FifoRegistry(caps.payment_methods, entities.draw_payment_methods)

    def _pick_customers(self, n: int) -> tuple[Codes, Codes, Codes, Table, Table, Table]:
        """Customer id, device number, payment-method number and the three attribute tables."""
        rng = self._rng
        device_no = rng.integers(1, 3, n)
        method_no = rng.integers(1, 4, n)
        if self._universe is not None:
            index = np.searchsorted(self._universe.activity_cdf, rng.random(n), side="right")
            index = np.minimum(index, self._universe.size - 1)
            return (
                index + 1,
                device_no,
                method_no,
                entities.gather(self._universe.customers, index),
                entities.gather(self._universe.devices, 2 * index + device_no - 1),
                entities.gather(self._universe.payment_methods, 3 * index + method_no - 1),
            )
        is_new = rng.random(n) < NEW_CUSTOMER_PROBABILITY
        if self._customers_created == 0 and n:
            is_new[0] = True
        created_before = self._customers_created + np.cumsum(is_new) - is_new
        repeat = np.floor(rng.random(n) * np.maximum(created_before, 1)).astype(np.int64) + 1
        customer_id = np.where(is_new, created_before + 1, repeat)
        self._customers_created += int(is_new.sum())
        customers, _ = self._customers.lookup(rng, customer_id)
        devices, _ = self._devices.lookup(rng, 2 * (customer_id - 1) + device_no - 1)
        methods, _ = self._methods.lookup(rng, 3 * (customer_id - 1) + method_no - 1)
        return customer_id, device_no, method_no, customers, devices, methods

    def draw(self, n: int) -> Columns:
        """The next ``n`` records' columns.

        Keys: ``scenario`` (code into ``record.RISK_SCENARIOS``), ``customer_id``, ``device_no``,
        ``method_no``, ``product_id`` (integers), ``amount_cents``, ``first_payment_cents``,
        ``risk_score``, ``credit_utilization`` (float, NaN outside credit_stretched),
        ``risk_level``, ``installment_count``, ``checkout_speed``, ``purchase_context``,
        ``cart_abandonment_count``, ``price_comparison_time``, ``time_on_site_seconds``,
        ``will_default`` (0/1), ``days_to_first_missed_payment`` (0 when not defaulting), and the
        entity attributes prefixed ``customer_``, ``product_``, ``device_``, ``method_``.
        """
        rng = self._rng
        scenario = entities.choice(rng, SCENARIO_WEIGHTS, n)
        customer_id, device_no, method_no, customers, devices, methods = self._pick_customers(n)
        product_index = rng.integers(0, PRODUCT_ID_SPACE, n)
        product = entities.gather(self._catalogue, product_index)
        amount_cents = product["price_cents"]

        score = risk_score(
            customers["credit"],
            customers["verification"],
            customers["income"],
            devices["trusted"],
            product["risk"],
            scenario,
        )
        installments = np.where((amount_cents < 10_000) | (rng.random(n) < 0.5), 4, 6).astype(
            np.int64
        )
        speed = np.take(_CHECKOUT_SPEED, scenario)
        speed = np.where(speed < 0, rng.integers(0, 2, n), speed).astype(np.int64)
        p_default = 0.005 + 0.195 * (0.05 + 0.9 * score) ** 1.5
        p_default = np.clip(rng.normal(p_default, 0.01), 0.001, 0.25)
        will_default = rng.random(n) < p_default
        days_missed = self._missed_days(installments, will_default)
        stretch = np.take(_STRETCH_LIMITS, rng.integers(0, len(_STRETCH_LIMITS), n))
        amount = amount_cents / 100
        utilization = np.where(scenario == _CREDIT_STRETCHED, amount / stretch, np.nan)

        columns: Columns = {
            "scenario": scenario,
            "customer_id": customer_id,
            "device_no": device_no,
            "method_no": method_no,
            "product_id": product_index + 1,
            "amount_cents": amount_cents,
            "first_payment_cents": first_payment_cents()[amount_cents],
            "risk_score": score,
            "risk_level": risk_level(score),
            "installment_count": installments,
            "checkout_speed": speed,
            "purchase_context": np.take(PURCHASE_CONTEXT_BY_SCENARIO, scenario).astype(np.int64),
            "cart_abandonment_count": rng.integers(0, 4, n),
            "price_comparison_time": _uniform_int(rng, np.asarray(_PRICE_COMPARISON)[scenario], n),
            "time_on_site_seconds": _uniform_int(rng, np.asarray(_TIME_ON_SITE)[scenario], n),
            "will_default": will_default.astype(np.int64),
            "days_to_first_missed_payment": days_missed,
            "credit_utilization": utilization,
        }
        for prefix, table in (
            ("customer_", customers),
            ("product_", product),
            ("device_", devices),
            ("method_", methods),
        ):
            columns.update({prefix + name: values for name, values in table.items()})
        return columns

    def _missed_days(self, installments: Codes, will_default: npt.NDArray[np.bool_]) -> Codes:
        u = self._rng.random(len(installments))
        period = np.zeros(len(installments), dtype=np.int64)
        for count, weights in _MISSED_PERIOD_WEIGHTS.items():
            cumulative = np.cumsum(weights) / np.sum(weights)
            rows = installments == count
            period[rows] = np.searchsorted(cumulative, u[rows], side="right") + 1
        period = np.minimum(period, installments)
        return np.where(will_default, record.INSTALLMENT_PERIOD_DAYS * period, 0)
