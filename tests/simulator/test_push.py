"""``bnpl simulate push``: reproducible events, retries as a provider does, injected faults that
actually happen (against a real gateway)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import stamina
from live_gateway_helpers import CURRENT, running_gateway

from bnpl import record
from bnpl.cli import main
from bnpl.settings import PushSettings
from bnpl.signing import Verifier
from bnpl.simulator.push import PushPlan, PushSummary, push
from bnpl.simulator.push_events import EventSource, Fault, utcnow

_URL = "http://gateway.test/webhooks/bnpl"


def _events(seed: int | None, n: int, **rates: float) -> list[tuple[str, dict[str, object]]]:
    source = EventSource(PushSettings(**rates), seed=seed)
    out = []
    for _ in range(n):
        event = source.next_event(utcnow())
        data = json.loads(event.body)
        data.pop("_timestamp")
        out.append((event.event_id, data))
    return out


def test_seed_makes_ids_and_contents_reproducible() -> None:
    """The same seed gives the same event ids and records (all but _timestamp); another does not."""
    assert _events(11, 50) == _events(11, 50)
    assert [i for i, _ in _events(11, 50)] != [i for i, _ in _events(12, 50)]
    unseeded = [i for i, _ in _events(None, 5)]
    assert unseeded != [i for i, _ in _events(None, 5)]


def test_records_follow_the_contract_with_stable_customers() -> None:
    """Bodies are contract records stamped now, customers drawn from one stable universe."""
    before = utcnow()
    source = EventSource(PushSettings(), seed=3)
    records = [json.loads(source.next_event(utcnow()).body) for _ in range(300)]
    assert all(set(record.REQUIRED) <= set(r) for r in records)
    stamps = {r["_timestamp"] for r in records}
    assert min(stamps) >= before.isoformat()
    customers = Counter(r["customer_id"] for r in records)
    again = Counter(json.loads(e.body)["customer_id"] for e in _bodies(3, 300))
    assert customers == again


def _bodies(seed: int, n: int) -> list[object]:
    source = EventSource(PushSettings(), seed=seed)
    return [source.next_event(utcnow()) for _ in range(n)]


def test_late_events_happened_on_a_day_that_ended() -> None:
    """A late event's _timestamp is late_by_s in the past (default: yesterday)."""
    source = EventSource(PushSettings(late_rate=1.0), seed=2)
    now = utcnow()
    event = source.next_event(now)
    assert event.late
    assert json.loads(event.body)["_timestamp"] == (now - timedelta(days=1)).isoformat()


def _recording_transport(statuses: list[int]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    answers = iter(statuses)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers, 200))

    return httpx.MockTransport(handler), seen


def _push(transport: httpx.AsyncBaseTransport, n: int = 1) -> PushSummary:
    plan = PushPlan(_URL, rate=0, events=n, seed=9)
    return asyncio.run(push(plan, PushSettings(), CURRENT, transport=transport))


def test_5xx_and_429_are_retried_with_the_same_id_and_a_fresh_signature() -> None:
    """503 then 429 then 200: three attempts, one event id, each attempt verifies."""
    transport, seen = _recording_transport([503, 429, 200])
    summary = _push(transport)
    assert (summary.attempts, summary.retries, len(summary.acked)) == (3, 2, 1)
    assert len({r.headers["webhook-id"] for r in seen}) == 1
    verifier = Verifier([CURRENT], tolerance_s=300)
    for request in seen:
        verifier.verify(request.headers, request.content, now=time.time())


@pytest.mark.parametrize("status", [400, 401, 413])
def test_final_4xx_is_not_retried(status: int) -> None:
    """A 4xx other than 408/425/429 is final: one attempt, counted as rejected, not acked."""
    transport, seen = _recording_transport([status])
    summary = _push(transport)
    assert len(seen) == 1 and summary.rejected == {status: 1} and summary.acked == []


def test_transport_errors_are_retried_then_given_up() -> None:
    """Connection errors are retried up to the attempts allowed, then the event is given up."""
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    summary = _push(httpx.MockTransport(refuse))
    assert len(calls) == 3 and summary.gave_up == 1 and summary.acked == []


