"""The Pandera contracts of the raw tables a day's records become: :class:`Transactions`,
:class:`Customers`, :class:`Quarantine` (the ledger's is in :mod:`bnpl.contracts.ledger`)."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.engines.polars_engine import DateTime

from bnpl import record
from bnpl.contracts.rules import (
    BNPL_ELIGIBLE_CATEGORIES,
    BNPL_ELIGIBLE_MIN_CENTS,
    DEVICE_OS_BY_TYPE,
    HEX_KEY,
    KEY_LENGTH,
    LOCAL_TS,
    SCENARIO_RULES,
    UTC_TS,
    cents,
    python_quarter_cents,
    rule,
)
from bnpl.warehouse import names

DERIVED_COLUMNS = frozenset(
    {"transaction_key", "transaction_date", "transaction_ts", "batch_id", "customer_key"}
    | {"amount_cents", "loaded_at"}
)
"""Columns bnpl derives (keys, cents, timestamps): their failures sort after the source fields'."""


class Transactions(pa.DataFrameModel):
    """``bnpl_raw.transactions``: one row per loaded transaction (contract §2)."""

    transaction_key: str = pa.Field(str_length=KEY_LENGTH)
    transaction_date: pl.Date
    transaction_ts: DateTime = pa.Field(dtype_kwargs=LOCAL_TS)
    batch_id: str = pa.Field(str_length=KEY_LENGTH)
    customer_key: str = pa.Field(str_length=KEY_LENGTH)
    amount_cents: int = pa.Field(in_range={"min_value": 1_500, "max_value": 40_000})
    transaction_id: str = pa.Field(str_matches=r"^txn_\d{8,}$")
    customer_id: str = pa.Field(str_matches=r"^cust_\d{6,}$")
    product_id: str = pa.Field(str_matches=r"^prod_\d{6}$")
    device_id: str = pa.Field(str_matches=r"^cust_\d{6,}_device_\d+$")
    payment_method_id: str = pa.Field(str_matches=r"^cust_\d{6,}_pm_\d+$")
    amount: float = pa.Field(in_range={"min_value": 15.0, "max_value": 400.0})
    currency: str = pa.Field(eq=record.CONSTANTS["currency"])
    status: str = pa.Field(eq=record.CONSTANTS["status"])
    credit_utilization: float = pa.Field(nullable=True, gt=0.0, le=1.0)
    risk_scenario: str = pa.Field(isin=record.RISK_SCENARIOS)
    risk_score: float = pa.Field(in_range={"min_value": 0.0, "max_value": 1.0})
    risk_level: str = pa.Field(isin=record.RISK_LEVELS)
    installment_count: int = pa.Field(isin=record.INSTALLMENT_COUNTS)
    first_payment_amount: float = pa.Field(gt=0.0)
    payment_frequency: str = pa.Field(eq=record.CONSTANTS["payment_frequency"])
    purchase_context: str = pa.Field(isin=record.PURCHASE_CONTEXTS)
    checkout_speed: str = pa.Field(isin=record.CHECKOUT_SPEEDS)
    cart_abandonment_count: int = pa.Field(in_range={"min_value": 0, "max_value": 3})
    price_comparison_time: int = pa.Field(ge=0)
    time_on_site_seconds: int = pa.Field(ge=0)
    economic_stress_factor: float = pa.Field(eq=record.CONSTANTS["economic_stress_factor"])
    will_default: bool
    days_to_first_missed_payment: int = pa.Field(nullable=True)
    customer_age_bracket: str = pa.Field(isin=record.AGE_BRACKETS)
    customer_tenure_days: int = pa.Field(ge=0)
    customer_income_bracket: str = pa.Field(isin=record.INCOME_BRACKETS)
    customer_credit_score_range: str = pa.Field(isin=record.CREDIT_SCORE_RANGES)
    customer_verification_level: str = pa.Field(isin=record.VERIFICATION_LEVELS)
    customer_address_stability: str = pa.Field(isin=record.ADDRESS_STABILITIES)
    customer_state: str = pa.Field(isin=record.US_STATES)
    product_category: str = pa.Field(isin=record.PRODUCT_CATEGORIES)
    product_subcategory: str = pa.Field(
        isin=sorted({s for subs in record.PRODUCT_SUBCATEGORIES.values() for s in subs})
    )
    product_brand: str = pa.Field(isin=record.PRODUCT_BRANDS)
    product_price: float = pa.Field(in_range={"min_value": 15.0, "max_value": 400.0})
    product_bnpl_eligible: bool
    product_risk_category: str = pa.Field(isin=record.PRODUCT_RISK_CATEGORIES)
    device_type: str = pa.Field(isin=record.DEVICE_TYPES)
    device_os: str = pa.Field(isin=record.DEVICE_OS)
    device_is_trusted: bool
    payment_provider: str = pa.Field(isin=record.PAYMENT_PROVIDERS)
    payment_type: str = pa.Field(eq=record.CONSTANTS["payment_type"])
    payment_credit_limit: int = pa.Field(isin=record.PAYMENT_CREDIT_LIMITS)
    timestamp: str = pa.Field(alias="_timestamp")
    record_id: int = pa.Field(alias="_record_id", ge=0)
    generator: str = pa.Field(alias="_generator", eq=record.CONSTANTS["_generator"])
    extra: str = pa.Field(nullable=True)
    loaded_at: DateTime = pa.Field(dtype_kwargs=UTC_TS)

    class Config:
        name = str(names.TRANSACTIONS)
        strict = True
        ordered = True

    @pa.check("transaction_id", name="unique_in_batch")
    def _unique_in_batch(cls, data: PolarsData) -> pl.LazyFrame:
        return rule(data, pl.col(data.key).is_first_distinct())

    @pa.check("transaction_id", name="matches_record_id")
    def _matches_record_id(cls, data: PolarsData) -> pl.LazyFrame:
        number = pl.col("_record_id").cast(pl.String).str.zfill(8)
        return rule(data, pl.col(data.key) == pl.concat_str(pl.lit("txn_"), number))

    @pa.check("device_id", "payment_method_id", name="prefixed_by_customer_id")
    def _prefixed(cls, data: PolarsData) -> pl.LazyFrame:
        prefix = pl.col("customer_id") + "_"
        return rule(data, pl.col(data.key).str.starts_with(prefix))

    @pa.check("amount", "product_price", "first_payment_amount", name="on_cent_grid")
    def _on_cent_grid(cls, data: PolarsData) -> pl.LazyFrame:
        scaled = pl.col(data.key) * 100
        return rule(data, (scaled - scaled.round()).abs() < 1e-6)

    @pa.check("amount", name="amount_equals_price")
    def _amount_equals_price(cls, data: PolarsData) -> pl.LazyFrame:
        return rule(data, cents(pl.col("amount")) == cents(pl.col("product_price")))

    @pa.check("credit_utilization", name="present_only_for_credit_stretched", ignore_na=False)
    def _credit_utilization(cls, data: PolarsData) -> pl.LazyFrame:
        stretched = pl.col("risk_scenario") == "credit_stretched"
        return rule(data, (pl.col(data.key).is_not_null() == stretched).fill_null(True))

    @pa.check("risk_level", name="risk_level_from_score")
    def _risk_level(cls, data: PolarsData) -> pl.LazyFrame:
        score = pl.col("risk_score")
        level = pl.lit(record.RISK_LEVELS[-1])
        for threshold, name in reversed(record.RISK_LEVEL_THRESHOLDS):
            level = pl.when(score < threshold).then(pl.lit(name)).otherwise(level)
        return rule(data, pl.col(data.key) == level)

    @pa.check("installment_count", name="installment_count_rule")
    def _installments(cls, data: PolarsData) -> pl.LazyFrame:
        small = cents(pl.col("amount")) < 10_000
        return rule(data, ~small | (pl.col(data.key) == 4))

    @pa.check("first_payment_amount", name="first_payment_is_quarter")
    def _first_payment(cls, data: PolarsData) -> pl.LazyFrame:
        expected = python_quarter_cents(pl.col("amount"))
        return rule(data, cents(pl.col(data.key)) == expected)

    @pa.check(*SCENARIO_RULES, name="consistent_with_scenario")
    def _scenario(cls, data: PolarsData) -> pl.LazyFrame:
        value, scenario = pl.col(data.key), pl.col("risk_scenario")
        ok = pl.lit(False)
        for name, allowed in SCENARIO_RULES[data.key].items():
            fits = (
                value.is_in(allowed) if isinstance(allowed[0], str) else value.is_between(*allowed)
            )
            ok = pl.when(scenario == name).then(fits).otherwise(ok)
        return rule(data, ok)

    @pa.check("days_to_first_missed_payment", name="default_fields_consistent", ignore_na=False)
    def _default_fields(cls, data: PolarsData) -> pl.LazyFrame:
        days, period = pl.col(data.key), record.INSTALLMENT_PERIOD_DAYS
        in_term = days.is_between(period, period * pl.col("installment_count"))
        on_schedule = in_term & (days % period == 0)
        ok = pl.when(pl.col("will_default")).then(on_schedule).otherwise(days.is_null())
        return rule(data, ok.fill_null(False))

    @pa.check("product_subcategory", name="subcategory_of_category")
    def _subcategory(cls, data: PolarsData) -> pl.LazyFrame:
        ok = pl.lit(False)
        for category, subs in record.PRODUCT_SUBCATEGORIES.items():
            ok = (
                pl.when(pl.col("product_category") == category)
                .then(pl.col(data.key).is_in(subs))
                .otherwise(ok)
            )
        return rule(data, ok)

    @pa.check("product_price", name="price_in_category_range")
    def _price_range(cls, data: PolarsData) -> pl.LazyFrame:
        ok = pl.lit(False)
        for category, (low, high) in record.PRODUCT_PRICE_RANGES.items():
            fits = cents(pl.col(data.key)).is_between(round(low * 100), round(high * 100))
            ok = pl.when(pl.col("product_category") == category).then(fits).otherwise(ok)
        return rule(data, ok)

    @pa.check("product_bnpl_eligible", name="bnpl_eligible_rule")
    def _eligible(cls, data: PolarsData) -> pl.LazyFrame:
        eligible = (cents(pl.col("amount")) >= BNPL_ELIGIBLE_MIN_CENTS) & pl.col(
            "product_category"
        ).is_in(BNPL_ELIGIBLE_CATEGORIES)
        return rule(data, pl.col(data.key) == eligible)

    @pa.check("device_os", name="os_of_device_type")
    def _device_os(cls, data: PolarsData) -> pl.LazyFrame:
        ok = pl.lit(False)
        for device_type, systems in DEVICE_OS_BY_TYPE.items():
            fits = pl.col(data.key).is_in(systems)
            ok = pl.when(pl.col("device_type") == device_type).then(fits).otherwise(ok)
        return rule(data, ok)

    @pa.check("_timestamp", name="timestamp_format")
    def _timestamp_format(cls, data: PolarsData) -> pl.LazyFrame:
        # transaction_ts is _timestamp parsed by bnpl.timeutil (null when it does not parse)
        return rule(data, pl.col("transaction_ts").is_not_null())


