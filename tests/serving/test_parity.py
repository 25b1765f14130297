"""Online features equal the training features: the mart, computed online from the store by the
serving path (the Python evaluator) and by the reference path (the training SQL in-process)."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from bnpl.models import load_project
from bnpl.serving.fast import FastFeatures
from bnpl.serving.features import ENRICHED, HISTORY_COLUMNS, MART, OnlineFeatures
from bnpl.serving.store import SqliteStore
from bnpl.warehouse.duckdb import DuckDBWarehouse

TOLERANCE = 1e-9
SAMPLE = 1000
"""Transactions checked: every one of the first day (no history, no market), then a seeded
random sample of the rest (the store is still replayed through every transaction)."""
REFERENCE_SAMPLE = 200
"""Of those, checked by the reference path too (the training SQL in-process, ~50 ms each): the
first day's and a seeded subset. The serving path is checked on all of them."""


def _rows(warehouse: DuckDBWarehouse, sql: str) -> list[dict[str, Any]]:
    return warehouse.query(sql).to_dicts()


def _differences(online: Mapping[str, Any], offline: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, expected in offline.items():
        got = online[name]
        if isinstance(expected, float) and isinstance(got, float):
            if not math.isclose(got, expected, rel_tol=0.0, abs_tol=TOLERANCE):
                problems.append(f"{name}: online {got!r} != offline {expected!r}")
        elif got != expected:
            problems.append(f"{name}: online {got!r} != offline {expected!r}")
    return problems


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_online_features_equal_the_mart_at_every_transaction(
    weeks: DuckDBWarehouse, tmp_path: Path
) -> None:
    """Replaying six weeks in time order through the store, each sampled transaction's online
    features (from the store as of its timestamp) equal its mart_bnpl_ml_features row from the
    Python evaluator the API serves with, and on a subset from the training SQL run in-process."""
    project = load_project()
    enriched = project.model(ENRICHED)
    mart = project.model(MART)
    history = _rows(
        weeks,
        f"SELECT {', '.join(HISTORY_COLUMNS)} FROM {enriched.dataset}.{ENRICHED} "
        "ORDER BY transaction_ts, transaction_key",
    )
    raw = {r["transaction_key"]: r for r in _rows(weeks, "SELECT * FROM bnpl_raw.transactions")}
    offline = {r["transaction_key"]: r for r in _rows(weeks, f"SELECT * FROM bnpl_marts.{MART}")}
    assert len(offline) == len(history) >= SAMPLE
    first_day = history[0]["transaction_date"]
    firsts = [r["transaction_key"] for r in history if r["transaction_date"] == first_day]
    rest = [r["transaction_key"] for r in history if r["transaction_date"] != first_day]
    sampled_rest = random.Random(0).sample(rest, SAMPLE - len(firsts))
    sample = set(firsts) | set(sampled_rest)
    reference = set(firsts) | set(sampled_rest[: REFERENCE_SAMPLE - len(firsts)])

    store = SqliteStore(tmp_path / "online.sqlite")
    features = OnlineFeatures(project)
    fast = FastFeatures(mart.column_names)
    applied = 0
    checked = 0
    referenced = 0
    seen: dict[str, int] = {"no_history": 0, "history": 0, "no_market": 0, "7d_edge": 0}
    mismatches: list[str] = []
    for row in history:
        ts: datetime = row["transaction_ts"]
        # the store as of this instant: every transaction strictly before its second
        while applied < len(history) and history[applied]["transaction_ts"] < ts:
            store.apply([history[applied]])
            applied += 1
        key = row["transaction_key"]
        if key not in sample:
            continue
        checkout = {
            k: v
            for k, v in raw[key].items()
            if k not in ("will_default", "days_to_first_missed_payment")
        }
        stored = store.history(row["customer_key"], row["transaction_date"])
        served = fast.compute(checkout, stored)
        expected = offline[key]
        assert list(served) == mart.column_names
        if key in reference:
            online = features.compute(checkout, stored)
            assert set(online) == set(mart.column_names)
            mismatches += [f"{key} (sql): {p}" for p in _differences(online, expected)]
            referenced += 1
        mismatches += [f"{key} (fast): {p}" for p in _differences(served, expected)]
        checked += 1
        seen["no_history" if expected["prior_txn_count_365d"] == 0 else "history"] += 1
        seen["no_market"] += expected["market_txn_count_prev_day"] is None
        seen["7d_edge"] += expected["prior_txn_count_28d"] > expected["prior_txn_count_7d"]
    features.close()
    store.close()
    assert not mismatches, "\n".join(mismatches[:20])
    assert checked == SAMPLE
    assert referenced == REFERENCE_SAMPLE
    assert all(n > 0 for n in seen.values()), seen
