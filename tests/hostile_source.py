"""A hostile simtom: a real HTTP server on 127.0.0.1 that answers ``POST /stream/<generator>``
badly, in the ways a real service can (imported by conftest's ``hostile_source`` fixture).

Modes (set :attr:`HostileSource.mode` between runs):

- ``empty``: 200 with an empty body;
- ``half``: 200 with half of the day's records (real simtom records from the captured fixture,
  as many as half the count the request implies, moved to the requested day), properly framed
  and terminated;
- ``trickle``: 200, a record's first bytes, then one more byte every :attr:`HostileSource.trickle_s` seconds, for ever;
- ``refuse``: 503 with a JSON ``detail`` (a source that is down);
- ``relay``: a good source: the request is relayed to :attr:`HostileSource.upstream` (a running
  bundled simulator) and its reply returned whole.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bnpl.calendar import source_volume

CAPTURE = Path(__file__).parent / "fixtures" / "simtom" / "hist_2024-11-28_3days_base200_seed42"
MODES = ("empty", "half", "trickle", "refuse", "relay")
_TIMESTAMP = re.compile(rb'"_timestamp": "\d{4}-\d{2}-\d{2}')
TRICKLE_MAX_S = 300.0
"""A trickle ends after this long even if the client never gives up (the test fails first)."""


def _captured_records() -> list[bytes]:
    body = gzip.decompress(CAPTURE.with_suffix(".txt.gz").read_bytes())
    return [line + b"\n\n" for line in body.split(b"\n\n") if line.startswith(b"data: ")]


class HostileSource:
    """The server's state: its mode, the requests it saw (their ``Authorization`` headers)."""

    def __init__(self, mode: str = "empty", *, trickle_s: float = 1.0) -> None:
        self.mode = mode
        self.trickle_s = trickle_s
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []
        self.url = ""
        self.upstream = ""
        self._records = _captured_records()

    def half_day(self, body: dict[str, Any]) -> bytes:
        """Half of the records the request implies, from the capture (cycled if needed)."""
        day = date.fromisoformat(body["start_date"])
        expected = source_volume(int(body["base_daily_volume"]), day, body.get("seed"))
        n = expected // 2
        records = b"".join(self._records[i % len(self._records)] for i in range(n))
        # on the requested day, so that only their number is wrong
        return _TIMESTAMP.sub(b'"_timestamp": "' + day.isoformat().encode(), records)


def _handler(state: HostileSource) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append(body)
            state.authorizations.append(self.headers.get("authorization"))
            if state.mode == "refuse":
                self._reply(503, b'{"detail": "hostile source: down"}', "application/json")
            elif state.mode == "empty":
                self._reply(200, b"", "text/event-stream")
            elif state.mode == "half":
                self._reply(200, state.half_day(body), "text/event-stream")
            elif state.mode == "relay":
                self._relay(body)
            else:
                self._trickle()

        def _reply(self, status: int, payload: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _relay(self, body: dict[str, Any]) -> None:
            request = urllib.request.Request(
                state.upstream + self.path,
                data=json.dumps(body).encode(),
                headers={"content-type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=60) as reply:
                payload = reply.read()
                headers = dict(reply.headers)
            self.send_response(200)
            for name, value in headers.items():
                if name.lower().startswith("x-"):
                    self.send_header(name, value)
            self.send_header("content-type", "text/event-stream")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def _trickle(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/event-stream")
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            ends = time.monotonic() + TRICKLE_MAX_S
            # a record that never ends: valid framing so far, one more byte of its id at a time
            chunks = itertools.chain([b'data: {"transaction_id": "txn_'], itertools.repeat(b"0"))
            try:
                for chunk in chunks:
                    if time.monotonic() > ends:
                        break
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
                    time.sleep(state.trickle_s)
            except OSError:  # the client gave up: that is the point
                pass
            self.close_connection = True

    return Handler


@contextmanager
def serve_hostile(mode: str = "empty", *, trickle_s: float = 1.0) -> Iterator[HostileSource]:
    """Run a :class:`HostileSource` on a free 127.0.0.1 port in a thread; its ``url`` is set."""
    state = HostileSource(mode, trickle_s=trickle_s)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
