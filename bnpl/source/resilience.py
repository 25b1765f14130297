"""Client-side protection of the source: a circuit breaker and a request-rate limit.

Both are thread-safe (one client serves every ingest thread) and take their clock as an argument,
so tests drive time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from bnpl.errors import CircuitOpenError

Clock = Callable[[], float]
Sleep = Callable[[float], None]


class BreakerState(StrEnum):
    """``closed``: calls pass; ``open``: calls are refused; ``half_open``: one probe is out."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``failure_threshold`` consecutive failed requests; refuses calls for
    ``cooldown_s``; then lets one probe through, which closes it on success and re-opens it on
    failure."""

    def __init__(
        self, failure_threshold: int, cooldown_s: float, *, clock: Clock = time.monotonic
    ) -> None:
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state = BreakerState.CLOSED
        self._failures = 0
        self._opened_at = 0.0
        self._last_cause = ""

    @property
    def state(self) -> BreakerState:
        """The current state (an open breaker whose cool-down is over still reads ``open``
        until a call takes the probe)."""
        return self._state

    def before_request(self, target: str) -> None:
        """Let a request through or refuse it.

        Raises:
            CircuitOpenError: the breaker is open, or half-open with its probe already out.
        """
        with self._lock:
            if self._state is BreakerState.CLOSED:
                return
            if self._state is BreakerState.OPEN:
                left = self._opened_at + self.cooldown_s - self._clock()
                if left <= 0:
                    self._state = BreakerState.HALF_OPEN
                    return
                raise CircuitOpenError(
                    f"{target}: circuit open after {self._failures} consecutive failed requests"
                    f"{self._cause()}; not calling the source for another {left:.1f} s. Check "
                    "that the source is up, then retry."
                )
            raise CircuitOpenError(
                f"{target}: circuit half-open, a probe request is in flight{self._cause()}; "
                "retry shortly"
            )

    def _cause(self) -> str:
        return f" (the last: {self._last_cause})" if self._last_cause else ""

    def record_success(self) -> None:
        """The source answered (even with a 4xx): close the breaker."""
        with self._lock:
            self._state = BreakerState.CLOSED
            self._failures = 0

    def record_failure(self, cause: str = "") -> None:
        """A request failed in a way worth retrying (transport, 5xx, 429, cut stream); ``cause``
        (its error text) is named by the errors an open breaker raises."""
        with self._lock:
            self._failures += 1
            self._last_cause = cause or self._last_cause
            if self._state is BreakerState.HALF_OPEN or self._failures >= self.failure_threshold:
                self._state = BreakerState.OPEN
                self._opened_at = self._clock()


class RateLimiter:
    """At most ``per_second`` request starts per second across threads: each call reserves the
    next free slot (spaced ``1 / per_second`` apart) and sleeps until it."""

    def __init__(
        self, per_second: float, *, clock: Clock = time.monotonic, sleep: Sleep = time.sleep
    ) -> None:
        self.interval = 1.0 / per_second
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = float("-inf")

    def acquire(self) -> float:
        """Wait for this caller's slot; return the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next)
            self._next = slot + self.interval
        wait = slot - now
        if wait > 0:
            self._sleep(wait)
        return wait
