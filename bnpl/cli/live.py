"""``bnpl live ...``: the live path's services and tools (registered by :mod:`bnpl.cli.commands`).

Each command is added by its own ``_add_<name>`` function, so that the areas of the live path
(relay, gateway, loader, seal, status) stay apart in this module.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from bnpl.errors import ConfigError
from bnpl.settings import load_settings
from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals


def register(app: typer.Typer) -> None:
    """Add the ``live`` command group to ``app``."""
    live = typer.Typer(
        help="The live path: signed webhooks, the event log, micro-batches, day sealing.",
        no_args_is_help=True,
    )
    _add_relay(live)
    _add_gateway(live)
    app.add_typer(live, name="live")


# --- bnpl live relay ------------------------------------------------------------------------------


def relay_body(
    *, rate: float | None, max_records: int | None, seed: int | None, extra: str | None
) -> dict[str, Any]:
    """The real-time request body of ``bnpl live relay`` (simtom's fields, contract §1.2).

    Raises:
        ConfigError: ``extra`` is not a JSON object, or names dates (historical mode).
    """
    body: dict[str, Any] = {}
    if extra:
        try:
            parsed = json.loads(extra)
        except ValueError as exc:
            raise ConfigError(f"--body is not JSON ({exc})") from None
        if not isinstance(parsed, dict):
            raise ConfigError(
                '--body is not a JSON object, e.g. \'{"arrival_pattern": "poisson"}\''
            )
        body.update(parsed)
    for name, value in (("rate_per_second", rate), ("max_records", max_records), ("seed", seed)):
        if value is not None:
            body[name] = value
    if body.get("start_date") is not None or body.get("end_date") is not None:
        raise ConfigError("--body names start_date/end_date: the relay reads the real-time stream")
    return body


def _add_relay(live: typer.Typer) -> None:
    @live.command("relay")
    def relay_command(
        from_url: Annotated[
            str,
            typer.Option("--from", help="Base URL of simtom (or `bnpl simulate serve`)."),
        ],
        rate: Annotated[
            float | None,
            typer.Option(min=0.01, max=1000, help="rate_per_second of the stream (simtom's)."),
        ] = None,
        max_records: Annotated[
            int | None, typer.Option(min=1, help="End after this many records (default: never).")
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Seed of the stream (simtom's).")] = None,
        body: Annotated[
            str | None,
            typer.Option(help="More request fields as a JSON object, e.g. arrival_pattern."),
        ] = None,
    ) -> None:
        """Append simtom's real-time stream to the event log, reconnecting after a cut.

        Event ids are derived from the source and the stream, so records a reconnect re-reads
        are dropped as duplicates. Runs until the stream ends or SIGINT/SIGTERM.
        """
        from bnpl.live.engines import open_event_log
        from bnpl.live.relay import Relay
        from bnpl.settings import SourceSettings

        request = relay_body(rate=rate, max_records=max_records, seed=seed, extra=body)
        settings = load_settings()
        try:  # user info in --from becomes the source's secret userinfo, as in BNPL_SOURCE__URL
            source = SourceSettings(**{**settings.source.model_dump(), "url": from_url})
        except ValueError:  # its text would echo the URL, credentials included
            raise ConfigError(
                "--from: not an http(s) URL with a host and a usable port, e.g. "
                "http://127.0.0.1:8000"
            ) from None
        with (
            stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S),
            open_event_log(settings) as log,
        ):
            report = Relay(
                log, url=source.url or from_url, body=request, source=source, live=settings.live
            ).run()
        typer.echo(
            f"relayed {report.received} records: {report.appended} appended, "
            f"{report.duplicates} duplicates, {report.rejected} rejected, "
            f"{report.connections} connections"
        )


# --- bnpl live gateway ----------------------------------------------------------------------------


def _add_gateway(live: typer.Typer) -> None:
    @live.command("gateway")
    def gateway_command(
        host: Annotated[
            str | None, typer.Option(help="Interface (default BNPL_LIVE__GATEWAY_HOST).")
        ] = None,
        port: Annotated[
            int | None,
            typer.Option(min=1, max=65535, help="TCP port (default BNPL_LIVE__GATEWAY_PORT)."),
        ] = None,
    ) -> None:
        """Serve POST /webhooks/bnpl, /healthz and /metrics until SIGINT/SIGTERM."""
        from bnpl.live.engines import open_event_log
        from bnpl.live.gateway import GatewayConfig, create_app, serve_gateway

        settings = load_settings()
        live_settings = settings.live
        if not live_settings.webhook_secrets:
            raise ConfigError(
                "BNPL_LIVE__WEBHOOK_SECRETS is empty; set the current secret (whsec_<base64>) "
                "first, then the previous one while providers rotate"
            )
        config = GatewayConfig(
            secrets=tuple(s.get_secret_value() for s in live_settings.webhook_secrets),
            tolerance_s=live_settings.webhook_tolerance_s,
            max_body_bytes=live_settings.max_body_bytes,
            max_batch_events=live_settings.max_batch_events,
        )
        app = create_app(config, lambda: open_event_log(settings))
        serve_gateway(
            app,
            host=host or live_settings.gateway_host,
            port=port or live_settings.gateway_port,
        )
