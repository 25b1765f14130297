"""Replay the daily flow over a range of days with the simulator injecting source faults.

Each day is one run of :func:`bnpl_flows.daily.daily_bnpl_processing`, in day order, as if that day
were "today" (its logical date is the day; every model and check sees only what was loaded up to
it). A run that fails after the client's own retries is retried once, in the same flow run, as
``prefect flow-run retry`` from the UI would; ``--retries`` changes how many times.

One simulator serves the whole replay, so it counts attempts per request across runs: a retried
run sends attempt 6, 7, ... of its day's request, not attempt 1 again, and may succeed where the
first run failed (fault decisions are deterministic per request and attempt number).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from uuid import UUID

from prefect.client.orchestration import get_client

from bnpl.calendar import check_range, iter_days
from bnpl.errors import ConfigError
from bnpl.settings import load_settings
from bnpl.simulator.process import serve_in_background
from bnpl.simulator.report import (
    RunOutcome,
    SimulationReport,
    request_fault_settings,
    summarize_simulation,
)
from bnpl_flows.daily import daily_bnpl_processing

logger = logging.getLogger(__name__)

MAX_SIMULATED_DAYS = 366


@contextmanager
def _source_url(url: str) -> Iterator[None]:
    """Point the runs' settings at ``url`` (flows read settings from the environment)."""
    previous = os.environ.get("BNPL_SOURCE__URL")
    os.environ["BNPL_SOURCE__URL"] = url
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("BNPL_SOURCE__URL", None)
        else:
            os.environ["BNPL_SOURCE__URL"] = previous


def _attempts_and_first_error(flow_run_id: UUID) -> tuple[int, str]:
    """How many times the flow run ran, and the message of its first failure ('' if none)."""
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(flow_run_id)
        states = client.read_flow_run_states(flow_run_id)
    failures = [s.message or "" for s in states if s.is_failed() or s.name == "AwaitingRetry"]
    return run.run_count, failures[0] if failures else ""


def simulate_days(
    start: date, end: date, *, fault_rate: float, retries: int = 1, fault_seed: int = 0
) -> SimulationReport:
    """Run the daily flow for every day from ``start`` to ``end`` with source faults injected.

    ``fault_rate`` is the probability that one request attempt fails (5xx, 429 or a cut stream in
    equal shares, see :func:`bnpl.simulator.report.request_fault_settings`); the client's own retries absorb
    most faults, the run-level retries the rest. The runs write to the configured warehouse.

    Raises:
        ConfigError: a bad range or rate, ``retries`` < 0, or ``BNPL_SOURCE__URL`` set (faults
            are injected by the bundled simulator only).
    """
    check_range(start, end, max_days=MAX_SIMULATED_DAYS)
    if retries < 0:
        raise ConfigError(f"--retries {retries} is negative; use 0 or more")
    settings = load_settings()
    faults = request_fault_settings(fault_rate, seed=fault_seed, base=settings.simulator.faults)
    if settings.source.url is not None:
        raise ConfigError(
            "simulate-days injects faults with the bundled simulator; unset BNPL_SOURCE__URL"
        )
    simulator = settings.simulator.model_copy(update={"port": 0, "faults": faults})
    run = daily_bnpl_processing.with_options(retries=retries, retry_delay_seconds=0)
    outcomes: list[RunOutcome] = []
    with serve_in_background(simulator) as url, _source_url(url):
        logger.info(
            "simulating %s..%s against %s, fault rate %.1f%%", start, end, url, 100 * fault_rate
        )
        for day in iter_days(start, end):
            started = time.monotonic()
            state = run(logical_date=day, return_state=True)
            seconds = time.monotonic() - started
            flow_run_id = state.state_details.flow_run_id
            assert flow_run_id is not None
            attempts, first_error = _attempts_and_first_error(flow_run_id)
            completed = state.is_completed()
            error = (first_error if completed else (state.message or first_error)).removeprefix(
                "Flow run encountered an exception: "
            )
            figures = state.result(raise_on_failure=False) if completed else None
            source_attempts = figures.get("source_attempts") if isinstance(figures, dict) else None
            outcome = RunOutcome(day, attempts, completed, error, seconds, source_attempts)
            outcomes.append(outcome)
            logger.info(
                "%s: %s after %d attempt(s) in %.1f s", day, outcome.status, attempts, seconds
            )
    return summarize_simulation(outcomes, fault_rate=fault_rate, retries=retries)
