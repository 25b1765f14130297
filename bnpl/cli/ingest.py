"""``bnpl backfill`` and ``bnpl ingest-day``.

Arguments and settings are checked first, so bad input is one line on stderr, exit code 2, and
nothing written. Without a Prefect API configured the command calls :mod:`bnpl.pipeline`
directly (no Prefect import); with one, or ``--prefect``, it runs the ingestion flow
(:mod:`bnpl.cli.runmode`). Both write the same ledger rows, failure log and summary.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Annotated

import typer

from bnpl.calendar import check_ingest_range, parse_day
from bnpl.cli.output import OUTPUT, emit, progress_display, want_json
from bnpl.cli.runmode import use_prefect
from bnpl.errors import ConfigError, IngestError, RunStoppedError
from bnpl.progress import ProgressCallback
from bnpl.reaper import start_reaper
from bnpl.settings import Settings, load_settings
from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals
from bnpl.telemetry import route_prefect_server_logs
from bnpl.timeutil import utc_now

if TYPE_CHECKING:
    from bnpl.ingest import IngestSummary


_EPHEMERAL_API_STARTUP_S = "180"
"""Prefect's temporary API migrates a fresh PREFECT_HOME's database on first start; on a busy
2-core machine that can outlast Prefect's 20 s default, failing a first ``make demo``."""

PREFECT_OPTION = typer.Option(
    "--prefect/--no-prefect",
    help="Run as the Prefect flow, or directly [default: the flow when a Prefect API is "
    "configured (PREFECT_API_URL, a profile), else directly].",
)


def prepare_prefect() -> None:
    """Defaults for Prefect's environment, set before Prefect is imported (the user's win); the
    watchdog that stops Prefect's temporary API (and any other child) when this process ends."""
    start_reaper()
    os.environ.setdefault(
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", _EPHEMERAL_API_STARTUP_S
    )
    route_prefect_server_logs()


def _echo_summary(run: Callable[[ProgressCallback | None], IngestSummary]) -> None:
    """Run an ingestion and echo its summary on stdout (text or JSON), also when some days
    failed.

    The engine logs one line per day; Prefect's "Finished in state Completed()" per task would
    double them on the console without saying which day, so task runs log warnings and up here.
    SIGINT and SIGTERM stop the run with whole days only (:mod:`bnpl.stopping`).
    """
    logging.getLogger("prefect.task_runs").setLevel(logging.WARNING)
    try:
        with stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S), progress_display() as progress:
            summary = run(progress)
    except IngestError as exc:
        if exc.summary:
            emit(exc.summary, exc.data or {"error": str(exc), "failed": exc.failed})
        raise
    except RunStoppedError as exc:
        if exc.summary and not OUTPUT.json:
            typer.echo(exc.summary)
        raise
    emit(str(summary), summary.as_dict())


def _direct(
    settings: Settings, first: date, last: date, workers: int | None, force: bool
) -> Callable[[ProgressCallback | None], IngestSummary]:
    def run(progress: ProgressCallback | None) -> IngestSummary:
        from bnpl.simulator.process import bundled_simulator

        start_reaper()  # the bundled simulator ends with this process
        # the simulator starts first: its child's imports run beside this process's
        with bundled_simulator(settings) as simulator:
            from bnpl import ingest, pipeline  # pandera and polars load only for ingest commands

            with pipeline.open_session(settings, simulator=simulator) as session:
                summary = pipeline.ingest_range(
                    session, first, last, force=force, concurrency=workers, progress=progress
                )
        return ingest.raise_for_failures(summary)

    return run


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
        prefect: Annotated[bool | None, PREFECT_OPTION] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON document.")
        ] = False,
    ) -> None:
        """Ingest every day from --start to --end into the warehouse, then print a summary.

        At most 366 days, all before today (UTC). One request per day; days already loaded for the same request are skipped unless --force.
        Exit code 0 when every day loaded, 1 when some failed (the rest are loaded), 2 for bad
        input.
        """
        want_json("backfill", json_output)
        first: date = parse_day(start, name="--start")
        last: date = parse_day(end, name="--end")
        check_ingest_range(first, last, today=utc_now().date())
        workers = _checked_concurrency(concurrency)
        settings = load_settings()
        if not use_prefect(prefect):
            _echo_summary(_direct(settings, first, last, workers, force))
            return
        from bnpl.pipeline import preflight  # pandera and polars load only for ingest commands

        preflight(settings)
        prepare_prefect()
        from bnpl_flows import ingest as flows  # Prefect is imported only when a flow runs
        from bnpl_flows.progress import local_progress

        def run(progress: ProgressCallback | None) -> IngestSummary:
            with local_progress(progress):
                return flows.backfill(first, last, workers, force)

        _echo_summary(run)

    @app.command("ingest-day")
    def ingest_day(
        day: Annotated[str, typer.Option("--date", help="The day, YYYY-MM-DD.")],
        force: Annotated[
            bool, typer.Option("--force", help="Reload the day if the ledger already holds it.")
        ] = False,
        prefect: Annotated[bool | None, PREFECT_OPTION] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON document.")
        ] = False,
    ) -> None:
        """Ingest one day into the warehouse, then print a summary."""
        want_json("ingest-day", json_output)
        the_day = parse_day(day, name="--date")
        check_ingest_range(the_day, the_day, today=utc_now().date())
        settings = load_settings()
        if not use_prefect(prefect):
            _echo_summary(_direct(settings, the_day, the_day, 1, force))
            return
        from bnpl.pipeline import preflight  # pandera and polars load only for ingest commands

        preflight(settings)
        prepare_prefect()
        from bnpl_flows import ingest as flows  # Prefect is imported only when a flow runs

        _echo_summary(lambda _progress: flows.ingest_day(the_day, force))
