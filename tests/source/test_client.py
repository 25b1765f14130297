"""bnpl.source.client against the simulator over loopback HTTP, for every fault type."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import httpx
import pytest
import stamina
from simulator_helpers import free_port, running_server
from stamina.instrumentation import RetryDetails

from bnpl.calendar import DayRequest, plan_day
from bnpl.errors import (
    CircuitOpenError,
    FramingError,
    SourceRequestError,
    TerminalSourceError,
    TransientSourceError,
    TruncatedStreamError,
)
from bnpl.settings import FaultSettings, PlanSettings, SimulatorSettings, SourceSettings
from bnpl.simulator.faults import EXTRA_FIELD, request_faults
from bnpl.source import client as client_module
from bnpl.source.client import SourceClient, build_http_client, parse_retry_after, retry_wait
from bnpl.source.request import StreamRequest, body_digest
from bnpl.source.resilience import BreakerState, CircuitBreaker, RateLimiter

PLAN = PlanSettings(
    seed=7, weekday_base_volume=300, weekend_base_volume=300, holiday_base_volume=300
)


class FakeClock:
    """A monotonic clock that moves only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def day_where(faults: FaultSettings, first, second) -> DayRequest:
    """A planned day whose attempt 1 and attempt 2 fault decisions satisfy the predicates."""
    for offset in range(366):
        request = plan_day(date(2024, 1, 1) + timedelta(days=offset), PLAN)
        digest = body_digest(StreamRequest.model_validate(request.body))
        if first(request_faults(faults, digest, 1)) and second(request_faults(faults, digest, 2)):
            return request
    raise AssertionError("no day matches")


def counting_client(
    url: str, settings: SourceSettings | None = None, **kwargs
) -> tuple[SourceClient, list[str]]:
    """A client whose injected httpx.Client records every request it sends."""
    settings = settings or SourceSettings()
    sent: list[str] = []
    http = build_http_client(settings)
    http.event_hooks["request"].append(lambda request: sent.append(str(request.url)))
    return SourceClient(settings, base_url=url, http=http, **kwargs), sent


def timed_client(url: str, settings: SourceSettings) -> tuple[SourceClient, list[float]]:
    """A client whose injected httpx.Client records when (monotonic seconds) it sends each
    request."""
    sent_at: list[float] = []
    http = build_http_client(settings)
    http.event_hooks["request"].append(lambda request: sent_at.append(time.monotonic()))
    return SourceClient(settings, base_url=url, http=http), sent_at


@pytest.fixture
def retries() -> Iterator[list[RetryDetails]]:
    """Every retry stamina schedules during the test, through stamina's instrumentation hooks."""
    seen: list[RetryDetails] = []
    before = stamina.instrumentation.get_on_retry_hooks()
    stamina.instrumentation.set_on_retry_hooks([*before, seen.append])
    yield seen
    stamina.instrumentation.set_on_retry_hooks(before)


def clean(fault) -> bool:
    return fault.status is None and fault.cut_at is None


@pytest.mark.parametrize("status", [500, 502, 503])
def test_error_statuses_are_retried_until_the_day_arrives(make_server, status):
    """An injected 500/502/503 on the first attempt is retried; the second attempt succeeds."""
    faults = FaultSettings(seed=1, error_rate=0.5)
    request = day_where(faults, lambda f: f.status == status, clean)
    client, sent = counting_client(make_server(seed=1, error_rate=0.5))
    fetched = client.fetch_day(request)
    assert fetched.attempts == 2 and len(sent) == 2
    assert len(fetched.records) == request.expected_volume
    assert all(
        json.loads(r)["_timestamp"].startswith(request.day.isoformat()) for r in fetched.records
    )
    assert fetched.off_day_records == 0
    assert fetched.started_at <= fetched.fetched_at and fetched.started_at.tzinfo is not None


