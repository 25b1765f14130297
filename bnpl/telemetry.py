"""Prefect's telemetry is off wherever bnpl starts Prefect.

The temporary API a CLI run or a flow starts would otherwise send anonymous usage data to the
internet (``Failed to send telemetry`` on an offline host, and its heartbeat has contended for the
temporary API's SQLite file). :func:`quiet_prefect_telemetry` sets these defaults in the
environment before Prefect is imported, never overriding a value the user set. It imports nothing
of Prefect (``bnpl/`` never does): it only sets environment variables that Prefect reads.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

PREFECT_TELEMETRY_DEFAULTS: Mapping[str, str] = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the server's telemetry service
    "DO_NOT_TRACK": "1",  # Prefect's client-side SDK analytics
}
"""Variables set when absent: the server's analytics and the client's SDK analytics."""


def quiet_prefect_telemetry() -> dict[str, str]:
    """Set each of :data:`PREFECT_TELEMETRY_DEFAULTS` that the environment does not set; return
    the ones set."""
    applied = {k: v for k, v in PREFECT_TELEMETRY_DEFAULTS.items() if k not in os.environ}
    os.environ.update(applied)
    return applied
