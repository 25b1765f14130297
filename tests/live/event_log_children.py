"""Child processes of the event log contract tests (spawned; not a test module)."""

from __future__ import annotations

import resource
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bnpl.errors import EventLogUnavailableError
from bnpl.live.engines import open_event_log
from bnpl.live.log import Event, EventLog
from bnpl.settings import LiveSettings, Settings

LogSpec = dict[str, Any]
"""The ``BNPL_LIVE__*`` fields that open one log (picklable: child processes open it too)."""


def open_log(spec: LogSpec) -> EventLog:
    """Open the log of ``spec`` through the settings and the factory, as a command does."""
    return open_event_log(Settings(live=LiveSettings(**spec)))


def make_event(event_id: str, key: str = "cust_1", payload: bytes = b"{}") -> Event:
    """An event received now."""
    return Event(event_id=event_id, key=key, payload=payload, received_at=datetime.now(UTC))


def append_ids(spec: dict[str, Any], ids: list[str], batch: int, out: str) -> None:
    """Append ``ids`` in batches; write how many appends returned True to ``out``."""
    with open_log(spec) as log:
        stored = 0
        for start in range(0, len(ids), batch):
            chunk = ids[start : start + batch]
            stored += sum(log.append([make_event(i, key=f"cust_{i[-2:]}") for i in chunk]))
    Path(out).write_text(str(stored))


def append_until_killed(spec: dict[str, Any], acked: str) -> None:
    """Append batches of 20 forever; after each append returns, record its stored ids in
    ``acked`` (unbuffered, so that what the parent reads after SIGKILL was acknowledged)."""
    with open_log(spec) as log, Path(acked).open("wb", 0) as f:
        n = 0
        while True:
            batch = [make_event(f"ev{n + i}", key=f"cust_{(n + i) % 7}") for i in range(20)]
            n += 20
            stored = log.append(batch)
            f.write(
                b"".join(
                    e.event_id.encode() + b"\n" for e, ok in zip(batch, stored, strict=True) if ok
                )
            )


def append_with_full_disk(spec: dict[str, Any], out: str) -> None:
    """Cap this process's file size just above the log's current size (a full disk: writes fail
    with EFBIG), append large events, and write the error's type and message to ``out``."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    with open_log(spec) as log:
        log.append([make_event("before")])
        path = Path(spec["log_path"])
        size = max(p.stat().st_size for p in path.parent.iterdir())
        resource.setrlimit(resource.RLIMIT_FSIZE, (size + 8192, size + 8192))
        try:
            for n in range(100):
                log.append([make_event(f"big{n}", payload=b"x" * 100_000)])
        except EventLogUnavailableError as exc:
            Path(out).write_text(f"{type(exc).__name__}: {exc}")
            return
    Path(out).write_text("no error")