def test_429_waits_what_retry_after_asks(make_server, retries):
    """A 429 is retried after exactly the Retry-After seconds: the wait stamina schedules, and the
    pause between the two requests at the transport."""
    stamina.set_testing(False)  # really wait, so the pause can be measured
    faults = FaultSettings(seed=2, rate_limit_rate=0.5, retry_after_s=0.3)
    request = day_where(faults, lambda f: f.status == 429, clean)
    url = make_server(seed=2, rate_limit_rate=0.5, retry_after_s=0.3)
    settings = SourceSettings(retry_initial_wait_s=0.0)  # back-off alone would not wait 0.3 s
    client, sent_at = timed_client(url, settings)
    fetched = client.fetch_day(request)
    assert fetched.attempts == 2 and len(sent_at) == 2
    assert [r.wait_for for r in retries] == [0.3]
    assert isinstance(retries[0].caused_by, TransientSourceError)
    assert sent_at[1] - sent_at[0] >= 0.3


def test_added_latency_delays_but_succeeds(make_server):
    """Injected latency delays the answer; the day arrives on the first attempt."""
    client, _ = counting_client(make_server(latency_rate=1.0, latency_s=0.3))
    request = plan_day(date(2024, 3, 12), PLAN)
    fetched = client.fetch_day(request)
    assert fetched.attempts == 1 and len(fetched.records) == request.expected_volume
    assert fetched.fetched_at - fetched.started_at >= timedelta(seconds=0.3)


def test_a_cut_stream_is_detected_and_retried(make_server, retries):
    """A stream cut without the chunked terminator is a TruncatedStreamError, then retried."""
    faults = FaultSettings(seed=3, cut_rate=0.5)
    request = day_where(faults, lambda f: f.cut_at is not None, clean)
    client, sent = counting_client(make_server(seed=3, cut_rate=0.5))
    fetched = client.fetch_day(request)
    assert fetched.attempts == 2 and len(sent) == 2
    assert len(fetched.records) == request.expected_volume
    assert [type(r.caused_by) for r in retries] == [TruncatedStreamError]


def test_always_cut_stream_fails_with_one_clear_message(make_server):
    """When every attempt is cut, one TransientSourceError names the URL, attempts and cause."""
    url = make_server(cut_rate=1.0)
    client, sent = counting_client(url)
    with pytest.raises(TransientSourceError) as caught:
        client.fetch_day(plan_day(date(2024, 3, 12), PLAN))
    message = str(caught.value)
    assert f"{url}/stream/bnpl" in message and "3 attempt(s)" in message and "cut" in message
    assert len(sent) == 3 and caught.value.__cause__ is None


def test_record_faults_reach_the_caller_and_repeat_on_every_attempt(make_server):
    """Malformed lines, extra and missing fields and float drift are returned (not dropped) and
    are the same on a re-fetch."""
    url = make_server(
        malformed_rate=0.03, extra_field_rate=0.03, missing_field_rate=0.03, float_drift_rate=0.03
    )
    request = plan_day(date(2024, 3, 12), PLAN.model_copy(update={"weekday_base_volume": 2000}))
    client, _ = counting_client(url)
    fetched = client.fetch_day(request)
    assert len(fetched.records) == request.expected_volume
    kinds = Counter()
    for text in fetched.records:
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            kinds["malformed"] += 1
            continue
        kinds["extra"] += EXTRA_FIELD in data
        kinds["missing"] += len(data) < (
            45 if data.get("risk_scenario") == "credit_stretched" else 44
        )
        kinds["float"] += isinstance(data.get("installment_count"), float)
    assert all(kinds[k] > 0 for k in ("malformed", "extra", "missing", "float"))
    assert client.fetch_day(request).records == fetched.records


