"""An ingestion session: the warehouse, the source and its identity, opened once per run."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from bnpl.calendar import DayRequest
from bnpl.errors import ConfigError
from bnpl.normalize import IdentityScope
from bnpl.settings import Settings
from bnpl.simulator import SIMULATOR_IDENTITY
from bnpl.simulator.process import BackgroundSimulator, bundled
from bnpl.source.client import DaySource, FetchedDay, SourceClient
from bnpl.warehouse import Warehouse, open_warehouse
from bnpl.warehouse.names import LIVE_SOURCE

logger = logging.getLogger(__name__)


def source_identity_of_url(url: str) -> str:
    """A configured source's identity: its URL normalised, without credentials.

    Scheme and host are lower-cased, a default port and a trailing slash are dropped, and user
    info, query and fragment are removed, so ``HTTP://u:p@Simtom:80/`` is ``http://simtom``.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"BNPL_SOURCE__URL={url!r} is not an http(s) URL; e.g. http://127.0.0.1:8000"
        )
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default_port = {"http": 80, "https": 443}[parts.scheme]
    if parts.port is not None and parts.port != default_port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))


def preflight(settings: Settings) -> None:
    """Check what a run needs before it starts anything: the source URL, if one is set, and the
    warehouse (created with its tables if missing).

    Raises:
        ConfigError: naming the ``BNPL_`` variable to fix.
    """
    if settings.source.url is not None:
        source_identity_of_url(settings.source.url)
    warehouse = open_warehouse(settings)
    try:
        warehouse.ensure_schema()
    finally:
        warehouse.close()


@dataclass(frozen=True)
class IngestSession:
    """What a run needs, built once: settings, the source and its identity, the warehouse.

    Attributes:
        source_identity: ``simulator:bnpl/<version>`` for the bundled simulator, else the
            normalised URL; it is hashed into every ``batch_id`` and stored as ``source_url``.
        identity_scope: ``source`` when customer ids are stable across requests, else ``batch``.
    """

    settings: Settings
    source_identity: str
    identity_scope: IdentityScope
    client: DaySource
    warehouse: Warehouse


@contextmanager
def open_session(
    settings: Settings,
    *,
    client: DaySource | None = None,
    source: bool = True,
    simulator: BackgroundSimulator | None = None,
) -> Iterator[IngestSession]:
    """Open the warehouse (creating its tables), then the source, for one run.

    With ``settings.source.url`` unset the bundled simulator is the source: ``simulator`` if
    given (started earlier by the caller, who stops it; see
    :func:`bnpl.simulator.process.bundled_simulator`), else one started here on a free
    127.0.0.1 port and stopped at the end. ``client`` replaces the HTTP client (tests); the
    identity still follows the settings. ``source=False`` (a run that seals live days,
    ``BNPL_LIVE__SEAL_DAYS``): no source is opened or started; the identity is ``live`` and
    fetching a day is an error.

    Raises:
        ConfigError: the warehouse path is unusable or the source URL is invalid (the session
            started nothing; a ``simulator`` passed in is the caller's to stop).
    """
    scope: IdentityScope = "source" if settings.source.stable_customer_ids else "batch"
    with ExitStack() as stack:
        warehouse = open_warehouse(settings)
        stack.callback(warehouse.close)
        warehouse.ensure_schema()
        if not source:
            yield IngestSession(settings, LIVE_SOURCE, "source", _NoSource(), warehouse)
            return
        if settings.source.url is not None:
            identity = source_identity_of_url(settings.source.url)
            base_url = settings.source.url
        else:
            identity = SIMULATOR_IDENTITY
            base_url = ""
        if client is None:
            if settings.source.url is None:
                if simulator is None:
                    simulator = stack.enter_context(bundled(settings))
                base_url = simulator.url()
            client = stack.enter_context(_open_client(settings, base_url))
        yield IngestSession(settings, identity, scope, client, warehouse)


class _NoSource:
    """The source of a session that seals live days: there is none to fetch from."""

    def fetch_day(self, request: DayRequest) -> FetchedDay:
        raise ConfigError(
            f"{request.day}: this run seals live days (BNPL_LIVE__SEAL_DAYS) and has no source "
            "to fetch from"
        )

    def close(self) -> None:
        """Nothing to release."""


@contextmanager
def _open_client(settings: Settings, base_url: str) -> Iterator[DaySource]:
    client = SourceClient(settings.source, base_url=base_url)
    try:
        yield client
    finally:
        client.close()
