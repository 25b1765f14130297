"""bnpl.simulator.simulation: conformance to the simtom contract (§2-§4) over >= 50,000 records."""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date

import pytest

from bnpl import record
from bnpl.calendar import source_volume, source_volume_band
from bnpl.simulator.simulation import Simulation, simulate
from bnpl.source.request import SEED_RANGE_DETAIL, StreamRequest

CONFORMANCE_REQUEST = {
    "start_date": "2024-03-04",
    "end_date": "2024-03-08",
    "base_daily_volume": 8_800,
    "seed": 20240304,
}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$")
CREDIT = {"excellent": 0.1, "good": 0.3, "fair": 0.6, "poor": 0.9}
VERIFICATION = {"verified": 0.1, "partial": 0.4, "unverified": 0.8}
INCOME = {"100k+": 0.1, "75k-100k": 0.2, "50k-75k": 0.3, "25k-50k": 0.6, "<25k": 0.8}
PRODUCT_RISK = {"low": 0.1, "medium": 0.3, "high": 0.6}
SCENARIO_RISK = {
    "low_risk_purchase": 0.1,
    "impulse_purchase": 0.4,
    "credit_stretched": 0.7,
    "high_risk_behavior": 0.9,
}
TIME_ON_SITE = {
    "low_risk_purchase": (180, 900),
    "impulse_purchase": (120, 300),
    "credit_stretched": (300, 600),
    "high_risk_behavior": (30, 120),
}
PRICE_COMPARISON = {
    "low_risk_purchase": (60, 300),
    "impulse_purchase": (0, 60),
    "credit_stretched": (60, 300),
    "high_risk_behavior": (0, 30),
}
CHECKOUT = {
    "low_risk_purchase": {"normal", "slow"},
    "impulse_purchase": {"fast"},
    "credit_stretched": {"normal"},
    "high_risk_behavior": {"very_fast"},
}
CONTEXT = {
    "low_risk_purchase": "normal",
    "impulse_purchase": "impulse",
    "credit_stretched": "normal",
    "high_risk_behavior": "rushed",
}


@pytest.fixture(scope="module")
def body() -> bytes:
    return simulate(StreamRequest.model_validate(CONFORMANCE_REQUEST))


@pytest.fixture(scope="module")
def lines(body) -> list[str]:
    return [line for line in body.decode().split("\n\n") if line]


@pytest.fixture(scope="module")
def records(lines) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in lines]


def assert_share(hits: int, n: int, p: float, z: float = 5.0) -> None:
    """``hits`` of ``n`` is within ``z`` binomial standard errors of ``p``."""
    tolerance = z * math.sqrt(p * (1 - p) / n)
    assert abs(hits / n - p) <= tolerance, f"{hits}/{n} = {hits / n:.4f}, expected {p:.4f}"


def first_seen(records: list[dict], key: str) -> list[dict]:
    seen: dict[str, dict] = {}
    for r in records:
        seen.setdefault(r[key], r)
    return list(seen.values())


def test_sample_is_large_enough(records):
    """The conformance sample holds at least 50,000 records."""
    assert len(records) >= 50_000


def test_every_line_is_framed_json_dumps_text(lines, records):
    """Each line is ``data: `` + exactly what json.dumps writes (separators, Python float repr)."""
    for line, parsed in zip(lines, records, strict=True):
        assert line == "data: " + json.dumps(parsed)


def test_key_order_and_key_set_follow_the_scenario(records):
    """Keys come in record.KEY_ORDER of the record's scenario (44 keys, 45 for credit_stretched)."""
    for r in records:
        assert tuple(r) == record.KEY_ORDER[r["risk_scenario"]]


