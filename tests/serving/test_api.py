"""The scoring API on a real uvicorn, with a real MLflow store and SQLite online store."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_data import captured_checkout
from mlflow_store import seed_store
from redis_server import RedisServer
from registry_helpers import RISK_FEATURES, Register, risk_model
from simulator_helpers import free_port

from bnpl.governance import registry
from bnpl.settings import Settings, load_settings

pytestmark = pytest.mark.slow

TOKEN = "test-token-0123456789"


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db: Path) -> Settings:
    """Settings with this test's MLflow store (a copy of the session's empty one), online store
    and token; fast alias polling."""
    seed_store(mlflow_db, tmp_path / "mlflow")
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "bnpl.duckdb"))
    monkeypatch.setenv("BNPL_MODEL__STORE_DIR", str(tmp_path / "mlflow"))
    monkeypatch.setenv("BNPL_SERVING__STORE_PATH", str(tmp_path / "online.sqlite"))
    monkeypatch.setenv("BNPL_SERVING__TOKENS", TOKEN)
    monkeypatch.setenv("BNPL_SERVING__POLL_S", "0.5")
    monkeypatch.setenv("BNPL_SERVING__MAX_BODY_BYTES", "4096")
    return load_settings()


class Server:
    """The app under a real uvicorn server in a thread, on a free loopback port."""

    def __init__(self, settings: Settings) -> None:
        import uvicorn

        from bnpl.serving.asgi import create_app

        self.port = free_port()
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(settings), host="127.0.0.1", port=self.port, log_level="warning"
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.05)
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60)

    def score(self, body: Any, token: str | None = TOKEN, **kwargs: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return self.client.post("/v1/score", json=body, headers=headers, **kwargs)

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def server(settings: Settings, register: Register) -> Iterator[Server]:
    """A running scoring API with a champion registered (the shared ``register`` fixture)."""
    register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    running = Server(settings)
    try:
        yield running
    finally:
        running.stop()


def test_score_returns_a_decision_from_the_champion(server: Server) -> None:
    """A valid checkout gets a score, decision, reasons, the model version and its features."""
    response = server.score(captured_checkout())
    assert response.status_code == 200, response.text
    body = response.json()
    assert 0 <= body["score"] <= 1
    assert body["decision"] in {"approve", "review", "decline"}
    assert body["model_version"] == 1
    assert body["cold_start"] is True
    assert body["features"]["prior_txn_count_365d"] == 0
    assert body["features"]["risk_score"] == pytest.approx(captured_checkout()["risk_score"])
    assert body["reasons"] and body["reasons"][0]["feature"] in RISK_FEATURES
    risky = server.score({**captured_checkout(), "risk_score": 0.8}).json()
    safe = server.score({**captured_checkout(), "risk_score": 0.11}).json()
    assert risky["score"] > safe["score"]
    assert server.client.get("/readyz").json()["model_version"] == 1
    metrics = server.client.get("/metrics").text
    assert 'bnpl_score_requests_total{status="200"} 3.0' in metrics


def test_bad_requests_get_clear_statuses(server: Server) -> None:
    """401 without or with a wrong token, 422 naming missing/mistyped fields, 422 for outcome
    fields, 413 over the body limit."""
    assert server.score(captured_checkout(), token=None).status_code == 401
    assert server.score(captured_checkout(), token="wrong").status_code == 401
    broken = {**captured_checkout(), "amount": "12.5"}
    del broken["customer_id"]
    response = server.score(broken)
    assert response.status_code == 422
    assert set(response.json()["fields"]) == {"amount", "customer_id"}
    outcome = server.score({**captured_checkout(), "will_default": False})
    assert outcome.status_code == 422 and outcome.json()["fields"] == ["will_default"]
    big = server.score({**captured_checkout(), "padding": "x" * 5000})
    assert big.status_code == 413
    wrong_method = server.client.get("/v1/score")
    assert (wrong_method.status_code, wrong_method.headers["allow"]) == (405, "POST")
    assert server.client.post("/healthz").headers["allow"] == "GET, HEAD"


def test_a_new_champion_is_picked_up_without_dropping_requests(
    server: Server, register: Register
) -> None:
    """Moving the alias swaps the model while requests keep succeeding."""
    register(risk_model(-1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    seen: set[int] = set()
    deadline = time.monotonic() + 120
    while 2 not in seen:
        assert time.monotonic() < deadline, "new champion not picked up"
        response = server.score(captured_checkout())
        assert response.status_code == 200, response.text
        seen.add(response.json()["model_version"])
    assert seen <= {1, 2}


def test_no_champion_means_503_and_not_ready(settings: Settings) -> None:
    """Without a champion the API answers 503 and /readyz is false."""
    running = Server(settings)
    try:
        response = running.score(captured_checkout())
        assert response.status_code == 503
        ready = running.client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["ready"] is False
        assert running.client.get("/healthz").status_code == 200
    finally:
        running.stop()


def test_not_ready_until_the_scoring_path_was_warmed(
    settings: Settings, register: Register
) -> None:
    """A store that answers a ping but whose history cannot be read keeps /readyz at 503 ("not warmed"): the
    warm-up scores through the real path; once the store is readable the next /readyz warms
    and says ready."""
    import sqlite3

    from bnpl.serving.store import SqliteStore

    register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    path = settings.serving.store_path
    SqliteStore(path).close()
    with sqlite3.connect(path) as con:  # a history table the store's read fails on
        con.execute("DROP TABLE history")
        con.execute("CREATE TABLE history (customer_key TEXT, transaction_date TEXT)")
    running = Server(settings)
    try:
        ready = running.client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["problems"] == ["scoring path not warmed yet"]
        with sqlite3.connect(path) as con:
            con.execute("DROP TABLE history")
        SqliteStore(path).close()  # the store's schema again: readable
        ready = running.client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["ready"] is True
        assert running.score(captured_checkout()).status_code == 200
    finally:
        running.stop()


def test_a_stalled_redis_store_does_not_stall_healthz(
    settings: Settings, register: Register, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the Redis online store frozen (SIGSTOP), a checkout waits for the store's timeout and
    gets 503, while /healthz keeps answering at once; after SIGCONT scoring works again."""
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    monkeypatch.setenv("BNPL_SERVING__STORE_ENGINE", "redis")
    monkeypatch.setenv("BNPL_SERVING__STORE_REDIS_URL", redis.url)
    register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    running = Server(load_settings())
    assert redis.process is not None
    try:
        assert running.score(captured_checkout()).status_code == 200
        redis.process.send_signal(signal.SIGSTOP)
        answers: list[int] = []
        stuck = threading.Thread(
            target=lambda: answers.append(running.score(captured_checkout()).status_code)
        )
        stuck.start()
        time.sleep(0.5)  # the checkout is waiting on the frozen store now
        started = time.monotonic()
        assert running.client.get("/healthz", timeout=2).status_code == 200
        assert time.monotonic() - started < 1.0
        assert stuck.is_alive()
        stuck.join(timeout=30)
        assert answers == [503]
    finally:
        redis.process.send_signal(signal.SIGCONT)
    try:
        assert running.score(captured_checkout()).status_code == 200
    finally:
        running.stop()
        redis.stop()
