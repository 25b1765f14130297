"""Synthetic raw days for the quality tests: contract-valid records built directly as the raw
tables' rows (no HTTP, no normaliser), with knobs that break one property at a time.

Counts follow simtom's volume model for the plan's seeded request, so clean data passes the
volume check exactly; distributions follow contract §2.1 closely enough for stable PSI.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import polars as pl

from bnpl import pipeline, record
from bnpl.calendar import DayRequest, plan_day
from bnpl.contracts import python_quarter_cents
from bnpl.quality import GateResult
from bnpl.settings import PlanSettings, Settings
from bnpl.warehouse.base import DayBatch, Warehouse, table_spec

PLAN = PlanSettings(
    seed=42, weekday_base_volume=1000, weekend_base_volume=1000, holiday_base_volume=1000
)
SOURCE = "simulator:bnpl/test"
LOADED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
LOADED = (date(2024, 10, 1), date(2024, 12, 31))
"""Days in the clean test warehouse: the checked range plus its 28-day drift history."""
START, END = date(2024, 11, 1), date(2024, 12, 31)
"""The range the tests check: Thanksgiving, Black Friday, Cyber Monday and Christmas in it."""
BQ_DAYS = (date(2024, 11, 1), date(2024, 11, 14))
"""Days loaded into the BigQuery emulator: two weeks (a weekend dip, PSI from the 8th day)."""

_CATEGORY_WEIGHTS = np.array([0.35, 0.25, 0.20, 0.12, 0.08])
_SCENARIO_WEIGHTS = np.array([0.60, 0.20, 0.15, 0.05])


@dataclass(frozen=True)
class Knobs:
    """What to break in one day (defaults: nothing).

    Attributes:
        count: records to emit instead of the expected volume.
        price_scale: multiply every price (amount follows; invariants stay true).
        duplicate_keys: rows whose transaction_key repeats the first row's key.
        orphans: rows whose customer_key has no customers row.
        quarantined: records of the day that go to quarantine instead (arrived stays expected).
    """

    count: int | None = None
    price_scale: float = 1.0
    duplicate_keys: int = 0
    orphans: int = 0
    quarantined: int = 0


def request(day: date) -> DayRequest:
    """The plan's request for ``day`` (seeded, base 1000)."""
    return plan_day(day, PLAN)


def _pick(
    rng: np.random.Generator, values: Iterable[object], n: int, p: np.ndarray | None = None
) -> np.ndarray:
    return rng.choice(np.array(list(values), dtype=object), size=n, p=p)


