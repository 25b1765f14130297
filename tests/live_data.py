"""Live events for the loader's tests: real-time records of the bundled simulator, stamped with
chosen times, wrapped as event-log events; and records as the scoring API's checkout bodies."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bnpl.live.log import Event
from bnpl.simulator.render import TIMESTAMP_PLACEHOLDER
from bnpl.simulator.simulation import Simulation
from bnpl.source.request import StreamRequest

NOT_IN_BODY = frozenset(
    {"will_default", "days_to_first_missed_payment", "_timestamp", "_record_id", "_generator"}
)
"""A record's fields a checkout body does not carry (the outcome, the source's bookkeeping)."""

CAPTURE = (
    Path(__file__).parent / "fixtures" / "simtom" / "hist_2024-11-28_3days_base200_seed42.txt.gz"
)


def checkout_body(record: dict[str, Any], timestamp: str) -> dict[str, Any]:
    """``record`` as a scoring API body: without :data:`NOT_IN_BODY`, ``timestamp`` set."""
    body = {name: value for name, value in record.items() if name not in NOT_IN_BODY}
    body["timestamp"] = timestamp
    return body


def captured_checkout() -> dict[str, Any]:
    """The captured 2024-11-28 stream's first record as a body (timestamp 2024-11-28T10:00)."""
    lines = gzip.decompress(CAPTURE.read_bytes()).decode().splitlines()
    record = json.loads(next(x for x in lines if x.startswith("data: {"))[6:])
    return checkout_body(record, "2024-11-28T10:00:00")


def realtime_records(n: int, *, seed: int = 7) -> list[str]:
    """``n`` real-time records (JSON text) with the timestamp placeholder left in."""
    request = StreamRequest(seed=seed, stable_customer_ids=True, max_records=n)
    lines = Simulation(request).realtime_lines(n).lines
    return [str(line).removeprefix("data: ").strip() for line in lines.to_list()]


def live_events(
    n: int,
    *,
    start: datetime = datetime(2026, 12, 3, 10, 0, tzinfo=UTC),
    step: timedelta = timedelta(seconds=1),
    seed: int = 7,
    prefix: str = "evt",
) -> list[Event]:
    """``n`` events whose records are stamped ``start``, ``start + step``, ... (naive UTC text
    with microseconds), received at the same instants."""
    events = []
    for i, text in enumerate(realtime_records(n, seed=seed)):
        at = start + step * i
        stamp = at.replace(tzinfo=None).isoformat(timespec="microseconds")
        payload = text.replace(TIMESTAMP_PLACEHOLDER, stamp, 1).encode()
        events.append(Event(f"{prefix}-{seed}-{i:06d}", "", payload, at))
    return events
