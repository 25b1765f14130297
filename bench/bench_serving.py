"""Online features per checkout: the training SQL run in-process (``bnpl.serving.features``).

Builds ten days of the bundled simulator (stable customer ids, 40 a day) in a temporary DuckDB
file, fills a SQLite online store with them, then computes the features of the last 200
checkouts one by one, as the API does: store read, then the two DuckDB statements. Reports p50 and
p99 wall time and CPU per checkout; baseline in the same run: the store read alone and a DuckDB
``SELECT 1`` round trip. Target (issue 15): p50 <= 3 ms, p99 <= 10 ms for the whole request.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb

COMMAND = ".venv/bin/python -m bench serving"
CHECKOUTS = 200


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> str:
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from bnpl.serving.features import HISTORY_COLUMNS, OnlineFeatures
    from bnpl.serving.store import SqliteStore
    from bnpl.settings import DuckDBSettings
    from bnpl.warehouse.duckdb import DuckDBWarehouse
    from tests.model_demo import build_demo

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        build_demo(
            path,
            date(2024, 1, 1),
            date(2024, 1, 10),
            request_extra={"stable_customer_ids": True, "customer_universe_size": 100},
        )
        warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
        raw = warehouse.query("SELECT * FROM bnpl_raw.transactions ORDER BY transaction_ts")
        history = warehouse.query(
            f"SELECT {', '.join(HISTORY_COLUMNS)} "  # noqa: S608 (constant columns)
            "FROM bnpl_intermediate.int_bnpl_transactions_enriched"
        )
        warehouse.close()
        store = SqliteStore(Path(tmp) / "online.sqlite")
        store.apply(history.to_dicts())
        features = OnlineFeatures()
        rows = raw.to_dicts()[-CHECKOUTS:]
        features.compute(
            rows[0], store.history(rows[0]["customer_key"], rows[0]["transaction_date"])
        )
        wall, cpu, reads = [], [], []
        for row in rows:
            c0, t0 = time.process_time(), time.perf_counter()
            got = store.history(row["customer_key"], row["transaction_date"])
            t1 = time.perf_counter()
            features.compute(row, got)
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            reads.append(t1 - t0)
        con = duckdb.connect()
        trivial = []
        for _ in range(CHECKOUTS):
            t0 = time.perf_counter()
            con.execute("SELECT 1").fetchall()
            trivial.append(time.perf_counter() - t0)
        features.close()
        store.close()

    def ms(v: float) -> str:
        return f"{v * 1000:.2f} ms"

    return f"""Command: `{COMMAND}` ({CHECKOUTS} checkouts, one thread, DuckDB `threads=1`).

| step | p50 wall | p99 wall | mean CPU |
|---|---:|---:|---:|
| store read + features (the request's work) | {ms(_pct(wall, 0.5))} | {ms(_pct(wall, 0.99))} | {ms(statistics.fmean(cpu))} |
| baseline: store read alone | {ms(_pct(reads, 0.5))} | {ms(_pct(reads, 0.99))} | - |
| baseline: DuckDB `SELECT 1` | {ms(_pct(trivial, 0.5))} | {ms(_pct(trivial, 0.99))} | - |

Target p50 <= 3 ms, p99 <= 10 ms per request: see docs/decisions.md ("Online features").
"""
