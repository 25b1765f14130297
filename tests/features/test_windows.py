"""Window correctness: every history and market feature of mart_bnpl_ml_features equals a brute-force
Python computation over the loaded transactions, including the window edges."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import polars as pl
from feature_data import Records, build, load_records, renumber, timestamp

from bnpl.models import Project
from bnpl.warehouse.duckdb import DuckDBWarehouse

DAY_S = 86_400


def _history(tx: pl.DataFrame) -> dict[str, list[dict[str, Any]]]:
    by_customer: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in tx.sort("transaction_ts").iter_rows(named=True):
        by_customer[row["customer_key"]].append(row)
    return by_customer


def _mean_micros(scores: list[float]) -> float:
    micros = [int(Decimal(repr(s * 1_000_000)).quantize(Decimal(1), ROUND_HALF_UP)) for s in scores]
    mean = (Decimal(sum(micros)) / len(micros)).quantize(Decimal(1), ROUND_HALF_UP)
    return float(mean) / 1_000_000


def _before(rows: list[dict[str, Any]], ts: datetime, days: int) -> list[dict[str, Any]]:
    """The rows 1 s to ``days`` days before ``ts``."""
    return [h for h in rows if 0 < (ts - h["transaction_ts"]).total_seconds() <= days * DAY_S]


def expected_customer_features(tx: pl.DataFrame) -> dict[str, dict[str, Any]]:
    """Each transaction's history features from first principles: the customer's rows 1 s to
    7/28/365 days before it (same second excluded)."""
    expected = {}
    for rows in _history(tx).values():
        for row in rows:
            ts: datetime = row["transaction_ts"]
            week, month, year = (_before(rows, ts, days) for days in (7, 28, 365))
            expected[row["transaction_key"]] = {
                "prior_txn_count_7d": len(week),
                "prior_txn_count_28d": len(month),
                "prior_txn_count_365d": len(year),
                "prior_amount_cents_7d": sum(h["amount_cents"] for h in week),
                "prior_amount_cents_28d": sum(h["amount_cents"] for h in month),
                "prior_amount_cents_365d": sum(h["amount_cents"] for h in year),
                "seconds_since_previous_txn": min(
                    (int((ts - h["transaction_ts"]).total_seconds()) for h in year), default=None
                ),
                "prior_impulse_share": sum(h["risk_scenario"] == "impulse_purchase" for h in year)
                / len(year)
                if year
                else None,
                "prior_high_risk_share": sum(
                    h["risk_scenario"] == "high_risk_behavior" for h in year
                )
                / len(year)
                if year
                else None,
                "prior_avg_risk_score": _mean_micros([h["risk_score"] for h in year])
                if year
                else None,
                "is_new_device": all(h["device_id"] != row["device_id"] for h in year),
                "is_new_payment_method": all(
                    h["payment_method_id"] != row["payment_method_id"] for h in year
                ),
            }
    return expected


def expected_market_features(tx: pl.DataFrame) -> dict[date, dict[str, Any]]:
    """Each loaded day's market context from the days strictly before it."""
    daily = tx.group_by("transaction_date").agg(pl.len().alias("n"), pl.col("amount_cents").sum())
    counts = dict(zip(daily["transaction_date"], daily["n"], strict=True))
    amounts = dict(zip(daily["transaction_date"], daily["amount_cents"], strict=True))
    expected = {}
    for day in counts:
        week = [d for d in counts if timedelta(days=1) <= day - d <= timedelta(days=7)]
        month = [d for d in counts if timedelta(days=1) <= day - d <= timedelta(days=28)]
        avg7 = sum(counts[d] for d in week) / len(week) if week else None
        avg28 = sum(counts[d] for d in month) / len(month) if month else None
        expected[day] = {
            "market_txn_count_prev_day": counts.get(day - timedelta(days=1)),
            "market_avg_daily_txn_7d": avg7,
            "market_avg_daily_txn_28d": avg28,
            "market_volume_trend": avg7 / avg28 if avg7 is not None and avg28 else None,
            "market_avg_amount_cents_28d": sum(amounts[d] for d in month)
            / sum(counts[d] for d in month)
            if month
            else None,
        }
    return expected


def assert_close(actual: Any, expected: Any, what: str) -> None:
    if isinstance(expected, float) and actual is not None:
        assert abs(actual - expected) <= 1e-9 * max(1.0, abs(expected)), what
    else:
        assert actual == expected, what


def _raw(warehouse: DuckDBWarehouse) -> pl.DataFrame:
    return warehouse.read_table("bnpl_raw.transactions")


def test_customer_windows_equal_brute_force(built: DuckDBWarehouse) -> None:
    """Counts, spend, recency, scenario shares, mean risk score and new device/payment method
    over the 7/28/365 days before each transaction equal a brute-force computation."""
    features = built.read_table("bnpl_marts.mart_bnpl_ml_features")
    expected = expected_customer_features(_raw(built))
    assert features.height == len(expected)
    with_week_history = 0
    for row in features.iter_rows(named=True):
        for column, value in expected[row["transaction_key"]].items():
            assert_close(row[column], value, f"{column} of {row['transaction_key']}")
        with_week_history += row["prior_txn_count_7d"] > 0
    assert with_week_history > features.height / 2, "the fixture must exercise the windows"
    assert (features["prior_txn_count_28d"] > features["prior_txn_count_7d"]).any()
    assert (features["prior_txn_count_365d"] > features["prior_txn_count_28d"]).any()


