"""The webhook gateway: an ASGI app (Starlette, served by uvicorn) that verifies Standard Webhooks
deliveries and appends them durably to the event log.

``POST /webhooks/bnpl`` answers, in this order of checks:

======  =======================================================================================
413     the body is larger than ``max_body_bytes`` (read in chunks, never past the limit)
400     ``webhook-timestamp`` missing or not integer seconds
401     the id or signature header missing, or no signature matching the current or the previous
        secret: counted, nothing stored
400     the (signed) timestamp is further than the tolerance from the gateway's clock
400     the signed body is not JSON, not an object, or lacks a field every record carries: stored
        as a dead letter (``Event.rejected`` = the reason, the raw body kept) once durable
200     appended and durable (``{"status": "accepted"}``), or the ``webhook-id`` was already in
        the log (``{"status": "duplicate"}``, not appended again)
503     the event log is unavailable: nothing counts as stored; the provider retries
======  =======================================================================================

``GET /healthz`` is 200 while the log is writable (503 after a failed append, until one
succeeds); ``GET /metrics`` is the Prometheus text format. Secrets never reach a log line.
"""

from __future__ import annotations

import gc
import json
import logging
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import generate_latest
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bnpl import record
from bnpl.errors import EventLogUnavailableError, WebhookSignatureError, WebhookTimestampError
from bnpl.live.committer import BatchStats, GroupCommitter
from bnpl.live.log import Event, EventLog
from bnpl.normalize import check_line
from bnpl.signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/webhooks/bnpl"
SOURCE = "webhook"
_REQUIRED = frozenset(record.REQUIRED)
_JSON = "application/json"
_SWITCH_INTERVAL_S = 0.001
"""The gateway process's GIL switch interval (see :func:`serve_gateway`)."""


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    """What the gateway needs besides its log (built from ``LiveSettings`` by the CLI)."""

    secrets: tuple[str, ...]
    tolerance_s: float
    max_body_bytes: int
    max_batch_events: int


class _Metrics:
    """The gateway's Prometheus metrics, in a registry of its own (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bnpl_gateway_requests",
            "Webhook requests by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "bnpl_gateway_duplicates",
            "Webhooks whose webhook-id was already in the log (acknowledged, not appended).",
            registry=self.registry,
        )
        self.append_seconds = Histogram(
            "bnpl_gateway_append_seconds",
            "Seconds of one durable append to the event log (one batch).",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )
        self.batch_events = Histogram(
            "bnpl_gateway_batch_events",
            "Events per durable append (group commit).",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=self.registry,
        )
        self.outcome = {
            name: self.requests.labels(name)
            for name in (
                "accepted",
                "duplicate",
                "bad_signature",
                "bad_timestamp",
                "too_large",
                "dead_letter",
                "unavailable",
            )
        }

    def observe_batch(self, stats: BatchStats) -> None:
        if stats.ok:
            self.append_seconds.observe(stats.seconds)
            self.batch_events.observe(stats.events)


def shape_problem(body: bytes) -> tuple[str, str | None]:
    """``(partition key, None)`` for a body shaped as a BNPL record, else ``("", reason)``.

    The shape is what :mod:`bnpl.normalize` requires before it types a record: a JSON object with
    every key of :data:`bnpl.record.REQUIRED`. Value types and domains are the loader's contracts'
    business (a record that fails them is quarantined there). The reason is the normaliser's own
    check name and message (``json_parse: ...``, ``required_field: ...``).
    """
    try:  # orjson takes UTF-8 only and is stricter than json (no NaN, no lone surrogates): a
        obj = orjson.loads(body)  # body it accepts, json accepts the same, with the same keys
    except orjson.JSONDecodeError:
        try:  # decoded as UTF-8 first: json.loads would also take UTF-16/32 bytes, the loader not
            obj = json.loads(body.decode("utf-8"))
        except (ValueError, RecursionError):  # a ValueError: UnicodeDecodeError, JSONDecodeError
            obj = None
    if isinstance(obj, dict) and _REQUIRED.issubset(obj.keys()):
        customer = obj.get("customer_id")
        return (customer if isinstance(customer, str) else ""), None
    rejection = check_line(0, body).rejection
    if rejection is None:  # the fast path was stricter than the normaliser (cannot happen today)
        return "", "json_parse: not a JSON object with the record's fields"
    problem = rejection.problems[0]
    return "", f"{problem.check}: {problem.message}"[:500]


def _reply(status: int, text: str) -> Response:
    return Response(json.dumps({"status": text}), status_code=status, media_type=_JSON)


def _answer(text: str) -> bytes:
    return json.dumps({"status": text}).encode()


_ACCEPTED, _DUPLICATE = _answer("accepted"), _answer("duplicate")
_HEADERS_WANTED = frozenset({b"content-length", ID_HEADER.encode(), TIMESTAMP_HEADER.encode()})
_HEADERS_WANTED |= {SIGNATURE_HEADER.encode()}


class _TooLargeError(Exception):
    pass


async def _read_body(receive: Receive, declared: str | None, limit: int) -> bytes:
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLargeError
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _headers(scope: Scope) -> dict[str, str]:
    """The headers the webhook reads (the first of each name), decoded as Latin-1 like
    Starlette's; the rest are not looked at."""
    found: dict[str, str] = {}
    for name, value in scope["headers"]:
        if name in _HEADERS_WANTED:
            found.setdefault(name.decode("latin-1"), value.decode("latin-1"))
    return found


