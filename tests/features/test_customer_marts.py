"""mart_bnpl_risk_features and mart_bnpl_customer_analytics equal a Polars computation over the raw
transactions; payment outcomes count only once they have happened by the as-of date."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
from feature_data import DAYS

from bnpl.warehouse.duckdb import DuckDBWarehouse

AS_OF_END = datetime.combine(DAYS[-1] + timedelta(days=1), datetime.min.time())
"""The end of the build's as-of day (the last loaded day)."""


def _raw(warehouse: DuckDBWarehouse) -> pl.DataFrame:
    return warehouse.read_table("bnpl_raw.transactions")


def test_risk_features_as_of_the_last_day(built: DuckDBWarehouse) -> None:
    """Counts, spend, windows, recency and observed payment outcomes per customer equal a
    brute-force computation as of the last loaded day, and the tier follows its rule."""
    mart = built.read_table("bnpl_marts.mart_bnpl_risk_features").sort("customer_key")
    ends = pl.col("transaction_ts") + pl.duration(days=14 * pl.col("installment_count"))
    missed = pl.col("transaction_ts") + pl.duration(days=pl.col("days_to_first_missed_payment"))
    observed = pl.col("will_default") & (missed < AS_OF_END)
    settled = ends < AS_OF_END
    expected = (
        _raw(built)
        .group_by("customer_key")
        .agg(
            pl.len().alias("txn_count"),
            pl.col("amount_cents").sum().alias("total_amount_cents"),
            (pl.col("transaction_date") > DAYS[-1] - timedelta(days=7)).sum().alias("txn_count_7d"),
            (pl.col("transaction_date") > DAYS[-1] - timedelta(days=28))
            .sum()
            .alias("txn_count_28d"),
            settled.sum().alias("settled_count"),
            (~settled & ~observed.fill_null(False)).sum().alias("open_count"),
            observed.fill_null(False).sum().alias("missed_payment_count"),
            (pl.lit(DAYS[-1]) - pl.col("transaction_date").max()).dt.total_days().alias("recency"),
            (pl.col("risk_scenario") == "high_risk_behavior").mean().alias("high_risk"),
        )
        .sort("customer_key")
    )
    assert mart["customer_key"].to_list() == expected["customer_key"].to_list()
    for column in (
        "txn_count",
        "total_amount_cents",
        "txn_count_7d",
        "txn_count_28d",
        "settled_count",
        "open_count",
        "missed_payment_count",
    ):
        assert mart[column].to_list() == expected[column].to_list(), column
    assert mart["days_since_last_txn"].to_list() == expected["recency"].to_list()
    assert (mart["as_of_date"] == DAYS[-1]).all()
    assert mart["missed_payment_count"].sum() > 0 and mart["open_count"].sum() > 0
    high = (
        (mart["missed_payment_count"] > 0)
        | (mart["avg_risk_score"] >= 0.6)
        | (expected["high_risk"] >= 0.5)
    )
    assert (mart.filter(high)["behaviour_risk_tier"] == "high").all()
    assert (mart.filter(~high)["behaviour_risk_tier"] != "high").all()


def test_customer_analytics_over_every_day(built: DuckDBWarehouse) -> None:
    """Lifetime value, purchases, favourite category, risk mix and segments per customer equal a
    brute-force computation over every loaded day."""
    mart = built.read_table("bnpl_marts.mart_bnpl_customer_analytics").sort("customer_key")
    raw = _raw(built)
    favourite = (
        raw.group_by("customer_key", "product_category")
        .len()
        .sort(["customer_key", "len", "product_category"], descending=[False, True, False])
        .group_by("customer_key", maintain_order=True)
        .first()
        .sort("customer_key")
    )
    expected = (
        raw.group_by("customer_key")
        .agg(
            pl.len().alias("purchase_count"),
            pl.col("amount_cents").sum().alias("lifetime_value_cents"),
            (pl.col("risk_level") == "medium").mean().alias("medium_risk_level_share"),
            (pl.col("risk_scenario") == "impulse_purchase").mean().alias("impulse_purchase_share"),
            pl.col("transaction_date").n_unique().alias("active_days"),
        )
        .sort("customer_key")
    )
    assert mart["customer_key"].to_list() == expected["customer_key"].to_list()
    for column in ("purchase_count", "lifetime_value_cents", "active_days"):
        assert mart[column].to_list() == expected[column].to_list(), column
    for column in ("medium_risk_level_share", "impulse_purchase_share"):
        assert ((mart[column] - expected[column]).abs() < 1e-12).all(), column
    assert mart["favourite_category"].to_list() == favourite["product_category"].to_list()
    value = mart["lifetime_value_cents"]
    segment = [
        "low" if v < 25_000 else "medium" if v < 100_000 else "high" if v < 500_000 else "top"
        for v in value
    ]
    assert mart["value_segment"].to_list() == segment
    assert (mart["active_days"] > 1).any(), "stable ids: customers span days"
