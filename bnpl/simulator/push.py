"""``bnpl simulate push``: a webhook provider. It delivers the simulator's real-time records to a
gateway as Standard Webhooks (signed with the current ``BNPL_LIVE__WEBHOOK_SECRETS`` secret) at a
steady rate, with bounded concurrency, and retries as a provider does.

Delivery: event ``i`` is due at ``start + i / rate`` (``rate`` 0: as fast as the concurrency
allows); an out-of-order event goes after the events it is held back behind. Each attempt is
signed afresh (a new ``webhook-timestamp``, the same ``webhook-id`` and body). 2xx acknowledges
the event; 5xx, 408, 429, timeouts and transport errors are retried with exponential backoff and
jitter (stamina) up to ``max_attempts``; any other 4xx is final. An event to be duplicated is
delivered a second time after its acknowledgement.

The :class:`PushSummary` counts what happened; :attr:`PushSummary.acked` lists the acknowledged
event ids in the order of their first acknowledgement (``--acked-out``).
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import stamina

from bnpl.settings import PushSettings
from bnpl.signing import Signer
from bnpl.simulator.push_events import (
    STALE_BY_S,
    EventSource,
    Fault,
    PushEvent,
    forged_secret,
    utcnow,
)

log = logging.getLogger(__name__)

_RETRIED_STATUSES = frozenset({408, 425, 429})


@dataclass(frozen=True, slots=True)
class PushPlan:
    """One push run.

    Attributes:
        url: the gateway's webhook URL.
        rate: events per second (0: unpaced).
        events: stop after this many events; or
        duration_s: stop generating after this many seconds.
        seed: makes event ids, contents and fault decisions reproducible (None or 0: fresh).
    """

    url: str
    rate: float
    events: int | None = None
    duration_s: float | None = None
    seed: int | None = None
    universe_seed: int = 0


@dataclass
class PushSummary:
    """What a push run did. ``latencies_s``: round trip of every acknowledged attempt."""

    generated: int = 0
    deliveries: int = 0
    attempts: int = 0
    retries: int = 0
    acked: list[str] = field(default_factory=list)
    duplicate_acks: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    rejected: Counter[int] = field(default_factory=Counter)
    gave_up: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    latencies_s: list[float] = field(default_factory=list)
    elapsed_s: float = 0.0

    def percentile_ms(self, q: float) -> float | None:
        """The ``q`` quantile (0-1) of the acknowledged round trips, in milliseconds."""
        if not self.latencies_s:
            return None
        ordered = sorted(self.latencies_s)
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def lines(self) -> list[str]:
        """The summary as a few lines of text."""
        p50, p99 = self.percentile_ms(0.5), self.percentile_ms(0.99)
        rate = self.generated / self.elapsed_s if self.elapsed_s else 0.0
        return [
            f"generated {self.generated} events in {self.elapsed_s:.1f} s ({rate:.0f}/s); "
            f"deliveries {self.deliveries}, attempts {self.attempts}, retries {self.retries}",
            f"acknowledged {len(self.acked)} events ({self.duplicate_acks} duplicate acks); "
            f"gave up on {self.gave_up}",
            "rejected by status: "
            + (", ".join(f"{k}: {v}" for k, v in sorted(self.rejected.items())) or "none"),
            "faults injected: "
            + (", ".join(f"{k}: {v}" for k, v in sorted(self.faults.items())) or "none"),
            "ack round trip: " + ("n/a" if p50 is None else f"p50 {p50:.1f} ms, p99 {p99:.1f} ms"),
        ]


class _RetryableStatusError(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status


def _retry_on(exc: Exception) -> bool:
    return isinstance(exc, _RetryableStatusError | httpx.TransportError)


class _Pusher:
    def __init__(self, plan: PushPlan, settings: PushSettings, secret: str) -> None:
        self.plan = plan
        self.settings = settings
        self.signer = Signer(secret)
        self.forger = Signer(forged_secret(plan.seed))
        self.summary = PushSummary()
        self._url = httpx.URL(plan.url)  # parsed once: httpx parses a str URL per request
        self._acked: set[str] = set()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self, client: httpx.AsyncClient) -> PushSummary:
        plan, summary = self.plan, self.summary
        source = EventSource(self.settings, seed=plan.seed, universe_seed=plan.universe_seed)
        held: list[tuple[int, int, PushEvent]] = []  # (due position, index, event)
        start = time.perf_counter()
        position = 0
        while True:
            if plan.events is not None and summary.generated >= plan.events:
                break
            if plan.duration_s is not None and time.perf_counter() - start >= plan.duration_s:
                break
            if plan.rate > 0:
                delay = start + position / plan.rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
            event = source.next_event(utcnow())
            summary.generated += 1
            self._count_faults(event)
            if event.hold_back:
                heapq.heappush(held, (position + event.hold_back, event.index, event))
            else:
                await self._launch(client, event)
            while held and held[0][0] <= position:
                await self._launch(client, heapq.heappop(held)[2])
            position += 1
        while held:
            await self._launch(client, heapq.heappop(held)[2])
        while self._tasks:
            await asyncio.gather(*list(self._tasks))
        summary.elapsed_s = time.perf_counter() - start
        return summary

    def _count_faults(self, event: PushEvent) -> None:
        faults = self.summary.faults
        if event.fault is not Fault.NONE:
            faults[event.fault.value] += 1
        if event.duplicate:
            faults["duplicate"] += 1
        if event.hold_back:
            faults["out_of_order"] += 1
        if event.late:
            faults["late"] += 1

    async def _launch(self, client: httpx.AsyncClient, event: PushEvent) -> None:
        await self._slots.acquire()
        task = asyncio.create_task(self._deliver_all(client, event))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver_all(self, client: httpx.AsyncClient, event: PushEvent) -> None:
        try:
            ok = await self._deliver(client, event)
            if ok and event.duplicate:
                await self._deliver(client, event)
        finally:
            self._slots.release()

    async def _deliver(self, client: httpx.AsyncClient, event: PushEvent) -> bool:
        """One delivery with its retries; True if acknowledged."""
        summary, s = self.summary, self.settings
        summary.deliveries += 1
        signer = self.forger if event.fault is Fault.BAD_SIGNATURE else self.signer
        attempt = 0
        try:
            async for retry in stamina.retry_context(
                on=_retry_on,
                attempts=s.max_attempts,
                timeout=None,
                wait_initial=s.backoff_initial_s,
                wait_max=s.backoff_max_s,
                wait_jitter=s.backoff_initial_s,
            ):
                with retry:
                    attempt += 1
                    summary.attempts += 1
                    if attempt > 1:
                        summary.retries += 1
                    now = int(time.time())
                    stamp = now - STALE_BY_S if event.fault is Fault.STALE else now
                    headers = signer.headers(event.event_id, stamp, event.body)
                    headers["content-type"] = "application/json"
                    sent = time.perf_counter()
                    response = await client.post(self._url, content=event.body, headers=headers)
                    status = response.status_code
                    summary.statuses[status] += 1
                    if status >= 500 or status in _RETRIED_STATUSES:
                        raise _RetryableStatusError(status)
                    if status >= 300:
                        summary.rejected[status] += 1
                        return False
                    summary.latencies_s.append(time.perf_counter() - sent)
                    self._ack(event.event_id)
                    return True
        except (_RetryableStatusError, httpx.TransportError) as exc:
            summary.gave_up += 1
            log.warning("gave up on %s after %d attempts: %r", event.event_id, attempt, exc)
        return False

    def _ack(self, event_id: str) -> None:
        if event_id in self._acked:
            self.summary.duplicate_acks += 1
            return
        self._acked.add(event_id)
        self.summary.acked.append(event_id)


async def push(
    plan: PushPlan,
    settings: PushSettings,
    secret: str,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
) -> PushSummary:
    """Deliver ``plan`` 's events to ``plan.url``, signed with ``secret`` (``whsec_...``).

    ``transport`` defaults to aiohttp's connection pool under the httpx client (httpx's own
    pool costs several times the CPU per request at this rate: see ``docs/decisions.md``).
    """
    timeout = httpx.Timeout(settings.timeout_s)
    limits = httpx.Limits(
        max_connections=settings.concurrency, max_keepalive_connections=settings.concurrency
    )
    if transport is None:
        from httpx_aiohttp import AiohttpTransport

        transport = AiohttpTransport(limits=limits)
    async with httpx.AsyncClient(timeout=timeout, limits=limits, transport=transport) as client:
        summary = await _Pusher(plan, settings, secret).run(client)
    for line in summary.lines():
        log.info("push: %s", line)
    return summary


def run_push(plan: PushPlan, settings: PushSettings, secret: str) -> PushSummary:
    """:func:`push` on a fresh event loop (uvloop's when it is installed: less CPU per event)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is in the live extra
        return asyncio.run(push(plan, settings, secret))
    return uvloop.run(push(plan, settings, secret))


def write_acked(summary: PushSummary, path: Path) -> None:
    """One acknowledged event id per line, in the order of first acknowledgement."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{event_id}\n" for event_id in summary.acked))
