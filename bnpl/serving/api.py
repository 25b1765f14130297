"""The scoring API (``bnpl serve``): an ASGI app (Starlette) run by uvicorn.

* ``POST /v1/score``: a checkout (:class:`bnpl.serving.checkout.Checkout`) -> ``score``,
  ``decision``, ``reasons``, ``model_name``, ``model_version``, ``features``, ``cold_start``.
  Bearer token (``BNPL_SERVING__TOKENS``) required: 401 without a valid one. 413 over
  ``BNPL_SERVING__MAX_BODY_BYTES``; 422 for a missing or mistyped field (each named) or an outcome
  field; 503 when no champion is loaded or the online store cannot be read.
* ``GET /healthz``: the process answers. ``GET /readyz``: 200 when a champion is loaded and the
  store answers, else 503 (with why). ``GET /metrics``: Prometheus text.

The champion is polled every ``BNPL_SERVING__POLL_S`` in a thread and swapped atomically
(:class:`bnpl.serving.scorer.ModelSlot`). Feature computation and scoring run in a worker thread
(they are CPU-bound and hold no event-loop state). Every answer carries a ``request_id``; the
champion's score, and the challenger's scored in shadow, are logged off the request path
(:mod:`bnpl.serving.shadow`, ``BNPL_SERVING__SCORE_LOG``).
"""

from __future__ import annotations

import hmac
import json
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bnpl.errors import ServingError
from bnpl.serving.checkout import OUTCOME_FIELDS, Checkout, fast_raw_row
from bnpl.serving.engines import open_store
from bnpl.serving.fast import FastFeatures
from bnpl.serving.scorer import ModelSlot, score_features
from bnpl.serving.shadow import Job, ShadowScorer
from bnpl.serving.store import OnlineStore
from bnpl.settings import Settings
from bnpl.timeutil import utc_now

logger = logging.getLogger(__name__)


class _Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "bnpl_score_requests", "Score requests by status", ["status"], registry=self.registry
        )
        self.latency = Histogram(
            "bnpl_score_seconds",
            "Seconds to answer a scored request",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
            registry=self.registry,
        )
        self.swaps = Counter(
            "bnpl_model_swaps", "Champion versions swapped in", registry=self.registry
        )


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


class ScoringService:
    """The app's state: settings, store, feature evaluator, champion slot, poller."""

    def __init__(self, settings: Settings, store: OnlineStore | None = None) -> None:
        self.settings = settings
        self.serving = settings.serving
        self.store = store or open_store(settings.serving)
        self.features = FastFeatures()
        self.champion = ModelSlot(settings, settings.serving.champion_alias)
        self.metrics = _Metrics()
        self.shadow = (
            ShadowScorer(settings, self.metrics.registry) if settings.serving.score_log else None
        )
        self._tokens = [t.get_secret_value().encode() for t in settings.serving.tokens]
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        if self.champion.refresh():
            self.metrics.swaps.inc()
        self._poller = threading.Thread(target=self._poll, name="bnpl-champion-poll", daemon=True)
        self._poller.start()
        if self.shadow is not None:
            self.shadow.start()

    def _poll(self) -> None:
        while not self._stop.wait(self.serving.poll_s):
            if self.champion.refresh():
                self.metrics.swaps.inc()

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        if self.shadow is not None:
            self.shadow.stop()
        self.features.close()
        self.store.close()

    # --- requests ---------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        given = token.strip().encode()
        return any(hmac.compare_digest(given, known) for known in self._tokens)

    async def _body(self, request: Request) -> bytes | None:
        limit = self.serving.max_body_bytes
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return None
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    async def score(self, request: Request) -> Response:
        started = time.perf_counter()
        response = await self._score(request)
        self.metrics.requests.labels(str(response.status_code)).inc()
        if response.status_code == 200:
            self.metrics.latency.observe(time.perf_counter() - started)
        return response

    async def _score(self, request: Request) -> Response:
        if not self._authorized(request):
            return _error(401, "missing or invalid bearer token")
        body = await self._body(request)
        if body is None:
            return _error(413, f"body over {self.serving.max_body_bytes} bytes")
        try:
            payload = json.loads(body)
        except ValueError:
            return _error(422, "body is not JSON", fields=[])
        if not isinstance(payload, dict):
            return _error(422, "body is not a JSON object", fields=[])
        outcomes = [f for f in OUTCOME_FIELDS if f in payload]
        if outcomes:
            return _error(
                422, f"outcome fields are not accepted: {', '.join(outcomes)}", fields=outcomes
            )
        try:
            checkout = Checkout.model_validate(payload)
        except ValidationError as exc:
            problems: dict[str, str] = {}
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "(body)"
                problems.setdefault(field, error["msg"])
            return _error(
                422,
                "invalid checkout: " + "; ".join(f"{f}: {m}" for f, m in problems.items()),
                fields=list(problems),
            )
        loaded = self.champion.current
        if loaded is None:
            return _error(503, "no champion model loaded")
        try:
            result = await run_in_threadpool(self._compute, checkout, loaded)
        except ServingError as exc:
            logger.error("scoring failed: %s", exc)
            return _error(503, "scoring unavailable: online store or model failed")
        return JSONResponse(result)

    def _compute(self, checkout: Checkout, loaded: Any) -> dict[str, Any]:
        row = fast_raw_row(checkout)
        history = self.store.history(row["customer_key"], row["transaction_date"])
        features = self.features.compute(row, history)
        scored = score_features(loaded, features, self.serving)
        request_id = uuid.uuid4().hex
        if self.shadow is not None:  # one put_nowait: the log and the challenger run elsewhere
            self.shadow.submit(Job(request_id, row, features, scored, utc_now()))
        return {
            "request_id": request_id,
            "score": scored.score,
            "decision": scored.decision,
            "reasons": list(scored.reasons),
            "model_name": scored.model_name,
            "model_version": scored.model_version,
            "features": {k: _jsonable(v) for k, v in features.items()},
            "cold_start": features["prior_txn_count_365d"] == 0,
        }

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def readyz(self, request: Request) -> Response:
        problems = []
        if self.champion.current is None:
            problems.append("no champion model loaded")
        try:
            await run_in_threadpool(self.store.ping)
        except ServingError as exc:
            problems.append(str(exc))
        if problems:
            return JSONResponse({"ready": False, "problems": problems}, status_code=503)
        loaded = self.champion.current
        assert loaded is not None
        return JSONResponse(
            {"ready": True, "model_name": loaded.name, "model_version": loaded.version}
        )

    async def metrics_endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def create_app(settings: Settings, store: OnlineStore | None = None) -> Starlette:
    """The scoring app (the service starts with the app and stops with it)."""
    service = ScoringService(settings, store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = Starlette(
        routes=[
            Route("/v1/score", service.score, methods=["POST"]),
            Route("/healthz", service.healthz, methods=["GET"]),
            Route("/readyz", service.readyz, methods=["GET"]),
            Route("/metrics", service.metrics_endpoint, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    return app
