"""`bnpl live relay`: simtom's real-time stream into the event log, through cuts, once per record."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from event_log_children import open_log
from redis_server import RedisServer

from bnpl.cli import main
from bnpl.errors import SourceRequestError
from bnpl.live.log import EventLog
from bnpl.live.redis_log import RedisEventLog
from bnpl.live.relay import Relay, relay_event
from bnpl.settings import LiveSettings, SourceSettings
from bnpl.source.framing import Framer
from bnpl.stopping import StopRequest

CAPTURE = Path(__file__).parents[1] / "fixtures" / "simtom" / "realtime_rate100_max300_seed7"
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def _records(path: Path) -> list[bytes]:
    framer = Framer()
    records = framer.feed(gzip.decompress(path.with_suffix(".txt.gz").read_bytes()))
    framer.close()
    return records


def _restamped(record: bytes) -> bytes:
    data = json.loads(record)
    data["_timestamp"] = "2030-01-01T00:00:00.5"
    return json.dumps(data).encode()


def _drain(log: EventLog) -> list[dict[str, object]]:
    """The records of the log's events that are not rejected."""
    out = []
    while batch := log.read("check", "c", max_events=500):
        out += [json.loads(d.event.payload) for d in batch if d.event.rejected is None]
    return out


@pytest.fixture
def sqlite_log(tmp_path: Path) -> EventLog:
    """An empty SQLite event log."""
    return open_log({"log_engine": "sqlite", "log_path": tmp_path / "events.sqlite"})


def test_ids_of_the_real_capture_are_unique_and_ignore_the_send_time() -> None:
    """The 300 records of simtom's real-time capture get 300 ids, keyed by customer; the same
    records re-sent with other timestamps get the same ids; another stream, other ids."""
    if not CAPTURE.with_suffix(".txt.gz").exists():
        pytest.fail(f"missing fixture {CAPTURE}")
    records = _records(CAPTURE)
    events = [relay_event("stream-a", r, NOW) for r in records]
    assert len(records) == 300 and len({e.event_id for e in events}) == 300
    assert all(e.key.startswith("cust_") and e.rejected is None for e in events)
    assert [relay_event("stream-a", _restamped(r), NOW).event_id for r in records] == [
        e.event_id for e in events
    ]
    assert relay_event("stream-b", records[0], NOW).event_id != events[0].event_id
    other = dict(json.loads(records[0]), amount=1.0)
    assert relay_event("stream-a", json.dumps(other).encode(), NOW).event_id != events[0].event_id


def test_a_record_that_is_not_a_json_object_is_a_rejected_event() -> None:
    """Garbage and non-object JSON are appended as rejected events with the raw bytes, ids
    stable across timestamps."""
    bad = relay_event("s", b'{"_timestamp": "2026-01-01T00:00:00", "broken', NOW)
    again = relay_event("s", b'{"_timestamp": "2027-01-01T00:00:01", "broken', NOW)
    assert bad.rejected == "relay: the record is not JSON" and bad.key == ""
    assert bad.event_id == again.event_id
    assert bad.payload.endswith(b"broken")
    assert relay_event("s", b"[1, 2]", NOW).rejected == "relay: the record is not a JSON object"


def test_a_cut_stream_is_resumed_and_each_record_stored_once(make_server, sqlite_log) -> None:
    """Against the bundled simulator cutting streams mid-record, the relay reconnects and the
    log holds each of the stream's records exactly once (re-read records are duplicates)."""
    # fault seed 1 cuts attempts 1-3 of this body inside records 30, 9 and 17; attempt 4 is whole
    url = make_server(cut_rate=0.6, seed=1, malformed_rate=0.05)
    relay = Relay(
        sqlite_log,
        url=url,
        body={"rate_per_second": 1000, "max_records": 60, "seed": 7},
        source=SourceSettings(retry_initial_wait_s=0),
        live=LiveSettings(relay_batch_size=7),
        stop=StopRequest(),
    )
    report = relay.run()
    assert report.connections == 4 and report.duplicates >= 30
    payloads = _drain(sqlite_log)
    counts = Counter(p["transaction_id"] for p in payloads)
    stats = sqlite_log.stats("check")
    assert stats.depth == report.appended == len(payloads) + report.rejected
    assert set(counts.values()) == {1}
    assert len(counts) + report.rejected == 60
    assert report.rejected >= 1