def test_rejected_request_raises_at_once_with_the_servers_detail(server_url):
    """A 422 is a SourceRequestError on the first attempt, carrying the server's detail."""
    client, sent = counting_client(server_url)
    day = date(2024, 3, 12)
    bad = DayRequest(
        day, "weekday", {"start_date": "2024-03-12", "end_date": "2024-03-11", "seed": 1}, 1
    )
    with pytest.raises(SourceRequestError) as caught:
        client.fetch_day(bad)
    assert caught.value.status_code == 422 and len(sent) == 1
    assert caught.value.detail[0]["loc"] == ["body", "end_date"]
    assert "end_date must be >= start_date" in str(caught.value)


def test_unknown_generator_is_terminal(server_url):
    """A 404 for the generator name is terminal and says which generator."""
    client, sent = counting_client(server_url, SourceSettings(generator="nope"))
    with pytest.raises(SourceRequestError, match="Unknown generator: nope"):
        client.fetch_day(plan_day(date(2024, 3, 12), PLAN))
    assert len(sent) == 1


def test_dead_url_fails_after_bounded_retries_with_one_message():
    """A URL nobody listens on fails after the retry budget with URL, attempts and last error."""
    url = f"http://127.0.0.1:{free_port()}"
    client, sent = counting_client(url)
    with pytest.raises(TransientSourceError) as caught:
        client.fetch_day(plan_day(date(2024, 3, 12), PLAN))
    message = str(caught.value)
    assert message.startswith(f"POST {url}/stream/bnpl for 2024-03-12 failed after 3 attempt(s)")
    assert "ConnectError" in message and len(sent) == 3
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_breaker_opens_on_a_dead_source_and_recovers_when_it_returns():
    """After N failed requests the breaker refuses calls without sending; after the cool-down
    one probe goes through and, when the source is back, closes it."""
    port = free_port()
    clock = FakeClock()
    settings = SourceSettings(breaker_failure_threshold=3, breaker_cooldown_s=30)
    client, sent = counting_client(f"http://127.0.0.1:{port}", settings, clock=clock)
    request = plan_day(date(2024, 3, 12), PLAN)
    with pytest.raises(TransientSourceError):
        client.fetch_day(request)
    assert client.breaker.state is BreakerState.OPEN and len(sent) == 3
    clock.now += 29
    with pytest.raises(CircuitOpenError, match="circuit open after 3 consecutive failed requests"):
        client.fetch_day(request)
    assert len(sent) == 3
    with running_server(SimulatorSettings(host="127.0.0.1", port=0), port=port):
        clock.now += 2
        fetched = client.fetch_day(request)
    assert fetched.attempts == 1 and len(sent) == 4
    assert client.breaker.state is BreakerState.CLOSED


def test_breaker_probe_failure_reopens_and_only_one_probe_passes():
    """A failed probe re-opens the breaker; while a probe is out other calls are refused."""
    clock = FakeClock()
    breaker = CircuitBreaker(2, 10, clock=clock)
    breaker.record_failure()
    breaker.before_request("x")
    breaker.record_failure()
    with pytest.raises(CircuitOpenError):
        breaker.before_request("x")
    clock.now += 10
    breaker.before_request("x")  # the probe
    with pytest.raises(CircuitOpenError, match="probe"):
        breaker.before_request("x")
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_request("x")
    clock.now += 10
    breaker.before_request("x")
    breaker.record_success()
    assert breaker.state is BreakerState.CLOSED
    breaker.before_request("x")


