"""``bnpl serve`` (the scoring API), ``bnpl serving materialize`` (its online store) and
``bnpl serving load-scores`` (its scores log into ``bnpl_raw.scores``)."""

from __future__ import annotations

from typing import Annotated

import typer

from bnpl.calendar import parse_day
from bnpl.cli.options import CONSUMER_OPTION, ONCE_OPTION
from bnpl.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add the ``serving`` group to ``app``."""
    serving = typer.Typer(help="The online store of the scoring API.", no_args_is_help=True)
    app.add_typer(serving, name="serving")

    @app.command("serve")
    def serve_command(
        host: Annotated[
            str | None, typer.Option("--host", help="Interface [default: BNPL_SERVING__HOST].")
        ] = None,
        port: Annotated[
            int | None, typer.Option("--port", help="Port [default: BNPL_SERVING__PORT].")
        ] = None,
    ) -> None:
        """Run the scoring API (POST /v1/score, /healthz, /readyz, /metrics) until stopped.

        Needs BNPL_SERVING__TOKENS. Exit code 2 for bad settings.
        """
        import uvicorn

        from bnpl.errors import ConfigError
        from bnpl.serving.asgi import create_app

        settings = load_settings()
        if not settings.serving.tokens:
            raise ConfigError("bnpl serve needs BNPL_SERVING__TOKENS (bearer tokens it accepts)")
        uvicorn.run(
            create_app(settings),
            host=host or settings.serving.host,
            port=port or settings.serving.port,
            log_level="warning",
            access_log=False,
            server_header=False,
            lifespan="on",  # the app's start (champion, warm-up) failing stops the server
        )

    @serving.command("materialize")
    def materialize_command(
        as_of: Annotated[
            str,
            typer.Option("--as-of", help="YYYY-MM-DD: the store as of the start of this day."),
        ],
    ) -> None:
        """Bootstrap the online store (BNPL_SERVING__STORE_*) from the warehouse: the
        transactions of the 366 days before --as-of and the market's daily counts.

        Exit code 0 on success, 1 when the warehouse or the store fails, 2 for bad input or
        settings.
        """
        from bnpl.serving.engines import open_store
        from bnpl.serving.hook import materialize
        from bnpl.warehouse import open_warehouse

        day = parse_day(as_of, name="--as-of")
        settings = load_settings()
        warehouse = open_warehouse(settings, access="existing")
        store = open_store(settings.serving)
        try:
            done = materialize(warehouse, store, day)
        finally:
            store.close()
            warehouse.close()
        typer.echo(
            f"online store as of {day}: {done.transactions} transactions added, "
            f"{done.market_days} market days"
        )

    @serving.command("load-scores")
    def load_scores_command(
        once: Annotated[bool, ONCE_OPTION] = False,
        consumer: Annotated[str | None, CONSUMER_OPTION] = None,
    ) -> None:
        """Consume the scores log (every score bnpl serve gave, the challenger's in shadow too)
        into bnpl_raw.scores, exactly once per request (a long-running service).

        The live loader's micro-batches, offsets and acknowledgement, in the consumer group
        BNPL_SERVING__SCORE_LOADER_GROUP. SIGTERM or SIGINT stops it after the current batch.
        """
        from bnpl.live.engines import open_event_log
        from bnpl.serving.scores import score_loader
        from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals
        from bnpl.warehouse import open_warehouse

        settings = load_settings()
        warehouse = open_warehouse(settings)
        try:
            with (
                open_event_log(settings, stream="scores") as log,
                stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S) as stop,
            ):
                stats = score_loader(log, warehouse, settings, consumer=consumer).run(
                    once=once, stop=stop
                )
        finally:
            warehouse.close()
        typer.echo(
            f"loaded {stats.events} scored requests in {stats.batches} batches: {stats.rows} "
            f"scores, {stats.dead_letters} dead letters"
        )
