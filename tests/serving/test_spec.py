"""The window spec of the online features is the mart's customer_windows CTE, read from its SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb
import pytest
from sqlglot import exp

from bnpl.models import load_project
from bnpl.serving.fast import FastFeatures, calendar, market
from bnpl.serving.features import MART, History
from bnpl.serving.spec import DAY_SECONDS, WINDOWS, epoch_seconds, round_half_away


@dataclass(frozen=True)
class SqlWindow:
    """One column of the mart's customer_windows CTE, as its SQL declares it."""

    aggregate: str
    column: str | None
    seconds: int
    partition: tuple[str, ...]
    empty: int | None


def _named_windows(select: exp.Select) -> dict[str, exp.Window]:
    return {w.alias_or_name: w for w in select.args.get("windows") or []}


def _frame(window: exp.Window, named: dict[str, exp.Window]) -> exp.Window:
    """The window's own spec, or the named window it refers to (``OVER before_365d``)."""
    if window.args.get("spec") is None and window.args.get("partition_by") is None:
        alias = window.args.get("alias")
        name = alias.name if alias is not None else ""
        return named[name]
    return window


def _sql_windows() -> dict[str, SqlWindow]:
    tree = load_project().model(MART).tree
    cte = next(c for c in tree.find_all(exp.CTE) if c.alias == "customer_windows")
    select = cte.this
    assert isinstance(select, exp.Select)
    named = _named_windows(select)
    found: dict[str, SqlWindow] = {}
    for projection in select.expressions:
        window = projection.find(exp.Window)
        if window is None:
            continue
        frame = _frame(window, named)
        spec = frame.args["spec"]
        assert spec.args["kind"] == "RANGE", projection.sql()
        assert spec.args["start_side"] == "PRECEDING" and spec.args["end_side"] == "PRECEDING"
        assert int(spec.args["end"].name) == 1, projection.sql()
        partition = tuple(p.name for p in frame.args.get("partition_by") or [])
        assert partition[0] == "customer_key", projection.sql()
        order = frame.args["order"].expressions
        assert [o.this.name for o in order] == ["ts_seconds"], projection.sql()
        aggregate = window.this
        value = projection.this if isinstance(projection, exp.Alias) else projection
        if isinstance(value, exp.Sub):
            assert value.this.name == "ts_seconds" and isinstance(aggregate, exp.Max)
            kind, column = "since_last", "ts_seconds"
        elif isinstance(aggregate, exp.Count):
            kind, column = "count", None
        else:
            assert isinstance(aggregate, exp.Sum), projection.sql()
            kind, column = "sum", aggregate.this.name
        empty = None
        if isinstance(value, exp.Coalesce):
            empty = int(value.expressions[0].name)
        found[projection.alias_or_name] = SqlWindow(
            kind, column, int(spec.args["start"].name), partition[1:], empty
        )
    return found


def test_the_spec_declares_exactly_the_marts_customer_windows() -> None:
    """Every customer_windows column has a spec entry with the same aggregate, source column,
    frame (seconds PRECEDING to 1 PRECEDING), partition and empty value, and no entry is extra."""
    sql = _sql_windows()
    declared = {
        w.name: SqlWindow(w.aggregate, w.column, w.seconds, w.partition, w.empty) for w in WINDOWS
    }
    assert declared == sql


def test_round_half_away_and_epoch_seconds_match_duckdb() -> None:
    """ROUND of a DOUBLE halves away from zero as DuckDB's does; epoch seconds ignore fractions."""
    con = duckdb.connect()
    for value in (2.5, -2.5, 0.49999999999999994, 1234567.5, 0.5, -0.5, 3.0, 412345.4999):
        expected = con.execute("SELECT ROUND(CAST(? AS DOUBLE))", [value]).fetchone()
        assert expected is not None
        assert round_half_away(value) == expected[0], value
    ts = datetime(2024, 3, 1, 12, 0, 5, 999_999)
    assert epoch_seconds(ts) == epoch_seconds(datetime(2024, 3, 1, 12, 0, 5))
    assert epoch_seconds(datetime(1970, 1, 2)) == DAY_SECONDS


def test_calendar_matches_the_calendar_model_on_a_holiday_and_a_weekend() -> None:
    """Independence Day is a holiday (0 days to and since); a Saturday is a weekend, 1 = Sunday."""
    july4 = calendar(date(2024, 7, 4))
    assert july4["day_type"] == "holiday" and july4["days_to_next_holiday"] == 0
    assert july4["days_since_previous_holiday"] == 0 and july4["day_of_week"] == 5
    saturday = calendar(date(2024, 7, 6))
    assert saturday["day_type"] == "weekend" and saturday["is_weekend"]
    assert saturday["day_of_week"] == 7 and saturday["days_since_previous_holiday"] == 2