def test_json_kinds_and_domains(records):
    """Every value has its contract JSON type and lies in its domain."""
    kinds = {"str": str, "int": int, "float": float, "bool": bool}
    domains = {
        "risk_level": record.RISK_LEVELS,
        "customer_age_bracket": record.AGE_BRACKETS,
        "customer_income_bracket": record.INCOME_BRACKETS,
        "customer_credit_score_range": record.CREDIT_SCORE_RANGES,
        "customer_verification_level": record.VERIFICATION_LEVELS,
        "customer_address_stability": record.ADDRESS_STABILITIES,
        "customer_state": record.US_STATES,
        "product_category": record.PRODUCT_CATEGORIES,
        "product_brand": record.PRODUCT_BRANDS,
        "product_risk_category": record.PRODUCT_RISK_CATEGORIES,
        "device_type": record.DEVICE_TYPES,
        "device_os": record.DEVICE_OS,
        "payment_provider": record.PAYMENT_PROVIDERS,
        "payment_credit_limit": record.PAYMENT_CREDIT_LIMITS,
    }
    for r in records:
        for name, value in r.items():
            if value is None:
                assert name in record.NULLABLE
                continue
            assert type(value) is kinds[record.FIELDS[name]], name
        for name, domain in domains.items():
            assert r[name] in domain, name
        assert r["product_subcategory"] in record.PRODUCT_SUBCATEGORIES[r["product_category"]]
        low, high = record.PRODUCT_PRICE_RANGES[r["product_category"]]
        assert low <= r["product_price"] <= high
        assert 0 <= r["customer_tenure_days"] <= 730
        assert 0 <= r["cart_abandonment_count"] <= 3


def test_invariants_of_section_2_2_hold_exactly(records):
    """Every §2.2 invariant holds for every record."""
    day = None
    for i, r in enumerate(records):
        scenario, amount = r["risk_scenario"], r["amount"]
        assert amount == r["product_price"]  # 1
        assert r["first_payment_amount"] == round(amount * 0.25, 2)  # 2
        assert (
            r["installment_count"] == 4 if amount < 100 else r["installment_count"] in (4, 6)
        )  # 3
        score = r["risk_score"]
        level = (
            "low"
            if score < 0.3
            else "medium"
            if score < 0.6
            else "high"
            if score < 0.8
            else "very_high"
        )
        assert r["risk_level"] == level  # 4
        missed = r["days_to_first_missed_payment"]
        if r["will_default"]:  # 5
            assert missed % 14 == 0 and 1 <= missed // 14 <= r["installment_count"]
        else:
            assert missed is None
        assert ("credit_utilization" in r) == (scenario == "credit_stretched")  # 6
        if "credit_utilization" in r:
            assert r["credit_utilization"] in {amount / 500, amount / 1000, amount / 1500}
        assert r["purchase_context"] == CONTEXT[scenario]  # 7
        assert r["checkout_speed"] in CHECKOUT[scenario]
        assert (
            PRICE_COMPARISON[scenario][0]
            <= r["price_comparison_time"]
            <= PRICE_COMPARISON[scenario][1]
        )
        assert TIME_ON_SITE[scenario][0] <= r["time_on_site_seconds"] <= TIME_ON_SITE[scenario][1]
        eligible = amount >= 50 and r["product_category"] in ("electronics", "clothing", "home")
        assert r["product_bnpl_eligible"] == eligible  # 8
        customer = r["customer_id"]  # 9
        assert r["device_id"] in (customer + "_device_1", customer + "_device_2")
        assert r["payment_method_id"] in (
            customer + "_pm_1",
            customer + "_pm_2",
            customer + "_pm_3",
        )
        assert r["_record_id"] == i and r["transaction_id"] == f"txn_{i:08d}"  # 10
        for name, value in record.CONSTANTS.items():  # 11
            assert r[name] == value and type(r[name]) is type(value)
        assert TIMESTAMP.match(r["_timestamp"])  # 12
        assert day is None or r["_timestamp"] >= day
        day = r["_timestamp"]


def test_risk_score_is_simtoms_float_sum(records):
    """risk_score equals simtom's left-to-right Python float sum exactly (artefacts included)."""
    artefacts = 0
    for r in records:
        expected = (
            0.3 * CREDIT[r["customer_credit_score_range"]]
            + 0.2 * VERIFICATION[r["customer_verification_level"]]
            + 0.2 * INCOME[r["customer_income_bracket"]]
            + 0.1 * (0.2 if r["device_is_trusted"] else 0.7)
            + 0.1 * PRODUCT_RISK[r["product_risk_category"]]
            + 0.1 * SCENARIO_RISK[r["risk_scenario"]]
        )
        assert r["risk_score"] == min(expected, 1.0)
        artefacts += len(repr(r["risk_score"])) > 6
    assert artefacts > 0  # e.g. 0.30000000000000004 appears as simtom writes it


