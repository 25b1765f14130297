"""``bnpl live ...``: the live path's services and tools (registered by :mod:`bnpl.cli.commands`).

Each command is added by its own ``_add_<name>`` function, so that the areas of the live path
(relay, gateway, loader, seal, status) stay apart in this module.
"""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import typer

from bnpl.calendar import parse_day
from bnpl.cli.options import CONSUMER_OPTION, ONCE_OPTION
from bnpl.errors import ConfigError, QualityGateError
from bnpl.settings import Settings, load_settings
from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    """Add the ``live`` command group to ``app``."""
    live = typer.Typer(
        help="The live path: signed webhooks, the event log, micro-batches, day sealing.",
        no_args_is_help=True,
    )
    _add_relay(live)
    _add_load(live)
    _add_replay(live)
    _add_seal(live)
    _add_status(live)
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


# --- bnpl live load, replay, seal, status ------------------------------------------------------


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(
            f"--since {value!r} is not an ISO date or time (2026-12-04 or 2026-12-04T10:00:00Z)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _add_load(live: typer.Typer) -> None:

    @live.command("load")
    def load(
        once: Annotated[bool, ONCE_OPTION] = False,
        max_events: Annotated[
            int | None,
            typer.Option("--max-events", min=1, help="Stop after about this many events."),
        ] = None,
        consumer: Annotated[str | None, CONSUMER_OPTION] = None,
    ) -> None:
        """Consume the event log into the live table (a long-running service).

        Micro-batches of at most BNPL_LIVE__BATCH_MAX_EVENTS events or BNPL_LIVE__BATCH_MAX_MS
        go through the batch contracts; valid rows land in bnpl_raw.live_transactions, rejects in
        bnpl_raw.quarantine (the dead letters), with the offsets, then the log is acknowledged.
        SIGTERM or SIGINT stops it after the current batch.
        """
        from bnpl.live.engines import open_event_log
        from bnpl.live.loader import Loader
        from bnpl.serving.engines import open_store
        from bnpl.serving.hook import store_updater
        from bnpl.warehouse import open_warehouse

        settings = load_settings()
        warehouse = open_warehouse(settings)
        store = open_store(settings.serving)  # the scoring API's online store, kept fresh
        try:
            with (
                open_event_log(settings) as log,
                stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S) as stop,
            ):
                loader = Loader(
                    log,
                    warehouse,
                    settings.live,
                    consumer=consumer,
                    after_commit=store_updater(store),
                )
                stats = loader.run(once=once, max_events=max_events, stop=stop)
        finally:
            store.close()
            warehouse.close()
        typer.echo(
            f"loaded {stats.events} events in {stats.batches} batches: {stats.rows} rows, "
            f"{stats.dead_letters} dead letters"
            + (f", {stats.left} left for redelivery" if stats.left else "")
        )


def _add_replay(live: typer.Typer) -> None:

    @live.command("replay")
    def replay(
        reason: Annotated[
            list[str] | None,
            typer.Option(
                "--reason", help="Dead letters with this reason (check name); repeatable."
            ),
        ] = None,
        event_id: Annotated[
            list[str] | None, typer.Option("--event-id", help="This dead letter; repeatable.")
        ] = None,
        since: Annotated[
            str | None,
            typer.Option(
                "--since", help="Dead letters quarantined at or after this ISO time (UTC)."
            ),
        ] = None,
        everything: Annotated[
            bool, typer.Option("--all", help="Every dead letter (no filter).")
        ] = False,
    ) -> None:
        """Re-process chosen dead letters after a fix: those that now pass become live rows and
        leave the dead letters; the others stay, with their new reason. Filters combine."""
        from bnpl.live.replay import replay_dead_letters
        from bnpl.warehouse import open_warehouse

        moment = _since(since)
        settings = load_settings()
        warehouse = open_warehouse(settings, access="existing")
        try:
            result = replay_dead_letters(
                warehouse, reasons=reason, event_ids=event_id, since=moment, everything=everything
            )
        finally:
            warehouse.close()
        still = ", ".join(f"{k} {v}" for k, v in sorted(result.still_dead.items()))
        typer.echo(
            f"replayed {result.chosen} dead letters: {result.loaded} loaded, "
            f"{sum(result.still_dead.values())} still dead" + (f" ({still})" if still else "")
        )


