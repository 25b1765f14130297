"""The API's checkout row computed in Python equals the live path's Polars parse and keys."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from live_data import realtime_records

from bnpl.serving.checkout import Checkout, fast_raw_row, raw_row


def _checkouts() -> list[dict[str, Any]]:
    out = []
    for text in realtime_records(200, seed=3):
        record = json.loads(text)
        for name in ("will_default", "days_to_first_missed_payment", "_timestamp", "_record_id"):
            record.pop(name, None)
        record.pop("_generator", None)
        record["timestamp"] = "2024-11-28T10:00:00.123456"
        out.append(record)
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [
        f"{k}: {a[k]!r} != {b[k]!r}"
        for k in a
        if k != "loaded_at" and (a[k] != b[k] or type(a[k]) is not type(b[k]))
    ]


def test_fast_raw_row_equals_raw_row_on_simulator_records() -> None:
    """200 simulator checkouts, a half-cent amount and a missing scenario: every column but
    loaded_at is equal, with the same type, and the columns are the raw table's, in order."""
    bodies = _checkouts()
    bodies[0] = {**bodies[0], "amount": 100.125, "risk_scenario": None}
    bodies[1] = {**bodies[1], "amount": 12.345}
    problems = []
    for body in bodies:
        checkout = Checkout.model_validate(body)
        slow, fast = raw_row(checkout), fast_raw_row(checkout)
        assert list(fast) == list(slow)
        problems += _same(slow, fast)
    assert not problems, problems[:10]


def test_a_checkout_without_a_timestamp_is_stamped_now() -> None:
    """Without ``timestamp`` both rows take the given instant (naive)."""
    body = {k: v for k, v in _checkouts()[0].items() if k != "timestamp"}
    checkout = Checkout.model_validate(body)
    now = datetime(2026, 12, 5, 1, 2, 3, 456789)
    assert not _same(raw_row(checkout, now=now), fast_raw_row(checkout, now=now))
    assert fast_raw_row(checkout, now=now)["transaction_ts"] == now
