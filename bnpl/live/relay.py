"""The relay: simtom's real-time stream (``POST /stream/bnpl`` without dates) → the event log.

One thread reads the stream through the source stage's pieces (:func:`build_http_client`, the
pure :class:`~bnpl.source.framing.Framer`, :func:`raise_for_status` and :func:`retry_wait` under
stamina) and queues one :class:`~bnpl.live.log.Event` per record; the calling thread appends what
is queued in batches (under load, one durable write carries many records). A cut or failed
stream is reconnected with exponential back-off (a stream that delivered records first is
reconnected at once); a 4xx other than 429, or bad framing, ends the relay with the error.

Event ids are deterministic: ``relay-`` + key(the stream's identity, ``transaction_id``, the
record without ``_timestamp``), where the stream's identity is the batch id of the source's
identity (its URL, normalised) and the canonical request body. A reconnect that re-reads the same
records (a seeded stream restarts at ``txn_00000000`` with the same content and new timestamps)
produces the same ids, and the log drops them; records that merely reuse a restarted
``transaction_id`` (an unseeded stream) differ in content, so they are kept. A record that is not
a JSON object is appended with ``rejected`` set (the loader dead-letters it with its raw bytes);
its id is a key of its text without the ``_timestamp`` value.
"""

from __future__ import annotations

import hashlib
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import stamina

from bnpl.errors import ConfigError, EventLogUnavailableError, TransientSourceError
from bnpl.ingest.session import source_identity_of_url
from bnpl.live.log import Event, EventLog
from bnpl.normalize.keys import batch_id, canonical_json, stable_key
from bnpl.settings import LiveSettings, SourceSettings
from bnpl.source.client import (
    build_http_client,
    raise_for_status,
    retry_wait,
    shut_down_response,
)
from bnpl.source.framing import Framer
from bnpl.stopping import STOP, StopRequest

logger = logging.getLogger(__name__)

RELAY_SOURCE = "relay"
"""``Event.source`` of what the relay appends."""
_TIMESTAMP_VALUE = re.compile(rb'"_timestamp": *"[^"]*"')
"""The send time in a record's text: left out of the id, since a re-read record has a new one."""


def relay_event(stream_identity: str, record: bytes, received_at: datetime) -> Event:
    """The event of one record (the JSON text of a ``data:`` line) read from the stream."""
    try:
        parsed: Any = json.loads(record)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        reason = "not JSON" if parsed is None else "not a JSON object"
        digest = hashlib.sha256(_TIMESTAMP_VALUE.sub(b"", record)).hexdigest()
        return Event(
            event_id=f"relay-{stable_key(stream_identity, 'raw', digest)}",
            key="",
            payload=record,
            received_at=received_at,
            source=RELAY_SOURCE,
            rejected=f"relay: the record is {reason}",
        )
    content = canonical_json({k: v for k, v in parsed.items() if k != "_timestamp"})
    customer = parsed.get("customer_id")
    return Event(
        event_id=f"relay-{stable_key(stream_identity, str(parsed.get('transaction_id')), content)}",
        key=customer if isinstance(customer, str) else "",
        payload=record,
        received_at=received_at,
        source=RELAY_SOURCE,
    )


@dataclass
class RelayReport:
    """What one relay run did: records received, appended (new), duplicates (ids the log held),
    rejected (appended as dead letters), connections opened."""

    received: int = 0
    appended: int = 0
    duplicates: int = 0
    rejected: int = 0
    connections: int = 0


