"""What only the Redis engine does: survive a server restart, warn about weak durability."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from event_log_children import make_event
from redis_server import RedisServer

from bnpl.errors import EventLogUnavailableError
from bnpl.live.redis_log import RedisEventLog


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test alone (it is killed and changed)."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_a_dead_server_fails_append_and_a_restarted_one_serves_again(
    own_server: RedisServer,
) -> None:
    """With the server killed, append raises EventLogUnavailableError; once it is back (from its
    append-only file), the same log object appends and still drops the old ids."""
    with RedisEventLog(own_server.url, partitions=2, timeout_s=2) as log:
        assert log.append([make_event("e1")]) == [True]
        own_server.kill()
        with pytest.raises(EventLogUnavailableError, match="Redis"):
            log.append([make_event("e2")])
        own_server.start()
        assert log.append([make_event("e1"), make_event("e2")]) == [False, True]


def test_weak_durability_is_warned_about(
    own_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """A server without appendfsync always gets a warning at open; the default test server none."""
    with caplog.at_level(logging.WARNING), RedisEventLog(own_server.url, partitions=1):
        pass
    assert "appendfsync" not in caplog.text
    redis.Redis.from_url(own_server.url).config_set("appendfsync", "everysec")
    with caplog.at_level(logging.WARNING), RedisEventLog(own_server.url, partitions=1):
        pass
    assert "appendfsync=everysec" in caplog.text
