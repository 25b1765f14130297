"""The challenger in shadow: the scoring API (Starlette, lifespan and all) with a real MLflow
store, SQLite online store and SQLite scores log; the live loader writes the scores into a real
DuckDB bnpl_raw.scores exactly once, across redelivery and replay."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from live_data import captured_checkout
from mlflow_store import seed_store
from redis_server import RedisServer
from registry_helpers import RISK_FEATURES, Register, risk_model
from starlette.testclient import TestClient

from bnpl.governance import registry
from bnpl.live.engines import open_event_log
from bnpl.live.log import Event
from bnpl.serving.asgi import create_app
from bnpl.serving.scorer import Score
from bnpl.serving.scores import fingerprint, score_loader
from bnpl.serving.shadow import Job, ShadowScorer
from bnpl.settings import Settings, load_settings
from bnpl.timeutil import utc_now
from bnpl.warehouse.duckdb import DuckDBWarehouse

pytestmark = pytest.mark.slow

TOKEN = "test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}


def _checkouts(n: int, first: int = 0) -> list[dict[str, Any]]:
    """``n`` checkouts of the captured record, each with its own transaction id."""
    record = captured_checkout()
    return [{**record, "transaction_id": f"shadow-{first + i}"} for i in range(n)]


@pytest.fixture
def env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mlflow_db: Path
) -> Callable[..., Settings]:
    """Settings of this test's stores (MLflow: a copy of the session's empty one) and logs, with
    extra ``BNPL_`` variables when asked."""
    seed_store(mlflow_db, tmp_path / "mlflow")
    base = {
        "BNPL_WAREHOUSE__PATH": tmp_path / "bnpl.duckdb",
        "BNPL_MODEL__STORE_DIR": tmp_path / "mlflow",
        "BNPL_SERVING__STORE_PATH": tmp_path / "online.sqlite",
        "BNPL_SERVING__SCORE_LOG_PATH": tmp_path / "scores.sqlite",
        "BNPL_LIVE__LOG_PATH": tmp_path / "events.sqlite",
        "BNPL_SERVING__TOKENS": TOKEN,
        "BNPL_SERVING__POLL_S": "0.3",
        "BNPL_LIVE__CLAIM_IDLE_MS": "100",
        "BNPL_LIVE__BATCH_MAX_MS": "50",
    }

    def make(**extra: str) -> Settings:
        for name, value in {**base, **extra}.items():
            monkeypatch.setenv(name, str(value))
        return load_settings()

    return make


@pytest.fixture
def settings(env: Callable[..., Settings]) -> Settings:
    """The default settings of this test (the register fixture's store)."""
    return env()


@pytest.fixture
def warehouse(settings: Settings) -> Iterator[DuckDBWarehouse]:
    """This test's DuckDB warehouse, open."""
    wh = DuckDBWarehouse(settings.warehouse)
    try:
        yield wh
    finally:
        wh.close()


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def _metric(client: TestClient, name: str) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _serve(settings: Settings, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Score ``bodies`` once the challenger (when registered) is loaded; wait until every
    request was logged; stop the app."""
    with TestClient(create_app(settings)) as client:
        service = client.app.state.service  # type: ignore[attr-defined]
        if registry.CHALLENGER in _aliases(settings):
            _wait(lambda: service.shadow.challenger.current is not None, "challenger not loaded")
        answers = []
        for body in bodies:
            response = client.post("/v1/score", json=body, headers=AUTH)
            assert response.status_code == 200, response.text
            answers.append(response.json())
        _wait(
            lambda: _metric(client, "bnpl_score_log_appended_total") == len(bodies),
            "scores not logged",
        )
    return answers


def _aliases(settings: Settings) -> set[str]:
    from bnpl.governance import store

    client = store.open_client(settings)
    return set(client.get_registered_model(settings.model.registered_model).aliases)


def _load(settings: Settings, warehouse: DuckDBWarehouse) -> pl.DataFrame:
    with open_event_log(settings, stream="scores") as log:
        score_loader(log, warehouse, settings).run(once=True)
    return warehouse.query("SELECT * FROM bnpl_raw.scores ORDER BY request_id, role")


def test_champion_and_shadow_scores_land_in_bnpl_raw_scores_exactly_once(
    settings: Settings, register: Register, warehouse: DuckDBWarehouse
) -> None:
    """Both scores of every request are loaded once, as answered, with versions and the
    features' fingerprint; redelivery after a crash before the ack and a replay from the start
    write nothing twice."""
    champion = register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    challenger = register(risk_model(-1.0)[0], RISK_FEATURES)
    answers = _serve(settings, _checkouts(12))
    rows = _load(settings, warehouse)
    assert rows.height == 24
    assert rows.select("request_id", "role").n_unique() == 24
    by_role = {role: rows.filter(pl.col("role") == role) for role in ("champion", "challenger")}
    assert by_role["champion"]["model_version"].unique().to_list() == [champion]
    assert by_role["challenger"]["model_version"].unique().to_list() == [challenger]
    for answer in answers:
        mine = rows.filter(pl.col("request_id") == answer["request_id"])
        assert mine.height == 2
        champ = mine.filter(pl.col("role") == "champion").row(0, named=True)
        assert champ["score"] == answer["score"] and champ["decision"] == answer["decision"]
        assert mine["features_fingerprint"].unique().to_list() == [fingerprint(answer["features"])]
        assert str(mine["transaction_date"][0]) == "2024-11-28"
    # opposite models: the shadow score is not the champion's
    assert (by_role["champion"]["score"] != by_role["challenger"]["score"]).all()

    # a loader that wrote a batch and died before acknowledging it; a new one takes it over
    more = _serve(settings, _checkouts(5, first=100))
    with open_event_log(settings, stream="scores") as log:
        crashed = score_loader(log, warehouse, settings, consumer="dies")
        delivered = crashed.collect()
        crashed._write(delivered)  # committed, never acknowledged
        time.sleep(0.2)  # past BNPL_LIVE__CLAIM_IDLE_MS
        stats = score_loader(log, warehouse, settings, consumer="takes-over").run(once=True)
        assert stats.events == len(more)  # redelivered, and written again to the same rows
        log.seek(settings.serving.score_loader_group, dict.fromkeys(range(log.partitions), ""))
        replay = score_loader(log, warehouse, settings, consumer="takes-over").run(once=True)
        assert replay.events == 17
    rows = warehouse.query("SELECT request_id, role FROM bnpl_raw.scores")
    assert rows.height == 34 and rows.n_unique() == 34


def test_champion_score_is_logged_without_a_challenger(
    settings: Settings, register: Register, capsys: pytest.CaptureFixture[str]
) -> None:
    """With only a champion, each request still logs its one score; `bnpl serving load-scores
    --once` loads them."""
    from bnpl.cli import main
    from bnpl.governance import store

    version = register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    store.open_client(settings).delete_registered_model_alias(
        settings.model.registered_model, registry.CHALLENGER
    )
    _serve(settings, _checkouts(3))
    try:
        main(["serving", "load-scores", "--once"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    assert "loaded 3 scored requests in 1 batches: 3 scores, 0 dead letters" in (
        capsys.readouterr().out
    )
    warehouse = DuckDBWarehouse(settings.warehouse)
    try:
        rows = warehouse.query("SELECT role, model_version FROM bnpl_raw.scores")
    finally:
        warehouse.close()
    assert rows["role"].to_list() == ["champion"] * 3
    assert rows["model_version"].to_list() == [version] * 3


def test_a_full_queue_or_a_failing_log_never_fails_or_holds_a_request(
    env: Callable[..., Settings],
    register: Register,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The scores log locked by another writer: every request is answered while the worker
    waits (the queue of 2 fills and the rest are dropped, counted, and every drop is in a
    warning by the time the app stopped); with a short lock wait the appends fail, are counted,
    and requests are still answered."""
    settings = env(
        BNPL_SERVING__SHADOW_QUEUE="2",
        BNPL_SERVING__SCORE_LOG_BATCH="1",
        BNPL_LIVE__LOG_BUSY_TIMEOUT_S="120",
    )
    register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    open_event_log(settings, stream="scores").close()  # the log exists
    lock = sqlite3.connect(settings.serving.score_log_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")  # another writer holds the log
    try:
        with TestClient(create_app(settings)) as client:
            codes = [
                client.post("/v1/score", json=body, headers=AUTH).status_code
                for body in _checkouts(20)
            ]
            # answered while the log is locked for up to 120 s: nothing waited on it
            assert codes == [200] * 20
            assert _metric(client, "bnpl_shadow_dropped_total") >= 20 - 2 - 1
            assert _metric(client, "bnpl_score_log_appended_total") == 0
            lock.execute("ROLLBACK")
            _wait(lambda: _metric(client, "bnpl_score_log_appended_total") >= 1, "no append")
            dropped = _metric(client, "bnpl_shadow_dropped_total")
    finally:
        lock.close()
    logged = re.findall(r"shadow queue full \(2\): (\d+) scored requests", caplog.text)
    assert sum(int(n) for n in logged) == dropped

    short = env(BNPL_LIVE__LOG_BUSY_TIMEOUT_S="0.05", BNPL_SERVING__SHADOW_QUEUE="100")
    lock = sqlite3.connect(short.serving.score_log_path, isolation_level=None)
    lock.execute("BEGIN IMMEDIATE")
    try:
        with TestClient(create_app(short)) as client:
            for body in _checkouts(3, first=50):
                assert client.post("/v1/score", json=body, headers=AUTH).status_code == 200
            _wait(lambda: _metric(client, "bnpl_score_log_failures_total") == 3, "not counted")
    finally:
        lock.close()


def test_an_event_that_is_not_a_scores_event_is_a_dead_letter(
    settings: Settings, warehouse: DuckDBWarehouse
) -> None:
    """A malformed scores event is quarantined with its raw body, not lost, not loaded."""
    with open_event_log(settings, stream="scores") as log:
        log.append([Event("bad-1", "c", b'{"request_id": "bad-1"}', utc_now(), source="scores")])
        stats = score_loader(log, warehouse, settings).run(once=True)
    assert (stats.rows, stats.dead_letters) == (0, 1)
    dead = warehouse.query(
        "SELECT event_id, check_name, raw_line FROM bnpl_raw.quarantine WHERE event_id = 'bad-1'"
    )
    assert dead.row(0) == ("bad-1", "score_event_unparseable", '{"request_id": "bad-1"}')


def test_fingerprint_is_stable_and_sensitive() -> None:
    """The same features in any order give one fingerprint; a changed value or name another."""
    a = {"risk_score": 0.25, "product_category": "home", "prior_txn_count_28d": 3}
    b = dict(reversed(list(a.items())))
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint({**a, "risk_score": 0.2500000001})
    assert fingerprint(a) != fingerprint({**a, "prior_txn_count_7d": 3})
    assert len(fingerprint(a)) == 64


def test_scores_go_through_their_own_redis_stream(
    env: Callable[..., Settings], register: Register, redis_server: RedisServer
) -> None:
    """On the Redis engine the scores are a stream of their own prefix on the same server (the
    webhook events' stream stays empty) and load the same way."""
    tag = f"{os.getpid()}x{time.monotonic_ns()}"
    settings = env(
        BNPL_LIVE__LOG_ENGINE="redis",
        BNPL_LIVE__LOG_REDIS_URL=redis_server.url,
        BNPL_LIVE__LOG_REDIS_PREFIX=f"test:events:{tag}",
        BNPL_SERVING__SCORE_LOG_REDIS_PREFIX=f"test:scores:{tag}",
    )
    register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    answers = _serve(settings, _checkouts(3))
    with open_event_log(settings, stream="scores") as scores, open_event_log(settings) as events:
        assert scores.stats("nobody").depth == 3
        assert events.stats("nobody").depth == 0
    warehouse = DuckDBWarehouse(settings.warehouse)
    try:
        rows = _load(settings, warehouse)
    finally:
        warehouse.close()
    assert sorted(rows["request_id"]) == sorted(a["request_id"] for a in answers)


def test_a_row_the_challenger_cannot_score_costs_only_its_own_shadow_score(
    settings: Settings, register: Register
) -> None:
    """A chunk whose one row fails the challenger is scored again row by row: the other rows
    keep their challenger scores and one failure is counted."""
    from prometheus_client import CollectorRegistry

    champion = register(risk_model(+1.0)[0], RISK_FEATURES, alias=registry.CHAMPION)
    register(risk_model(-1.0)[0], RISK_FEATURES, alias=registry.CHALLENGER)
    shadow = ShadowScorer(settings, CollectorRegistry())
    assert shadow.challenger.refresh()
    good = {"risk_score": 0.5, "amount_cents": 1200.0, "prior_txn_count_28d": 1.0,
            "product_category": "home"}  # fmt: skip
    features = [good, {**good, "risk_score": "not a number"}, good]
    jobs = [
        Job(f"r{i}", {}, f, Score(0.5, "approve", (), "m", champion), utc_now())
        for i, f in enumerate(features)
    ]
    scores = shadow._shadow_scores(jobs)
    assert [s is not None for s in scores] == [True, False, True]
    assert shadow.shadow_failed._value.get() == 1
    assert shadow.shadow_scored._value.get() == 2
