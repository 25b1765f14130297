"""Prefect's telemetry is off wherever bnpl starts Prefect.

The temporary API a CLI run or a flow starts would otherwise send anonymous usage data to the
internet (``Failed to send telemetry`` on an offline host, and its heartbeat has contended for the
temporary API's SQLite file). :func:`quiet_prefect_telemetry` sets these defaults in the
environment before Prefect is imported, never overriding a value the user set. It imports nothing
of Prefect (``bnpl/`` never does): it only sets environment variables that Prefect reads.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

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


ROUTED_SERVER_LOGGERS = ("docket",)
"""Loggers of the background services of Prefect's temporary API server (telemetry, database
vacuum, triggers run by docket). On a busy machine they can fail on the server's SQLite file
(``database is locked``) while every run succeeds; the server is a child process writing to the
command's stderr, so its tracebacks read as the command's failure."""

SERVER_LOG_NAME = "temporary-api.log"


def route_prefect_server_logs() -> Path | None:
    """Send :data:`ROUTED_SERVER_LOGGERS` to ``$PREFECT_HOME/temporary-api.log`` instead of the
    console, in this process and the temporary API server it starts: Prefect's own logging
    configuration plus those loggers, written beside it and named by
    ``PREFECT_LOGGING_SETTINGS_PATH`` before Prefect is imported. A user's own
    ``PREFECT_LOGGING_SETTINGS_PATH`` wins. Returns the configuration written, or None."""
    if "PREFECT_LOGGING_SETTINGS_PATH" in os.environ:
        return None
    spec = importlib.util.find_spec("prefect")  # finds the package without importing it
    if spec is None or spec.origin is None:
        return None
    import yaml  # type: ignore[import-untyped]  # comes with Prefect, like the file read here

    template = Path(spec.origin).parent / "logging" / "logging.yml"
    config = yaml.safe_load(template.read_text(encoding="utf-8"))
    home = Path(os.environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    config["handlers"]["bnpl_temporary_api"] = {
        "level": 0,
        "class": "logging.FileHandler",
        "formatter": "standard",
        "filename": str(home / SERVER_LOG_NAME),
        "delay": True,
    }
    for name in ROUTED_SERVER_LOGGERS:
        config["loggers"][name] = {
            "level": "WARNING",
            "handlers": ["bnpl_temporary_api"],
            "propagate": False,
        }
    path = home / "bnpl-logging.yml"
    try:
        home.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(config, sort_keys=False)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    except OSError:
        return None  # an unwritable PREFECT_HOME: Prefect's defaults, as before
    os.environ["PREFECT_LOGGING_SETTINGS_PATH"] = str(path)
    return path
