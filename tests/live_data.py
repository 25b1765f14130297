"""Live events for the loader's tests: real-time records of the bundled simulator, stamped with
chosen times, wrapped as event-log events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bnpl.live.log import Event
from bnpl.simulator.render import TIMESTAMP_PLACEHOLDER
from bnpl.simulator.simulation import Simulation
from bnpl.source.request import StreamRequest


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
