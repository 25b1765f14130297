"""The event log contract: every engine (SQLite file, Redis Streams on a real redis-server)
passes the same tests."""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from event_log_children import (
    LogSpec,
    append_ids,
    append_until_killed,
    append_with_full_disk,
    make_event,
    open_log,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnpl.errors import ConfigError, EventLogUnavailableError
from bnpl.live.log import Delivered, Event, EventLog, LogStats, partition_for

_spawn = multiprocessing.get_context("spawn")


def read_all(log: EventLog, group: str, consumer: str = "c1", batch: int = 7) -> list[Delivered]:
    """Everything the group has not been handed yet, in small reads."""
    out: list[Delivered] = []
    while chunk := log.read(group, consumer, max_events=batch):
        assert len(chunk) <= batch
        out += chunk
    return out


def ids(delivered: list[Delivered]) -> list[str]:
    return [d.event.event_id for d in delivered]


def test_append_drops_a_duplicate_event_id(event_log: EventLog) -> None:
    """An event id already stored (in an earlier call or the same call) is reported False and
    stored once; the stored event reads back field for field."""
    received = datetime(2026, 12, 4, 10, 30, 15, 123456, tzinfo=UTC)
    first = Event(
        "e1", "cust_9", b'{"a": 1}\x00\xff', received, source="relay", rejected="not json"
    )
    assert event_log.append([first, make_event("e2"), make_event("e1")]) == [True, True, False]
    assert event_log.append([make_event("e1"), make_event("e3")]) == [False, True]
    assert event_log.append([]) == []
    delivered = read_all(event_log, "g")
    assert sorted(ids(delivered)) == ["e1", "e2", "e3"]
    (got,) = [d for d in delivered if d.event.event_id == "e1"]
    assert got.event == first
    assert got.partition == partition_for("cust_9", 4)
    assert got.deliveries == 1


def test_one_key_reads_in_append_order(event_log: EventLog) -> None:
    """Events of one key land in one partition and are handed out in append order."""
    appended: dict[str, list[str]] = defaultdict(list)
    for n in range(60):
        key = f"cust_{n % 5}"
        appended[key].append(f"e{n}")
        event_log.append([make_event(f"e{n}", key=key)])
    delivered = read_all(event_log, "g")
    assert len(delivered) == 60
    got: dict[str, list[str]] = defaultdict(list)
    for d in delivered:
        assert d.partition == partition_for(d.event.key, event_log.partitions)
        got[d.event.key].append(d.event.event_id)
    assert got == appended


def test_groups_are_independent(event_log: EventLog) -> None:
    """Each group gets every event; one group's reads and acks do not move another."""
    event_log.append([make_event(f"e{n}", key=f"k{n}") for n in range(10)])
    a = read_all(event_log, "a")
    event_log.ack("a", a)
    assert sorted(ids(a)) == sorted(ids(read_all(event_log, "b")))
    assert event_log.read("a", "c1", max_events=10) == []
    assert event_log.groups() == ["a", "b"]
    assert event_log.stats("a").lag_events == 0
    assert event_log.stats("b").lag_events == 10


def test_a_group_hands_each_event_to_one_consumer(event_log: EventLog) -> None:
    """Two consumers of one group share the events: no event goes to both."""
    event_log.append([make_event(f"e{n}", key=f"k{n}") for n in range(20)])
    first = event_log.read("g", "c1", max_events=8)
    second = read_all(event_log, "g", "c2")
    assert len(first) == 8
    assert set(ids(first)).isdisjoint(ids(second))
    assert len(set(ids(first)) | set(ids(second))) == 20


def test_blocking_read_wakes_on_an_append(
    event_log: EventLog, make_log: Callable[..., EventLog]
) -> None:
    """A read with block_ms returns an event appended by another connection while it waits,
    and an empty list after block_ms when nothing comes."""
    started = time.monotonic()
    assert event_log.read("g", "c1", max_events=5, block_ms=200) == []
    assert time.monotonic() - started >= 0.19
    writer = make_log()

    def append_later() -> None:
        time.sleep(0.2)
        writer.append([make_event("late")])

    thread = threading.Thread(target=append_later)
    thread.start()
    got = event_log.read("g", "c1", max_events=5, block_ms=5000)
    thread.join()
    assert ids(got) == ["late"]


def test_blocking_read_wakes_on_an_append_through_the_same_object(event_log: EventLog) -> None:
    """A thread blocked in read wakes when another thread appends through the same log object
    (one object shared by a process's threads)."""

    def append_later() -> None:
        time.sleep(0.2)
        event_log.append([make_event("same-object")])

    thread = threading.Thread(target=append_later)
    thread.start()
    started = time.monotonic()
    got = event_log.read("g", "c1", max_events=5, block_ms=5000)
    thread.join()
    assert ids(got) == ["same-object"]
    assert time.monotonic() - started < 4


def test_ack_stops_redelivery_and_claim_takes_a_dead_consumers_events(event_log: EventLog) -> None:
    """What a consumer read and did not acknowledge stays pending; after idle_ms another
    consumer claims it (deliveries counts up); acknowledged events are never claimed."""
    event_log.append([make_event(f"e{n}", key=f"k{n}") for n in range(6)])
    dead = event_log.read("g", "dead", max_events=6)
    assert len(dead) == 6
    event_log.ack("g", dead[:2])
    assert event_log.read("g", "alive", max_events=10) == []
    assert event_log.claim_stale("g", "alive", idle_ms=60_000, max_events=10) == []
    assert event_log.stats("g").pending == 4
    time.sleep(0.1)
    claimed = event_log.claim_stale("g", "alive", idle_ms=50, max_events=3)
    claimed += event_log.claim_stale("g", "alive", idle_ms=50, max_events=10)
    assert sorted(ids(claimed)) == sorted(ids(dead[2:]))
    assert {d.deliveries for d in claimed} == {2}
    assert {(d.partition, d.offset) for d in claimed} == {(d.partition, d.offset) for d in dead[2:]}
    event_log.ack("g", claimed)
    time.sleep(0.1)
    assert event_log.claim_stale("g", "other", idle_ms=50, max_events=10) == []
    assert event_log.stats("g").pending == 0


def test_seek_replays_from_an_offset(event_log: EventLog) -> None:
    """After seek, the group reads again the events after the given offset of that partition
    (and, with "", the whole partition); other partitions are untouched."""
    event_log.append([make_event(f"e{n}", key="same") for n in range(5)])
    event_log.append([make_event("other", key="different")])
    delivered = read_all(event_log, "g")
    event_log.ack("g", delivered)
    part = partition_for("same", event_log.partitions)
    same = [d for d in delivered if d.partition == part]
    assert ids(same)[:5] == [f"e{n}" for n in range(5)]
    event_log.seek("g", {part: same[1].offset})
    replay = read_all(event_log, "g")
    assert ids(replay) == ids(same[2:])
    event_log.ack("g", replay)
    event_log.seek("g", {part: ""})
    assert ids(read_all(event_log, "g")) == ids(same)
    with pytest.raises(ConfigError):
        event_log.seek("g", {event_log.partitions: ""})


def test_trim_drops_only_old_events_every_group_acknowledged(event_log: EventLog) -> None:
    """trim drops events appended before the cut-off that all groups acknowledged, keeps the
    rest (still deliverable), and never reuses an offset."""
    event_log.append([make_event(f"e{n}", key=f"k{n}") for n in range(10)])
    a = read_all(event_log, "a")
    b = read_all(event_log, "b")
    event_log.ack("a", a)
    acked_by_b = b[:4]
    event_log.ack("b", acked_by_b)
    assert event_log.trim(datetime.now(UTC) - timedelta(hours=1)) == 0
    assert event_log.trim(datetime.now(UTC) + timedelta(seconds=1)) >= 1
    stats = event_log.stats("b")
    assert stats.pending == 6
    assert 6 <= stats.depth < 10
    time.sleep(0.05)
    still = event_log.claim_stale("b", "c2", idle_ms=10, max_events=10)
    assert sorted(ids(still)) == sorted(ids(b[4:]))
    event_log.ack("b", still)
    assert event_log.trim(datetime.now(UTC) + timedelta(seconds=1)) == stats.depth
    assert event_log.stats("a").depth == 0
    event_log.append([make_event("new", key="k0")])
    (new,) = read_all(event_log, "a")
    older = [d for d in a if d.partition == new.partition]
    assert older and all(d.offset != new.offset for d in older)


def test_stats_count_depth_pending_and_lag(event_log: EventLog) -> None:
    """stats: depth is all events, pending the unacknowledged deliveries, lag what the group has
    not acknowledged, oldest_unacked_at the received time of the oldest of those."""
    t0 = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
    events = [Event(f"e{n}", f"k{n}", b"{}", t0 + timedelta(seconds=n)) for n in range(8)]
    event_log.append(events)
    assert event_log.stats("g") == LogStats(depth=8, pending=0, lag_events=8, oldest_unacked_at=t0)
    delivered = read_all(event_log, "g")
    event_log.ack("g", [d for d in delivered if d.event.event_id in ("e0", "e1", "e2")])
    stats = event_log.stats("g")
    assert (stats.depth, stats.pending, stats.lag_events) == (8, 5, 5)
    assert stats.oldest_unacked_at == t0 + timedelta(seconds=3)
    event_log.ack("g", delivered)
    assert event_log.stats("g").oldest_unacked_at is None


def test_stats_of_an_unknown_group_neither_create_it_nor_hold_trim(event_log: EventLog) -> None:
    """stats of a group nobody read with shows the whole log as its lag, and does not create it
    (a group that never reads would keep trim from dropping anything)."""
    event_log.append([make_event(f"e{n}", key=f"k{n}") for n in range(5)])
    assert event_log.stats("typo").lag_events == 5
    assert event_log.groups() == []
    event_log.ack("g", read_all(event_log, "g"))
    assert event_log.trim(datetime.now(UTC) + timedelta(seconds=1)) == 5


@pytest.mark.slow  # spawns Python processes
def test_two_processes_append_at_once(log_spec: LogSpec, tmp_path: Path) -> None:
    """Two processes appending overlapping event ids at the same time store each id once, and
    together report exactly as many True as ids stored."""
    shared = [f"s{n:03d}" for n in range(150)]
    mine = [[f"a{n:03d}" for n in range(150)], [f"b{n:03d}" for n in range(150)]]
    children = [
        _spawn.Process(target=append_ids, args=(log_spec, shared + own, 10, str(tmp_path / f"{i}")))
        for i, own in enumerate(mine)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=120)
        assert child.exitcode == 0
    reported = sum(int((tmp_path / f"{i}").read_text()) for i in range(2))
    with open_log(log_spec) as log:
        got = ids(read_all(log, "g", batch=100))
    assert sorted(got) == sorted(shared + mine[0] + mine[1])
    assert reported == 450


@pytest.mark.slow  # spawns Python processes
def test_what_append_acknowledged_survives_sigkill(
    log_spec: LogSpec, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Every event append returned True for is in the log after the appending process is
    killed with SIGKILL (for Redis, the server is killed too and restarted from its AOF)."""
    acked = tmp_path / "acked"
    child = _spawn.Process(target=append_until_killed, args=(log_spec, str(acked)))
    child.start()
    deadline = time.monotonic() + 60
    while (not acked.exists() or acked.stat().st_size < 2000) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.pid is not None
    os.kill(child.pid, signal.SIGKILL)
    child.join(timeout=10)
    stored = set(acked.read_text().split())
    assert len(stored) >= 100
    if log_spec["log_engine"] == "redis":
        server = request.getfixturevalue("redis_server")
        server.kill()
        server.start()
    with open_log(log_spec) as log:
        got = set(ids(read_all(log, "g", batch=500)))
    assert stored <= got


def test_unreachable_storage_raises_unavailable(log_spec: LogSpec, tmp_path: Path) -> None:
    """A log whose storage cannot be reached (a path under a regular file; a port where no Redis
    listens) raises EventLogUnavailableError, naming no secret."""
    if log_spec["log_engine"] == "redis":
        from redis_server import _free_port

        spec = dict(log_spec, log_redis_url=f"redis://:hunter2@127.0.0.1:{_free_port()}/0")
    else:
        (tmp_path / "file").write_text("")
        spec = dict(log_spec, log_path=tmp_path / "file" / "events.sqlite")
    with pytest.raises(EventLogUnavailableError) as raised:
        open_log(spec).append([make_event("e1")])
    assert "hunter2" not in str(raised.value)


def test_a_damaged_sqlite_file_is_unavailable(tmp_path: Path) -> None:
    """A file that is not a SQLite database raises EventLogUnavailableError, not sqlite3's error."""
    path = tmp_path / "events.sqlite"
    path.write_bytes(b"not a database" * 100)
    with pytest.raises(EventLogUnavailableError, match=r"events\.sqlite"):
        open_log({"log_engine": "sqlite", "log_path": path})


@pytest.mark.slow  # spawns Python processes
def test_a_full_disk_fails_append_and_keeps_the_log(tmp_path: Path) -> None:
    """When the disk fills mid-append, append raises EventLogUnavailableError; the log keeps
    every earlier event and none of the failed call's."""
    spec = {"log_engine": "sqlite", "log_path": tmp_path / "log" / "events.sqlite"}
    out = tmp_path / "out"
    child = _spawn.Process(target=append_with_full_disk, args=(spec, str(out)))
    child.start()
    child.join(timeout=120)
    assert out.read_text().startswith("EventLogUnavailableError: event log")
    with open_log(spec) as log:
        got = ids(read_all(log, "g"))
    assert "before" in got
    assert all(i.startswith("big") for i in got if i != "before")
    assert len(got) < 101


def test_reopening_with_another_partition_count_is_refused(
    make_log: Callable[..., EventLog],
) -> None:
    """A log keeps the partition count it was created with; another count is a ConfigError."""
    make_log().append([make_event("e1")])
    with pytest.raises(ConfigError, match="partitions"):
        make_log(log_partitions=5)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    batches=st.lists(
        st.lists(
            st.tuples(st.integers(0, 30), st.sampled_from(["a", "b", "c", "d", "e", ""])),
            max_size=8,
        ),
        max_size=8,
    )
)
def test_any_append_sequence_stores_each_id_once_in_key_order(
    make_log: Callable[..., EventLog], batches: list[list[tuple[int, str]]]
) -> None:
    """For any batches of (id, key), append reports True exactly for an id's first occurrence,
    and the log hands out each stored id once, per key in first-append order."""
    log = make_log(fresh=True)
    seen: set[int] = set()
    order: dict[str, list[str]] = defaultdict(list)
    for batch in batches:
        expected = []
        for n, key in batch:
            expected.append(n not in seen)
            if n not in seen:
                order[key].append(f"id{n}")
            seen.add(n)
        assert log.append([make_event(f"id{n}", key=key) for n, key in batch]) == expected
    got: dict[str, list[str]] = defaultdict(list)
    for d in read_all(log, "g", batch=5):
        got[d.event.key].append(d.event.event_id)
    assert got == order
