"""Real-time ("current-date") streaming of the simulator (contract §1.5, §3.4, §3.5).

Records are sent one at a time, stamped with the send time (naive UTC ISO text with
microseconds), each followed by an inter-arrival wait, so a capped stream ends one wait after
its last record, as simtom's does. The rate is ``rate_per_second`` (or ``base_daily_volume /
86400``) times the §3.1 multiplier of the server's UTC today. As in simtom, a seeded request
re-seeds its draw before every wait (a seeded ``poisson`` stream has a constant interval), and a
seed whose ``seed + today.toordinal()`` is out of NumPy's range sends one record, then fails.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime

import anyio.to_thread
import numpy as np
import polars as pl

from bnpl.simulator.render import TIMESTAMP_PLACEHOLDER
from bnpl.simulator.simulation import Batch, Simulation, realtime_rate
from bnpl.source.request import ArrivalPattern, StreamRequest

REALTIME_BATCH = 256
"""Records drawn at once for a real-time stream (they are stamped one by one when sent)."""
_NHPP_BANDS = ((range(2, 7), 0.2), (range(8, 11), 2.0), (range(12, 15), 3.0), (range(19, 22), 4.0))


class InjectedStreamCut(Exception):
    """Raised inside a response body to drop the connection without the chunked terminator."""


def utcnow() -> datetime:
    """Naive UTC now (what simtom's ``datetime.utcnow()`` gives)."""
    return datetime.now(UTC).replace(tzinfo=None)


def nhpp_factor(hour: int, peak_hours: list[int]) -> float:
    """NHPP rate factor of an hour: 5 for peak hours, 0.2 for 02-06, 2 for 08-10, 3 for 12-14,
    4 for 19-21, 1 otherwise."""
    if hour in peak_hours:
        return 5.0
    for hours, factor in _NHPP_BANDS:
        if hour in hours:
            return factor
    return 1.0


Draws = np.random.Generator | np.random.RandomState


def _draws(request: StreamRequest, today: date, rng: np.random.Generator) -> Draws:
    """Unseeded: the stream's generator. Seeded: a legacy state re-seeded with ``seed +
    today.toordinal()`` whose first (normal) draw has been used, as simtom's is.

    Raises:
        ValueError: the seed is out of NumPy's range.
    """
    if not request.seeded:
        return rng
    assert request.seed is not None
    state = np.random.RandomState(request.seed + today.toordinal())
    state.normal(0.0, 0.1)
    return state


def arrival_interval(request: StreamRequest, rate: float, draws: Draws, now: datetime) -> float:
    """Seconds to wait before the next record (contract §3.5)."""
    pattern = request.arrival_pattern
    if pattern is ArrivalPattern.POISSON:
        return float(draws.exponential(1.0 / rate))
    if pattern is ArrivalPattern.NHPP:
        simulated = request.start_time + (now - request.start_time) * request.time_compression
        return float(
            draws.exponential(1.0 / (rate * nhpp_factor(simulated.hour, request.peak_hours)))
        )
    if pattern is ArrivalPattern.BURST:
        if float(draws.random()) < request.burst_probability:
            return float(draws.exponential(1.0 / (rate * request.burst_intensity)))
        return float(draws.exponential(1.0 / (0.8 * rate)))
    return 1.0 / rate


async def realtime_body(
    simulation: Simulation,
    lines_of: Callable[[Batch], pl.Series],
    cut_at: float | None,
) -> AsyncIterator[bytes]:
    """The body of a real-time response; ``lines_of`` applies record-level faults to a batch.

    ``cut_at`` (a share of ``max_records``, or record 1 of an endless stream) cuts the stream
    inside that record.
    """
    request = simulation.request
    cap = request.max_records
    cut_record = None if cut_at is None else (int(cut_at * cap) if cap else 1)
    rng = np.random.default_rng()
    pending: deque[str] = deque()
    sent = 0
    rate: float | None = None
    while cap is None or sent < cap:
        if not pending:
            size = REALTIME_BATCH if cap is None else min(REALTIME_BATCH, cap - sent)
            batch = await anyio.to_thread.run_sync(simulation.realtime_lines, size)
            pending.extend(lines_of(batch).to_list())
        now = utcnow()
        text = pending.popleft().replace(TIMESTAMP_PLACEHOLDER, now.isoformat(), 1).encode()
        if cut_record is not None and sent == cut_record:
            yield text[: len(text) // 2]
            raise InjectedStreamCut(f"stream cut inside record {sent}")
        yield text
        sent += 1
        today = now.date()
        if rate is None:
            rate = realtime_rate(request, today, rng)
        await asyncio.sleep(arrival_interval(request, rate, _draws(request, today, rng), utcnow()))
