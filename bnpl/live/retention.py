"""Retention of the event log: what ``bnpl live load`` trims, periodically.

Each loader, at start and every ``BNPL_LIVE__LOG_TRIM_INTERVAL_S``, drops the events appended more
than ``BNPL_LIVE__LOG_RETENTION_H`` ago that every consumer group acknowledged
(:meth:`~bnpl.live.log.EventLog.trim`; several loaders trimming at once is harmless). A trim that
fails is logged and tried again at the next interval; it never stops the loading.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bnpl.errors import EventLogUnavailableError
from bnpl.live.log import EventLog
from bnpl.settings import LiveSettings

logger = logging.getLogger(__name__)


def trim_log(log: EventLog, settings: LiveSettings, *, now: datetime) -> int:
    """Drop the events older than the retention at ``now`` that every group acknowledged; the
    count dropped (0 when the log is unavailable: logged)."""
    cutoff = now - timedelta(hours=settings.log_retention_h)
    try:
        dropped = log.trim(cutoff)
    except EventLogUnavailableError as exc:
        logger.warning(
            "event log trim failed, retried in %g s: %s", settings.log_trim_interval_s, exc
        )
        return 0
    if dropped:
        logger.info("trimmed %d events appended before %s from the event log", dropped, cutoff)
    return dropped