def test_entities_are_consistent_below_the_caps():
    """Below the registry caps a customer, device, payment method and product never change."""
    request = StreamRequest(
        start_date="2024-03-12", end_date="2024-03-12", base_daily_volume=3000, seed=3
    )
    records = [json.loads(x[6:]) for x in simulate(request).decode().split("\n\n") if x]
    groups = {
        "customer_id": record.CUSTOMER_ATTRIBUTES,
        "device_id": ("device_type", "device_os", "device_is_trusted"),
        "payment_method_id": ("payment_provider", "payment_credit_limit"),
        "product_id": (
            "product_category",
            "product_subcategory",
            "product_brand",
            "product_price",
            "product_risk_category",
        ),
    }
    for key, fields in groups.items():
        seen: dict[str, tuple] = {}
        for r in records:
            values = tuple(r[f] for f in fields)
            assert seen.setdefault(r[key], values) == values, key


def test_scenario_shares(records):
    """Scenarios follow 60/20/15/5."""
    counts = Counter(r["risk_scenario"] for r in records)
    for scenario, p in zip(record.RISK_SCENARIOS, (0.6, 0.2, 0.15, 0.05), strict=True):
        assert_share(counts[scenario], len(records), p)


def test_new_customers_arrive_with_probability_0_3(records):
    """Ids count up from cust_000001; about 30% of records introduce the next id."""
    newest, new = 0, 0
    for r in records:
        number = int(r["customer_id"].removeprefix("cust_"))
        assert number <= newest + 1
        if number == newest + 1:
            newest, new = number, new + 1
    assert records[0]["customer_id"] == "cust_000001"
    assert_share(new, len(records), 0.3)


def test_customer_attribute_weights(records):
    """Per customer: income 15/28/23/18/16, credit 15/35/35/15, verification 60/30/10,
    address 20/60/20, ages uniform over 18..70, states over the 59 abbreviations."""
    customers = first_seen(records, "customer_id")
    n = len(customers)
    checks = {
        "customer_income_bracket": dict(
            zip(record.INCOME_BRACKETS, (15, 28, 23, 18, 16), strict=True)
        ),
        "customer_credit_score_range": dict(
            zip(record.CREDIT_SCORE_RANGES, (15, 35, 35, 15), strict=True)
        ),
        "customer_verification_level": dict(
            zip(record.VERIFICATION_LEVELS, (60, 30, 10), strict=True)
        ),
        "customer_address_stability": dict(
            zip(record.ADDRESS_STABILITIES, (20, 60, 20), strict=True)
        ),
        "customer_age_bracket": dict(zip(record.AGE_BRACKETS, (7, 10, 10, 10, 16), strict=True)),
    }
    for field, weights in checks.items():
        counts = Counter(c[field] for c in customers)
        for value, weight in weights.items():
            assert_share(counts[value], n, weight / sum(weights.values()))
    assert set(Counter(c["customer_state"] for c in customers)) == set(record.US_STATES)


def test_product_catalogue_weights(records):
    """Per product: categories 35/25/20/12/8, risk 50/35/15, about 70.5% BNPL-eligible."""
    products = first_seen(records, "product_id")
    assert len(products) <= 5000
    assert all(1 <= int(p["product_id"][5:]) <= 5000 for p in products)
    n = len(products)
    for field, weights in (
        (
            "product_category",
            dict(zip(record.PRODUCT_CATEGORIES, (35, 25, 20, 12, 8), strict=True)),
        ),
        ("product_risk_category", {"low": 50, "medium": 35, "high": 15}),
    ):
        counts = Counter(p[field] for p in products)
        for value, weight in weights.items():
            assert_share(counts[value], n, weight / 100)
    eligible = 0.35 * 350 / 370 + 0.25 * 100 / 130 + 0.20 * 250 / 275
    assert_share(sum(p["product_bnpl_eligible"] for p in products), n, eligible)


