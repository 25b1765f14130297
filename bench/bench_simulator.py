"""Simulator throughput: records generated and serialised to ``data: <json>\\n\\n`` bytes per second.

The measurement runs in a child process pinned to one CPU with ``POLARS_MAX_THREADS=1``, so the
figure is single-core. Baseline, same run and same core: per-record Python dicts with the
contract's 44/45 fields (``random`` module) serialised with ``json.dumps``.
Also reported: a day fetched end to end over loopback (simulator subprocess + SourceClient).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COMMAND = ".venv/bin/python -m bench simulator"
DAY = {
    "start_date": "2024-03-12",
    "end_date": "2024-03-12",
    "base_daily_volume": 10_100,
    "seed": 12,
}
RANGE = {
    "start_date": "2024-03-11",
    "end_date": "2024-03-15",
    "base_daily_volume": 10_000,
    "seed": 13,
    "max_records": 50_000,
}
REPEATS = 5


def _naive_body(n: int, seed: int) -> bytes:
    """The baseline: one Python dict per record, then json.dumps per record."""
    import random

    from bnpl import record

    rng = random.Random(seed)
    out = []
    seconds = sorted(rng.randrange(86_400) for _ in range(n))
    for i, second in enumerate(seconds):
        scenario = rng.choices(record.RISK_SCENARIOS, weights=(60, 20, 15, 5))[0]
        amount = round(rng.uniform(15, 400), 2)
        customer = f"cust_{rng.randrange(1, n // 3 + 2):06d}"
        values = {
            "transaction_id": f"txn_{i:08d}",
            "customer_id": customer,
            "product_id": f"prod_{rng.randrange(1, 5001):06d}",
            "device_id": f"{customer}_device_{rng.randrange(1, 3)}",
            "payment_method_id": f"{customer}_pm_{rng.randrange(1, 4)}",
            "amount": amount,
            "credit_utilization": amount / rng.choice((500, 1000, 1500)),
            "risk_scenario": scenario,
            "risk_score": 0.3 * rng.choice((0.1, 0.3, 0.6, 0.9))
            + 0.2 * rng.choice((0.1, 0.4, 0.8)),
            "risk_level": rng.choice(record.RISK_LEVELS[:3]),
            "installment_count": 4 if amount < 100 else rng.choice((4, 6)),
            "first_payment_amount": round(amount * 0.25, 2),
            "purchase_context": rng.choice(record.PURCHASE_CONTEXTS),
            "checkout_speed": rng.choice(record.CHECKOUT_SPEEDS),
            "cart_abandonment_count": rng.randint(0, 3),
            "price_comparison_time": rng.randint(0, 300),
            "time_on_site_seconds": rng.randint(30, 900),
            "will_default": rng.random() < 0.05,
            "days_to_first_missed_payment": None,
            "customer_age_bracket": rng.choice(record.AGE_BRACKETS),
            "customer_tenure_days": rng.randint(0, 730),
            "customer_income_bracket": rng.choice(record.INCOME_BRACKETS),
            "customer_credit_score_range": rng.choice(record.CREDIT_SCORE_RANGES),
            "customer_verification_level": rng.choice(record.VERIFICATION_LEVELS),
            "customer_address_stability": rng.choice(record.ADDRESS_STABILITIES),
            "customer_state": rng.choice(record.US_STATES),
            "product_category": rng.choice(record.PRODUCT_CATEGORIES),
            "product_subcategory": "shoes",
            "product_brand": rng.choice(record.PRODUCT_BRANDS),
            "product_price": amount,
            "product_bnpl_eligible": amount >= 50,
            "product_risk_category": rng.choice(record.PRODUCT_RISK_CATEGORIES),
            "device_type": rng.choice(record.DEVICE_TYPES),
            "device_os": rng.choice(record.DEVICE_OS),
            "device_is_trusted": rng.random() < 0.96,
            "payment_provider": rng.choice(record.PAYMENT_PROVIDERS),
            "payment_credit_limit": rng.choice(record.PAYMENT_CREDIT_LIMITS),
            "_timestamp": f"2024-03-12T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}",
            "_record_id": i,
        }
        rec = {k: values.get(k, record.CONSTANTS.get(k)) for k in record.KEY_ORDER[scenario]}
        out.append("data: " + json.dumps(rec) + "\n\n")
    return "".join(out).encode()


def _best(fn, repeats: int = REPEATS) -> tuple[float, float, bytes]:
    """Best wall time, best CPU time of this process, and the result."""
    wall, cpu, result = float("inf"), float("inf"), b""
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return wall, cpu, result


def _measure_child() -> None:
    """Runs pinned to one CPU; prints JSON figures."""
    from bnpl.simulator.simulation import simulate
    from bnpl.source.request import StreamRequest

    figures = {}
    for name, body in (("day", DAY), ("range", RANGE)):
        request = StreamRequest.model_validate(body)
        simulate(request)  # warm caches (lookup tables, Polars)
        seconds, cpu, payload = _best(lambda request=request: simulate(request))
        records = payload.count(b"\n\n")
        naive_seconds, naive_cpu, naive = _best(lambda records=records: _naive_body(records, 1), 3)
        figures[name] = {
            "records": records,
            "seconds": seconds,
            "cpu": cpu,
            "bytes": len(payload),
            "naive_seconds": naive_seconds,
            "naive_cpu": naive_cpu,
            "naive_bytes": len(naive),
        }
    sys.stdout.write(json.dumps(figures))


def _end_to_end() -> tuple[int, float]:
    from bnpl.calendar import DayRequest
    from bnpl.settings import SimulatorSettings, SourceSettings
    from bnpl.simulator.process import serve_in_background
    from bnpl.source.client import SourceClient

    request = DayRequest(date(2024, 3, 12), "weekday", DAY, 0)
    with (
        serve_in_background(SimulatorSettings(port=0)) as url,
        SourceClient(SourceSettings(), base_url=url) as client,
    ):
        client.fetch_day(request)
        seconds = float("inf")
        records = 0
        for _ in range(3):
            started = time.perf_counter()
            records = len(client.fetch_day(request).records)
            seconds = min(seconds, time.perf_counter() - started)
    return records, seconds


def main() -> str:
    env = {**os.environ, "POLARS_MAX_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cpu = min(os.sched_getaffinity(0))
    code = (
        f"import os; os.sched_setaffinity(0, {{{cpu}}}); "
        "import bench.bench_simulator as b; b._measure_child()"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    figures = json.loads(child.stdout)
    e2e_records, e2e_seconds = _end_to_end()
    rows = []
    for name, label in (("day", "one day (10k records)"), ("range", "5 days, max_records 50,000")):
        f = figures[name]
        n = f["records"]
        rows.append(
            f"| {label} | {n:,} | {f['seconds'] * 1000:.0f} ms | **{n / f['seconds']:,.0f}** | "
            f"{n / f['cpu']:,.0f} | {f['bytes'] / f['seconds'] / 1e6:.0f} MB/s | "
            f"{n / f['naive_seconds']:,.0f} ({n / f['naive_cpu']:,.0f}) | "
            f"{f['naive_seconds'] / f['seconds']:.1f}x |"
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return "\n".join(
        [
            f"Command: `{COMMAND}` (child pinned to CPU {cpu}, `POLARS_MAX_THREADS=1`; best of "
            f"{REPEATS}; load average at the end {load}).",
            "",
            "Generated and serialised to `data: <json>\\n\\n` bytes on one core "
            "(`bnpl.simulator.simulation.simulate`); baseline in the same child: per-record Python "
            "dicts + `json.dumps`. records/s is wall-clock; CPU records/s divides by the child's "
            "CPU time (what an idle core would give when the machine is shared).",
            "",
            "| request | records | wall time | records/s | CPU records/s | text | naive records/s "
            "(CPU) | speed-up |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
            "",
            f"End to end over loopback (simulator subprocess + `SourceClient` framing, 2 cores): "
            f"{e2e_records:,} records in {e2e_seconds * 1000:.0f} ms = "
            f"{e2e_records / e2e_seconds:,.0f} records/s.",
        ]
    )


if __name__ == "__main__":
    sys.stdout.write(main() + "\n")
