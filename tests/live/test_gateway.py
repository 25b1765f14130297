"""The webhook gateway: a real ``bnpl live gateway`` process on a free port, a real event log."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from event_log_children import LogSpec
from live_gateway_helpers import (
    CURRENT,
    PREVIOUS,
    UNKNOWN,
    Gateway,
    running_gateway,
)
from redis_server import RedisServer

from bnpl import record
from bnpl.cli import main
from bnpl.settings import PushSettings
from bnpl.signing import Signer
from bnpl.simulator.push_events import EventSource, utcnow

pytestmark = pytest.mark.slow


def _record(seed: int = 5) -> bytes:
    return EventSource(PushSettings(), seed=seed).next_event(utcnow()).body


def _post(
    gateway: Gateway,
    body: bytes,
    *,
    msg_id: str = "msg_test_1",
    secret: str = CURRENT,
    at: int | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    signed = Signer(secret).headers(msg_id, int(time.time()) if at is None else at, body)
    signed.update(headers or {})
    return httpx.post(gateway.webhook_url, content=body, headers=signed, timeout=30)


_LIMITS = {"max_body_bytes": 4096, "webhook_tolerance_s": 60}


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    """A gateway on a SQLite log with a 4 KiB body limit and a 60 s tolerance."""
    live = {"log_engine": "sqlite", "log_path": tmp_path / "log" / "events.sqlite"}
    with running_gateway(tmp_path, dict(live, **_LIMITS)) as running:
        yield running


@pytest.fixture
def any_gateway(tmp_path: Path, log_spec: LogSpec) -> Iterator[Gateway]:
    """The same gateway on each engine's log (SQLite file, Redis Streams on a real server)."""
    with running_gateway(tmp_path, dict(log_spec, **_LIMITS)) as running:
        yield running


def _outcomes(gateway: Gateway) -> dict[str, float]:
    text = httpx.get(f"{gateway.url}/metrics").text
    out = {}
    for line in text.splitlines():
        if line.startswith("bnpl_gateway_requests_total{"):
            name = line.split('"')[1]
            out[name] = float(line.rsplit(" ", 1)[1])
    return out


def test_signed_record_is_acknowledged_and_stored(any_gateway: Gateway) -> None:
    """A correctly signed record gets 200 and is in the log with its raw body and customer key."""
    body = _record()
    response = _post(any_gateway, body, msg_id="msg_a")
    assert response.status_code == 200 and response.json() == {"status": "accepted"}
    [event] = any_gateway.stored()
    assert (event.event_id, event.payload, event.rejected) == ("msg_a", body, None)
    assert event.key == json.loads(body)["customer_id"]
    assert _outcomes(any_gateway)["accepted"] == 1


def test_repeated_webhook_id_is_acknowledged_once(any_gateway: Gateway) -> None:
    """The same webhook-id twice: 200 both times, one event in the log, a duplicate counted."""
    body = _record()
    assert _post(any_gateway, body, msg_id="msg_dup").status_code == 200
    second = _post(any_gateway, body, msg_id="msg_dup")
    assert second.status_code == 200 and second.json() == {"status": "duplicate"}
    assert [e.event_id for e in any_gateway.stored()] == ["msg_dup"]
    assert "bnpl_gateway_duplicates_total 1.0" in httpx.get(f"{any_gateway.url}/metrics").text


def test_previous_secret_is_accepted_and_unknown_is_not(gateway: Gateway) -> None:
    """Rotation: the previous secret verifies; an unknown one gets 401, counted, nothing stored."""
    assert _post(gateway, _record(), msg_id="msg_prev", secret=PREVIOUS).status_code == 200
    assert _post(gateway, _record(6), msg_id="msg_forged", secret=UNKNOWN).status_code == 401
    assert [e.event_id for e in gateway.stored()] == ["msg_prev"]
    assert _outcomes(gateway)["bad_signature"] == 1


