"""``bnpl serve`` as its own process (uvicorn, the plain ASGI app) with a champion, a challenger
in shadow and the scores log: ready only once warmed, answers, shadow-scores, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_data import captured_checkout
from mlflow_store import seed_store
from registry_helpers import RISK_FEATURES, Register, risk_model
from simulator_helpers import free_port

from bnpl.governance import registry
from bnpl.settings import Settings, load_settings

pytestmark = pytest.mark.slow

TOKEN = "test-token-0123456789"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db: Path) -> Settings:
    """This test's MLflow store (a copy of the session's empty one), online store and scores log
    (the server's settings too)."""
    seed_store(mlflow_db, tmp_path / "mlflow")
    for name, value in {
        "BNPL_WAREHOUSE__PATH": tmp_path / "bnpl.duckdb",
        "BNPL_MODEL__STORE_DIR": tmp_path / "mlflow",
        "BNPL_SERVING__STORE_PATH": tmp_path / "online.sqlite",
        "BNPL_SERVING__SCORE_LOG_PATH": tmp_path / "scores.sqlite",
        "BNPL_SERVING__TOKENS": TOKEN,
        "BNPL_SERVING__POLL_S": "0.3",
        "BNPL_SERVING__SCORE_LOG_LINGER_S": "0.05",
    }.items():
        monkeypatch.setenv(name, str(value))
    return load_settings()


class Served:
    """``bnpl serve`` processes started by a test, and their shared log file."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, port: int) -> subprocess.Popen[bytes]:
        command = [str(Path(sys.executable).parent / "bnpl"), "serve", "--port", str(port)]
        with self.log.open("wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process


@pytest.fixture
def serve(settings: Settings, tmp_path: Path) -> Iterator[Served]:
    """Starts ``bnpl serve`` when asked; each still running at the end is killed."""
    served = Served(tmp_path / "serve.log")
    yield served
    for process in served.processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


def _metric(client: httpx.Client, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def test_bnpl_serve_warms_answers_shadow_scores_and_stops(
    serve: Served, register: Register
) -> None:
    """/readyz says ready only after the warm-up ran (nothing of it counted or logged); scores
    come from the champion; the challenger scores every request in shadow and every request is
    logged once; SIGTERM stops the server cleanly."""
    register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    register(risk_model(-1.0)[0], RISK_FEATURES)  # the challenger
    log = serve.log
    port = free_port()
    process = serve.start(port)
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "bnpl serve not ready"
        try:
            ready = client.get("/readyz")
        except httpx.TransportError:
            time.sleep(0.1)
            continue
        if ready.status_code == 200:
            break
        assert ready.json()["ready"] is False
        time.sleep(0.1)
    assert "scoring path warmed" in log.read_text()
    assert ready.json() == {
        "ready": True,
        "model_name": ready.json()["model_name"],
        "model_version": 1,
    }
    assert "bnpl_score_requests_total{" not in client.get("/metrics").text  # warm-up uncounted
    deadline = time.monotonic() + 60  # the worker loads the challenger itself
    while "version 2 as challenger" not in log.read_text():
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    auth = {"authorization": f"Bearer {TOKEN}"}
    for i in range(10):
        body = {**captured_checkout(), "transaction_id": f"serve-{i}"}
        answer = client.post("/v1/score", json=body, headers=auth)
        assert answer.status_code == 200, answer.text
        assert answer.json()["model_version"] == 1
        assert answer.json()["features"]["transaction_date"] == "2024-11-28"
    assert client.post("/v1/score", json=captured_checkout()).status_code == 401
    deadline = time.monotonic() + 30
    while _metric(client, "bnpl_score_log_appended_total") < 10:
        assert time.monotonic() < deadline, "scores not logged"
        time.sleep(0.05)
    assert _metric(client, "bnpl_score_log_appended_total") == 10
    assert _metric(client, "bnpl_shadow_scores_total") == 10
    assert _metric(client, "bnpl_shadow_dropped_total") == 0
    client.close()
    process.send_signal(signal.SIGTERM)
    # uvicorn shuts down, then re-raises the signal it caught: killed by SIGTERM after a clean stop
    assert process.wait(timeout=60) in (0, -signal.SIGTERM), log.read_text()
    assert "Traceback" not in log.read_text() and " ERROR " not in log.read_text()