def test_rate_limiter_spaces_requests_across_threads():
    """Every request start gets its own slot, 1/rate apart, even from many threads."""
    clock = FakeClock()
    waits: list[float] = []
    limiter = RateLimiter(4.0, clock=clock, sleep=waits.append)
    threads = [threading.Thread(target=limiter.acquire) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([0.25 * i for i in range(1, 20)])


def test_client_asks_the_rate_limiter_before_each_request(server_url):
    """Two fetches at 2 requests/s: the second waits for its slot half a second later."""
    waits: list[float] = []
    settings = SourceSettings(requests_per_second=2)
    client, _ = counting_client(server_url, settings, clock=FakeClock(), sleep=waits.append)
    client.fetch_day(plan_day(date(2024, 3, 12), PLAN))
    client.fetch_day(plan_day(date(2024, 3, 13), PLAN))
    assert waits == [0.5]


def mock_client(handler, settings: SourceSettings | None = None) -> SourceClient:
    settings = settings or SourceSettings()
    http = build_http_client(settings, transport=httpx.MockTransport(handler))
    return SourceClient(settings, base_url="http://simtom.test", http=http)


def test_captured_real_response_through_the_client(
    captured_body, captured_request, captured_counts
):
    """The real simtom body yields its 686 records, its hash, and counts records off the day."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, content=captured_body, headers={"content-type": "text/plain; charset=utf-8"}
        )

    request = DayRequest(date(2024, 11, 29), "holiday", captured_request, 686)
    fetched = mock_client(handler).fetch_day(request)
    assert len(fetched.records) == 686
    assert fetched.content_sha256 == hashlib.sha256(captured_body).hexdigest()
    assert fetched.off_day_records == 686 - captured_counts["2024-11-29"]
    (sent,) = seen
    assert sent.method == "POST" and sent.url.path == "/stream/bnpl"
    assert sent.headers["content-type"] == "application/json"
    assert json.loads(sent.content) == captured_request


def test_truncated_body_is_retried_then_reported():
    """A body ending inside a record is a truncation: retried, then reported once."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=b'data: {"a": 1}\n\ndata: {"b"')

    with pytest.raises(TransientSourceError, match="ended inside a line"):
        mock_client(handler).fetch_day(plan_day(date(2024, 3, 12), PLAN))
    assert len(calls) == 3


def test_garbage_framing_is_terminal():
    """A body that is not data: framing raises FramingError on the first attempt."""
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=b"data: {}\n\n<html>oops</html>\n")

    with pytest.raises(FramingError) as caught:
        mock_client(handler).fetch_day(plan_day(date(2024, 3, 12), PLAN))
    assert caught.value.position == len(b"data: {}\n\n") and len(calls) == 1


def test_retry_classification():
    """429 asks for its Retry-After, transient errors retry, terminal ones do not."""
    limited = client_module._RateLimitedError("x", retry_after_s=2.0)
    assert retry_wait(limited) == 2.0
    assert retry_wait(TruncatedStreamError("x")) is True
    assert retry_wait(SourceRequestError("x", status_code=400, detail="d")) is False
    assert retry_wait(ValueError("x")) is False


def test_retry_after_header_forms():
    """Retry-After is delta-seconds or an HTTP date; missing or garbage means 1 s."""
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now=now) == 30.0
    assert parse_retry_after(None) == 1.0 and parse_retry_after("soon") == 1.0


def test_stable_ids_are_used_only_when_the_source_confirms_them(captured_body: bytes) -> None:
    """The bundled simulator confirms ``stable_customer_ids``; a source that ignores the field
    (the real simtom, here a transport answering with its captured body and headers) fails the
    day at once with a message that says which setting to unset."""
    request = plan_day(date(2024, 3, 5), PLAN, extra={"stable_customer_ids": True})
    with (
        running_server(SimulatorSettings(port=0)) as url,
        SourceClient(SourceSettings(), base_url=url) as client,
    ):
        assert len(client.fetch_day(request).records) == request.expected_volume
    sent: list[bytes] = []

    def simtom(req: httpx.Request) -> httpx.Response:
        sent.append(req.content)
        return httpx.Response(200, content=captured_body, headers={"content-type": "text/plain"})

    http = httpx.Client(transport=httpx.MockTransport(simtom))
    with pytest.raises(TerminalSourceError, match="BNPL_SOURCE__STABLE_CUSTOMER_IDS"):
        SourceClient(SourceSettings(), base_url="http://simtom.test", http=http).fetch_day(request)
    assert len(sent) == 1, "a terminal error is not retried"