@pytest.mark.slow
def test_faults_happen_against_a_real_gateway(tmp_path: Path) -> None:
    """Every injected fault happens and gets the gateway's answer: 401 for bad signatures, 400
    for stale timestamps and malformed bodies (stored as dead letters), duplicates acked once."""
    rates = dict(
        duplicate_rate=0.1,
        out_of_order_rate=0.1,
        late_rate=0.1,
        bad_signature_rate=0.05,
        stale_rate=0.05,
        malformed_rate=0.05,
        concurrency=1,
    )
    live = {"log_engine": "sqlite", "log_path": tmp_path / "log" / "events.sqlite"}
    with running_gateway(tmp_path, live) as gateway:
        plan = PushPlan(gateway.webhook_url, rate=0, events=400, seed=21)
        summary = asyncio.run(push(plan, PushSettings(**rates), CURRENT))  # type: ignore[arg-type]
        stored = gateway.stored()
    faults = summary.faults
    kinds = {"duplicate", "out_of_order", "late", "bad_signature", "stale", "malformed"}
    assert set(faults) == kinds and all(faults[k] > 0 for k in kinds), faults
    assert summary.rejected == {
        401: faults["bad_signature"],
        400: faults["stale"] + faults["malformed"],
    }
    assert summary.duplicate_acks == faults["duplicate"]
    rejected_kinds = faults["bad_signature"] + faults["stale"] + faults["malformed"]
    assert len(summary.acked) == summary.generated - rejected_kinds
    good = [e for e in stored if e.rejected is None]
    dead = [e for e in stored if e.rejected is not None]
    assert sorted(e.event_id for e in good) == sorted(summary.acked)
    assert len(dead) == faults["malformed"]
    # out of order: with one delivery at a time, acknowledgements are not in generation order
    source = EventSource(PushSettings(**rates), seed=21)  # type: ignore[arg-type]
    generated = [source.next_event(utcnow()) for _ in range(400)]
    order = {e.event_id: e.index for e in generated}
    assert [order[i] for i in summary.acked] != sorted(order[i] for i in summary.acked)
    late = {e.event_id for e in generated if e.late and e.fault is Fault.NONE}
    today = utcnow().date().isoformat()
    for event in good:
        day = json.loads(event.payload)["_timestamp"][:10]
        assert (day < today) == (event.event_id in late)


@pytest.mark.slow
def test_nothing_is_lost_while_the_log_is_unavailable(tmp_path: Path) -> None:
    """The gateway answers 503 while its log cannot be opened; the provider retries with backoff
    until the log is back, and every event ends up acknowledged and stored."""
    stamina.set_testing(False)
    blocker = tmp_path / "blocked"
    blocker.write_text("a file where the log's directory should be")
    live = {"log_engine": "sqlite", "log_path": blocker / "events.sqlite"}
    with running_gateway(tmp_path, live) as gateway:
        threading.Timer(2.0, blocker.unlink).start()
        plan = PushPlan(gateway.webhook_url, rate=50, events=30, seed=4)
        settings = PushSettings(backoff_initial_s=0.2, backoff_max_s=1.0, max_attempts=30)
        summary = asyncio.run(push(plan, settings, CURRENT))
        stored = gateway.stored()
    assert summary.statuses[503] > 0 and summary.retries > 0
    assert summary.gave_up == 0 and len(summary.acked) == 30
    assert sorted(e.event_id for e in stored) == sorted(summary.acked)


@pytest.mark.slow
def test_push_command_writes_the_acknowledged_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``bnpl simulate push --acked-out`` writes one acknowledged id a line and a summary."""
    live = {"log_engine": "sqlite", "log_path": tmp_path / "log" / "events.sqlite"}
    with running_gateway(tmp_path, live) as gateway:
        monkeypatch.setenv("BNPL_LIVE__WEBHOOK_SECRETS", CURRENT)
        out = tmp_path / "acked.txt"
        argv = ["simulate", "push", "--to", gateway.webhook_url, "--rate", "200", "--events", "25"]
        main([*argv, "--seed", "8", "--malformed-rate", "0.2", "--acked-out", str(out)])
        stored = gateway.stored()
    acked = out.read_text().splitlines()
    assert sorted(acked) == sorted(e.event_id for e in stored if e.rejected is None)
    assert 0 < len(acked) < 25
    assert "acknowledged" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--events", "5"], "BNPL_LIVE__WEBHOOK_SECRETS is empty"),
        (["--events", "5", "--duration", "1"], "exactly one of --duration and --events"),
        ([], "exactly one of --duration and --events"),
    ],
    ids=["no-secret", "both", "neither"],
)
def test_push_bad_input_is_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], needle: str
) -> None:
    """Missing secret or a wrong stop condition: exit 2 with one error line."""
    with pytest.raises(SystemExit) as exit_info:
        main(["simulate", "push", "--to", _URL, "--rate", "1", *argv])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2 and len(lines) == 1 and needle in lines[0], err