async def _send_json(send: Send, status: int, body: bytes) -> None:
    length = str(len(body)).encode()
    headers = [(b"content-length", length), (b"content-type", _JSON.encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _AsgiEndpoint:
    """Makes Starlette's ``Route`` call ``app`` as an ASGI app (it wraps plain functions as
    request -> response handlers)."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def _dispatch(webhook: ASGIApp, rest: Starlette) -> ASGIApp:
    """``POST /webhooks/bnpl`` straight to ``webhook``; everything else (other routes, other
    methods, the lifespan) to Starlette. Starlette's middleware and router cost about 8 % of the
    event loop's time per webhook (py-spy), for nothing on this one route."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == WEBHOOK_PATH and scope["method"] == "POST":
            await webhook(scope, receive, send)
        else:
            await rest(scope, receive, send)

    return app


def create_app(config: GatewayConfig, open_log: Callable[[], EventLog]) -> ASGIApp:
    """The gateway app; ``open_log`` opens the event log (in the writer thread, lazily)."""
    verifier = Verifier(config.secrets, tolerance_s=config.tolerance_s)
    metrics = _Metrics()
    committer = GroupCommitter(
        open_log, max_batch=config.max_batch_events, on_batch=metrics.observe_batch
    )
    outcome = metrics.outcome
    too_large = _answer(f"body larger than {config.max_body_bytes} bytes")
    unavailable = _answer("event log unavailable; retry later")

    async def webhook(scope: Scope, receive: Receive, send: Send) -> None:
        """``POST /webhooks/bnpl`` as a plain ASGI app: no Request or Response objects on the
        hot path (this is most of the gateway's CPU per event)."""
        headers = _headers(scope)
        try:
            body = await _read_body(receive, headers.get("content-length"), config.max_body_bytes)
        except ClientDisconnect:  # nobody to answer; nothing was stored
            return None
        except _TooLargeError:
            outcome["too_large"].inc()
            return await _send_json(send, 413, too_large)
        try:
            event_id = verifier.verify(headers, body, now=time.time())
        except WebhookSignatureError as exc:
            outcome["bad_signature"].inc()
            return await _send_json(send, 401, _answer(str(exc)))
        except WebhookTimestampError as exc:
            outcome["bad_timestamp"].inc()
            return await _send_json(send, 400, _answer(str(exc)))
        key, reason = shape_problem(body)
        event = Event(event_id, key, body, datetime.now(UTC), SOURCE, reason)
        try:
            new = await committer.append(event)
        except EventLogUnavailableError:
            outcome["unavailable"].inc()
            return await _send_json(send, 503, unavailable)
        if reason is not None:
            outcome["dead_letter"].inc()
            return await _send_json(send, 400, _answer(reason))
        if not new:
            outcome["duplicate"].inc()
            metrics.duplicates.inc()
            return await _send_json(send, 200, _DUPLICATE)
        outcome["accepted"].inc()
        await _send_json(send, 200, _ACCEPTED)

    async def healthz(request: Request) -> Response:
        if committer.available:
            return _reply(200, "ok")
        return _reply(503, "event log unavailable")

    async def prometheus(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        committer.start()
        # Everything loaded so far lives as long as the process: out of the collector's sight,
        # a full collection no longer walks it (~90,000 objects, a 30-100 ms pause each time).
        gc.collect()
        gc.freeze()
        log.info(
            "gateway ready: %d secret(s), tolerance %g s", len(config.secrets), config.tolerance_s
        )
        try:
            yield
        finally:
            committer.stop()

    rest = Starlette(
        routes=[  # POST to the webhook path never reaches the router; other methods get its 405
            Route(WEBHOOK_PATH, _AsgiEndpoint(webhook), methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/metrics", prometheus, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    return _dispatch(webhook, rest)


def serve_gateway(app: ASGIApp, *, host: str, port: int) -> None:
    """Serve ``app`` with uvicorn until SIGINT/SIGTERM (uvloop when installed; httptools, with
    one socket write per answer: :mod:`bnpl.live.http_protocol`).

    The lifespan is required: the writer thread starts there, so a failed start is an error.

    The GIL's switch interval is lowered to :data:`_SWITCH_INTERVAL_S`: the writer thread lets
    go of the GIL for each SQLite statement or Redis round trip and, while the event loop runs
    Python, waits up to the interval (5 ms by default) to take it back, each time; so a commit's
    acknowledgement waited for the loop's work several times over.
    """
    import uvicorn

    from bnpl.live.http_protocol import CoalescingHttpToolsProtocol

    sys.setswitchinterval(_SWITCH_INTERVAL_S)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        loop="auto",
        http=CoalescingHttpToolsProtocol,  # httptools, one write per answer
        lifespan="on",
        access_log=False,
        log_config=None,  # bnpl's logging (redacted, one format) stays in charge
        backlog=4096,
        timeout_keep_alive=30,
        proxy_headers=False,  # the gateway reads no client address; skip the middleware
        server_header=False,  # one header less to check and write per answer
    )
    uvicorn.Server(config).run()
