"""Fixtures of the live-path tests: the event log of each engine, opened from settings."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from event_log_children import LogSpec, open_log
from redis_server import RedisServer

from bnpl.live.log import EventLog

ENGINES = ["sqlite", "redis"]
_names = itertools.count()


@pytest.fixture(params=ENGINES)
def log_spec(request: pytest.FixtureRequest, tmp_path: Path) -> LogSpec:
    """A fresh, empty log of each engine (a new SQLite file; a new key prefix on the session's
    Redis server), 4 partitions."""
    name = f"t{os.getpid()}x{next(_names)}"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return {
            "log_engine": "redis",
            "log_redis_url": server.url,
            "log_redis_prefix": f"test:{name}",
            "log_partitions": 4,
        }
    return {
        "log_engine": "sqlite",
        "log_path": tmp_path / name / "events.sqlite",
        "log_partitions": 4,
    }


@pytest.fixture
def event_log(log_spec: LogSpec) -> Iterator[EventLog]:
    """The log of :func:`log_spec`, open; closed after the test."""
    with open_log(log_spec) as log:
        yield log


@pytest.fixture
def make_log(log_spec: LogSpec) -> Iterator[Callable[..., EventLog]]:
    """Open more logs of this engine (``fresh=True``: another empty log); all closed at the end."""
    opened: list[EventLog] = []

    def make(*, fresh: bool = False, **changes: Any) -> EventLog:
        spec = dict(log_spec, **changes)
        if fresh:
            name = f"f{os.getpid()}x{next(_names)}"
            if spec["log_engine"] == "redis":
                spec["log_redis_prefix"] = f"test:{name}"
            else:
                spec["log_path"] = Path(spec["log_path"]).parent / name / "events.sqlite"
        log = open_log(spec)
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()
