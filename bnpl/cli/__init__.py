"""The ``bnpl`` command.

Each area registers its commands from its own module (``bnpl.cli.<area>.register(app)``). Errors
from bnpl become one line on stderr: exit code 2 for bad input or settings (:class:`ConfigError`),
1 for every other failure.
"""

from __future__ import annotations

import logging
import signal
import sys
from typing import Annotated, Any

import typer

from bnpl import allocator
from bnpl.cli import commands
from bnpl.cli.output import JSON_COMMANDS, OUTPUT, json_refused
from bnpl.errors import BnplError, ConfigError, RunStoppedError
from bnpl.redaction import install_log_redaction, redact
from bnpl.stopping import STOP, exit_stopped
from bnpl.telemetry import quiet_prefect_telemetry

app = typer.Typer(
    name="bnpl",
    help="BNPL transaction pipeline: ingest, build, check, export features.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

ALLOCATOR_COMMANDS = frozenset({"backfill", "ingest-day", "daily"})
"""Commands that run the ingestion engine in this process (tens of MB allocated and freed a day)
and get :mod:`bnpl.allocator`'s setting for it; the bundled simulator they start does not."""


def _print_version(value: bool) -> None:
    if value:
        from bnpl.version import VERSION

        typer.echo(f"bnpl {VERSION}")
        raise typer.Exit(0)


@app.callback()
def _global_options(
    ctx: typer.Context,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="No progress and no log lines below warnings; the summary stays."
        ),
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            help="DEBUG, INFO, WARNING or ERROR, on stderr (default INFO; WARNING with --quiet).",
        ),
    ] = None,
    json_output: Annotated[
        bool,
        typer.Option(
            "--json",
            help="Print the summary as one JSON document (backfill, ingest-day, daily, build, "
            "check, status).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """BNPL transaction pipeline: ingest, build, check, export features."""
    level_name = (log_level or ("WARNING" if quiet else "INFO")).upper()
    if level_name not in LOG_LEVELS:
        raise ConfigError(f"--log-level {log_level!r} is not one of {', '.join(LOG_LEVELS)}")
    OUTPUT.json, OUTPUT.quiet = json_output, quiet
    OUTPUT.log_level = getattr(logging, level_name)
    logging.getLogger().setLevel(OUTPUT.log_level)
    if json_output and ctx.invoked_subcommand not in JSON_COMMANDS:
        raise ConfigError(json_refused(str(ctx.invoked_subcommand)))


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record is emitted (as ``logging.lastResort``
    does), not the stream of the moment the handler was made: a caller that swaps stderr (a
    notebook, a test capturing output) never leaves the handler writing to a closed stream."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr as ``time level logger: message`` (idempotent)."""
    install_log_redaction()
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    args = sys.argv[1:] if argv is None else argv
    if commands.command_name(args) in ALLOCATOR_COMMANDS:
        allocator.configure()  # before anything imports Polars
    quiet_prefect_telemetry()  # before any command imports Prefect
    configure_logging()
    OUTPUT.json, OUTPUT.quiet = False, False
    commands.register(app, args)
    try:
        app(args=argv, standalone_mode=False)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except RunStoppedError as exc:
        typer.echo(str(exc), err=True)
        if exc.signum is not None and STOP.signum is None:
            STOP.request(exc.signum)
        exit_stopped()
    except BnplError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        raise SystemExit(130) from None
    except Exception as exc:  # click usage errors carry their own exit code
        code = getattr(exc, "exit_code", None)
        if code is not None and hasattr(exc, "format_message"):
            typer.echo(f"error: {redact(exc.format_message())}", err=True)
            raise SystemExit(code) from None
        if STOP.is_set():  # a stopped run's teardown failed (e.g. Prefect's API was stopped too)
            _stopped_line()
            exit_stopped()
        raise
    except KeyboardInterrupt:  # Ctrl-C outside a run that stops by itself
        STOP.request(signal.SIGINT)
        _stopped_line()
        exit_stopped()
    except BaseException:  # e.g. Prefect's TerminationSignal, a SIGTERM it caught first
        if not STOP.is_set():
            raise
        _stopped_line()
        exit_stopped()


def _stopped_line() -> None:
    typer.echo(
        f"stopped by {STOP.describe()}; run the same command again to finish (loaded days are "
        "skipped)",
        err=True,
    )
