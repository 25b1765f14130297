"""The source client's HTTP transport: httpx's own, reading up to :data:`READ_BYTES` per receive.

httpcore asks its network stream for at most 64 KiB per read, so a day's 6 MB body goes through
~90 receives, each a trip through h11, the hash and the framer. A read may return less than it
asks for, never blocks for more, so asking for 1 MiB changes only how many bytes one trip
carries: over a month of the bundled simulator's days the client spends ~4 ms a day less
(docs/decisions.md, "Larger reads of the day's body").

httpcore has no setting for the size; a network backend is its extension point, and the one
place it is plugged in is :func:`large_read_transport` (the pool's backend attribute).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

READ_BYTES = 1 << 20
"""Bytes asked for per receive of a response body (httpcore's own: 64 KiB)."""


class LargeReadStream(httpcore.NetworkStream):
    """A network stream whose reads ask for at least ``read_bytes``."""

    def __init__(self, inner: httpcore.NetworkStream, read_bytes: int = READ_BYTES) -> None:
        self._inner = inner
        self._read_bytes = read_bytes

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max(max_bytes, self._read_bytes), timeout)

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, timeout)

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        tls = self._inner.start_tls(ssl_context, server_hostname, timeout)
        return LargeReadStream(tls, self._read_bytes)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class LargeReadBackend(httpcore.NetworkBackend):
    """A network backend (default httpcore's :class:`httpcore.SyncBackend`) whose streams are
    :class:`LargeReadStream`."""

    def __init__(
        self, inner: httpcore.NetworkBackend | None = None, read_bytes: int = READ_BYTES
    ) -> None:
        self._inner = inner or httpcore.SyncBackend()
        self._read_bytes = read_bytes

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return LargeReadStream(stream, self._read_bytes)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(path, timeout, socket_options)
        return LargeReadStream(stream, self._read_bytes)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def large_read_transport(read_bytes: int = READ_BYTES) -> httpx.HTTPTransport:
    """httpx's default transport (same TLS, limits and exception mapping) whose connections read
    up to ``read_bytes`` at once; httpx's plain transport if its pool is not the one known."""
    transport = httpx.HTTPTransport()
    pool = getattr(transport, "_pool", None)
    backend = getattr(pool, "_network_backend", None)
    if isinstance(pool, httpcore.ConnectionPool) and isinstance(backend, httpcore.NetworkBackend):
        pool._network_backend = LargeReadBackend(backend, read_bytes)
    return transport
