"""Prefect plumbing shared by bnpl's flows: run logs, parameter types and pre-flight checks.

Nothing here transforms data; it connects bnpl's plain functions to Prefect's runtime.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Annotated, Any

from prefect.context import FlowRunContext, TaskRunContext
from prefect.logging.handlers import APILogHandler
from prefect.settings import PREFECT_LOGGING_EXTRA_LOGGERS
from pydantic import BeforeValidator

from bnpl.calendar import parse_day
from bnpl.errors import ConfigError


def _in_run(record: logging.LogRecord) -> bool:
    """Forward a record to the API only from inside a flow or task run.

    bnpl also logs from threads that carry no run context (the bundled simulator's server); the
    API would refuse those records and Prefect would warn about each.
    """
    return (
        getattr(record, "flow_run_id", None) is not None
        or FlowRunContext.get() is not None
        or TaskRunContext.get() is not None
    )


class _BnplRunLogHandler(APILogHandler):
    """Prefect's API log handler, limited to records logged inside a run."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(_in_run)


FORWARDED_LOGGERS = ("bnpl", "flows")
"""Loggers whose records reach the run's logs: the package, and the flows' own modules."""


def forward_bnpl_logs(level: int = logging.INFO) -> dict[str, str]:
    """Send the ``bnpl`` and ``flows`` loggers' records (``level`` and above) to the current run's
    logs in the Prefect UI.

    ``PREFECT_LOGGING_EXTRA_LOGGERS=bnpl`` alone is not enough: Prefect attaches its API handler
    but leaves the level at the root's WARNING, so bnpl's INFO facts (rows loaded, retries) never
    reach the UI. Idempotent, and no duplicates when that variable is also set. Returns a dict so
    a deployment can run it as a pull step (``bnpl_flows._runtime.forward_bnpl_logs``), which covers
    every flow of the deployment.
    """
    extra = set(PREFECT_LOGGING_EXTRA_LOGGERS.value() or [])
    for name in FORWARDED_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
        handled = name in extra or any(isinstance(h, _BnplRunLogHandler) for h in logger.handlers)
        if not handled:
            logger.addHandler(_BnplRunLogHandler())
    return {"forwarded_loggers": ",".join(FORWARDED_LOGGERS)}


def _parse_day_parameter(value: Any) -> Any:
    """Accept ``YYYY-MM-DD`` strings; turn anything else into an actionable error."""
    if isinstance(value, str):
        try:
            return parse_day(value, name="parameter")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
    return value


Day = Annotated[date, BeforeValidator(_parse_day_parameter)]
"""A flow parameter that is a calendar day, ``YYYY-MM-DD``.

Prefect validates flow parameters with pydantic before the first task, so a deployment run given
``"yesterday"`` fails at once with ``parameter 'yesterday' is not a date; use YYYY-MM-DD``.
"""