def test_the_cli_relays_and_a_rerun_stores_nothing_twice(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bnpl live relay --from URL` fills the log from settings; running the same stream again
    appends nothing new (same ids)."""
    argv = ["live", "relay", "--from", server_url, "--rate", "500", "--max-records", "12"]
    main([*argv, "--seed", "5"])
    assert "12 appended, 0 duplicates" in capsys.readouterr().out
    main([*argv, "--seed", "5"])
    assert "0 appended, 12 duplicates" in capsys.readouterr().out
    with open_log(
        {"log_engine": "sqlite", "log_path": tmp_path / ".bnpl/live/events.sqlite"}
    ) as log:
        assert log.stats("g").depth == 12


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--from", "ftp://x"], "--from"),
        (["--from", "http://127.0.0.1:1", "--body", "[1]"], "--body"),
        (["--from", "http://127.0.0.1:1", "--body", '{"start_date": "2024-01-01"}'], "start_date"),
    ],
)
def test_bad_relay_input_is_one_line_and_exit_2(
    argv: list[str], needle: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A bad URL or body is one error line and exit code 2; no log is created."""
    with pytest.raises(SystemExit) as exit_info:
        main(["live", "relay", *argv])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert exit_info.value.code == 2 and len(err) == 1 and needle in err[0]
    assert not Path(".bnpl").exists()


def test_an_endless_stream_runs_until_stopped(server_url: str, sqlite_log: EventLog) -> None:
    """Without max_records the relay keeps appending until the stop request, then returns what
    it appended."""
    stop = StopRequest()
    relay = Relay(
        sqlite_log,
        url=server_url,
        body={"rate_per_second": 200},
        source=SourceSettings(),
        live=LiveSettings(),
        stop=stop,
    )
    thread = threading.Thread(target=relay.run)
    thread.start()
    deadline = time.monotonic() + 30
    while sqlite_log.stats("g").depth < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.request(15)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert relay.report.appended >= 5
    assert sqlite_log.stats("g").depth == relay.report.appended


def test_a_rejected_request_ends_the_relay_with_the_servers_detail(
    server_url: str, sqlite_log: EventLog
) -> None:
    """A 4xx (here a rate simtom refuses) is not retried: the relay raises SourceRequestError."""
    relay = Relay(
        sqlite_log,
        url=server_url,
        body={"rate_per_second": 5000},
        source=SourceSettings(),
        live=LiveSettings(),
        stop=StopRequest(),
    )
    with pytest.raises(SourceRequestError, match="422"):
        relay.run()
    assert relay.report.connections == 1 and sqlite_log.stats("g").depth == 0


def test_records_wait_while_the_log_is_down_and_are_appended_after(
    server_url: str, tmp_path: Path
) -> None:
    """With the Redis event log down, the relay keeps what it received and appends it once the
    server is back: nothing is lost or doubled."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        with RedisEventLog(server.url, partitions=2, timeout_s=1) as log:
            server.kill()
            relay = Relay(
                log,
                url=server_url,
                body={"rate_per_second": 500, "max_records": 20, "seed": 2},
                source=SourceSettings(retry_initial_wait_s=0.05),
                live=LiveSettings(relay_max_backoff_s=0.2),
                stop=StopRequest(),
            )
            thread = threading.Thread(target=relay.run)
            thread.start()
            time.sleep(1.0)
            assert relay.report.appended == 0
            server.start()
            thread.join(timeout=30)
            assert not thread.is_alive()
            assert relay.report.appended == 20
            assert sorted(p["transaction_id"] for p in _drain(log)) == [
                f"txn_{n:08d}" for n in range(20)
            ]
    finally:
        server.stop()


def test_credentials_in_from_are_never_logged(
    server_url: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """User info in --from is sent as basic auth and appears in no output or log line."""
    with_auth = server_url.replace("http://", "http://relay:pa55w0rd-x@")
    main(["live", "relay", "--from", with_auth, "--rate", "500", "--max-records", "3"])
    out = capsys.readouterr()
    assert "3 appended" in out.out
    assert "pa55w0rd-x" not in out.out + out.err + caplog.text
    assert "relay http://127.0.0.1" in caplog.text