def make_day(day: date, knobs: Knobs = Knobs()) -> DayBatch:
    """One day's raw tables and ledger row, deterministic by the day's request seed."""
    req = request(day)
    seed = int(req.body["seed"])
    n = (req.expected_volume if knobs.count is None else knobs.count) - knobs.quarantined
    rng = np.random.default_rng(seed)
    body = json.dumps(req.body, sort_keys=True, separators=(",", ":"))
    batch_id = hashlib.sha256(f"{SOURCE}|{body}".encode()).hexdigest()[:32]

    # customers: the first record creates cust_000001, then a new one with p = 0.3
    new = rng.random(n) < 0.3
    new[0] = True
    created = np.cumsum(new)
    pick = np.floor(rng.random(n) * created).astype(np.int64) + 1
    cust_index = np.where(new, created, pick)
    n_customers = int(created[-1]) if n else 0
    cust_attrs = {
        "customer_age_bracket": _pick(rng, record.AGE_BRACKETS, n_customers),
        "customer_tenure_days": rng.integers(0, 731, n_customers),
        "customer_income_bracket": _pick(rng, record.INCOME_BRACKETS, n_customers),
        "customer_credit_score_range": _pick(rng, record.CREDIT_SCORE_RANGES, n_customers),
        "customer_verification_level": _pick(rng, record.VERIFICATION_LEVELS, n_customers),
        "customer_address_stability": _pick(rng, record.ADDRESS_STABILITIES, n_customers),
        "customer_state": _pick(rng, record.US_STATES, n_customers),
    }
    customers = (
        pl.DataFrame({"customer_index": np.arange(1, n_customers + 1), **cust_attrs})
        .with_columns(
            customer_id=pl.format("cust_{}", pl.col("customer_index").cast(pl.String).str.zfill(6)),
            attribute_fingerprint=pl.concat_str(list(cust_attrs), separator="|")
            .hash()
            .cast(pl.String),
        )
        .with_columns(
            customer_key=pl.concat_str(
                pl.lit(batch_id),
                pl.col("customer_id"),
                pl.col("attribute_fingerprint"),
                separator=":",
            )
        )
    )

    category = _pick(rng, record.PRODUCT_CATEGORIES, n, _CATEGORY_WEIGHTS)
    lo = np.array([record.PRODUCT_PRICE_RANGES[c][0] for c in category])
    hi = np.array([record.PRODUCT_PRICE_RANGES[c][1] for c in category])
    price = np.round(np.minimum(lo + rng.random(n) * (hi - lo) * knobs.price_scale, 400.0), 2)
    scenario = _pick(rng, record.RISK_SCENARIOS, n, _SCENARIO_WEIGHTS)
    installments = np.where(price < 100, 4, rng.choice([4, 6], n))
    will_default = rng.random(n) < 0.05
    k = np.floor(rng.random(n) * installments).astype(np.int64) + 1
    seconds = np.sort(rng.integers(0, 86_400, n))

    tx = pl.DataFrame(
        {
            "_record_id": np.arange(n, dtype=np.int64),
            "customer_index": cust_index,
            "product_category": category,
            "product_price": price,
            "risk_scenario": scenario,
            "risk_score": np.round(rng.integers(11, 77, n) / 100, 2),
            "installment_count": installments.astype(np.int64),
            "will_default": will_default,
            "k": k,
            "seconds": seconds,
            "cart_abandonment_count": rng.integers(0, 4, n),
            "product_subcategory_i": rng.integers(0, 4, n),
            "product_brand": _pick(rng, record.PRODUCT_BRANDS, n),
            "product_risk_category": _pick(rng, record.PRODUCT_RISK_CATEGORIES, n),
            "device_type": _pick(rng, record.DEVICE_TYPES, n),
            "device_is_trusted": rng.random(n) < 0.96,
            "payment_provider": _pick(rng, record.PAYMENT_PROVIDERS, n),
            "payment_credit_limit": _pick(rng, record.PAYMENT_CREDIT_LIMITS, n).astype(np.int64),
            "device_n": rng.integers(1, 3, n),
            "pm_n": rng.integers(1, 4, n),
            "u1": rng.random(n),
            "u2": rng.random(n),
            "limit": rng.choice([500.0, 1000.0, 1500.0], n),
        }
    ).join(customers, on="customer_index", how="left", maintain_order="left")
    scen = pl.col("risk_scenario")
    tx = tx.with_columns(
        amount=pl.col("product_price"),
        amount_cents=(pl.col("product_price") * 100).round().cast(pl.Int64),
        # round(amount * 0.25, 2) as Python (and simtom) computes it, not Polars' decimal round
        first_payment_amount=python_quarter_cents(pl.col("product_price")) / 100,
        risk_level=pl.when(pl.col("risk_score") < 0.3)
        .then(pl.lit("low"))
        .when(pl.col("risk_score") < 0.6)
        .then(pl.lit("medium"))
        .when(pl.col("risk_score") < 0.8)
        .then(pl.lit("high"))
        .otherwise(pl.lit("very_high")),
        days_to_first_missed_payment=pl.when(pl.col("will_default")).then(pl.col("k") * 14),
        credit_utilization=pl.when(scen == "credit_stretched").then(
            pl.col("product_price") / pl.col("limit")
        ),
        purchase_context=pl.when(scen == "impulse_purchase")
        .then(pl.lit("impulse"))
        .when(scen == "high_risk_behavior")
        .then(pl.lit("rushed"))
        .otherwise(pl.lit("normal")),
        checkout_speed=pl.when(scen == "low_risk_purchase")
        .then(pl.when(pl.col("u1") < 0.5).then(pl.lit("normal")).otherwise(pl.lit("slow")))
        .when(scen == "impulse_purchase")
        .then(pl.lit("fast"))
        .when(scen == "credit_stretched")
        .then(pl.lit("normal"))
        .otherwise(pl.lit("very_fast")),
        price_comparison_time=pl.when(scen == "impulse_purchase")
        .then((pl.col("u1") * 60).floor())
        .when(scen == "high_risk_behavior")
        .then((pl.col("u1") * 30).floor())
        .otherwise(60 + (pl.col("u1") * 240).floor())
        .cast(pl.Int64),
        time_on_site_seconds=pl.when(scen == "high_risk_behavior")
        .then(30 + (pl.col("u2") * 90).floor())
        .when(scen == "impulse_purchase")
        .then(120 + (pl.col("u2") * 180).floor())
        .when(scen == "credit_stretched")
        .then(300 + (pl.col("u2") * 300).floor())
        .otherwise(180 + (pl.col("u2") * 720).floor())
        .cast(pl.Int64),
        product_bnpl_eligible=(pl.col("product_price") >= 50)
        & pl.col("product_category").is_in(["electronics", "clothing", "home"]),
        product_subcategory=pl.col("product_category"),
        device_os=pl.when(pl.col("device_type") == "desktop")
        .then(pl.lit("Windows"))
        .otherwise(pl.lit("Android")),
        transaction_id=pl.format("txn_{}", pl.col("_record_id").cast(pl.String).str.zfill(8)),
        device_id=pl.format("{}_device_{}", pl.col("customer_id"), pl.col("device_n")),
        payment_method_id=pl.format("{}_pm_{}", pl.col("customer_id"), pl.col("pm_n")),
        product_id=pl.format(
            "prod_{}", (pl.col("u1") * 5000).floor().cast(pl.Int64).cast(pl.String).str.zfill(6)
        ),
        transaction_ts=pl.lit(datetime(day.year, day.month, day.day))
        + pl.duration(seconds=pl.col("seconds")),
        transaction_date=pl.lit(day),
        batch_id=pl.lit(batch_id),
        currency=pl.lit("USD"),
        status=pl.lit("completed"),
        payment_frequency=pl.lit("bi_weekly"),
        economic_stress_factor=pl.lit(0.0),
        payment_type=pl.lit("bnpl_account"),
        _generator=pl.lit("BNPLGenerator"),
        extra=pl.lit(None, dtype=pl.String),
        loaded_at=pl.lit(LOADED_AT),
    ).with_columns(
        _timestamp=pl.col("transaction_ts").dt.strftime("%Y-%m-%dT%H:%M:%S"),
        transaction_key=pl.concat_str(pl.lit(batch_id), pl.col("transaction_id"), separator=":"),
    )
    if knobs.duplicate_keys and n:
        first = tx["transaction_key"][0]
        tx = tx.with_columns(
            transaction_key=pl.when(pl.col("_record_id").is_between(1, knobs.duplicate_keys))
            .then(pl.lit(first))
            .otherwise(pl.col("transaction_key"))
        )
    if knobs.orphans:
        tx = tx.with_columns(
            customer_key=pl.when(pl.col("_record_id") < knobs.orphans)
            .then(pl.lit("no-such-customer"))
            .otherwise(pl.col("customer_key"))
        )
    tx_frame = tx.select(table_spec("bnpl_raw", "transactions").column_names)

    seen = tx.group_by("customer_key", maintain_order=True).agg(
        first_seen_ts=pl.col("transaction_ts").min(),
        last_seen_ts=pl.col("transaction_ts").max(),
        transaction_count=pl.len().cast(pl.Int64),
    )
    cust_frame = (
        customers.join(seen, on="customer_key", how="inner")
        .with_columns(
            transaction_date=pl.lit(day),
            batch_id=pl.lit(batch_id),
            identity_scope=pl.lit("batch"),
            attributes_changed=pl.lit(False),
            loaded_at=pl.lit(LOADED_AT),
            customer_tenure_days=pl.col("customer_tenure_days").cast(pl.Int64),
        )
        .select(table_spec("bnpl_raw", "customers").column_names)
    )
    quarantine = pl.DataFrame(
        {
            "batch_id": [batch_id] * knobs.quarantined,
            "transaction_date": [day] * knobs.quarantined,
            "line_number": list(range(n, n + knobs.quarantined)),
            "record_id": list(range(n, n + knobs.quarantined)),
            "raw_line": ['data: {"broken": true'] * knobs.quarantined,
            "check_name": ["json"] * knobs.quarantined,
            "column_name": [None] * knobs.quarantined,
            "failures": ["not valid JSON"] * knobs.quarantined,
            "quarantined_at": [LOADED_AT] * knobs.quarantined,
            "event_id": [None] * knobs.quarantined,
            "received_at": [None] * knobs.quarantined,
        },
        schema={
            "batch_id": pl.String,
            "transaction_date": pl.Date,
            "line_number": pl.Int64,
            "record_id": pl.Int64,
            "raw_line": pl.String,
            "check_name": pl.String,
            "column_name": pl.String,
            "failures": pl.String,
            "quarantined_at": pl.Datetime("us", "UTC"),
            "event_id": pl.String,
            "received_at": pl.Datetime("us", "UTC"),
        },
    )
    ledger = {
        "batch_id": batch_id,
        "transaction_date": day,
        "source_url": SOURCE,
        "generator": "bnpl",
        "request_body": body,
        "request_seed": seed,
        "identity_scope": "batch",
        "expected_records": req.expected_volume,
        "records_received": n + knobs.quarantined,
        "records_loaded": n,
        "records_quarantined": knobs.quarantined,
        "customers_loaded": cust_frame.height,
        "customers_changed_attributes": 0,
        "unknown_fields": None,
        "content_sha256": hashlib.sha256(body.encode()).hexdigest(),
        "status": "loaded",
        "attempts": 1,
        "started_at": LOADED_AT,
        "fetched_at": LOADED_AT,
        "finished_at": LOADED_AT + timedelta(seconds=1),
        "flow_run_id": None,
        "bnpl_version": "test",
    }
    return DayBatch(day, batch_id, tx_frame, cust_frame, quarantine, ledger)


def run_gate(
    warehouse: Warehouse,
    settings: Settings,
    start: date,
    end: date,
    logical_date: date,
    run_id: str,
    **options: Any,
) -> GateResult:
    """Write-audit-publish over ``start..end`` (:func:`bnpl.pipeline.write_audit_publish`); the
    gate's result."""
    gate = pipeline.write_audit_publish(
        warehouse,
        settings,
        run_id=run_id,
        start=start,
        end=end,
        logical_date=logical_date,
        **options,
    ).gate
    assert gate is not None
    return gate
