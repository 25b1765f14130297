"""What the challenger in shadow and the score log cost a request (issue 15: <= 1 ms at p99).

The scoring app (Starlette, in-process through its test client: no network, one client) with a
champion and a challenger registered in a temporary MLflow store, an empty SQLite online store
(every checkout a cold start) and the SQLite scores log. The same 400 checkouts are scored three
times: with ``BNPL_SERVING__SCORE_LOG=false`` (the baseline, no worker), with the worker logging
the champion's score and scoring the challenger in shadow, and the baseline again. Reports p50 and
p99 wall time per request and the process CPU (user+sys, every thread: the worker's included)
per request.
"""

from __future__ import annotations

import gzip
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

COMMAND = ".venv/bin/python -m bench shadow"
REQUESTS = 400
TOKEN = "bench-token-0123456789"
FEATURES = ["risk_score", "amount_cents", "prior_txn_count_28d", "product_category"]


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _checkouts(root: Path) -> list[dict[str, Any]]:
    path = root / "tests" / "fixtures" / "simtom" / "hist_2024-11-28_3days_base200_seed42.txt.gz"
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    records = [json.loads(x[6:]) for x in lines if x.startswith("data: {")][:REQUESTS]
    out = []
    for r in records:
        for name in ("will_default", "days_to_first_missed_payment", "_timestamp"):
            r.pop(name, None)
        r.pop("_record_id", None)
        r.pop("_generator", None)
        out.append({**r, "timestamp": "2024-11-28T10:00:00"})
    return out


def _register(settings: Any, sign: float, alias: str) -> None:
    import numpy as np
    import polars as pl

    from bench.serving_setup import register_model
    from bnpl.features.training import feature_columns
    from bnpl.governance import estimator

    catalog = {f.name: f for f in feature_columns()}
    rng = np.random.default_rng(0)
    risk = rng.uniform(0.1, 0.8, 2000)
    frame = pl.DataFrame(
        {
            "risk_score": risk,
            "amount_cents": rng.integers(1000, 50000, 2000),
            "prior_txn_count_28d": rng.integers(0, 5, 2000),
            "product_category": rng.choice(["electronics", "clothing", "home"], 2000),
        }
    )
    y = rng.random(2000) < 1 / (1 + np.exp(-sign * 10 * (risk - 0.45)))
    model = estimator.fit_pipeline(frame, y, [catalog[c] for c in FEATURES])
    register_model(
        settings,
        model,
        FEATURES,
        alias,
        as_of="2024-06-30",
        train_start="2024-01-01",
        train_end="2024-05-31",
    )


def _run(settings: Any, bodies: list[dict[str, Any]]) -> tuple[list[float], float, int]:
    from starlette.testclient import TestClient

    from bnpl.serving.asgi import create_app

    headers = {"authorization": f"Bearer {TOKEN}"}
    with TestClient(create_app(settings)) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        if service.shadow is not None:
            deadline = time.monotonic() + 120
            while service.shadow.challenger.current is None and time.monotonic() < deadline:
                time.sleep(0.05)
        for body in bodies[:20]:  # warm-up
            client.post("/v1/score", json=body, headers=headers)
        wall = []
        cpu0 = time.process_time()
        for body in bodies:
            t0 = time.perf_counter()
            response = client.post("/v1/score", json=body, headers=headers)
            wall.append(time.perf_counter() - t0)
            assert response.status_code == 200, response.text
        cpu = time.process_time() - cpu0
        shadow = int(service.shadow.shadow_scored._value.get()) if service.shadow else 0
    return wall, cpu, shadow


def main() -> str:
    root = Path(__file__).parents[1]
    sys.path.insert(0, str(root))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from bnpl.settings import load_settings

    bodies = _checkouts(root)
    with tempfile.TemporaryDirectory() as tmp:
        for name in [n for n in os.environ if n.startswith("BNPL_")]:
            del os.environ[name]
        os.environ.update(
            {
                "BNPL_MODEL__STORE_DIR": f"{tmp}/mlflow",
                "BNPL_SERVING__STORE_PATH": f"{tmp}/online.sqlite",
                "BNPL_SERVING__SCORE_LOG_PATH": f"{tmp}/scores.sqlite",
                "BNPL_SERVING__TOKENS": TOKEN,
            }
        )
        settings = load_settings()
        _register(settings, +1.0, "champion")
        _register(settings, -1.0, "challenger")
        rows = []
        for label, log in (("off", "false"), ("on", "true"), ("off again", "false")):
            os.environ["BNPL_SERVING__SCORE_LOG"] = log
            wall, cpu, shadow = _run(load_settings(), bodies)
            rows.append(
                f"| shadow + score log {label} | {len(wall)} | {1000 * statistics.median(wall):.2f}"
                f" | {1000 * _pct(wall, 0.99):.2f} | {1000 * cpu / len(wall):.2f} | {shadow} |"
            )
    return "\n".join(
        [
            f"`{COMMAND}` ({REQUESTS} checkouts, one client, in-process test client, cold-start"
            " features; CPU is the whole process's user+sys, the shadow worker's included)",
            "",
            "| run | requests | p50 ms | p99 ms | CPU ms / request | challenger scores |",
            "|---|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