def _seal_one(settings: Settings, day: date, *, force: bool) -> None:
    from bnpl.live.seal import check_sealable
    from bnpl.pipeline import seal_day
    from bnpl.timeutil import utc_now
    from bnpl.warehouse import open_warehouse

    # refused before anything is opened
    check_sealable(day, now=utc_now(), grace_s=settings.live.seal_grace_s, force=force)
    warehouse = open_warehouse(settings, access="existing")
    try:
        sealed = seal_day(warehouse, settings, day, run_id=uuid.uuid4().hex, force=force)
    finally:
        warehouse.close()
    gate = sealed.published.gate
    typer.echo(
        f"sealed {day}: {sealed.loaded.records_loaded} rows, {sealed.loaded.records_quarantined} "
        f"dead letters, {sealed.loaded.customers_loaded} customers; published "
        f"{len(gate.published) if gate else 0} marts"
    )


def _add_seal(live: typer.Typer) -> None:

    @live.command("seal")
    def seal(
        day: Annotated[
            str | None, typer.Option("--date", help="The UTC day to seal, YYYY-MM-DD.")
        ] = None,
        stale: Annotated[
            bool, typer.Option("--stale", help="Seal again every day changed since its seal.")
        ] = False,
        force: Annotated[
            bool, typer.Option("--force", help="Seal before the grace period for late events ends.")
        ] = False,
    ) -> None:
        """Turn a live day into day D of the raw tables (the same atomic day replace, a ledger row
        whose source is live), then build, gate and publish it. Refused before the day's end plus
        BNPL_LIVE__SEAL_GRACE_S unless --force; an already sealed day is replaced. Exit 1 when an
        error-level check fails (the day is loaded, nothing is published), 2 for bad input."""
        if (day is None) == (not stale):
            raise ConfigError("give --date YYYY-MM-DD or --stale (one of them)")
        settings = load_settings()
        if day is not None:
            _seal_one(settings, parse_day(day, name="--date"), force=force)
            return
        from bnpl.live.status import read_status
        from bnpl.warehouse import open_warehouse

        warehouse = open_warehouse(settings, access="existing")
        try:
            days = read_status(warehouse, None, group=settings.live.loader_group).stale["day"]
        finally:
            warehouse.close()
        if days.is_empty():
            typer.echo("no stale days")
            return
        failed: list[str] = []
        for one in days.to_list():
            try:
                _seal_one(settings, one, force=True)
            except QualityGateError as exc:
                typer.echo(f"error: {one}: {exc}", err=True)
                failed.append(str(one))
        if failed:
            raise typer.Exit(1)


def _add_status(live: typer.Typer) -> None:

    @live.command("status")
    def status(
        as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
        days: Annotated[
            int, typer.Option("--days", min=1, help="Seals and stale days of this many days back.")
        ] = 31,
    ) -> None:
        """Log depth, consumer lag in events and seconds, dead letters by reason, the last seal of
        each day and the stale days."""
        from bnpl.errors import EventLogUnavailableError
        from bnpl.live.engines import open_event_log
        from bnpl.live.log import EventLog
        from bnpl.live.status import read_status, status_json
        from bnpl.warehouse import open_warehouse

        settings = load_settings()
        log: EventLog | None
        try:
            log = open_event_log(settings)
        except EventLogUnavailableError as exc:
            logger.warning("event log unavailable: %s", exc)
            log = None
        warehouse = open_warehouse(settings)
        try:
            snapshot = read_status(warehouse, log, group=settings.live.loader_group, days=days)
        finally:
            warehouse.close()
            if log is not None:
                log.close()
        typer.echo(status_json(snapshot) if as_json else snapshot.render())


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
