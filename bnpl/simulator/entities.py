"""The simulator's entities: customers, devices, payment methods and products (contract §2.1, §4).

Attributes are small integer codes into the domains of :mod:`bnpl.record` (plus a few integers:
tenure days, price cents), drawn vectorised from a caller's ``numpy.random.Generator``.

Two ways to find an entity's attributes:

* :class:`FifoRegistry` reproduces simtom's per-response registries: attributes are created on
  first use and kept for the last ``cap`` insertions; an id picked again after its eviction is
  re-created with new attributes (contract §4.3).
* :func:`customer_universe` is the ``stable_customer_ids`` extension: every customer, device and
  payment method of the universe has fixed attributes derived from the universe seed alone.

Customer-relative times (tenure, age, device age) are drawn as durations, not against today's
date, so the output does not depend on when the server runs (simtom measures them against its
``date.today()``; their distributions are the same).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from bnpl import record

Codes = npt.NDArray[np.int64]
Table = dict[str, Codes]
"""Attribute columns of equal length, one row per entity (or per record after a lookup)."""

MAX_TENURE_DAYS = 730
"""Customer tenure and device age are uniform over 0..730 days (simtom: signup in the last 2y)."""
DEVICE_TRUSTED_AFTER_DAYS = 30
"""A device is trusted when it was first seen more than this many days ago."""
AGE_BRACKET_LOWER = (25, 35, 45, 55)
"""Ages at which the next bracket of :data:`bnpl.record.AGE_BRACKETS` starts (ages 18..70)."""

_INCOME_WEIGHTS = (15, 28, 23, 18, 16)
_CREDIT_WEIGHTS = (15, 35, 35, 15)
_VERIFICATION_WEIGHTS = (60, 30, 10)
_STABILITY_WEIGHTS = (20, 60, 20)
_CATEGORY_WEIGHTS = (35, 25, 20, 12, 8)
_PRODUCT_RISK_WEIGHTS = (50, 35, 15)
_DEVICE_TYPE_WEIGHTS = (55, 30, 15)
# rows: mobile, desktop, tablet; columns: record.DEVICE_OS (iOS, Android, Windows, macOS, Linux)
_DEVICE_OS_WEIGHTS = np.array(
    [[30, 70, 0, 0, 0], [0, 0, 70, 20, 10], [50, 45, 5, 0, 0]], dtype=np.float64
)
_BNPL_CATEGORIES = frozenset({"electronics", "clothing", "home"})


def choice(rng: np.random.Generator, weights: tuple[int, ...], n: int) -> Codes:
    """``n`` codes drawn with probabilities proportional to ``weights``."""
    cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
    return np.searchsorted(cumulative / cumulative[-1], rng.random(n), side="right").astype(
        np.int64
    )


def draw_customers(rng: np.random.Generator, n: int) -> Table:
    """Attributes of ``n`` new customers (codes into the ``record`` domains)."""
    age = rng.integers(18, 71, n)
    return {
        "age_bracket": np.searchsorted(AGE_BRACKET_LOWER, age, side="right").astype(np.int64),
        "tenure_days": rng.integers(0, MAX_TENURE_DAYS + 1, n),
        "income": choice(rng, _INCOME_WEIGHTS, n),
        "credit": choice(rng, _CREDIT_WEIGHTS, n),
        "verification": choice(rng, _VERIFICATION_WEIGHTS, n),
        "stability": choice(rng, _STABILITY_WEIGHTS, n),
        "state": rng.integers(0, len(record.US_STATES), n),
    }


def draw_devices(rng: np.random.Generator, n: int) -> Table:
    """Attributes of ``n`` new devices: type, OS given the type, trusted flag."""
    kind = choice(rng, _DEVICE_TYPE_WEIGHTS, n)
    cumulative = np.cumsum(_DEVICE_OS_WEIGHTS, axis=1)
    cumulative /= cumulative[:, -1:]
    os_code = (rng.random(n)[:, None] >= cumulative[kind]).sum(axis=1).astype(np.int64)
    age_days = rng.integers(0, MAX_TENURE_DAYS + 1, n)
    return {
        "type": kind,
        "os": os_code,
        "trusted": (age_days > DEVICE_TRUSTED_AFTER_DAYS).astype(np.int64),
    }


def draw_payment_methods(rng: np.random.Generator, n: int) -> Table:
    """Attributes of ``n`` new payment methods: provider and credit limit codes."""
    return {
        "provider": rng.integers(0, len(record.PAYMENT_PROVIDERS), n),
        "limit": rng.integers(0, len(record.PAYMENT_CREDIT_LIMITS), n),
    }


def draw_catalogue(rng: np.random.Generator, n: int) -> Table:
    """``n`` products: category, subcategory (uniform in the category), brand (independent of the
    category), price in cents (uniform over the category's range, rounded to the cent), BNPL
    eligibility (price >= 50 in electronics, clothing or home) and risk category."""
    category = choice(rng, _CATEGORY_WEIGHTS, n)
    names = record.PRODUCT_CATEGORIES
    n_sub = np.array([len(record.PRODUCT_SUBCATEGORIES[c]) for c in names])
    low = np.array([record.PRODUCT_PRICE_RANGES[c][0] for c in names])
    high = np.array([record.PRODUCT_PRICE_RANGES[c][1] for c in names])
    subcategory = np.floor(rng.random(n) * n_sub[category]).astype(np.int64)
    brand = rng.integers(0, len(record.PRODUCT_BRANDS), n)
    price = rng.uniform(low[category], high[category])
    cents = np.rint(price * 100).astype(np.int64)
    bnpl_category = np.array([c in _BNPL_CATEGORIES for c in names])
    return {
        "category": category,
        "subcategory": subcategory,
        "brand": brand,
        "price_cents": cents,
        "eligible": ((cents >= 5000) & bnpl_category[category]).astype(np.int64),
        "risk": choice(rng, _PRODUCT_RISK_WEIGHTS, n),
    }


def gather(table: Table, index: Codes) -> Table:
    """Rows ``index`` of every column."""
    return {name: column[index] for name, column in table.items()}


class FifoRegistry:
    """simtom's capped entity registry for one response.

    Holds the entities of the last ``cap`` insertions. Looking up a key that is not held inserts
    it with freshly drawn attributes (evicting the oldest insertion when full), so a key picked
    again after its eviction gets new attributes. Keys are non-negative integers.
    """

    def __init__(self, cap: int, draw: Callable[[np.random.Generator, int], Table]) -> None:
        if cap < 1:
            raise ValueError(f"registry cap must be >= 1, got {cap}")
        self.cap = cap
        self._draw = draw
        self._inserted = 0
        self._last = np.full(1024, -1, dtype=np.int64)  # key -> number of its last insertion
        self._ring: Table = {}  # insertion number % cap -> attributes

    @property
    def inserted(self) -> int:
        """Insertions so far (first creations and re-creations)."""
        return self._inserted

    def lookup(self, rng: np.random.Generator, keys: Codes) -> tuple[Table, Codes]:
        """Attributes for each key, in order, and the insertion number that created them."""
        start = self._inserted
        versions = self._resolve(keys)
        fresh = self._draw(rng, self._inserted - start)
        is_new = versions >= start
        out: Table = {}
        for name, column in fresh.items():
            held = self._ring.get(name)
            values = np.empty(len(keys), dtype=column.dtype)
            values[is_new] = column[versions[is_new] - start]
            if held is not None:
                values[~is_new] = held[versions[~is_new] % self.cap]
            out[name] = values
        self._store(start, fresh)
        return out, versions

    def _grow(self, size: int) -> None:
        if size > len(self._last):
            grown = np.full(max(size, 2 * len(self._last)), -1, dtype=np.int64)
            grown[: len(self._last)] = self._last
            self._last = grown

    def _resolve(self, keys: Codes) -> Codes:
        """Insertion number holding each key at its lookup, inserting keys not held.

        Works in chunks of at most ``cap`` lookups: within one, an entry inserted by the chunk
        cannot be evicted before the chunk ends, so only each key's first miss matters and the
        misses are found by a vectorised fixed point (see :meth:`_resolve_chunk`).
        """
        if len(keys) == 0:
            return np.empty(0, dtype=np.int64)
        self._grow(int(keys.max()) + 1)
        return np.concatenate(
            [self._resolve_chunk(keys[i : i + self.cap]) for i in range(0, len(keys), self.cap)]
        )

    def _resolve_chunk(self, keys: Codes) -> Codes:
        """One chunk of at most ``cap`` lookups.

        A key held at the chunk's start with insertion number ``v`` is evicted by insertion
        ``v + cap``, so its lookup at position ``t`` misses iff more than ``v + cap - start``
        insertions precede ``t`` in the chunk; a key not held misses at its first lookup. After
        its first miss a key is fresh for the rest of the chunk. Misses only add insertions, so
        iterating "misses -> insertion counts -> first violation per key" converges.
        """
        start, cap, n = self._inserted, self.cap, len(keys)
        version_at_start = self._last[keys]
        held = (version_at_start >= 0) & (version_at_start >= start - cap)
        unique_keys, first_at, key_of = np.unique(keys, return_index=True, return_inverse=True)
        miss_at = np.where(held[first_at], n, first_at)  # per key; n: no miss in this chunk
        positions = np.arange(n)
        for _ in range(64):
            is_miss = np.zeros(n, dtype=bool)
            is_miss[miss_at[miss_at < n]] = True
            before = start + np.cumsum(is_miss) - is_miss  # insertions preceding each lookup
            evicted = held & (version_at_start < before - cap)
            first_violation = np.full(len(unique_keys), n)
            np.minimum.at(first_violation, key_of[evicted], positions[evicted])
            updated = np.where(held[first_at], first_violation, miss_at)
            if np.array_equal(updated, miss_at):
                break
            miss_at = updated
        else:  # pragma: no cover - the fixed point is reached long before
            return self._resolve_sequential(keys, version_at_start)
        # a miss's insertion number is the count of insertions before it
        fresh_from = miss_at[key_of]
        versions = np.where(
            positions >= fresh_from, before[fresh_from.clip(max=n - 1)], version_at_start
        )
        missed = miss_at < n
        self._last[unique_keys[missed]] = before[miss_at[missed]]
        self._inserted = start + int(is_miss.sum())
        return versions.astype(np.int64)

    def _resolve_sequential(self, keys: Codes, last: Codes) -> Codes:
        inserted, cap = self._inserted, self.cap
        seen: dict[int, int] = {}
        versions = last.tolist()
        for i, key in enumerate(keys.tolist()):
            version = seen.get(key, versions[i])
            if version < 0 or version < inserted - cap:
                version = inserted
                inserted += 1
            seen[key] = version
            versions[i] = version
        self._last[np.fromiter(seen.keys(), np.int64, len(seen))] = np.fromiter(
            seen.values(), np.int64, len(seen)
        )
        self._inserted = inserted
        return np.asarray(versions, dtype=np.int64)

    def _store(self, start: int, fresh: Table) -> None:
        n = self._inserted - start
        numbers = np.arange(max(start, self._inserted - self.cap), self._inserted)
        for name, column in fresh.items():
            if name not in self._ring:
                self._ring[name] = np.zeros(self.cap, dtype=column.dtype)
            if n:
                self._ring[name][numbers % self.cap] = column[numbers - start]


@dataclass(frozen=True, slots=True)
class Universe:
    """A fixed population for ``stable_customer_ids``: customer ``k`` (1-based) is row ``k-1``;
    its device ``d`` is row ``2(k-1)+d-1`` of ``devices``, its payment method ``p`` row
    ``3(k-1)+p-1`` of ``payment_methods``. ``activity_cdf`` is the cumulative share of purchases
    per customer (gamma-distributed activity, so some customers buy far more often)."""

    size: int
    customers: Table
    devices: Table
    payment_methods: Table
    activity_cdf: npt.NDArray[np.float64]


ACTIVITY_SHAPE = 0.7
"""Gamma shape of per-customer purchase activity in a universe (1 would be exponential)."""


@lru_cache(maxsize=8)
def customer_universe(seed: int, size: int) -> Universe:
    """The universe for ``(seed, size)``: a pure function of its arguments (cached, read-only)."""
    customers_rng, devices_rng, methods_rng, activity_rng = (
        np.random.Generator(np.random.PCG64(s))
        for s in np.random.SeedSequence([seed, size, 0x5EED]).spawn(4)
    )
    activity = np.cumsum(activity_rng.gamma(ACTIVITY_SHAPE, 1.0, size))
    universe = Universe(
        size=size,
        customers=draw_customers(customers_rng, size),
        devices=draw_devices(devices_rng, 2 * size),
        payment_methods=draw_payment_methods(methods_rng, 3 * size),
        activity_cdf=activity / activity[-1],
    )
    for table in (universe.customers, universe.devices, universe.payment_methods):
        for column in table.values():
            column.flags.writeable = False
    universe.activity_cdf.flags.writeable = False
    return universe