def test_market_features_read_only_the_loaded_days_before_the_checkouts_day() -> None:
    """The checkout's own day and days over 28 back are ignored; a missing previous day is NULL."""
    day = date(2024, 2, 1)
    rows = [
        {"transaction_date": date(2024, 2, 1), "txn_count": 99, "amount_cents": 9},
        {"transaction_date": date(2024, 1, 30), "txn_count": 10, "amount_cents": 1000},
        {"transaction_date": date(2024, 1, 10), "txn_count": 30, "amount_cents": 6000},
        {"transaction_date": date(2024, 1, 3), "txn_count": 500, "amount_cents": 1},
    ]
    got = market(day, rows)
    assert got["txn_count_prev_day"] is None
    assert got["avg_daily_txn_7d"] == 10.0
    assert got["avg_daily_txn_28d"] == 20.0
    assert got["avg_amount_cents_28d"] == 7000 / 40
    assert market(day, [])["avg_daily_txn_28d"] is None


@pytest.fixture(scope="module")
def fast() -> FastFeatures:
    """The Python evaluator with the mart's columns."""
    return FastFeatures()


def test_a_transaction_in_the_same_second_is_not_before_the_checkout(fast: FastFeatures) -> None:
    """A row one second earlier counts; a row in the checkout's second does not (RANGE ... 1
    PRECEDING); a row exactly 7 days earlier is still in the 7-day window."""
    ts = datetime(2024, 2, 1, 12, 0, 0)

    def row(key: str, at: datetime, amount: int) -> dict[str, object]:
        return {
            "transaction_key": key,
            "customer_key": "c",
            "transaction_date": at.date(),
            "transaction_ts": at,
            "device_id": "d",
            "payment_method_id": "p",
            "amount_cents": amount,
            "risk_score": 0.5,
            "risk_scenario": "impulse_purchase",
        }

    history = [
        row("same", ts, 1),
        row("second", datetime(2024, 2, 1, 11, 59, 59), 10),
        row("week", datetime(2024, 1, 25, 12, 0, 0), 100),
        row("older", datetime(2024, 1, 25, 11, 59, 59), 1000),
    ]
    checkout = {
        **history[0],
        "transaction_key": "now",
        "device_id": "other",
        "first_payment_amount": 1.25,
        "installment_count": 4,
        "purchase_context": "normal",
        "checkout_speed": "normal",
        "cart_abandonment_count": 0,
        "price_comparison_time": 0,
        "time_on_site_seconds": 10,
        "customer_age_bracket": "25-34",
        "customer_tenure_days": 1,
        "customer_income_bracket": "<25k",
        "customer_credit_score_range": "good",
        "customer_verification_level": "verified",
        "customer_address_stability": "stable",
        "product_category": "home",
        "product_subcategory": "x",
        "product_brand": "y",
        "product_price": 5.0,
        "product_bnpl_eligible": False,
        "product_risk_category": "high",
        "device_type": "mobile",
        "device_os": "iOS",
        "device_is_trusted": False,
        "payment_provider": "klarna",
        "payment_credit_limit": 0,
    }
    got = fast.compute(checkout, History(transactions=history, market_days=[]))
    assert got["prior_txn_count_7d"] == 2 and got["prior_amount_cents_7d"] == 110
    assert got["prior_txn_count_365d"] == 3 and got["seconds_since_previous_txn"] == 1
    assert got["is_new_device"] and not got["is_new_payment_method"]
    assert got["prior_impulse_share"] == 1.0 and got["prior_avg_risk_score"] == 0.5
    assert got["time_on_site_to_comparison_ratio"] is None
    assert got["exposure_28d_to_credit_limit_ratio"] is None
    assert got["high_risk_product_on_untrusted_device"]
    assert got["market_avg_daily_txn_28d"] is None and got["amount_to_market_avg_ratio"] is None
    empty = fast.compute(checkout, History(transactions=[], market_days=[]))
    assert empty["prior_amount_cents_365d"] == 0 and empty["seconds_since_previous_txn"] is None
    assert empty["prior_avg_risk_score"] is None and empty["amount_to_prior_avg_ratio"] is None
