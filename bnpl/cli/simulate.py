"""`bnpl simulate serve`: the bundled simtom-compatible simulator (registered by
:mod:`bnpl.cli.commands`)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError

from bnpl.errors import ConfigError
from bnpl.settings import SimulatorSettings, describe_validation_error, load_settings

_FAULT_HELP = "Injected faults (default: the BNPL_SIMULATOR__FAULTS__* settings, all off)."


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    simulate = typer.Typer(help="The bundled simtom-compatible simulator.", no_args_is_help=True)

    @simulate.command("serve", epilog=_FAULT_HELP)
    def serve_command(
        host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
        port: Annotated[int | None, typer.Option(min=0, max=65535, help="0: a free port.")] = None,
        pace: Annotated[
            bool | None, typer.Option("--pace/--no-pace", help="One day per second, like simtom.")
        ] = None,
        fault_seed: Annotated[
            int | None, typer.Option(help="Seed of every fault decision.", rich_help_panel="Faults")
        ] = None,
        error_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of requests answered 500/502/503.",
                rich_help_panel="Faults",
            ),
        ] = None,
        rate_limit_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of requests answered 429 with Retry-After.",
                rich_help_panel="Faults",
            ),
        ] = None,
        retry_after: Annotated[
            float | None,
            typer.Option(
                min=0.0, help="Retry-After seconds of an injected 429.", rich_help_panel="Faults"
            ),
        ] = None,
        latency_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of requests delayed by --latency.",
                rich_help_panel="Faults",
            ),
        ] = None,
        latency: Annotated[
            float | None,
            typer.Option(min=0.0, help="Added latency in seconds.", rich_help_panel="Faults"),
        ] = None,
        cut_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of streams cut without the chunked terminator.",
                rich_help_panel="Faults",
            ),
        ] = None,
        malformed_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of records sent as invalid JSON.",
                rich_help_panel="Faults",
            ),
        ] = None,
        extra_field_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of records with an unknown extra field.",
                rich_help_panel="Faults",
            ),
        ] = None,
        missing_field_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of records missing a required field.",
                rich_help_panel="Faults",
            ),
        ] = None,
        float_drift_rate: Annotated[
            float | None,
            typer.Option(
                min=0.0,
                max=1.0,
                help="Share of records with int/bool fields as floats.",
                rich_help_panel="Faults",
            ),
        ] = None,
    ) -> None:
        """Serve POST /stream/bnpl (simtom's contract) until interrupted."""
        from bnpl.simulator.server import bind_socket, serve

        faults = {
            "seed": fault_seed,
            "error_rate": error_rate,
            "rate_limit_rate": rate_limit_rate,
            "retry_after_s": retry_after,
            "latency_rate": latency_rate,
            "latency_s": latency,
            "cut_rate": cut_rate,
            "malformed_rate": malformed_rate,
            "extra_field_rate": extra_field_rate,
            "missing_field_rate": missing_field_rate,
            "float_drift_rate": float_drift_rate,
        }
        settings = configure(
            load_settings().simulator,
            {"host": host, "port": port, "pace": pace},
            faults,
        )
        sock = bind_socket(settings.host, settings.port)
        bound_port = sock.getsockname()[1]
        typer.echo(
            f"bnpl simulator listening on http://{settings.host}:{bound_port} (Ctrl-C stops)"
        )
        serve(settings, sock=sock)

    app.add_typer(simulate, name="simulate")


def configure(
    base: SimulatorSettings, options: dict[str, Any], faults: dict[str, Any]
) -> SimulatorSettings:
    """``base`` with the options that were given (not None) applied.

    Raises:
        ConfigError: an option is out of range.
    """
    data = base.model_dump()
    data.update({k: v for k, v in options.items() if v is not None})
    data["faults"].update({k: v for k, v in faults.items() if v is not None})
    try:
        return SimulatorSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(
            describe_validation_error(exc).replace("BNPL_", "BNPL_SIMULATOR__")
        ) from None
