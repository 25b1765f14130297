"""bnpl.source.transport: the source client's connections read a body up to 1 MiB at a time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import date

import httpcore
import pytest

from bnpl.calendar import plan_day
from bnpl.settings import PlanSettings, SourceSettings
from bnpl.source.client import SourceClient, build_http_client
from bnpl.source.transport import READ_BYTES, LargeReadBackend, LargeReadStream

PLAN = PlanSettings(seed=7, weekday_base_volume=300, weekend_base_volume=300)
SENT = 200_000  # more than httpcore's 64 KiB, less than the socket buffers set below


@pytest.fixture
def peer() -> Iterator[tuple[int, threading.Event, list[socket.socket]]]:
    """A loopback TCP server that sends SENT bytes to its first connection, then sets an event."""
    server = socket.create_server(("127.0.0.1", 0))
    sent = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        conn, _ = server.accept()
        held.append(conn)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        conn.sendall(b"x" * SENT)
        sent.set()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], sent, held
    finally:
        thread.join(timeout=10)
        for conn in held:
            conn.close()
        server.close()


def test_a_read_asking_64_kib_gets_what_has_arrived_up_to_the_large_size(peer):
    """httpcore asks for 64 KiB; the wrapped stream returns the 200 kB already received."""
    port, sent, _ = peer
    backend = LargeReadBackend()
    stream = backend.connect_tcp(
        "127.0.0.1",
        port,
        timeout=5,
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)],
    )
    try:
        assert sent.wait(timeout=10)
        got = stream.read(64 * 1024, timeout=5)
        assert 64 * 1024 < len(got) <= READ_BYTES
        rest = b""
        while len(got) + len(rest) < SENT:
            rest += stream.read(64 * 1024, timeout=5)
        assert got + rest == b"x" * SENT
    finally:
        stream.close()


def test_a_plain_stream_reads_only_what_it_is_asked_for(peer):
    """The control: httpcore's own stream stops at the 64 KiB asked for."""
    port, sent, _ = peer
    stream = httpcore.SyncBackend().connect_tcp(
        "127.0.0.1",
        port,
        timeout=5,
        socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)],
    )
    try:
        assert sent.wait(timeout=10)
        assert len(stream.read(64 * 1024, timeout=5)) == 64 * 1024
    finally:
        stream.close()


def test_the_source_client_fetches_through_large_reads(server_url):
    """The client's own httpx.Client connects through LargeReadStream; the day is whole."""
    http = build_http_client(SourceSettings())
    streams: list[object] = []
    http.event_hooks["response"].append(
        lambda response: streams.append(response.extensions.get("network_stream"))
    )
    request = plan_day(date(2024, 3, 5), PLAN)
    with SourceClient(SourceSettings(), base_url=server_url, http=http) as client:
        fetched = client.fetch_day(request)
    http.close()
    assert len(fetched.records) == request.expected_volume
    assert streams and all(isinstance(s, LargeReadStream) for s in streams)
