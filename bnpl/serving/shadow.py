"""The challenger in shadow and the score log, off the request path.

A scored request hands :meth:`ShadowScorer.submit` its features and the champion's score: one
``deque.append`` (no lock, nobody woken) on a queue bounded by ``BNPL_SERVING__SHADOW_QUEUE``,
nothing else. When the queue is full the request's log entry is dropped and counted (``bnpl_shadow_dropped_total``); the
request is never blocked or failed; a drop is logged too (a warning at most every
:data:`_DROP_LOG_EVERY_S`, with the count since the last). One worker thread wakes every
``BNPL_SERVING__SCORE_LOG_LINGER_S`` and takes what is queued, in batches of up to
``BNPL_SERVING__SCORE_LOG_BATCH`` requests, scores the ``challenger`` alias on the requests'
already-built feature rows when it exists (and is not the champion's version) in one model call
per :data:`_CHUNK` rows (a batch costs about what one row does), and appends one scores event per
request (:mod:`bnpl.serving.scores`) to the scores log in one call (one fsync per batch). It lets
go of the GIL between chunks and between requests' events, so a request waits little for it. An
append that fails is counted (``bnpl_score_log_failures_total``) and logged as a warning; the
API keeps answering.

The challenger is loaded and reloaded by the worker itself, every ``BNPL_SERVING__POLL_S``.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from bnpl import timeutil
from bnpl.errors import BnplError
from bnpl.live.log import EventLog
from bnpl.serving.scorer import LoadedModel, ModelSlot, Score, score_rows
from bnpl.serving.scores import CHALLENGER, CHAMPION, ModelScore, ScoredRequest, fingerprint
from bnpl.settings import Settings

logger = logging.getLogger(__name__)

_CHUNK = 64
"""Challenger rows scored in one model call (the worker yields the GIL between calls)."""
_EVENTS_PER_YIELD = 8
"""Events built between two GIL releases (about 0.1 ms each)."""
_DROP_LOG_EVERY_S = 10.0
"""Least seconds between two warnings about dropped requests."""


@dataclass(frozen=True, slots=True)
class Job:
    """One answered request, as the worker needs it."""

    request_id: str
    row: Mapping[str, Any]
    features: Mapping[str, Any]
    champion: Score
    scored_at: datetime


class ShadowScorer:
    """The bounded queue, the worker thread, the challenger slot and the scores log.

    Args:
        settings: ``serving`` (queue size, batch, aliases, poll interval) and the log engine.
        registry: where the counters are registered (the API's ``/metrics``).
        open_log: opens the scores log (default: :func:`bnpl.live.engines.open_event_log` of
            the ``scores`` stream); called in the worker, again after a failure.
        challenger: the challenger slot (default: ``BNPL_SERVING__CHALLENGER_ALIAS``).
    """

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry,
        *,
        open_log: Callable[[], EventLog] | None = None,
        challenger: ModelSlot | None = None,
    ) -> None:
        self.settings = settings
        self.serving = settings.serving
        self.queue: collections.deque[Job] = collections.deque()
        self.challenger = challenger or ModelSlot(settings, self.serving.challenger_alias)
        self._open_log = open_log or self._default_log
        self._log: EventLog | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = Counter(
            "bnpl_shadow_dropped",
            "Scored requests not logged (nor shadow-scored) because the shadow queue was full",
            registry=registry,
        )
        self.shadow_scored = Counter(
            "bnpl_shadow_scores", "Challenger scores computed in shadow", registry=registry
        )
        self.shadow_failed = Counter(
            "bnpl_shadow_failures", "Challenger scores that failed", registry=registry
        )
        self.appended = Counter(
            "bnpl_score_log_appended",
            "Scored requests appended to the scores log",
            registry=registry,
        )
        self.failures = Counter(
            "bnpl_score_log_failures",
            "Scored requests whose scores event could not be appended",
            registry=registry,
        )
        self.depth = Gauge(
            "bnpl_shadow_queue_depth", "Requests waiting in the shadow queue", registry=registry
        )
        self.depth.set_function(lambda: len(self.queue))
        self._drops_unlogged = 0
        self._drop_logged_at = -_DROP_LOG_EVERY_S

    def _default_log(self) -> EventLog:
        from bnpl.live.engines import open_event_log

        return open_event_log(self.settings, stream="scores")

    # --- the request side -------------------------------------------------------------------

    def submit(self, job: Job) -> bool:
        """Queue ``job`` without waiting; False (and counted) when the queue is full."""
        if len(self.queue) < self.serving.shadow_queue:
            self.queue.append(job)  # atomic under the GIL; the worker polls
        else:
            self.dropped.inc()
            self._drops_unlogged += 1
            self._report_drops()
            return False
        return True

    def _report_drops(self, *, now: bool = False) -> None:
        """Log the drops not logged yet: at most once per :data:`_DROP_LOG_EVERY_S` (the worker
        calls this too, so a burst's tail is logged after it ends), or ``now``."""
        drops = self._drops_unlogged
        if not drops:
            return
        at = time.monotonic()
        if now or at - self._drop_logged_at >= _DROP_LOG_EVERY_S:
            self._drops_unlogged -= drops
            self._drop_logged_at = at
            logger.warning(
                "shadow queue full (%d): %d scored requests not logged nor shadow-scored "
                "(bnpl_shadow_dropped_total)",
                self.serving.shadow_queue,
                drops,
            )

    # --- the worker ---------------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker (it loads the challenger first)."""
        self._thread = threading.Thread(target=self._run, name="bnpl-shadow", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the worker after it logged what was queued (within ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
        self._report_drops(now=True)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _run(self) -> None:
        next_poll = 0.0
        while True:
            if self.serving.shadow and time.monotonic() >= next_poll:
                self.challenger.refresh()
                next_poll = time.monotonic() + self.serving.poll_s
            jobs = self._take()
            self._report_drops()
            if jobs:
                try:
                    self._handle(jobs)
                except Exception:  # the worker outlives any one batch; the requests are answered
                    self.failures.inc(len(jobs))
                    logger.exception("%d scored requests not logged", len(jobs))
            elif self._stop.is_set():
                return

    def _take(self) -> list[Job]:
        """Up to a batch of queued jobs, after a linger (shorter when stopping or a batch is
        already waiting); empty when none came."""
        if len(self.queue) < self.serving.score_log_batch:
            self._stop.wait(max(self.serving.score_log_linger_s, 0.001))
        jobs: list[Job] = []
        while len(jobs) < self.serving.score_log_batch:
            try:
                jobs.append(self.queue.popleft())
            except IndexError:
                break
        return jobs

    def _handle(self, jobs: list[Job]) -> None:
        now = timeutil.utc_now()
        shadow = self._shadow_scores(jobs)
        events = []
        for n, (job, challenger) in enumerate(zip(jobs, shadow, strict=True), 1):
            events.append(self._scored(job, challenger).event(now))
            if n % _EVENTS_PER_YIELD == 0:
                time.sleep(0)  # let a request have the GIL
        try:
            if self._log is None:
                self._log = self._open_log()
            self._log.append(events)
        except (BnplError, OSError) as exc:
            self.failures.inc(len(events))
            logger.warning("%d scored requests not logged: %s", len(events), exc)
            if self._log is not None:
                self._log.close()
                self._log = None
            return
        self.appended.inc(len(events))

    def _shadow_scores(self, jobs: list[Job]) -> list[ModelScore | None]:
        """The challenger's score of each job (None: no challenger, the champion's version, or
        it failed), in one model call per :data:`_CHUNK` jobs."""
        challenger = self.challenger.current if self.serving.shadow else None
        out: list[ModelScore | None] = [None] * len(jobs)
        if challenger is None:
            return out
        todo = [i for i, job in enumerate(jobs) if job.champion.model_version != challenger.version]
        for start in range(0, len(todo), _CHUNK):
            chunk = todo[start : start + _CHUNK]
            for i, scored in self._score_chunk(challenger, jobs, chunk):
                out[i] = scored
            time.sleep(0)  # let a request have the GIL
        return out

    def _score_chunk(
        self, challenger: LoadedModel, jobs: list[Job], chunk: list[int]
    ) -> list[tuple[int, ModelScore]]:
        """The challenger's scores of ``chunk`` in one call; when that fails, row by row, so one
        row the challenger cannot score costs only its own shadow score."""
        try:
            scored = score_rows(challenger, [jobs[i].features for i in chunk], self.serving)
        except Exception as exc:  # a failing challenger never costs the champion's log
            if len(chunk) > 1:
                return [s for i in chunk for s in self._score_chunk(challenger, jobs, [i])]
            self.shadow_failed.inc()
            logger.warning("challenger version %d failed to score: %s", challenger.version, exc)
            return []
        self.shadow_scored.inc(len(chunk))
        return [
            (i, ModelScore(CHALLENGER, challenger.name, challenger.version, score, decision))
            for i, (score, decision) in zip(chunk, scored, strict=True)
        ]

    def _scored(self, job: Job, challenger: ModelScore | None) -> ScoredRequest:
        c = job.champion
        scores = [ModelScore(CHAMPION, c.model_name, c.model_version, c.score, c.decision)]
        if challenger is not None:
            scores.append(challenger)
        row = job.row
        return ScoredRequest(
            request_id=job.request_id,
            transaction_id=str(row["transaction_id"]),
            customer_id=str(row["customer_id"]),
            customer_key=str(row["customer_key"]),
            transaction_ts=row["transaction_ts"],
            scored_at=job.scored_at,
            features_fingerprint=fingerprint(job.features),
            scores=tuple(scores),
        )