class Customers(pa.DataFrameModel):
    """``bnpl_raw.customers``: one row per ``customer_key`` of the batch's valid transactions."""

    customer_key: str = pa.Field(str_matches=HEX_KEY, unique=True)
    transaction_date: pl.Date
    batch_id: str = pa.Field(str_matches=HEX_KEY)
    customer_id: str = pa.Field(str_matches=r"^cust_\d{6,}$")
    identity_scope: str = pa.Field(isin=("batch", "source"))
    attribute_fingerprint: str = pa.Field(str_matches=HEX_KEY)
    customer_age_bracket: str = pa.Field(isin=record.AGE_BRACKETS)
    customer_tenure_days: int = pa.Field(ge=0)
    customer_income_bracket: str = pa.Field(isin=record.INCOME_BRACKETS)
    customer_credit_score_range: str = pa.Field(isin=record.CREDIT_SCORE_RANGES)
    customer_verification_level: str = pa.Field(isin=record.VERIFICATION_LEVELS)
    customer_address_stability: str = pa.Field(isin=record.ADDRESS_STABILITIES)
    customer_state: str = pa.Field(isin=record.US_STATES)
    first_seen_ts: DateTime = pa.Field(dtype_kwargs=LOCAL_TS)
    last_seen_ts: DateTime = pa.Field(dtype_kwargs=LOCAL_TS)
    transaction_count: int = pa.Field(ge=1)
    attributes_changed: bool
    loaded_at: DateTime = pa.Field(dtype_kwargs=UTC_TS)

    class Config:
        name = str(names.CUSTOMERS)
        strict = True
        ordered = True

    @pa.check("last_seen_ts", name="not_before_first_seen")
    def _seen_order(cls, data: PolarsData) -> pl.LazyFrame:
        return rule(data, pl.col(data.key) >= pl.col("first_seen_ts"))


