"""bnpl.simulator.entities and the customer pool: FIFO eviction and stable customer ids (§4.2-4.3)."""

from __future__ import annotations

import itertools
import json
from collections import OrderedDict
from datetime import date

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bnpl import record
from bnpl.calendar import plan_day
from bnpl.settings import PlanSettings
from bnpl.simulator.entities import FifoRegistry, customer_universe, draw_customers
from bnpl.simulator.records import SIMTOM_CAPS, PoolCaps
from bnpl.simulator.simulation import simulate
from bnpl.source.request import StreamRequest

DEVICE = ("device_type", "device_os", "device_is_trusted")
METHOD = ("payment_provider", "payment_credit_limit")


def records_of(request: StreamRequest, caps: PoolCaps = SIMTOM_CAPS) -> list[dict]:
    return [json.loads(x[6:]) for x in simulate(request, caps=caps).decode().split("\n\n") if x]


def attributes(r: dict, fields: tuple[str, ...]) -> tuple:
    return tuple(r[f] for f in fields)


def reference_fifo(
    records: list[dict], key: str, fields: tuple[str, ...], cap: int
) -> tuple[int, int]:
    """Walk a response with a brute-force FIFO registry of ``cap`` ids; every record of a held id
    must repeat its attributes. Returns (re-creations, re-creations with changed attributes)."""
    held: OrderedDict[str, tuple] = OrderedDict()
    ever: dict[str, tuple] = {}
    recreated = changed = 0
    for r in records:
        values = attributes(r, fields)
        if r[key] in held:
            assert held[r[key]] == values, f"{r[key]} changed while held"
            continue
        if r[key] in ever:
            recreated += 1
            changed += ever[r[key]] != values
        if len(held) >= cap:
            held.popitem(last=False)
        held[r[key]] = ever[r[key]] = values
    return recreated, changed


def test_fifo_eviction_recreates_attributes_like_simtom():
    """With small caps, ids picked again after eviction get new attributes; held ids never change."""
    caps = PoolCaps(customers=50, devices=70, payment_methods=90)
    request = StreamRequest(
        start_date="2024-03-12", end_date="2024-03-12", base_daily_volume=2500, seed=11
    )
    records = records_of(request, caps)
    for key, fields, cap in (
        ("customer_id", record.CUSTOMER_ATTRIBUTES, caps.customers),
        ("device_id", DEVICE, caps.devices),
        ("payment_method_id", METHOD, caps.payment_methods),
    ):
        recreated, changed = reference_fifo(records, key, fields, cap)
        assert recreated > 100
        assert changed > recreated // 2


def test_registry_vectorised_and_sequential_paths_agree():
    """Looking keys up in one batch or one key at a time gives the same insertions."""
    rng = np.random.default_rng(0)
    keys = rng.integers(0, 40, 500)
    whole = FifoRegistry(10, draw_customers)
    _, batch_versions = whole.lookup(np.random.default_rng(1), keys)
    single = FifoRegistry(10, draw_customers)
    one_by_one = [
        single.lookup(np.random.default_rng(1), keys[i : i + 1])[1][0] for i in range(len(keys))
    ]
    assert batch_versions.tolist() == one_by_one
    assert whole.inserted == single.inserted > 40


def test_registry_below_cap_never_recreates():
    """Keys looked up in several batches below the cap keep their first attributes."""
    registry = FifoRegistry(1000, draw_customers)
    rng = np.random.default_rng(3)
    first, _ = registry.lookup(rng, np.arange(100))
    again, versions = registry.lookup(rng, np.arange(100)[::-1])
    assert versions.tolist() == list(range(99, -1, -1))
    for name in first:
        assert again[name].tolist() == first[name][::-1].tolist()


def stable_day(day: date, seed: int = 42) -> list[dict]:
    request = plan_day(
        day, PlanSettings(seed=seed, weekday_base_volume=1500), extra={"stable_customer_ids": True}
    )
    return records_of(StreamRequest.model_validate(request.body))


