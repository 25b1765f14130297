"""`bnpl simulate serve`: the bundled simtom-compatible simulator (registered by
:mod:`bnpl.cli.commands`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from bnpl.errors import ConfigError
from bnpl.settings import (
    PushSettings,
    SimulatorSettings,
    describe_validation_error,
    load_settings,
)

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

    _add_push(simulate)
    app.add_typer(simulate, name="simulate")


def _rate_option(text: str) -> Any:
    return typer.Option(min=0.0, max=1.0, help=text, rich_help_panel="Faults")


def _add_push(simulate: typer.Typer) -> None:
    @simulate.command("push", epilog="Faults default to the BNPL_SIMULATOR__PUSH__* settings.")
    def push_command(
        to: Annotated[str, typer.Option("--to", help="The gateway's webhook URL.")],
        rate: Annotated[float, typer.Option(min=0.0, help="Events per second; 0: unpaced.")],
        duration: Annotated[
            float | None, typer.Option(min=0.0, help="Seconds to generate events for.")
        ] = None,
        events: Annotated[int | None, typer.Option(min=1, help="Events to generate.")] = None,
        seed: Annotated[
            int | None, typer.Option(help="Reproducible event ids, contents and faults.")
        ] = None,
        acked_out: Annotated[
            Path | None, typer.Option(help="Write the acknowledged event ids here, one a line.")
        ] = None,
        concurrency: Annotated[
            int | None, typer.Option(min=1, help="Deliveries in flight at once.")
        ] = None,
        duplicate_rate: Annotated[
            float | None, _rate_option("Share of events delivered twice.")
        ] = None,
        out_of_order_rate: Annotated[
            float | None, _rate_option("Share of events delivered after later ones.")
        ] = None,
        late_rate: Annotated[
            float | None, _rate_option("Share of events that happened a day ago.")
        ] = None,
        bad_signature_rate: Annotated[
            float | None, _rate_option("Share of events signed with an unknown secret.")
        ] = None,
        stale_rate: Annotated[
            float | None, _rate_option("Share of events with a day-old webhook-timestamp.")
        ] = None,
        malformed_rate: Annotated[
            float | None, _rate_option("Share of events whose body is not a record.")
        ] = None,
    ) -> None:
        """Push the simulator's real-time records to a gateway as signed webhooks."""
        from bnpl.simulator.push import PushPlan, run_push, write_acked

        if (duration is None) == (events is None):
            raise ConfigError("give exactly one of --duration and --events")
        settings = load_settings()
        if not settings.live.webhook_secrets:
            raise ConfigError(
                "BNPL_LIVE__WEBHOOK_SECRETS is empty; set the gateway's current secret "
                "(whsec_<base64>) to sign with"
            )
        options = {
            "concurrency": concurrency,
            "duplicate_rate": duplicate_rate,
            "out_of_order_rate": out_of_order_rate,
            "late_rate": late_rate,
            "bad_signature_rate": bad_signature_rate,
            "stale_rate": stale_rate,
            "malformed_rate": malformed_rate,
        }
        data = settings.simulator.push.model_dump()
        data.update({k: v for k, v in options.items() if v is not None})
        try:
            push_settings = PushSettings.model_validate(data)
        except ValidationError as exc:
            raise ConfigError(
                describe_validation_error(exc).replace("BNPL_", "BNPL_SIMULATOR__PUSH__")
            ) from None
        plan = PushPlan(to, rate, events=events, duration_s=duration, seed=seed)
        secret = settings.live.webhook_secrets[0].get_secret_value()
        summary = run_push(plan, push_settings, secret)
        if acked_out is not None:
            write_acked(summary, acked_out)
        for line in summary.lines():
            typer.echo(line)


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
