"""``bnpl live ...``: the live path's services and operations.

``load`` (the loader service), ``replay`` (dead letters after a fix), ``seal`` (a live day into
the raw tables, then build, gate, publish) and ``status``. Each command is registered by a
function of its own.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime
from typing import Annotated

import typer

from bnpl.calendar import parse_day
from bnpl.errors import ConfigError, QualityGateError
from bnpl.settings import Settings, load_settings
from bnpl.stopping import HARD_EXIT_AFTER_S, stop_on_signals

logger = logging.getLogger(__name__)


def register(app: typer.Typer) -> None:
    """Add the ``live`` group to ``app``."""
    live = typer.Typer(help="The live path: loader, dead letters, day seals.", no_args_is_help=True)
    app.add_typer(live, name="live")
    register_load(live)
    register_replay(live)
    register_seal(live)
    register_status(live)


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


def register_load(live: typer.Typer) -> None:
    """``bnpl live load``."""

    @live.command("load")
    def load(
        once: Annotated[
            bool, typer.Option("--once", help="Stop when the log has nothing more for the group.")
        ] = False,
        max_events: Annotated[
            int | None,
            typer.Option("--max-events", min=1, help="Stop after about this many events."),
        ] = None,
        consumer: Annotated[
            str | None,
            typer.Option(
                "--consumer", help="This loader's name [default: BNPL_LIVE__LOADER_CONSUMER]."
            ),
        ] = None,
    ) -> None:
        """Consume the event log into the live table (a long-running service).

        Micro-batches of at most BNPL_LIVE__BATCH_MAX_EVENTS events or BNPL_LIVE__BATCH_MAX_MS
        go through the batch contracts; valid rows land in bnpl_raw.live_transactions, rejects in
        bnpl_raw.quarantine (the dead letters), with the offsets, then the log is acknowledged.
        SIGTERM or SIGINT stops it after the current batch.
        """
        from bnpl.live.engines import open_event_log
        from bnpl.live.loader import Loader
        from bnpl.warehouse import open_warehouse

        settings = load_settings()
        warehouse = open_warehouse(settings)
        try:
            with (
                open_event_log(settings) as log,
                stop_on_signals(hard_exit_after_s=HARD_EXIT_AFTER_S) as stop,
            ):
                loader = Loader(log, warehouse, settings.live, consumer=consumer)
                stats = loader.run(once=once, max_events=max_events, stop=stop)
        finally:
            warehouse.close()
        typer.echo(
            f"loaded {stats.events} events in {stats.batches} batches: {stats.rows} rows, "
            f"{stats.dead_letters} dead letters"
            + (f", {stats.left} left for redelivery" if stats.left else "")
        )


def register_replay(live: typer.Typer) -> None:
    """``bnpl live replay``."""

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


def register_seal(live: typer.Typer) -> None:
    """``bnpl live seal``."""

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


def register_status(live: typer.Typer) -> None:
    """``bnpl live status``."""

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