def test_stable_customer_ids_keep_attributes_across_days():
    """With stable_customer_ids, an id seen on two days (different day seeds) is the same
    customer with the same devices and payment methods."""
    first, second = stable_day(date(2024, 3, 12)), stable_day(date(2024, 3, 13))
    for key, fields in (
        ("customer_id", record.CUSTOMER_ATTRIBUTES),
        ("device_id", DEVICE),
        ("payment_method_id", METHOD),
    ):
        a = {r[key]: attributes(r, fields) for r in first}
        b = {r[key]: attributes(r, fields) for r in second}
        shared = a.keys() & b.keys()
        assert len(shared) > 10
        assert all(a[k] == b[k] for k in shared)
        assert all(attributes(r, fields) == a[r[key]] for r in first)


def test_stable_universe_does_not_depend_on_the_request_seed():
    """The universe comes from customer_universe_seed alone, so other run seeds share it."""
    a = {
        r["customer_id"]: attributes(r, record.CUSTOMER_ATTRIBUTES)
        for r in stable_day(date(2024, 3, 12), 1)
    }
    b = {
        r["customer_id"]: attributes(r, record.CUSTOMER_ATTRIBUTES)
        for r in stable_day(date(2024, 3, 12), 2)
    }
    shared = a.keys() & b.keys()
    assert shared and all(a[k] == b[k] for k in shared)


def test_universe_seed_and_size_select_the_universe():
    """Another customer_universe_seed is another population; ids stay within the universe size."""
    body = {
        "start_date": "2024-03-12",
        "end_date": "2024-03-12",
        "base_daily_volume": 800,
        "seed": 9,
        "stable_customer_ids": True,
    }
    small = records_of(StreamRequest.model_validate({**body, "customer_universe_size": 300}))
    assert max(int(r["customer_id"][5:]) for r in small) <= 300
    other = records_of(
        StreamRequest.model_validate(
            {**body, "customer_universe_size": 300, "customer_universe_seed": 7}
        )
    )
    a = {r["customer_id"]: attributes(r, record.CUSTOMER_ATTRIBUTES) for r in small}
    b = {r["customer_id"]: attributes(r, record.CUSTOMER_ATTRIBUTES) for r in other}
    shared = a.keys() & b.keys()
    assert sum(a[k] != b[k] for k in shared) > len(shared) // 2


def test_without_the_flag_ids_are_per_response():
    """Without stable_customer_ids, cust_000001 on another day is a different person (simtom)."""
    days = []
    for day in (date(2024, 3, 12), date(2024, 3, 13)):
        request = plan_day(day, PlanSettings(seed=42, weekday_base_volume=1500))
        days.append(
            {
                r["customer_id"]: attributes(r, record.CUSTOMER_ATTRIBUTES)
                for r in records_of(StreamRequest.model_validate(request.body))
            }
        )
    shared = days[0].keys() & days[1].keys()
    assert sum(days[0][k] != days[1][k] for k in shared) > len(shared) // 2


def test_universe_is_cached_and_read_only():
    """customer_universe is a pure cached function with read-only arrays."""
    universe = customer_universe(5, 1000)
    assert customer_universe(5, 1000) is universe
    with pytest.raises(ValueError):
        universe.customers["income"][0] = 1
    assert universe.activity_cdf[-1] == pytest.approx(1.0)


def reference_versions(keys: list[int], cap: int) -> list[int]:
    """simtom's registry in plain Python: an ordered dict of the last ``cap`` insertions."""
    held: OrderedDict[int, int] = OrderedDict()
    inserted, out = 0, []
    for key in keys:
        if key not in held:
            if len(held) >= cap:
                held.popitem(last=False)
            held[key] = inserted
            inserted += 1
        out.append(held[key])
    return out


@given(
    keys=st.lists(st.integers(0, 30), max_size=300),
    cap=st.integers(1, 25),
    cuts=st.lists(st.integers(0, 300), max_size=6),
)
@settings(max_examples=300, deadline=None)
def test_registry_matches_the_reference_for_any_batching(keys, cap, cuts):
    """Vectorised lookups give simtom's insertion numbers for any keys, cap and batch split."""
    registry = FifoRegistry(cap, draw_customers)
    rng = np.random.default_rng(0)
    got: list[int] = []
    bounds = sorted({0, len(keys), *(c for c in cuts if c < len(keys))})
    for lo, hi in itertools.pairwise(bounds):
        got.extend(registry.lookup(rng, np.asarray(keys[lo:hi], dtype=np.int64))[1].tolist())
    assert got == reference_versions(keys, cap)
