"""bnpl.simulator.server over real loopback HTTP: the simtom contract of §1."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
import pytest
from simulator_helpers import parse_lines, post_stream

from bnpl import record
from bnpl.settings import SimulatorSettings
from bnpl.simulator import SIMULATOR_IDENTITY
from bnpl.simulator.process import serve_in_background
from bnpl.simulator.simulation import simulate
from bnpl.source.request import StreamRequest


def test_health_and_generators(server_url):
    """GET / is the health body; GET /generators lists bnpl with its request schema."""
    health = httpx.get(server_url + "/")
    assert health.status_code == 200
    assert health.json() == {
        "status": "healthy",
        "version": health.json()["version"],
        "generators_available": 1,
    }
    generators = httpx.get(server_url + "/generators").json()
    assert [g["name"] for g in generators] == ["bnpl"]
    assert "base_daily_volume" in generators[0]["config_schema"]["properties"]
    assert f"simulator:bnpl/{health.json()['version']}" == SIMULATOR_IDENTITY


def test_captured_request_streams_the_captured_counts(
    server_url, captured_request, captured_counts
):
    """The captured body answers text/plain, chunked, 39/407/240 records of 44/45 fields."""
    response = post_stream(server_url, captured_request)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["cache-control"] == "no-cache"
    records = parse_lines(response.content)
    assert Counter(r["_timestamp"][:10] for r in records) == captured_counts
    for r in records:
        assert tuple(r) == record.KEY_ORDER[r["risk_scenario"]]
        assert len(r) == (45 if r["risk_scenario"] == "credit_stretched" else 44)
    assert response.content == simulate(StreamRequest.model_validate(captured_request))


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        (
            {"start_date": "2024-11-28", "end_date": "2024-11-27"},
            "end_date",
            "end_date must be >= start_date",
        ),
        (
            {"start_date": "2024-01-01", "end_date": "2025-01-01"},
            "end_date",
            "cannot exceed 365 days",
        ),
        ({"base_daily_volume": 0}, "base_daily_volume", "greater than or equal to 1"),
        ({"rate_per_second": 2000}, "rate_per_second", "less than or equal to 1000"),
        ({"arrival_pattern": "weekly"}, "arrival_pattern", "'uniform'"),
        ({"noise_type": "pink"}, "noise_type", "'gaussian'"),
        ({"base_daily_volume": 200.5}, "base_daily_volume", "valid integer"),
        ({"start_date": "2024-01-01T10:00:00"}, "start_date", "date"),
    ],
)
def test_invalid_bodies_get_422_naming_the_field(server_url, body, field, message):
    """A body failing validation gets FastAPI's 422 shape with loc ["body", field]."""
    response = post_stream(server_url, body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", field]
    assert message in error["msg"]
    assert {"type", "loc", "msg", "input"} <= set(error)


def test_lax_values_are_accepted_as_simtom_does(server_url):
    """ "200" is an int and a midnight datetime is a date (pydantic lax mode)."""
    body = {
        "start_date": "2024-11-28T00:00:00",
        "end_date": "2024-11-28",
        "base_daily_volume": "200",
        "seed": 42,
    }
    response = post_stream(server_url, body)
    assert response.status_code == 200 and len(parse_lines(response.content)) == 39


@pytest.mark.parametrize(
    ("content", "content_type", "kind", "loc"),
    [
        (b"[1, 2]", "application/json", "model_attributes_type", ["body"]),
        (b"{oops", "application/json", "json_invalid", ["body", 1]),
        (b'{"seed": 1}', "text/plain", "model_attributes_type", ["body"]),
        (b"seed=1", "application/x-www-form-urlencoded", "model_attributes_type", ["body"]),
        (b"", "application/json", "missing", ["body"]),
    ],
)
def test_bodies_that_are_not_objects_get_422(server_url, content, content_type, kind, loc):
    """Non-object JSON, invalid JSON, a wrong content type and a missing body are 422s."""
    response = httpx.post(
        server_url + "/stream/bnpl", content=content, headers={"content-type": content_type}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == kind
    assert response.json()["detail"][0]["loc"] == loc


def test_absent_content_type_is_json(server_url):
    """A body without a content type is read as JSON (simtom accepts it)."""
    response = httpx.post(
        server_url + "/stream/bnpl",
        content=b'{"start_date": "2024-11-28", "end_date": "2024-11-28", "base_daily_volume": 5, "seed": 1}',
    )
    assert response.status_code == 200 and len(parse_lines(response.content)) >= 1


def test_unknown_generator_404_seed_range_404_and_wrong_methods_405(server_url):
    """Unknown generator and out-of-range seeds are 404 with simtom's details; wrong methods 405."""
    unknown = httpx.post(server_url + "/stream/BNPL", json={"max_records": 1})
    assert (unknown.status_code, unknown.json()) == (404, {"detail": "Unknown generator: BNPL"})
    invalid_first = httpx.post(server_url + "/stream/nope", json={"base_daily_volume": 0})
    assert invalid_first.status_code == 422  # the body is validated before the name
    seed = post_stream(
        server_url, {"start_date": "2024-01-01", "end_date": "2024-01-02", "seed": 2**32}
    )
    assert (seed.status_code, seed.json()) == (
        404,
        {"detail": "Seed must be between 0 and 2**32 - 1"},
    )
    for method, path in (("GET", "/stream/bnpl"), ("HEAD", "/"), ("PUT", "/stream/bnpl")):
        response = httpx.request(method, server_url + path)
        assert response.status_code == 405
    assert httpx.get(server_url + "/nowhere").json() == {"detail": "Not Found"}


def test_concurrent_requests_are_byte_identical(server_url):
    """Four identical seeded requests in flight at once get identical bodies."""
    body = {
        "start_date": "2024-06-03",
        "end_date": "2024-06-05",
        "base_daily_volume": 1500,
        "seed": 77,
    }
    with ThreadPoolExecutor(4) as pool:
        bodies = list(pool.map(lambda _: post_stream(server_url, body).content, range(4)))
    assert len(set(bodies)) == 1
    assert bodies[0] == simulate(StreamRequest.model_validate(body))


def test_realtime_mode_stamps_send_times(server_url):
    """Without dates, max_records records are sent with naive UTC send times and ids 0..n-1."""
    before = datetime.utcnow()
    response = post_stream(server_url, {"max_records": 3, "rate_per_second": 200, "seed": 3})
    records = parse_lines(response.content)
    assert [r["_record_id"] for r in records] == [0, 1, 2]
    stamps = [datetime.fromisoformat(r["_timestamp"]) for r in records]
    assert all(s.tzinfo is None and s >= before.replace(microsecond=0) for s in stamps)
    assert stamps == sorted(stamps)
    assert all(tuple(r) == record.KEY_ORDER[r["risk_scenario"]] for r in records)


def test_realtime_seed_out_of_range_sends_one_record_then_breaks(server_url):
    """As in simtom, a real-time seed out of NumPy's range sends one record, then cuts the stream."""
    with pytest.raises(httpx.RemoteProtocolError):
        post_stream(server_url, {"max_records": 5, "rate_per_second": 100, "seed": 2**40})


def test_pacing_sends_one_day_per_second(make_server):
    """With pacing on, a 2-day response takes at least a second (simtom's day-per-second)."""
    url = make_server(pace=True)
    started = time.monotonic()
    response = post_stream(
        url,
        {"start_date": "2024-03-12", "end_date": "2024-03-13", "base_daily_volume": 10, "seed": 1},
    )
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.95


@pytest.mark.slow
def test_serve_in_background_runs_a_subprocess_and_stops_it(captured_request, captured_counts):
    """serve_in_background starts the simulator in a subprocess on a free port and stops it."""
    with serve_in_background(SimulatorSettings(port=0)) as url:
        assert url.startswith("http://127.0.0.1:")
        records = parse_lines(post_stream(url, captured_request).content)
        assert Counter(r["_timestamp"][:10] for r in records) == captured_counts
    with pytest.raises(httpx.ConnectError):
        httpx.get(url + "/", timeout=2)


def test_generators_schema_is_json(server_url):
    """The generator list is plain JSON with a description."""
    (generator,) = httpx.get(server_url + "/generators").json()
    assert generator["description"] == "BNPL transaction generator with realistic risk patterns."
    json.dumps(generator)


def test_injected_cut_closes_the_connection_mid_body(make_server):
    """A cut stream ends without the chunked terminator: the HTTP client sees an incomplete body,
    historical and real-time alike."""
    url = make_server(cut_rate=1.0)
    for body in (
        {"start_date": "2024-03-12", "end_date": "2024-03-12", "base_daily_volume": 400, "seed": 4},
        {"max_records": 4, "rate_per_second": 500, "seed": 4},
    ):
        received = bytearray()
        with (
            pytest.raises(httpx.RemoteProtocolError),
            httpx.stream("POST", url + "/stream/bnpl", json=body, timeout=30) as response,
        ):
            assert response.status_code == 200
            for chunk in response.iter_raw():
                received += chunk
        assert not received.endswith(b"\n\n")
