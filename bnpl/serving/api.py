"""The scoring API (``bnpl serve``): a plain ASGI app (:mod:`bnpl.serving.asgi`) run by uvicorn.

* ``POST /v1/score``: a checkout (:class:`bnpl.serving.checkout.Checkout`) -> ``score``,
  ``decision``, ``reasons``, ``model_name``, ``model_version``, ``features``, ``cold_start``.
  Bearer token (``BNPL_SERVING__TOKENS``) required: 401 without a valid one. 413 over
  ``BNPL_SERVING__MAX_BODY_BYTES``; 422 for a missing or mistyped field (each named) or an outcome
  field; 503 when no champion is loaded or the online store cannot be read.
* ``GET /healthz``: the process answers. ``GET /readyz``: 200 when a champion is loaded, the
  store answers and the scoring path was warmed (a few real passes), else 503 (with why).
  ``GET /metrics``: Prometheus text.

The champion is polled every ``BNPL_SERVING__POLL_S`` in a thread, warmed and swapped in
atomically (:class:`bnpl.serving.scorer.ModelSlot`). A request's work (store read, features,
score: about a millisecond of CPU) runs on the event loop's thread: handing it to a worker
thread cost more CPU than it saved (``docs/decisions.md``). Every answer carries a
``request_id``; the champion's score, and the challenger's scored in shadow, are logged off the
request path (:mod:`bnpl.serving.shadow`, ``BNPL_SERVING__SCORE_LOG``).
"""

from __future__ import annotations

import hmac
import logging
import threading
import uuid
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter, Histogram
from pydantic import ValidationError

from bnpl.errors import ServingError
from bnpl.serving.checkout import OUTCOME_FIELDS, Checkout, fast_raw_row
from bnpl.serving.engines import open_store
from bnpl.serving.fast import FastFeatures
from bnpl.serving.scorer import LoadedModel, ModelSlot, score_features
from bnpl.serving.shadow import Job, ShadowScorer
from bnpl.serving.store import OnlineStore
from bnpl.serving.warm import WARM_PASSES, warm_checkout
from bnpl.settings import Settings
from bnpl.timeutil import utc_now

logger = logging.getLogger(__name__)

Answer = tuple[int, dict[str, Any]]
"""An HTTP status and its JSON body."""


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
        self._by_status: dict[int, Any] = {}

    def answered(self, status: int, seconds: float) -> None:
        """Count one answer (the label's child looked up once per status)."""
        child = self._by_status.get(status)
        if child is None:
            child = self._by_status[status] = self.requests.labels(str(status))
        child.inc()
        if status == 200:
            self.latency.observe(seconds)


def error_answer(status: int, message: str, **extra: Any) -> Answer:
    return status, {"error": message, **extra}


def _json_default(value: Any) -> Any:
    """What orjson does not write itself: a float subclass as its number, anything else (dates,
    timestamps) as its text, as the API always answered."""
    if isinstance(value, float):
        return float(value)
    return str(value)


def dumps(body: Any) -> bytes:
    """The API's compact JSON (dates and timestamps as ``str()`` gives them)."""
    return orjson.dumps(body, default=_json_default, option=orjson.OPT_PASSTHROUGH_DATETIME)


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
        self.warmed = False

    # --- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Load the champion, start the poller and the shadow worker (slow: a thread's job)."""
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

    def warm(self) -> bool:
        """Score a made-up checkout :data:`WARM_PASSES` times through the request's own path
        (store read, features, champion; nothing logged or counted), on the thread that serves
        requests (the store's connection is per thread). True once it succeeded."""
        if self.warmed:
            return True
        loaded = self.champion.current
        if loaded is None:
            return False
        try:
            for _ in range(WARM_PASSES):
                self.store.ping()
                self.compute(warm_checkout(), loaded, log=False)
        except ServingError as exc:
            logger.warning("scoring path not warmed yet: %s", exc)
            return False
        logger.info("scoring path warmed (%d passes)", WARM_PASSES)
        self.warmed = True  # after the line: whoever sees ready can find it in the log
        return True

    def stop(self) -> None:
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout=5)
        if self.shadow is not None:
            self.shadow.stop()
        self.features.close()
        self.store.close()

    # --- requests ---------------------------------------------------------------------------

    def authorized(self, header: bytes) -> bool:
        """Whether an ``Authorization`` header value carries an accepted bearer token."""
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token:
            return False
        given = token.strip()
        return any(hmac.compare_digest(given, known) for known in self._tokens)

    def score(self, body: bytes) -> Answer:
        """``POST /v1/score`` once the token and the body's size passed."""
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_answer(422, "body is not JSON", fields=[])
        if not isinstance(payload, dict):
            return error_answer(422, "body is not a JSON object", fields=[])
        outcomes = [f for f in OUTCOME_FIELDS if f in payload]
        if outcomes:
            return error_answer(
                422, f"outcome fields are not accepted: {', '.join(outcomes)}", fields=outcomes
            )
        try:
            checkout = Checkout.model_validate(payload)
        except ValidationError as exc:
            problems: dict[str, str] = {}
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "(body)"
                problems.setdefault(field, error["msg"])
            return error_answer(
                422,
                "invalid checkout: " + "; ".join(f"{f}: {m}" for f, m in problems.items()),
                fields=list(problems),
            )
        loaded = self.champion.current
        if loaded is None:
            return error_answer(503, "no champion model loaded")
        try:
            return 200, self.compute(checkout, loaded)
        except ServingError as exc:
            logger.error("scoring failed: %s", exc)
            return error_answer(503, "scoring unavailable: online store or model failed")

    def compute(
        self, checkout: Checkout, loaded: LoadedModel, *, log: bool = True
    ) -> dict[str, Any]:
        """The answer to one valid checkout (and, with ``log``, its job for the shadow worker)."""
        row = fast_raw_row(checkout)
        history = self.store.history(row["customer_key"], row["transaction_date"])
        features = self.features.compute(row, history)
        scored = score_features(loaded, features, self.serving)
        request_id = uuid.uuid4().hex
        if log and self.shadow is not None:  # one put_nowait: the log and challenger elsewhere
            self.shadow.submit(Job(request_id, row, features, scored, utc_now()))
        return {
            "request_id": request_id,
            "score": scored.score,
            "decision": scored.decision,
            "reasons": scored.reasons,
            "model_name": scored.model_name,
            "model_version": scored.model_version,
            "features": features,
            "cold_start": features["prior_txn_count_365d"] == 0,
        }

    def readiness(self) -> Answer:
        """``GET /readyz`` (warms the scoring path first when it was not yet)."""
        problems = []
        loaded = self.champion.current
        if loaded is None:
            problems.append("no champion model loaded")
        try:
            self.store.ping()
        except ServingError as exc:
            problems.append(str(exc))
        if not problems and not self.warm():
            problems.append("scoring path not warmed yet")
        if problems or loaded is None:
            return 503, {"ready": False, "problems": problems}
        return 200, {"ready": True, "model_name": loaded.name, "model_version": loaded.version}