@pytest.mark.parametrize(
    "headers",
    [
        {"webhook-signature": "v1,AAAA"},
        {"webhook-signature": ""},
        {"webhook-id": "msg_other"},  # the signature covers the id
    ],
    ids=["wrong", "missing", "id-changed"],
)
def test_bad_signature_is_401(gateway: Gateway, headers: dict[str, str]) -> None:
    """A wrong, missing or no-longer-matching signature gets 401 and nothing is stored."""
    assert _post(gateway, _record(), headers=headers).status_code == 401
    assert gateway.stored() == []


def test_tampered_body_is_401(gateway: Gateway) -> None:
    """A body changed after signing does not verify."""
    body = _record()
    signed = Signer(CURRENT).headers("msg_t", int(time.time()), body)
    response = httpx.post(gateway.webhook_url, content=body.replace(b"USD", b"EUR"), headers=signed)
    assert response.status_code == 401 and gateway.stored() == []


@pytest.mark.parametrize("offset_s", [-120, 120], ids=["stale", "future"])
def test_timestamp_outside_tolerance_is_400(gateway: Gateway, offset_s: int) -> None:
    """A correctly signed webhook stamped outside the tolerance gets 400; nothing is stored."""
    response = _post(gateway, _record(), at=int(time.time()) + offset_s)
    assert response.status_code == 400 and "tolerance" in response.json()["status"]
    assert gateway.stored() == []
    assert _outcomes(gateway)["bad_timestamp"] == 1


def test_timestamp_not_integer_is_400(gateway: Gateway) -> None:
    """webhook-timestamp that is not integer seconds gets 400."""
    response = _post(gateway, _record(), headers={"webhook-timestamp": "1.5e9"})
    assert response.status_code == 400 and gateway.stored() == []


def test_body_over_limit_is_413(gateway: Gateway) -> None:
    """A body over max_body_bytes gets 413, declared or streamed without a length."""
    big = b"x" * 5000
    assert _post(gateway, big).status_code == 413

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"y" * 1000

    headers = Signer(CURRENT).headers("msg_stream", int(time.time()), b"")
    streamed = httpx.post(gateway.webhook_url, content=chunks(), headers=headers)
    assert streamed.status_code == 413 and gateway.stored() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"transaction_id": "txn_1", ', "json_parse"),
        (b"[1, 2]", "json_parse"),
        (b'{"transaction_id": "txn_1"}', "required_field"),
        (b"\xff\xfe", "json_parse"),
        (b"[" * 1500 + b"]" * 1500, "json_parse"),
    ],
    ids=["truncated", "array", "missing-fields", "not-utf8", "nested-too-deep"],
)
def test_signed_unusable_body_is_400_and_a_dead_letter(
    gateway: Gateway, body: bytes, reason: str
) -> None:
    """A signed body that is not a record gets 400 and is stored as a dead letter, raw."""
    response = _post(gateway, body, msg_id="msg_bad")
    assert response.status_code == 400
    [event] = gateway.stored()
    assert (event.event_id, event.payload) == ("msg_bad", body)
    assert event.rejected is not None and event.rejected.startswith(reason)
    assert _outcomes(gateway)["dead_letter"] == 1


def test_record_missing_one_field_is_a_dead_letter(any_gateway: Gateway) -> None:
    """Every key of bnpl.record.REQUIRED must be there; the reason names the missing one."""
    data = json.loads(_record())
    del data[record.REQUIRED[-1]]
    assert _post(any_gateway, json.dumps(data).encode()).status_code == 400
    [event] = any_gateway.stored()
    assert event.rejected == f"required_field: missing key {record.REQUIRED[-1]}"


def test_healthz_and_metrics(gateway: Gateway) -> None:
    """/healthz is 200 and /metrics is Prometheus text with the append latency histogram."""
    _post(gateway, _record())
    assert httpx.get(f"{gateway.url}/healthz").status_code == 200
    metrics = httpx.get(f"{gateway.url}/metrics")
    assert metrics.headers["content-type"].startswith("text/plain")
    assert "bnpl_gateway_append_seconds_count 1.0" in metrics.text


