"""The source client: one day per request, streamed, framed, retried, rate-limited, guarded.

:class:`SourceClient` works unchanged against the real simtom service and the bundled simulator.
It sends a :class:`bnpl.calendar.DayRequest` body to ``POST {url}/stream/{generator}``, streams
the body through the pure :class:`bnpl.source.framing.Framer`, and returns a :class:`FetchedDay`.

One retry layer (stamina) wraps the function that sends a request: transport errors, 5xx and cut
streams are retried with exponential back-off, a 429 waits its ``Retry-After``, other 4xx raise
:class:`bnpl.errors.SourceRequestError` at once with the server's detail, and bad framing raises
:class:`bnpl.errors.FramingError`. Every attempt passes the rate limiter and the circuit breaker.

Records whose ``_timestamp`` is not on the requested day are returned like the others (the
contracts layer quarantines them); :attr:`FetchedDay.off_day_records` counts them.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

import httpx
import stamina

from bnpl.calendar import DayRequest
from bnpl.errors import (
    ConfigError,
    RequestDeadlineError,
    RunStoppedError,
    SourceRequestError,
    TerminalSourceError,
    TransientSourceError,
    TruncatedStreamError,
)
from bnpl.settings import SourceSettings
from bnpl.source import STABLE_IDS_HEADER
from bnpl.source.framing import Framer
from bnpl.source.resilience import CircuitBreaker, Clock, RateLimiter, Sleep
from bnpl.stopping import STOP, StopRequest

log = logging.getLogger(__name__)

_TIMESTAMP_KEY = b'"_timestamp": "'
_DEFAULT_RETRY_AFTER_S = 1.0
_MAX_DETAIL_CHARS = 500
_DEADLINE_SLACK_S = 0.05
"""A timeout this close to the request's deadline was the deadline's (the timeouts are cut to it)."""


@dataclass(frozen=True, slots=True)
class FetchedDay:
    """One day's response.

    Attributes:
        day: the requested day.
        records: one JSON text per record, in the order received (``data: `` stripped).
        content_sha256: hex SHA-256 of the response body bytes.
        attempts: requests sent for this day, the successful one included.
        started_at: when the first attempt started (UTC).
        fetched_at: when the body was complete (UTC).
        url: the URL the body came from.
        off_day_records: records whose ``_timestamp`` does not start with ``day`` (kept).
    """

    day: date
    records: list[bytes]
    content_sha256: str
    attempts: int
    started_at: datetime
    fetched_at: datetime
    url: str
    off_day_records: int = 0


class DaySource(Protocol):
    """The swappable source client (:class:`SourceClient`, or a fake in tests)."""

    def fetch_day(self, request: DayRequest) -> FetchedDay:
        """Fetch one planned day."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class _RateLimitedError(TransientSourceError):
    """The source answered 429; retry after :attr:`retry_after_s` (never leaves this module:
    once retries are exhausted it becomes a plain :class:`TransientSourceError`)."""

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


