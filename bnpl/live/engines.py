"""Choose and open the event log engine the settings name."""

from __future__ import annotations

from bnpl.errors import ConfigError
from bnpl.live.log import EventLog
from bnpl.settings import Settings


def open_event_log(settings: Settings) -> EventLog:
    """Open the event log of ``settings.live`` (``BNPL_LIVE__LOG_ENGINE``): the SQLite file or
    the Redis server. The caller closes it (it is a context manager).

    Raises:
        ConfigError: the log was created with another partition count.
        EventLogUnavailableError: the file or the server cannot be reached.
    """
    live = settings.live
    if live.log_engine == "redis":
        raise ConfigError("BNPL_LIVE__LOG_ENGINE=redis: the Redis engine is not there yet")
    from bnpl.live.sqlite_log import SQLiteEventLog

    return SQLiteEventLog(
        live.log_path, partitions=live.log_partitions, busy_timeout_s=live.log_busy_timeout_s
    )
