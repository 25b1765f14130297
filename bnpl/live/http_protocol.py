"""uvicorn's httptools protocol with one socket write per answer (the gateway's HTTP server).

uvicorn writes an answer's status line and headers when the app sends ``http.response.start``
and the body when it sends ``http.response.body``; uvloop's ``transport.write`` sends at once
when nothing is queued, so every answer cost two ``write`` system calls (counted with
``strace``: 6,155 for 3,000 webhooks), each a trip through the loopback TCP stack and a wake-up
of the client. :class:`CoalescingHttpToolsProtocol` hands the protocol a transport whose writes
made in one turn of the event loop are joined and written once at the end of that turn. Nothing
else changes: the order of the bytes, flow control (the real transport's buffer and its
pause/resume calls), and closing (what is held is written first). What one turn writes is held
in memory until the turn ends: right for the gateway's small answers, not for a long stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class _CoalescingTransport:
    """A transport whose writes of one loop turn go out as one ``write`` (see the module)."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._loop.call_soon(self._flush)
        self._held.append(data)

    def _flush(self) -> None:
        held = self._held
        if held:
            self._held = []
            if not self._transport.is_closing():  # the peer went away: nobody to write to
                self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's ``HttpToolsProtocol`` over a :class:`_CoalescingTransport`."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing: Any = _CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)
