"""``bnpl backfill`` and ``bnpl ingest-day``: run the ingestion flows ad hoc.

Arguments and settings are checked here, before Prefect starts, so bad input is one line on
stderr, exit code 2, and nothing written. The flows are imported inside the commands: ``bnpl``
never imports Prefect at module level.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from bnpl.calendar import check_ingest_range, parse_day
from bnpl.errors import ConfigError, IngestError, RunStoppedError
from bnpl.reaper import start_reaper
from bnpl.settings import load_settings
from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals
from bnpl.timeutil import utc_now

if TYPE_CHECKING:
    from bnpl.ingest import IngestSummary


_EPHEMERAL_API_STARTUP_S = "180"
"""Prefect's temporary API migrates a fresh PREFECT_HOME's database on first start; on a busy
2-core machine that can outlast Prefect's 20 s default, failing a first ``make demo``."""


def _prepare_prefect() -> None:
    """Defaults for Prefect's environment, set before Prefect is imported (the user's win); the
    watchdog that stops Prefect's temporary API (and any other child) when this process ends."""
    start_reaper()
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", _EPHEMERAL_API_STARTUP_S
    )


def _echo_summary(run: Callable[[], IngestSummary]) -> None:
    """Run a flow and echo its summary on stdout, also when some days failed.

    The engine logs one line per day; Prefect's "Finished in state Completed()" per task would
    double them on the console without saying which day, so task runs log warnings and up here.
    SIGINT and SIGTERM stop the run with whole days only (:mod:`bnpl.stopping`).
    """
    logging.getLogger("prefect.task_runs").setLevel(logging.WARNING)
    try:
        with stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S):
            summary = run()
    except (IngestError, RunStoppedError) as exc:
        if exc.summary:
            typer.echo(exc.summary)
        raise
    typer.echo(str(summary))


def _checked_concurrency(value: int | None) -> int | None:
    if value is not None and not 1 <= value <= 64:
        raise ConfigError(f"--concurrency {value} is out of range; use 1..64")
    return value


def register(app: typer.Typer) -> None:
    """Add ``backfill`` and ``ingest-day`` to ``app``."""

    @app.command("backfill")
    def backfill(
        start: Annotated[str, typer.Option("--start", help="First day, YYYY-MM-DD.")],
        end: Annotated[str, typer.Option("--end", help="Last day (inclusive), YYYY-MM-DD.")],
        concurrency: Annotated[
            int | None,
            typer.Option(help="Days fetched in parallel [default: BNPL_INGEST__CONCURRENCY]."),
        ] = None,
        force: Annotated[
            bool, typer.Option("--force", help="Reload days the ledger already holds.")
        ] = False,
    ) -> None:
        """Ingest every day from --start to --end into the warehouse, then print a summary.

        At most 366 days, all before today (UTC). One request per day; days already loaded for the same request are skipped unless --force.
        Exit code 0 when every day loaded, 1 when some failed (the rest are loaded), 2 for bad
        input.
        """
        first: date = parse_day(start, name="--start")
        last: date = parse_day(end, name="--end")
        check_ingest_range(first, last, today=utc_now().date())
        workers = _checked_concurrency(concurrency)
        settings = load_settings()
        from bnpl.pipeline import preflight  # pandera and polars load only for ingest commands

        preflight(settings)
        _prepare_prefect()
        from bnpl_flows import ingest as flows  # Prefect is imported only when a flow runs

        _echo_summary(lambda: flows.backfill(first, last, workers, force))

    @app.command("ingest-day")
    def ingest_day(
        day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD.")],
        force: Annotated[
            bool, typer.Option("--force", help="Reload the day if the ledger already holds it.")
        ] = False,
    ) -> None:
        """Ingest one day into the warehouse, then print a summary."""
        the_day = parse_day(day, name="--date")
        check_ingest_range(the_day, the_day, today=utc_now().date())
        settings = load_settings()
        from bnpl.pipeline import preflight  # pandera and polars load only for ingest commands

        preflight(settings)
        _prepare_prefect()
        from bnpl_flows import ingest as flows  # Prefect is imported only when a flow runs

        _echo_summary(lambda: flows.ingest_day(the_day, force))
