"""The bundled simtom-compatible HTTP server (contract §1), with fault injection.

``GET /`` (health), ``GET /generators`` and ``POST /stream/{generator}``: the same request fields,
bounds, 422 and 404 behaviour and error-body shape as simtom, ``text/plain`` with ``data: <json>\\n\\n``
framing, historical and real-time modes, optional pacing (one day per second). Faults come from
:class:`bnpl.settings.FaultSettings` (see :mod:`bnpl.simulator.faults`).

Run it with ``bnpl simulate serve``, or from code with
:func:`bnpl.simulator.process.serve_in_background`, which starts it in a subprocess (generation
then runs on another core than the caller) and yields its base URL.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import socket
import threading
from collections.abc import AsyncIterator
from typing import Any

import anyio.to_thread
import numpy as np
import polars as pl
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import ValidationError

from bnpl.errors import ConfigError
from bnpl.settings import SimulatorSettings
from bnpl.simulator import SIMULATOR_IDENTITY, VERSION, faults, realtime
from bnpl.simulator.realtime import InjectedStreamCut
from bnpl.simulator.records import SIMTOM_CAPS, PoolCaps
from bnpl.simulator.render import join_lines
from bnpl.simulator.simulation import Batch, Simulation
from bnpl.source import STABLE_IDS_HEADER
from bnpl.source.request import StreamRequest, body_digest

__all__ = [
    "SIMULATOR_IDENTITY",
    "InjectedStreamCut",
    "bind_socket",
    "create_app",
    "faulty_lines",
    "parse_body",
    "serve",
]

log = logging.getLogger(__name__)

BNPL_VERSION = VERSION
GENERATOR_NAME = "bnpl"
GENERATOR_DESCRIPTION = "BNPL transaction generator with realistic risk patterns."
_STREAM_HEADERS = {"cache-control": "no-cache", "connection": "keep-alive"}
_MEDIA_TYPE = "text/plain; charset=utf-8"


class _QuietCuts(logging.Filter):
    """Drops uvicorn's traceback for an injected cut (the cut is the point, not an error)."""

    def filter(self, rec: logging.LogRecord) -> bool:
        exc = rec.exc_info[1] if rec.exc_info else None
        seen = [exc]
        while seen:
            current = seen.pop()
            if isinstance(current, InjectedStreamCut):
                return False
            if isinstance(current, BaseExceptionGroup):
                seen.extend(current.exceptions)
        return True


def _validation_detail(exc: ValidationError) -> list[dict[str, Any]]:
    """FastAPI's 422 shape: pydantic errors with ``body`` prepended to ``loc``."""
    detail = []
    for err in exc.errors():
        item: dict[str, Any] = {"type": err["type"], "loc": ["body", *err["loc"]]}
        item["msg"], item["input"] = err["msg"], err.get("input")
        if "ctx" in err:
            item["ctx"] = {
                k: v if isinstance(v, int | float | str) else str(v) for k, v in err["ctx"].items()
            }
        if "url" in err:
            item["url"] = err["url"]
        detail.append(item)
    return detail


def _unprocessable(detail: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=422)


def parse_body(raw: bytes, content_type: str | None) -> StreamRequest | JSONResponse:
    """Validate a request body as simtom does, or return its 422 response."""
    if not raw:
        return _unprocessable(
            [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]
        )
    media = (content_type or "application/json").split(";")[0].strip().lower()
    value: Any
    if media == "application/json" or media.endswith("+json"):
        try:
            value = json.loads(raw)
        except ValueError as exc:
            pos = getattr(exc, "pos", 0)
            reason = getattr(exc, "msg", str(exc))
            return _unprocessable(
                [
                    {
                        "type": "json_invalid",
                        "loc": ["body", pos],
                        "msg": "JSON decode error",
                        "input": {},
                        "ctx": {"error": reason},
                    }
                ]
            )
    else:
        value = raw.decode("utf-8", errors="replace")
    if not isinstance(value, dict):
        return _unprocessable(
            [
                {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": value,
                }
            ]
        )
    try:
        return StreamRequest.model_validate(value)
    except ValidationError as exc:
        return _unprocessable(_validation_detail(exc))


class _Attempts:
    """Attempts per canonical body, counted in server memory (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[bytes, int] = {}

    def next(self, digest: bytes) -> int:
        with self._lock:
            self._counts[digest] = self._counts.get(digest, 0) + 1
            return self._counts[digest]


def faulty_lines(batch: Batch, settings: SimulatorSettings, digest: bytes) -> pl.Series:
    """The batch's lines with the record-level faults of ``settings`` applied."""
    codes = faults.record_faults(settings.faults, digest, batch.first_record_id, batch.count)
    rows = np.flatnonzero(codes)
    if not len(rows):
        return batch.lines
    changed = [
        faults.apply_record_fault(
            batch.lines[int(i)], faults.RecordFault(int(codes[i])), batch.first_record_id + int(i)
        )
        for i in rows
    ]
    return batch.lines.scatter(rows, pl.Series(changed, dtype=pl.Utf8))


