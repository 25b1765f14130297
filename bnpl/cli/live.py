"""`bnpl live ...`: the live path's services (registered by :mod:`bnpl.cli.commands`)."""

from __future__ import annotations

from typing import Annotated

import typer

from bnpl.errors import ConfigError
from bnpl.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
    live = typer.Typer(help="The live path: gateway, event log, loader.", no_args_is_help=True)
    _add_gateway(live)
    app.add_typer(live, name="live")


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
