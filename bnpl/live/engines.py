"""Choose and open the event log engine the settings name."""

from __future__ import annotations

from typing import Literal

from bnpl.errors import ConfigError
from bnpl.live.log import EventLog
from bnpl.settings import Settings


def open_event_log(settings: Settings, stream: Literal["events", "scores"] = "events") -> EventLog:
    """Open the event log of ``settings.live`` (``BNPL_LIVE__LOG_ENGINE``): the SQLite file or
    the Redis server. The caller closes it (it is a context manager). ``stream="scores"`` opens
    the scoring API's scores stream instead of the webhook events: the same engine, its own file
    (``BNPL_SERVING__SCORE_LOG_PATH``) or key prefix (``BNPL_SERVING__SCORE_LOG_REDIS_PREFIX``).

    Raises:
        ConfigError: the log was created with another partition count, or redis-py (the
            ``live`` extra) is missing for the Redis engine.
        EventLogUnavailableError: the file or the server cannot be reached.
    """
    live = settings.live
    if live.log_engine == "redis":
        try:
            from bnpl.live.redis_log import RedisEventLog
        except ImportError as exc:  # redis-py is the optional `live` extra
            raise ConfigError(
                f"BNPL_LIVE__LOG_ENGINE=redis needs redis-py ({exc}): pip install 'bnpl[live]'"
            ) from None

        if live.log_redis_url is None:  # LiveSettings refuses this; a guard for mypy
            raise ConfigError("BNPL_LIVE__LOG_ENGINE=redis needs BNPL_LIVE__LOG_REDIS_URL")
        return RedisEventLog(
            live.log_redis_url.get_secret_value(),
            partitions=live.log_partitions,
            prefix=live.log_redis_prefix
            if stream == "events"
            else settings.serving.score_log_redis_prefix,
            retention_s=live.log_retention_h * 3600,
            timeout_s=live.log_busy_timeout_s,
        )
    from bnpl.live.sqlite_log import SQLiteEventLog

    return SQLiteEventLog(
        live.log_path if stream == "events" else settings.serving.score_log_path,
        partitions=live.log_partitions,
        busy_timeout_s=live.log_busy_timeout_s,
    )
