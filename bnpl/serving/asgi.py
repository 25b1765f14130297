"""The scoring API's ASGI callable: four routes, no framework on the hot path.

``POST /v1/score`` is most of the traffic and about a millisecond of work; Starlette's routing,
``Request``/``Response`` objects and the thread hop cost about as much again per request
(``bench/results.md``, serving). So the app reads the two headers it needs from the ASGI scope,
reads the body up to the limit, hands it to :meth:`ScoringService.score` and sends the answer as
two ASGI messages. The statuses and bodies are the API's (:mod:`bnpl.serving.api`); anything
else gets 404 (unknown path) or 405 (wrong method, with ``Allow``).

The work runs on the event loop's thread when the online store is the local SQLite file (a read
is tens of microseconds). A network store (Redis) can stall for its timeout, so then scoring and
``/readyz`` run in a worker thread and ``/healthz`` keeps answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from types import SimpleNamespace
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from bnpl.serving.api import Answer, ScoringService, dumps, error_answer
from bnpl.serving.store import OnlineStore, SqliteStore
from bnpl.settings import Settings

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_JSON = b"application/json"
_ROUTES = {"/v1/score": "POST", "/healthz": "GET", "/readyz": "GET", "/metrics": "GET"}


class ScoringApp:
    """The ASGI app of one :class:`ScoringService` (``state.service``, as Starlette's apps
    expose their state)."""

    def __init__(self, service: ScoringService) -> None:
        self.service = service
        self.state = SimpleNamespace(service=service)
        self._limit = service.serving.max_body_bytes
        self._too_big = error_answer(413, f"body over {self._limit} bytes")
        self._on_loop = isinstance(service.store, SqliteStore)
        """Run the work on the loop's thread (a local store), else in a worker thread."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            path, method = scope["path"], scope["method"]
            if path == "/v1/score" and method == "POST":
                await self._score(scope, receive, send)
            elif path not in _ROUTES:
                await _send(send, *error_answer(404, f"no route {path}"))
            elif method != _ROUTES[path] and not (method == "HEAD" and _ROUTES[path] == "GET"):
                allowed = _ROUTES[path] if _ROUTES[path] == "POST" else "GET, HEAD"
                status, body = error_answer(405, f"{method} not allowed on {path}")
                await _send_bytes(send, status, dumps(body), _JSON, allow=allowed.encode())
            elif path == "/healthz":
                await _send(send, 200, {"ok": True})
            elif path == "/readyz":
                if self._on_loop:
                    await _send(send, *self.service.readiness())
                else:
                    await _send(send, *await asyncio.to_thread(self.service.readiness))
            else:
                text = generate_latest(self.service.metrics.registry)
                await _send_bytes(send, 200, text, CONTENT_TYPE_LATEST.encode())
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _score(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        answer = await self._answer(scope, receive)
        if answer is None:  # the client went away before its body arrived
            return
        status, body = answer
        self.service.metrics.answered(status, time.perf_counter() - started)
        await _send(send, status, body)

    async def _answer(self, scope: Scope, receive: Receive) -> Answer | None:
        authorization = length = b""
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value
            elif name == b"content-length":
                length = value
        if not self.service.authorized(authorization):
            return error_answer(401, "missing or invalid bearer token")
        if length.isdigit() and int(length) > self._limit:
            return self._too_big
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if size > self._limit:
                return self._too_big
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)  # one chunk: the same object, no copy
        if self._on_loop:
            return self.service.score(body)
        return await asyncio.to_thread(self.service.score, body)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await asyncio.to_thread(self.service.start)
                    self.service.warm()  # here, on the thread that serves requests
                except Exception as exc:
                    logger.exception("scoring API failed to start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(self.service.stop)
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _send(send: Send, status: int, body: Any) -> None:
    await _send_bytes(send, status, dumps(body), _JSON)


async def _send_bytes(
    send: Send, status: int, body: bytes, content_type: bytes, *, allow: bytes = b""
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings, store: OnlineStore | None = None) -> ScoringApp:
    """The scoring app (the service starts with the app's lifespan and stops with it)."""
    return ScoringApp(ScoringService(settings, store))
