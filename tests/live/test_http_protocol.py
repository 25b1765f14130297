"""The gateway's HTTP protocol: uvicorn's httptools protocol with one socket write per answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from bnpl.live.http_protocol import CoalescingHttpToolsProtocol

BODY = b'{"status": "accepted"}'


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await receive()
    headers = [(b"content-length", str(len(BODY)).encode()), (b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY[:5], "more_body": True})
    await send({"type": "http.response.body", "body": BODY[5:]})


@pytest.fixture
def port() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(_app, http=CoalescingHttpToolsProtocol, lifespan="off", log_config=None)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _request(close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n" + extra + b"\r\n{}"


def test_each_answer_arrives_whole_in_one_read(port: int) -> None:
    """Status line, headers and the body sent in two pieces come in one segment, on every
    request of a kept-alive connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        for _ in range(3):
            conn.sendall(_request())
            answer = conn.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200 OK\r\n")
            assert answer.endswith(b"\r\n\r\n" + BODY)


def test_connection_close_writes_the_answer_before_closing(port: int) -> None:
    """With ``Connection: close`` the whole answer is read before the end of the stream."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
        conn.sendall(_request(close=True))
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200 OK\r\n")
    assert received.endswith(BODY)
