"""The event log's settings (BNPL_LIVE__LOG_*) and the factory that opens the engine they name."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from bnpl.errors import ConfigError
from bnpl.live.engines import open_event_log
from bnpl.live.redis_log import RedisEventLog
from bnpl.live.sqlite_log import SQLiteEventLog
from bnpl.settings import load_settings


def test_the_default_is_the_sqlite_file_under_dot_bnpl() -> None:
    """Without settings the factory opens the SQLite file .bnpl/live/events.sqlite (8 partitions)."""
    with open_event_log(load_settings()) as log:
        assert isinstance(log, SQLiteEventLog) and log.partitions == 8
    assert Path(".bnpl/live/events.sqlite").is_file()


def test_the_redis_engine_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, redis_server
) -> None:
    """BNPL_LIVE__LOG_ENGINE=redis with a URL opens Redis Streams with the configured partitions."""
    monkeypatch.setenv("BNPL_LIVE__LOG_ENGINE", "redis")
    monkeypatch.setenv("BNPL_LIVE__LOG_REDIS_URL", redis_server.url)
    monkeypatch.setenv("BNPL_LIVE__LOG_REDIS_PREFIX", "settings-test")
    monkeypatch.setenv("BNPL_LIVE__LOG_PARTITIONS", "3")
    with open_event_log(load_settings()) as log:
        assert isinstance(log, RedisEventLog) and log.partitions == 3


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"BNPL_LIVE__LOG_ENGINE": "redis"}, "BNPL_LIVE__LOG_REDIS_URL"),
        ({"BNPL_LIVE__LOG_ENGINE": "kafka"}, "BNPL_LIVE__LOG_ENGINE"),
        ({"BNPL_LIVE__LOG_PARTITIONS": "0"}, "BNPL_LIVE__LOG_PARTITIONS"),
        ({"BNPL_LIVE__LOG_RETENTION_H": "-1"}, "BNPL_LIVE__LOG_RETENTION_H"),
    ],
)
def test_bad_settings_are_one_config_error(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], needle: str
) -> None:
    """An unknown engine, a Redis engine without URL, or an out-of-range number is a
    ConfigError naming the variable."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=needle):
        load_settings()


def test_the_redis_url_password_is_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Redis URL (with its password) never shows in the settings' text."""
    monkeypatch.setenv("BNPL_LIVE__LOG_ENGINE", "redis")
    monkeypatch.setenv("BNPL_LIVE__LOG_REDIS_URL", "redis://:s3cr3t-pw@127.0.0.1:1/0")
    settings = load_settings()
    assert "s3cr3t-pw" not in repr(settings) and "s3cr3t-pw" not in str(settings.live)


def test_without_redis_py_the_redis_engine_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When redis-py (the live extra) is missing, asking for Redis says what to install."""
    monkeypatch.setenv("BNPL_LIVE__LOG_ENGINE", "redis")
    monkeypatch.setenv("BNPL_LIVE__LOG_REDIS_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(sys.modules, "bnpl.live.redis_log", None)
    with pytest.raises(ConfigError, match=r"bnpl\[live\]"):
        open_event_log(load_settings())
