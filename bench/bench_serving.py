"""The scoring path of issue 15: per-checkout cost, the API under load, the rate sweep, freshness.

1. **Per checkout, in process** (the last :data:`CHECKOUTS` checkouts of ten simulated days, one
   thread): the request's steps timed one by one, wall and CPU: the checkout's raw row in Python
   (:func:`~bnpl.serving.checkout.fast_raw_row`, served) and by the live path's Polars parse
   (:func:`~bnpl.serving.checkout.raw_row`), the store read, the features by the Python evaluator
   (:mod:`bnpl.serving.fast`, the served path) and, in the same run, by the training SQL
   in-process (:mod:`bnpl.serving.features`, the parity reference and the old path), and the
   champion's score with its reasons.
2. **The API** (``bnpl serve`` under uvicorn) at ``BENCH_SERVING_RATE`` (200) requests/s for
   ``BENCH_SERVING_SECONDS`` (60), after ``BENCH_SERVING_WARMUP_SECONDS`` (10) of warm-up
   (reported apart), through wrk (:mod:`bench.serving_load`, the live bench's replay script):
   p50/p99, the server's and wrk's CPU.
3. **Rate sweep**: ``BENCH_SERVING_SWEEP`` (rates, comma-separated) for
   ``BENCH_SERVING_SWEEP_SECONDS`` each, stopping at the first whose p99 is over 25 ms or that
   answers anything but 2xx; the highest rate that passed is reported.
4. **Freshness** (:mod:`bench.serving_fresh`): ``BENCH_SERVING_FRESH_EVENTS`` events at
   ``BENCH_SERVING_FRESH_RATE``/s, acknowledged by the event log -> loaded -> in the online store.

Targets (issue 15): p50 <= 3 ms and p99 <= 10 ms at 200/s for 60 s; freshness p99 <= 2 s.
Set the durations short to run on a loaded machine; the report states what was used.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

COMMAND = ".venv/bin/python -m bench serving"
CHECKOUTS = 200
TOKEN = "bench-token-0123456789"
P99_LIMIT_MS = 25.0


def _env(name: str, default: str) -> str:
    return os.environ.get(f"BENCH_SERVING_{name}", default)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _timed(wall: list[float], cpu: list[float], step: Callable[..., Any], *args: Any) -> Any:
    c0, t0 = time.process_time(), time.perf_counter()
    out = step(*args)
    wall.append(time.perf_counter() - t0)
    cpu.append(time.process_time() - c0)
    return out


def _in_process(served: Any, env: dict[str, str]) -> tuple[str, list[str]]:
    from bnpl.serving.checkout import Checkout, fast_raw_row, raw_row
    from bnpl.serving.fast import FastFeatures
    from bnpl.serving.features import OnlineFeatures
    from bnpl.serving.scorer import ModelSlot, score_features
    from bnpl.serving.store import SqliteStore
    from bnpl.settings import load_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("BNPL_")}
    os.environ.update(env)
    try:
        settings = load_settings()
    finally:
        for name in env:
            os.environ.pop(name, None)
        os.environ.update(saved)
    slot = ModelSlot(settings, settings.serving.champion_alias)
    assert slot.refresh() and slot.current is not None
    store = SqliteStore(served.store_path)
    fast, sql = FastFeatures(), OnlineFeatures()
    steps = [
        "checkout row: Python",
        "checkout row: Polars",
        "store read",
        "features: Python",
        "features: SQL",
        "score",
    ]
    wall: dict[str, list[float]] = {s: [] for s in steps}
    cpu: dict[str, list[float]] = {s: [] for s in steps}
    mismatched = 0
    for i, body in enumerate(served.bodies[-CHECKOUTS - 1 :]):
        checkout = Checkout.model_validate(body)

        def timed(step: str, fn: Callable[..., Any], *args: Any) -> Any:
            return _timed(wall[step], cpu[step], fn, *args)

        row = timed("checkout row: Python", fast_raw_row, checkout)
        timed("checkout row: Polars", raw_row, checkout)
        history = timed("store read", store.history, row["customer_key"], row["transaction_date"])
        got = timed("features: Python", fast.compute, row, history)
        ref = timed("features: SQL", sql.compute, row, history)
        timed("score", score_features, slot.current, got, settings.serving)
        mismatched += got != ref
        if i == 0:  # warm-up
            for s in steps:
                wall[s].clear()
                cpu[s].clear()
    fast.close()
    sql.close()
    store.close()
    lines = [
        "| step | p50 wall ms | p99 wall ms | mean CPU ms |",
        "|---|---:|---:|---:|",
    ]
    for s in steps:
        lines.append(
            f"| {s} | {_pct(wall[s], 0.5) * 1000:.3f} | {_pct(wall[s], 0.99) * 1000:.3f} "
            f"| {statistics.fmean(cpu[s]) * 1000:.3f} |"
        )
    served_cpu = sum(statistics.fmean(cpu[s]) for s in steps if not s.endswith(("SQL", "Polars")))
    old_cpu = sum(statistics.fmean(cpu[s]) for s in steps if not s.endswith("Python"))
    notes = [
        f"Request work, served path (Python row + read + Python features + score): "
        f"{served_cpu * 1000:.2f} CPU-ms per checkout; with the Polars row and SQL features: "
        f"{old_cpu * 1000:.2f} CPU-ms. Python and SQL features differed on {mismatched} of "
        f"{CHECKOUTS} checkouts (exact dict equality).",
    ]
    return "\n".join(lines), notes


def _load(served: Any, tmp: Path, env: dict[str, str]) -> tuple[str, list[str]]:
    from bench.serving_load import LOAD_HEADER, paced_run, serve

    rate = float(_env("RATE", "200"))
    seconds = float(_env("SECONDS", "60"))
    sweep = [float(r) for r in _env("SWEEP", "300,400,600,800").split(",") if r]
    sweep_s = float(_env("SWEEP_SECONDS", "20"))
    bodies = served.bodies[-CHECKOUTS:]
    rows, notes = [LOAD_HEADER], []
    warm_s = float(_env("WARMUP_SECONDS", "10"))
    with serve(env, tmp / "serve.log") as (url, pid):
        if (
            warm_s > 0
        ):  # a server's first seconds (lazy imports, first store pages) are not its rate
            warm = paced_run(url, pid, tmp, bodies, TOKEN, rate=rate, seconds=warm_s)
            r = warm.result
            notes.append(
                f"Warm-up, not in the table: {warm_s:g} s at {rate:g}/s right after the server "
                f"was ready (`BENCH_SERVING_WARMUP_SECONDS`): {warm.ok} 2xx, p50 "
                f"{r.percentile_ms('p50_us'):.2f} ms, p99 {warm.p99_ms():.2f} ms, max "
                f"{r.percentile_ms('max_us'):.1f} ms."
            )
        main = paced_run(url, pid, tmp, bodies, TOKEN, rate=rate, seconds=seconds)
        rows.append(main.row())
        best = rate if main.p99_ms() <= P99_LIMIT_MS and main.result.non_2xx() == 0 else None
        for target in sweep:
            run = paced_run(url, pid, tmp, bodies, TOKEN, rate=target, seconds=sweep_s)
            rows.append(run.row())
            achieved = run.ok / max(run.result.elapsed_s, run.seconds)
            if run.p99_ms() > P99_LIMIT_MS or run.result.non_2xx() or achieved < 0.95 * target:
                break
            best = target
    notes.append(
        f"Highest rate tried with p99 <= {P99_LIMIT_MS:.0f} ms, only 2xx and >= 95% of the "
        f"target answered: {f'{best:.0f}/s' if best else 'none'}."
    )
    return "\n".join(rows), notes


def _fresh(tmp: Path) -> str:
    from bench.serving_fresh import measure

    events = int(_env("FRESH_EVENTS", "300"))
    rate = float(_env("FRESH_RATE", "50"))
    got = measure(tmp, events=events, rate=rate)
    return (
        f"Freshness: {got.events} events at {got.rate:.0f}/s (loader batches of "
        f"<= {got.batch_max_ms} ms), acknowledged -> in the online store: p50 "
        f"{got.pct(0.5) * 1000:.0f} ms, p99 {got.pct(0.99) * 1000:.0f} ms, max "
        f"{max(got.lags_s) * 1000:.0f} ms (target p99 <= 2 s); process CPU {got.cpu_s:.1f} s."
    )


def main() -> str:
    sys.path.insert(0, str(Path(__file__).parents[1]))
    from bench.serving_setup import prepare, settings_env

    load = os.getloadavg()
    cpu0 = time.process_time()
    parts = [s for s in _env("PARTS", "checkout,api,fresh").split(",") if s]
    out: list[str] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        served = prepare(tmp, date(2024, 1, 1), date(2024, 1, 10), TOKEN)
        env = settings_env(tmp, served.store_path, served.store_dir, TOKEN)
        if "checkout" in parts:
            table, notes = _in_process(served, env)
            out += [f"Per checkout, in process ({CHECKOUTS} checkouts, one thread):", "", table]
            out += ["", *notes, ""]
        if "api" in parts:
            table, notes = _load(served, tmp, env)
            out += ["`bnpl serve` (uvicorn, one process) under wrk, loopback:", "", table]
            out += ["", *notes, ""]
        if "fresh" in parts:
            out += [_fresh(tmp), ""]
    settings = ", ".join(
        f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith("BENCH_SERVING_")
    )
    head = (
        f"Command: `{settings + ' ' if settings else ''}{COMMAND}`. Load average before: "
        f"{load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (2 shared cores). Bench process CPU "
        f"{time.process_time() - cpu0:.1f} s (setup included; the server's and wrk's are in "
        "the table)."
    )
    return "\n".join([head, "", *out])