def test_market_context_uses_only_earlier_days(built: DuckDBWarehouse) -> None:
    """Previous-day count, 7/28-day mean daily volume over loaded days, the trend and the mean
    amount equal a brute-force computation over the days before each transaction's day."""
    features = built.read_table("bnpl_marts.mart_bnpl_ml_features")
    expected = expected_market_features(_raw(built))
    for row in features.iter_rows(named=True):
        for column, value in expected[row["transaction_date"]].items():
            assert_close(row[column], value, f"{column} on {row['transaction_date']}")
    assert features["market_txn_count_prev_day"].null_count() > 0, "gaps in the ledger show"
    assert features["market_avg_daily_txn_7d"].drop_nulls().n_unique() > 3


def test_ratio_and_combination_features(built: DuckDBWarehouse) -> None:
    """Ratios divide the documented quantities and the combinations join the documented parts."""
    f = built.read_table("bnpl_marts.mart_bnpl_ml_features")
    with_history = f.filter(pl.col("prior_txn_count_365d") > 0)
    expected = (
        with_history["amount_cents"]
        * with_history["prior_txn_count_365d"]
        / with_history["prior_amount_cents_365d"]
    )
    assert ((with_history["amount_to_prior_avg_ratio"] - expected).abs() < 1e-12).all()
    assert (
        f.filter(pl.col("prior_txn_count_365d") == 0)["amount_to_prior_avg_ratio"].is_null().all()
    )
    exposure = (f["prior_amount_cents_28d"] + f["amount_cents"]) / (f["payment_credit_limit"] * 100)
    assert ((f["exposure_28d_to_credit_limit_ratio"] - exposure).abs() < 1e-12).all()
    trust = (
        pl.when(pl.col("device_is_trusted")).then(pl.lit("trusted")).otherwise(pl.lit("untrusted"))
    )
    combos = f.select(
        risk=(pl.col("product_risk_category") + "/" + trust == pl.col("product_device_risk")).all(),
        platform=(
            pl.col("device_type") + "/" + pl.col("device_os") == pl.col("device_platform")
        ).all(),
        category=(
            pl.col("product_category") + "/" + pl.col("product_risk_category")
            == pl.col("category_risk")
        ).all(),
        flag=(
            ((pl.col("product_risk_category") == "high") & ~pl.col("device_is_trusted"))
            == pl.col("high_risk_product_on_untrusted_device")
        ).all(),
    )
    assert combos.row(0) == (True, True, True, True)


def test_window_edges(tmp_path: Path, base_records: Records, project: Project) -> None:
    """A purchase exactly 7 days (604,800 s) earlier is inside the 7-day window, one 1 s earlier
    still is not, and a purchase in the same second is never "before"."""
    first, week_later = date(2024, 3, 1), date(2024, 3, 8)
    later = base_records[week_later]
    anchor_record = later[len(later) // 2]
    anchor, customer = timestamp(anchor_record), _customer(anchor_record)
    earlier = [r for r in base_records[first] if _customer(r) == customer][:2]
    same = [r for r in later if _customer(r) == customer and r is not anchor_record][:1]
    assert len(earlier) == 2 and same, "the fixture customer must buy twice on both days"
    times = {
        id(earlier[0]): anchor - timedelta(days=7),
        id(earlier[1]): anchor - timedelta(days=7, seconds=1),
        id(same[0]): anchor,
    }

    def retimed(records: list[bytes]) -> list[bytes]:
        moved = [_retime(r, times[id(r)]) if id(r) in times else r for r in records]
        return renumber(sorted(moved, key=timestamp))

    records = {first: retimed(base_records[first]), week_later: retimed(later)}
    warehouse = load_records(tmp_path / "edges.duckdb", records)
    try:
        build(warehouse, project, ["+mart_bnpl_ml_features"])
        features = warehouse.read_table("bnpl_marts.mart_bnpl_ml_features")
        raw = _raw(warehouse)
    finally:
        warehouse.close()
    expected = expected_customer_features(raw)
    at_anchor = features.filter(pl.col("transaction_ts") == anchor)
    mine = raw.filter(pl.col("transaction_ts") == anchor)["customer_key"].unique()
    at_anchor = at_anchor.filter(pl.col("customer_key").is_in(mine.implode()))
    assert at_anchor.height >= 2, "two purchases of the customer share the anchor second"
    history = raw.filter(pl.col("customer_key").is_in(mine.implode()))["transaction_ts"]
    gaps = {int((anchor - t).total_seconds()) for t in history}
    assert {0, 604_800, 604_801} <= gaps, "the edges are in the data"
    for row in at_anchor.iter_rows(named=True):
        for column, value in expected[row["transaction_key"]].items():
            assert_close(row[column], value, column)
    week = expected[at_anchor["transaction_key"][0]]["prior_txn_count_7d"]
    in_window = sum(1 for t in history if 0 < (anchor - t).total_seconds() <= 7 * DAY_S)
    assert week == in_window >= 1


def _customer(record: bytes) -> str:
    return str(json.loads(record)["customer_id"])


def _retime(record: bytes, ts: datetime) -> bytes:
    stamp = f'"_timestamp": "{ts.isoformat()}"'.encode()
    return re.sub(rb'"_timestamp": "[^"]+"', stamp, record)