class Quarantine(pa.DataFrameModel):
    """``bnpl_raw.quarantine``: one row per record that failed framing, parsing or the contract.

    A live event's dead letter has ``event_id`` and ``received_at``; a batch day's rows have
    neither."""

    batch_id: str = pa.Field(str_matches=HEX_KEY)
    transaction_date: pl.Date
    line_number: int = pa.Field(ge=1, unique=True)
    record_id: int = pa.Field(nullable=True)
    raw_line: str
    check_name: str = pa.Field(str_length={"min_value": 1})
    column_name: str = pa.Field(nullable=True)
    failures: str = pa.Field(str_startswith="[")
    quarantined_at: DateTime = pa.Field(dtype_kwargs=UTC_TS)
    event_id: str = pa.Field(nullable=True)
    received_at: DateTime = pa.Field(nullable=True, dtype_kwargs=UTC_TS)

    class Config:
        name = str(names.QUARANTINE)
        strict = True
        ordered = True


# --- validation ------------------------------------------------------------------------------------


def on_day(day: date) -> pa.Check:
    """``timestamp_on_requested_day``: ``_timestamp`` falls on ``day``."""
    prefix = f"{day.isoformat()}T"
    return pa.Check(
        lambda data: rule(data, pl.col(data.key).str.starts_with(prefix)),
        name="timestamp_on_requested_day",
    )


@lru_cache(maxsize=32)
def transactions_schema(day: date) -> pa.DataFrameSchema:
    """:class:`Transactions` plus ``timestamp_on_requested_day`` for ``day``.

    Building it copies the whole schema (costly per day), so clean days are screened with
    :class:`Transactions` and :func:`on_day` instead (see :func:`bnpl.ingest.prepare_day`); this full
    schema names the failures of a day that does not pass.
    """
    schema = Transactions.to_schema()
    column = schema.columns["_timestamp"]
    return schema.update_column("_timestamp", checks=[*column.checks, on_day(day)])