async def _historical_body(
    simulation: Simulation,
    settings: SimulatorSettings,
    digest: bytes,
    cut_at: float | None,
) -> AsyncIterator[bytes | memoryview]:
    total = sum(count for _, count in simulation.day_counts())
    cut_record = None if cut_at is None else int(cut_at * total)
    batches = simulation.batches()
    previous_day = None
    while True:
        batch = await anyio.to_thread.run_sync(next, batches, None)
        if batch is None:
            break
        if settings.pace and previous_day is not None and batch.day != previous_day:
            await asyncio.sleep(1.0)
        previous_day = batch.day
        lines = await anyio.to_thread.run_sync(faulty_lines, batch, settings, digest)
        if cut_record is not None and cut_record < batch.first_record_id + batch.count:
            keep = cut_record - batch.first_record_id
            cut_line = lines[keep]
            yield bytes(join_lines(lines.head(keep))) + cut_line[: len(cut_line) // 2].encode()
            raise InjectedStreamCut(f"stream cut inside record {cut_record}")
        yield await anyio.to_thread.run_sync(join_lines, lines)
    if cut_record is not None:
        raise InjectedStreamCut("stream cut before its first record")


def create_app(
    settings: SimulatorSettings | None = None, *, caps: PoolCaps = SIMTOM_CAPS
) -> FastAPI:
    """The ASGI app of the simulator."""
    settings = settings or SimulatorSettings()
    attempts = _Attempts()
    app = FastAPI(title="bnpl simulator", version=BNPL_VERSION)
    logging.getLogger("uvicorn.error").addFilter(_QuietCuts())

    @app.get("/")
    async def health() -> dict[str, Any]:
        return {"status": "healthy", "version": BNPL_VERSION, "generators_available": 1}

    @app.get("/generators")
    async def generators() -> list[dict[str, Any]]:
        schema = StreamRequest.model_json_schema()
        return [
            {"name": GENERATOR_NAME, "description": GENERATOR_DESCRIPTION, "config_schema": schema}
        ]

    @app.post("/stream/{generator_name}")
    async def stream(generator_name: str, request: Request) -> Response:
        parsed = parse_body(await request.body(), request.headers.get("content-type"))
        if isinstance(parsed, JSONResponse):
            return parsed
        if generator_name != GENERATOR_NAME:
            return JSONResponse({"detail": f"Unknown generator: {generator_name}"}, status_code=404)
        try:
            simulation = await anyio.to_thread.run_sync(lambda: Simulation(parsed, caps=caps))
        except ValueError as exc:
            return JSONResponse({"detail": str(exc)}, status_code=404)
        digest = body_digest(parsed)
        fault = faults.request_faults(settings.faults, digest, attempts.next(digest))
        if fault.latency_s:
            await asyncio.sleep(fault.latency_s)
        if fault.status == 429:
            retry_after = f"{settings.faults.retry_after_s:g}"
            return JSONResponse(
                {"detail": "Too Many Requests (injected fault)"},
                status_code=429,
                headers={"Retry-After": retry_after},
            )
        if fault.status is not None:
            return JSONResponse(
                {"detail": f"injected fault {fault.status}"}, status_code=fault.status
            )
        if parsed.historical:
            body = _historical_body(simulation, settings, digest, fault.cut_at)
        else:
            lines = functools.partial(faulty_lines, settings=settings, digest=digest)
            body = realtime.realtime_body(simulation, lines, fault.cut_at)
        headers = dict(_STREAM_HEADERS)
        if parsed.stable_customer_ids:
            headers[STABLE_IDS_HEADER] = "true"  # the extension was honoured (the client checks)
        return StreamingResponse(body, media_type=_MEDIA_TYPE, headers=headers)

    return app


# --- running it ----------------------------------------------------------------------------------


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free port; read it from the socket).

    Raises:
        ConfigError: the address cannot be bound (in use, or not an address of this machine).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}; pick another --port"
        ) from None
    sock.listen(128)
    return sock


def serve(settings: SimulatorSettings, *, sock: socket.socket | None = None) -> None:
    """Serve the app in this process until interrupted (uvicorn, access log off). ``sock``: an
    already bound socket (see :func:`bind_socket`); default: bind ``settings.host:port``."""
    import uvicorn

    sock = sock or bind_socket(settings.host, settings.port)
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=2,
    )
    uvicorn.Server(config).run(sockets=[sock])