def test_secrets_never_reach_the_log(gateway: Gateway) -> None:
    """Neither secret appears in the gateway's log output."""
    _post(gateway, _record(), secret=UNKNOWN)
    _post(gateway, _record())
    gateway.process.send_signal(signal.SIGTERM)
    gateway.process.wait(timeout=20)
    text = gateway.stderr.read_text()
    assert "gateway ready" in text
    for secret in (CURRENT, PREVIOUS, CURRENT.removeprefix("whsec_")):
        assert secret not in text


def test_acknowledged_event_survives_sigkill(any_gateway: Gateway) -> None:
    """An event answered 2xx is in the log after the gateway is killed with SIGKILL."""
    bodies = {f"msg_k{i}": _record(i + 1) for i in range(5)}
    for msg_id, body in bodies.items():
        assert _post(any_gateway, body, msg_id=msg_id).status_code == 200
    os.kill(any_gateway.process.pid, signal.SIGKILL)
    any_gateway.process.wait(timeout=10)
    assert {e.event_id: e.payload for e in any_gateway.stored()} == bodies


def test_unavailable_log_is_503_until_it_returns(tmp_path: Path) -> None:
    """With the log's directory blocked: 503 (never 2xx) and /healthz 503; once it can be
    created, the same delivery is stored and acknowledged."""
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the log's directory should be")
    live = {"log_engine": "sqlite", "log_path": blocker / "events.sqlite"}
    with running_gateway(tmp_path, live) as gateway:
        body = _record()
        assert _post(gateway, body, msg_id="msg_u").status_code == 503
        assert httpx.get(f"{gateway.url}/healthz").status_code == 503
        assert _outcomes(gateway)["unavailable"] == 1
        blocker.unlink()
        assert _post(gateway, body, msg_id="msg_u").status_code == 200
        assert httpx.get(f"{gateway.url}/healthz").status_code == 200
        assert [e.event_id for e in gateway.stored()] == ["msg_u"]


def test_redis_down_is_503_until_it_is_up(tmp_path: Path) -> None:
    """With the Redis server not running: 503 and /healthz 503; once it is up, the same delivery
    is stored and acknowledged."""
    server = RedisServer(tmp_path / "redis")
    live = {"log_engine": "redis", "log_redis_url": server.url, "log_busy_timeout_s": 1}
    with running_gateway(tmp_path, live) as gateway:
        body = _record()
        assert _post(gateway, body, msg_id="msg_r").status_code == 503
        assert httpx.get(f"{gateway.url}/healthz").status_code == 503
        server.start()
        try:
            assert _post(gateway, body, msg_id="msg_r").status_code == 200
            assert [e.event_id for e in gateway.stored()] == ["msg_r"]
        finally:
            server.stop()


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"BNPL_LIVE__WEBHOOK_SECRETS": ""}, "BNPL_LIVE__WEBHOOK_SECRETS is empty"),
        ({"BNPL_LIVE__WEBHOOK_TOLERANCE_S": "0"}, "BNPL_LIVE__WEBHOOK_TOLERANCE_S"),
        ({"BNPL_LIVE__WEBHOOK_SECRETS": "not-a-secret"}, "whsec_"),
    ],
    ids=["no-secret", "tolerance-zero", "malformed-secret"],
)
def test_invalid_settings_exit_2_with_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    needle: str,
) -> None:
    """Bad gateway settings: one error line, exit 2, and the bad secret is not echoed."""
    monkeypatch.setenv("BNPL_LIVE__WEBHOOK_SECRETS", CURRENT)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_info:
        main(["live", "gateway", "--port", "1"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2 and len(lines) == 1 and needle in lines[0], err
    assert "not-a-secret" not in err