def test_device_and_payment_method_weights(records):
    """Devices: mobile/desktop/tablet 55/30/15 with the OS split per type, ~95.8% trusted;
    payment methods: providers and limits uniform."""
    devices = first_seen(records, "device_id")
    n = len(devices)
    types = Counter(d["device_type"] for d in devices)
    for kind, p in (("mobile", 0.55), ("desktop", 0.30), ("tablet", 0.15)):
        assert_share(types[kind], n, p)
    mobile = [d for d in devices if d["device_type"] == "mobile"]
    assert_share(sum(d["device_os"] == "iOS" for d in mobile), len(mobile), 0.30)
    allowed = {
        "mobile": {"iOS", "Android"},
        "desktop": {"Windows", "macOS", "Linux"},
        "tablet": {"iOS", "Android", "Windows"},
    }
    assert all(d["device_os"] in allowed[d["device_type"]] for d in devices)
    assert_share(sum(d["device_is_trusted"] for d in devices), n, 700 / 731)
    methods = first_seen(records, "payment_method_id")
    providers = Counter(m["payment_provider"] for m in methods)
    for provider in record.PAYMENT_PROVIDERS:
        assert_share(providers[provider], len(methods), 0.25)


def test_default_rate_and_missed_payment_timing(records):
    """About 5% default, more at higher scores; 4-instalment misses fall 20/40/30/10 on 14..56."""
    n = len(records)
    defaults = sum(r["will_default"] for r in records)
    assert 0.04 < defaults / n < 0.06
    high = [r["will_default"] for r in records if r["risk_score"] >= 0.5]
    low = [r["will_default"] for r in records if r["risk_score"] < 0.3]
    assert sum(high) / len(high) > sum(low) / len(low)
    four = [
        r["days_to_first_missed_payment"]
        for r in records
        if r["will_default"] and r["installment_count"] == 4
    ]
    counts = Counter(four)
    for days, p in ((14, 0.2), (28, 0.4), (42, 0.3), (56, 0.1)):
        assert_share(counts[days], len(four), p)


def test_installments_and_behaviour_fields(records):
    """Amounts of 100+ split 50/50 between 4 and 6 instalments; low-risk checkout 50/50."""
    big = [r["installment_count"] for r in records if r["amount"] >= 100]
    assert_share(big.count(6), len(big), 0.5)
    low = [r["checkout_speed"] for r in records if r["risk_scenario"] == "low_risk_purchase"]
    assert_share(low.count("slow"), len(low), 0.5)
    assert_share(sum(r["cart_abandonment_count"] == 0 for r in records), len(records), 0.25)


def test_time_of_day_bands(records):
    """Hours: 70% in 9-17, 20% in 18-22, 10% in 23-08; minutes and seconds take every value."""
    hours = [int(r["_timestamp"][11:13]) for r in records]
    n = len(hours)
    assert_share(sum(9 <= h <= 17 for h in hours), n, 0.7)
    assert_share(sum(18 <= h <= 22 for h in hours), n, 0.2)
    assert_share(sum(h == 23 or h <= 8 for h in hours), n, 0.1)
    assert {r["_timestamp"][14:16] for r in records} == {f"{m:02d}" for m in range(60)}
    assert {r["_timestamp"][17:19] for r in records} == {f"{s:02d}" for s in range(60)}


@pytest.mark.parametrize(
    ("start", "end", "base", "seed"),
    [
        ("2024-11-28", "2024-11-30", 200, 42),  # the captured request: 39, 407, 240
        ("2024-12-23", "2024-12-27", 500, 7),  # christmas lows
        ("2024-01-01", "2024-01-03", 300, 123),
        ("2024-07-03", "2024-07-05", 1000, 99_999),
        ("2024-05-13", "2024-05-13", 4600, 1_234_567),
    ],
)
def test_volume_formula_is_exact_for_seeded_days(start, end, base, seed):
    """Seeded per-day counts equal calendar.source_volume (simtom's §3.1 formula and noise)."""
    request = StreamRequest(start_date=start, end_date=end, base_daily_volume=base, seed=seed)
    body = simulate(request).decode()
    counts = Counter(json.loads(line[6:])["_timestamp"][:10] for line in body.split("\n\n") if line)
    expected = {
        d.isoformat(): source_volume(base, d, seed) for d, _ in Simulation(request).day_counts()
    }
    assert counts == expected