def build_http_client(
    settings: SourceSettings, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """The one ``httpx.Client`` of a source client, with explicit timeouts (``transport`` is the
    test seam)."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.read_timeout_s,
        write=settings.connect_timeout_s,
        pool=settings.read_timeout_s,
    )
    auth: tuple[str, str] | None = None
    if settings.userinfo is not None:
        user, _, password = settings.userinfo.get_secret_value().partition(":")
        auth = (user, password)
    return httpx.Client(timeout=timeout, transport=transport, follow_redirects=False, auth=auth)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float:
    """Seconds asked by a ``Retry-After`` header (delta-seconds or an HTTP date); 1 s if absent
    or unreadable."""
    if not value:
        return _DEFAULT_RETRY_AFTER_S
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return _DEFAULT_RETRY_AFTER_S
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_wait(exc: Exception) -> bool | float:
    """stamina's hook: the seconds a 429 asks for; True for other transient errors; False
    (raise at once) for everything else."""
    if isinstance(exc, _RateLimitedError):
        return exc.retry_after_s
    return isinstance(exc, TransientSourceError)


def _detail(response: httpx.Response) -> object:
    try:
        body = response.json()
    except ValueError:
        return response.text[:_MAX_DETAIL_CHARS]
    return body.get("detail", body) if isinstance(body, dict) else body


def _deadline_error(began: float, records: int | None) -> RequestDeadlineError:
    so_far = "" if records is None else f"; {records} records so far"
    return RequestDeadlineError(
        f"the request ran into its deadline after {time.monotonic() - began:.1f} s{so_far}: the "
        "source is too slow or trickles bytes. If it is only slow, raise "
        "BNPL_SOURCE__REQUEST_DEADLINE_S and BNPL_SOURCE__RETRY_BUDGET_S"
    )


def _stopped_error(stop: StopRequest) -> RunStoppedError:
    return RunStoppedError(
        f"the request was abandoned: {stop.describe()} stopped the run", signum=stop.signum
    )


def shut_down_response(response: httpx.Response) -> None:
    """Shut the response's socket down, so that a thread blocked reading it wakes at once
    (closing it would not wake the reader)."""
    stream = response.extensions.get("network_stream")
    sock = stream.get_extra_info("socket") if stream is not None else None
    if isinstance(sock, socket.socket):
        sock.shutdown(socket.SHUT_RDWR)


def count_off_day(records: list[bytes], day: date) -> int:
    """Records whose ``_timestamp`` text does not start with ``day`` (or that have none)."""
    prefix = _TIMESTAMP_KEY + day.isoformat().encode()
    # searched from the end: simtom writes ``_timestamp`` among the last keys (3 -> 1 ms a day)
    return sum(1 for r in records if r.rfind(prefix) < 0)


class SourceClient:
    """The httpx implementation of :class:`DaySource`, built from :class:`SourceSettings`.

    Args:
        settings: the ``source`` settings (timeouts, retries, breaker, rate limit, generator).
        base_url: the service's base URL; default ``settings.url``.
        http: the one ``httpx.Client`` (default: :func:`build_http_client`); it is closed by
            :meth:`close` only if this client built it.
        clock, sleep: time sources of the breaker and the rate limiter (tests).
        stop: the stop request that abandons requests in flight (default: the process's
            :data:`bnpl.stopping.STOP`); once it is set, nothing is sent or retried and
            :class:`~bnpl.errors.RunStoppedError` is raised.
    """

    def __init__(
        self,
        settings: SourceSettings,
        *,
        base_url: str | None = None,
        http: httpx.Client | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        stop: StopRequest | None = None,
    ) -> None:
        url = base_url or settings.url
        if not url:
            raise ConfigError("no source URL: set BNPL_SOURCE__URL or start the bundled simulator")
        self.settings = settings
        self.base_url = url.rstrip("/")
        self.stream_url = f"{self.base_url}/stream/{settings.generator}"
        self._stop = STOP if stop is None else stop
        self._owns_http = http is None
        self._http = http or build_http_client(settings)
        clock = clock or time.monotonic
        self.breaker = CircuitBreaker(
            settings.breaker_failure_threshold, settings.breaker_cooldown_s, clock=clock
        )
        self.limiter = RateLimiter(
            settings.requests_per_second, clock=clock, sleep=sleep or time.sleep
        )

    def close(self) -> None:
        """Close the HTTP client if this object built it."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> SourceClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def fetch_day(self, request: DayRequest) -> FetchedDay:
        """Fetch one day, retrying transient failures.

        Raises:
            SourceRequestError: the server rejected the request (4xx other than 429).
            FramingError: the body is not ``data:`` framing.
            CircuitOpenError: the breaker is open.
            TransientSourceError: every attempt failed; one message names the URL, the attempts
                and the last error.
            RunStoppedError: the run was stopped (a signal) before the day was whole.
        """
        content = json.dumps(request.body, separators=(",", ":")).encode()
        stable = request.body.get("stable_customer_ids") is True
        started_at = datetime.now(UTC)
        budget_ends = time.monotonic() + self.settings.retry_budget_s
        attempts = 0
        try:
            for attempt in stamina.retry_context(
                on=self._retry_wait,
                attempts=self.settings.max_attempts,
                timeout=self.settings.retry_budget_s,
                wait_initial=self.settings.retry_initial_wait_s,
                wait_max=max(self.settings.retry_initial_wait_s, 30.0),
            ):
                with attempt:
                    attempts = attempt.num
                    deadline = min(time.monotonic() + self.settings.request_deadline_s, budget_ends)
                    records, digest = self._send(content, stable=stable, deadline=deadline)
        except TransientSourceError as exc:
            raise TransientSourceError(
                f"POST {self.stream_url} for {request.day} failed after {attempts} attempt(s); "
                f"last error: {exc}"
            ) from None
        off_day = count_off_day(records, request.day)
        if off_day:
            log.warning("%s: %d records have no _timestamp on that day", request.day, off_day)
        return FetchedDay(
            day=request.day,
            records=records,
            content_sha256=digest,
            attempts=attempts,
            started_at=started_at,
            fetched_at=datetime.now(UTC),
            url=self.stream_url,
            off_day_records=off_day,
        )

    def _retry_wait(self, exc: Exception) -> bool | float:
        return False if self._stop.is_set() else retry_wait(exc)

    def _send(
        self, content: bytes, *, stable: bool = False, deadline: float = float("inf")
    ) -> tuple[list[bytes], str]:
        """One request: the breaker, the rate limit, then the stream, ended at ``deadline``
        (``time.monotonic()`` seconds)."""
        if self._stop.is_set():
            raise _stopped_error(self._stop)
        self.breaker.before_request(self.stream_url)
        self.limiter.acquire()
        try:
            result = self._stream_unless_stopped(content, stable=stable, deadline=deadline)
        except TransientSourceError as exc:
            self.breaker.record_failure(str(exc))
            raise
        except RunStoppedError:
            raise
        except Exception:
            self.breaker.record_success()  # the source answered; the request itself was bad
            raise
        self.breaker.record_success()
        return result

    def _stream_unless_stopped(
        self, content: bytes, *, stable: bool, deadline: float
    ) -> tuple[list[bytes], str]:
        """:meth:`_stream`, abandoned when the stop is requested: whatever the shut-down socket
        made it raise (or return: a body may look whole) becomes :class:`RunStoppedError`."""
        abandon: list[Callable[[], None]] = []
        try:
            result = self._stream(content, stable=stable, deadline=deadline, abandon=abandon)
        except Exception as exc:
            if self._stop.is_set():
                raise _stopped_error(self._stop) from exc
            raise
        finally:
            for unregister in abandon:
                unregister()
        if self._stop.is_set():
            raise _stopped_error(self._stop)
        return result

    def _stream(
        self,
        content: bytes,
        *,
        stable: bool = False,
        deadline: float = float("inf"),
        abandon: list[Callable[[], None]] | None = None,
    ) -> tuple[list[bytes], str]:
        url = self.stream_url
        began = time.monotonic()
        headers = {"content-type": "application/json"}
        started = False
        try:
            with self._http.stream(
                "POST", url, content=content, headers=headers, timeout=self._timeout(deadline)
            ) as response:
                started = True
                if abandon is not None:  # a stop shuts the socket down: the reader wakes
                    abandon.append(self._stop.on_request(lambda: shut_down_response(response)))
                if response.status_code != 200:
                    self._raise_for_status(response)
                if stable and response.headers.get(STABLE_IDS_HEADER) != "true":
                    # simtom ignores unknown fields: its ids would restart in every response
                    # while the ledger called them stable, merging different people by id
                    raise TerminalSourceError(
                        f"POST {url} asked for stable_customer_ids, but the source did not "
                        f"confirm it (no {STABLE_IDS_HEADER} header): only the bundled simulator "
                        "offers stable ids. Unset BNPL_SOURCE__STABLE_CUSTOMER_IDS for this source"
                    )
                framer = Framer()
                hasher = hashlib.sha256()
                records: list[bytes] = []
                for chunk in response.iter_bytes():
                    if self._stop.is_set():
                        raise _stopped_error(self._stop)
                    if time.monotonic() > deadline:
                        raise _deadline_error(began, len(records))
                    hasher.update(chunk)
                    records.extend(framer.feed(chunk))
                framer.close()
                return records, hasher.hexdigest()
        except httpx.RemoteProtocolError as exc:
            if started:
                raise TruncatedStreamError(f"the response body was cut: {exc}") from exc
            raise TransientSourceError(f"{type(exc).__name__}: {exc}") from exc
        except httpx.TimeoutException as exc:
            if time.monotonic() >= deadline - _DEADLINE_SLACK_S:
                raise _deadline_error(began, None) from exc
            raise TransientSourceError(f"{type(exc).__name__}: {str(exc) or 'no detail'}") from exc
        except httpx.TransportError as exc:
            raise TransientSourceError(f"{type(exc).__name__}: {str(exc) or 'no detail'}") from exc

    def _timeout(self, deadline: float) -> httpx.Timeout:
        """The settings' timeouts, none longer than what is left before ``deadline``."""
        left = max(deadline - time.monotonic(), 0.001)
        s = self.settings
        return httpx.Timeout(
            connect=min(s.connect_timeout_s, left),
            read=min(s.read_timeout_s, left),
            write=min(s.connect_timeout_s, left),
            pool=min(s.read_timeout_s, left),
        )

    def _raise_for_status(self, response: httpx.Response) -> None:
        raise_for_status(response, url=self.stream_url, retry_budget_s=self.settings.retry_budget_s)


def raise_for_status(response: httpx.Response, *, url: str, retry_budget_s: float) -> None:
    """Raise for a response that is not 200 (its body is read): a 429 as a transient error whose
    ``Retry-After`` (at most ``retry_budget_s``) :func:`retry_wait` honours, 5xx as
    :class:`TransientSourceError`, other 4xx as :class:`SourceRequestError` with the detail."""
    response.read()
    status = response.status_code
    detail = _detail(response)
    if status == 429:
        wait = min(parse_retry_after(response.headers.get("Retry-After")), retry_budget_s)
        raise _RateLimitedError(f"HTTP 429, Retry-After {wait:g} s: {detail}", retry_after_s=wait)
    if status >= 500:
        raise TransientSourceError(f"HTTP {status}: {detail}")
    raise SourceRequestError(
        f"POST {url} was rejected with HTTP {status}: {detail}",
        status_code=status,
        detail=detail,
    )