class Relay:
    """Read the real-time stream at ``url`` with request ``body`` into ``log`` until the stream
    ends, ``stop`` is requested, or a terminal error (see the module docstring).

    Raises:
        ConfigError: ``body`` names dates (that is historical mode, not a stream).
    """

    def __init__(
        self,
        log: EventLog,
        *,
        url: str,
        body: Mapping[str, Any],
        source: SourceSettings,
        live: LiveSettings,
        stop: StopRequest = STOP,
        http: httpx.Client | None = None,
    ) -> None:
        if body.get("start_date") is not None or body.get("end_date") is not None:
            raise ConfigError("the relay reads the real-time stream: leave out start_date/end_date")
        self._log = log
        self._body = dict(body)
        self._url = f"{url.rstrip('/')}/stream/{source.generator}"
        self._identity = batch_id(source_identity_of_url(url), self._body)
        self._source = source
        self._live = live
        self._stop = stop
        self._owns_http = http is None
        self._http = http or build_http_client(source)
        self._queue: queue.Queue[Event | None] = queue.Queue(maxsize=live.relay_batch_size * 10)
        self._error: BaseException | None = None
        self.report = RelayReport()

    def run(self) -> RelayReport:
        """Relay until the end; returns the report (also logged).

        Raises:
            SourceRequestError, FramingError: the source refused the request or sent garbage.
        """
        reader = threading.Thread(target=self._read, name="relay-reader", daemon=True)
        reader.start()
        try:
            self._append_until_end()
        finally:
            reader.join(timeout=10)
            if self._owns_http:
                self._http.close()
        r = self.report
        logger.info(
            "relay %s: %d records received, %d appended, %d duplicates, %d rejected, "
            "%d connections",
            self._url,
            r.received,
            r.appended,
            r.duplicates,
            r.rejected,
            r.connections,
        )
        if self._error is not None:
            raise self._error
        return r

    # --- the reader thread ---------------------------------------------------------------------

    def _read(self) -> None:
        try:
            ended = False
            while not ended and not self._stop.is_set():
                for attempt in stamina.retry_context(
                    on=self._retry_on,
                    attempts=None,
                    timeout=None,
                    wait_initial=self._source.retry_initial_wait_s,
                    wait_max=self._live.relay_max_backoff_s,
                ):
                    with attempt:
                        ended = self._stream_once()
        except Exception as exc:
            if not self._stop.is_set():
                self._error = exc
        finally:
            self._put(None, force=True)

    def _retry_on(self, exc: Exception) -> bool | float:
        if self._stop.is_set():
            return False
        wait = retry_wait(exc)
        if wait is not False:
            logger.warning("relay: %s; reconnecting to %s", exc, self._url)
        return wait

    def _stream_once(self) -> bool:
        """One connection. True: the stream ended (or a stop came); False: it was cut after
        delivering records (reconnect at once). Raises a transient error for a failed one."""
        content = json.dumps(self._body, separators=(",", ":")).encode()
        records = 0
        self.report.connections += 1
        try:
            with self._http.stream(
                "POST", self._url, content=content, headers={"content-type": "application/json"}
            ) as response:
                unregister = self._stop.on_request(lambda: shut_down_response(response))
                try:
                    if response.status_code != 200:
                        raise_for_status(
                            response, url=self._url, retry_budget_s=self._live.relay_max_backoff_s
                        )
                    framer = Framer()
                    for chunk in response.iter_bytes():
                        received_at = datetime.now(UTC)
                        for record in framer.feed(chunk):
                            self._put(relay_event(self._identity, record, received_at))
                            records += 1
                    framer.close()
                finally:
                    unregister()
            return True
        except (httpx.TransportError, TransientSourceError) as exc:
            if self._stop.is_set():
                return True
            if records:
                logger.warning(
                    "relay: the stream was cut after %d records (%s); reconnecting", records, exc
                )
                return False
            if isinstance(exc, TransientSourceError):
                raise
            raise TransientSourceError(f"{type(exc).__name__}: {exc or 'no detail'}") from exc

    def _put(self, item: Event | None, *, force: bool = False) -> None:
        while True:
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                if self._stop.is_set() and not force:
                    return

    # --- the appending thread (the caller's) ---------------------------------------------------

    def _append_until_end(self) -> None:
        size = self._live.relay_batch_size
        done = False
        while not done:
            batch: list[Event] = []
            item = self._queue.get()
            while True:
                if item is None:  # the reader is done
                    done = True
                    break
                batch.append(item)
                if len(batch) >= size:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._append(batch)

    def _append(self, batch: list[Event]) -> None:
        wait = self._source.retry_initial_wait_s
        while True:
            try:
                stored = self._log.append(batch)
                break
            except EventLogUnavailableError as exc:
                if self._stop.is_set():
                    logger.error("relay: stopped with %d records not appended: %s", len(batch), exc)
                    return
                logger.warning("relay: %s; retrying in %.1f s", exc, wait)
                time.sleep(wait)
                wait = min(max(wait * 2, 0.1), self._live.relay_max_backoff_s)
        self.report.received += len(batch)
        self.report.appended += sum(stored)
        self.report.duplicates += len(stored) - sum(stored)
        self.report.rejected += sum(
            1 for e, ok in zip(batch, stored, strict=True) if ok and e.rejected
        )