def test_captured_request_gives_the_captured_counts(captured_request, captured_counts):
    """The captured request body yields 39/407/240 records per day, as the real service did."""
    request = StreamRequest.model_validate(captured_request)
    counts = {d.isoformat(): n for d, n in Simulation(request).day_counts()}
    assert counts == captured_counts


def test_unseeded_requests_differ_and_stay_in_the_noise_band():
    """Without a seed (or with seed 0) every response differs; counts stay within 5 sigmas."""
    bodies = [
        simulate(
            StreamRequest(
                start_date="2024-03-12", end_date="2024-03-13", base_daily_volume=300, seed=s
            )
        )
        for s in (None, 0, None)
    ]
    assert len(set(bodies)) == 3
    for body in bodies:
        days = Counter(
            x[x.index('"_timestamp": "') + 15 :][:10] for x in body.decode().split("\n\n") if x
        )
        for day, count in days.items():
            low, high = source_volume_band(300, date.fromisoformat(day), 5.0)
            assert low <= count <= high


def test_max_records_truncates_the_response():
    """max_records caps a historical response, cutting a day short."""
    request = StreamRequest(
        start_date="2024-11-28",
        end_date="2024-11-30",
        base_daily_volume=200,
        seed=42,
        max_records=100,
    )
    lines = [x for x in simulate(request).decode().split("\n\n") if x]
    assert len(lines) == 100
    assert {json.loads(x[6:])["_timestamp"][:10] for x in lines} == {"2024-11-28", "2024-11-29"}


def test_same_body_gives_identical_bytes_also_concurrently():
    """A seeded body gives byte-identical output, sequentially and from four threads at once."""
    body = {
        "start_date": "2024-06-03",
        "end_date": "2024-06-04",
        "base_daily_volume": 2000,
        "seed": 5,
    }
    reference = simulate(StreamRequest.model_validate(body))
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: simulate(StreamRequest.model_validate(body)), range(8)))
    assert all(r == reference for r in results)


def test_equivalent_bodies_give_identical_bytes_and_other_seeds_differ():
    """Key order, unknown keys and lax types do not change the output; another seed does."""
    a = {"start_date": "2024-06-03", "end_date": "2024-06-03", "base_daily_volume": 500, "seed": 5}
    b = {
        "seed": "5",
        "total_records": 9,
        "base_daily_volume": 500,
        "end_date": "2024-06-03",
        "start_date": "2024-06-03",
    }
    assert simulate(StreamRequest.model_validate(a)) == simulate(StreamRequest.model_validate(b))
    assert simulate(StreamRequest.model_validate(a)) != simulate(
        StreamRequest.model_validate({**a, "seed": 6})
    )


@pytest.mark.parametrize(
    ("offset", "valid"), [(0, True), (-1, False), (2**32 - 1, True), (2**32, False)]
)
def test_seed_range_rule(offset, valid):
    """seed + day.toordinal() must lie in [0, 2**32 - 1] for every day, else simtom's detail."""
    day = date(2024, 3, 1)
    request = StreamRequest(start_date=day, end_date=day, seed=offset - day.toordinal())
    if valid:
        Simulation(request)
    else:
        with pytest.raises(ValueError, match=re.escape(SEED_RANGE_DETAIL)):
            Simulation(request)


def test_noise_turns_numbers_and_booleans_into_floats():
    """Any noise type writes every int and bool field as a float; null stays null (§4.9)."""
    request = StreamRequest(
        start_date="2024-03-12",
        end_date="2024-03-12",
        base_daily_volume=200,
        seed=1,
        noise_type="gaussian",
    )
    records = [json.loads(x[6:]) for x in simulate(request).decode().split("\n\n") if x]
    for r in records:
        for name, kind in record.FIELDS.items():
            if name not in r or name.startswith("_") or r[name] is None:
                continue
            expected = str if kind == "str" else float
            assert type(r[name]) is expected, name
        assert type(r["_record_id"]) is int
        assert (r["days_to_first_missed_payment"] is None) == (r["will_default"] == 0.0)
        assert tuple(r) == record.KEY_ORDER[r["risk_scenario"]]
