"""A simtom-compatible BNPL simulator: pure, vectorised, deterministic (contract §2-§4).

One :class:`Simulation` is one response. Everything random comes from a NumPy ``Generator``
seeded with the SHA-256 of the canonical request body when the request is seeded (``seed`` not
null and not 0), and from fresh OS entropy otherwise, so the same seeded body gives the same
bytes in any process, thread or order of requests. No process-global random state is touched.

Historical mode (both dates set): day ``d`` gets exactly :func:`bnpl.calendar.source_volume`
records when seeded (simtom's formula and noise), and the same formula with fresh log-normal
noise when not. Times of day follow §3.2 and are sorted; ``_record_id`` and ``transaction_id``
restart at 0 in every response; ``max_records`` truncates the response. Records come in
:class:`Batch` es of at most ``batch_size`` records, never spanning two days.

Real-time mode (a date missing) is driven by the server: :meth:`Simulation.realtime_lines` draws
records whose ``_timestamp`` is stamped when they are sent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import numpy.typing as npt
import polars as pl

from bnpl import calendar
from bnpl.simulator import entities, render
from bnpl.simulator.perturb import perturbation_active, perturbed_atoms
from bnpl.simulator.records import SIMTOM_CAPS, PoolCaps, RecordDrawer
from bnpl.source.request import StreamRequest, body_digest, check_seed_range

BATCH_SIZE = 65_536
"""Largest batch of records rendered at once (bounds memory for very large days)."""

_HOUR_BANDS = (70, 20, 10)  # business 9-17, evening 18-22, night {23, 0..8}
_NIGHT_HOURS = np.array([23, 0, 1, 2, 3, 4, 5, 6, 7, 8], dtype=np.int64)


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive records of one response.

    Attributes:
        day: the records' day (historical), None in real-time mode.
        first_record_id: ``_record_id`` of the first record.
        lines: one ``data: {...}\\n\\n`` text per record, in order.
    """

    day: date | None
    first_record_id: int
    lines: pl.Series

    @property
    def count(self) -> int:
        """Records in the batch."""
        return len(self.lines)

    def payload(self) -> memoryview:
        """The batch as response bytes (a read-only buffer; ``bytes()`` copies it)."""
        return render.join_lines(self.lines)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def times_of_day(rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
    """``n`` sorted seconds of the day: hour 70% in 9-17, 20% in 18-22, 10% in {23, 0..8};
    minute and second uniform."""
    band = entities.choice(rng, _HOUR_BANDS, n)
    business = 9 + rng.integers(0, 9, n)
    evening = 18 + rng.integers(0, 5, n)
    night = _NIGHT_HOURS[rng.integers(0, len(_NIGHT_HOURS), n)]
    hour = np.choose(band, (business, evening, night))
    seconds = hour * 3600 + rng.integers(0, 60, n) * 60 + rng.integers(0, 60, n)
    return np.sort(seconds)


def day_counts(request: StreamRequest, rng: np.random.Generator | None = None) -> list[int]:
    """Records per day of a historical request, before ``max_records``.

    Seeded: exactly :func:`bnpl.calendar.source_volume`. Unseeded: the same formula with
    log-normal noise drawn from ``rng`` (fresh entropy when None).
    """
    assert request.start_date is not None and request.end_date is not None
    days = list(calendar.iter_days(request.start_date, request.end_date))
    base = request.base_daily_volume
    if request.seeded:
        return [calendar.source_volume(base, d, request.seed) for d in days]
    rng = rng or np.random.default_rng()
    noise = np.exp(rng.normal(0.0, calendar.SOURCE_NOISE_SIGMA, len(days)))
    return [
        max(1, math.floor(base * calendar.source_multiplier(d) * float(f)))
        for d, f in zip(days, noise, strict=True)
    ]


def _truncate(counts: list[int], cap: int | None) -> list[int]:
    if cap is None:
        return counts
    out, left = [], cap
    for count in counts:
        out.append(min(count, left))
        left -= out[-1]
    return out


class Simulation:
    """The records of one response to ``request``.

    Raises:
        ValueError: a historical day's ``seed + day.toordinal()`` leaves [0, 2**32 - 1]
            (message :data:`bnpl.source.request.SEED_RANGE_DETAIL`; simtom answers 404).
    """

    def __init__(
        self,
        request: StreamRequest,
        *,
        caps: PoolCaps = SIMTOM_CAPS,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        check_seed_range(request)
        self.request = request
        self._batch_size = batch_size
        root = (
            np.random.SeedSequence(int.from_bytes(body_digest(request), "big"))
            if request.seeded
            else np.random.SeedSequence()
        )
        timeline, content, noise = (np.random.Generator(np.random.PCG64(s)) for s in root.spawn(3))
        self._timeline_rng, self._noise_rng = timeline, noise
        universe = (
            entities.customer_universe(
                request.customer_universe_seed, request.customer_universe_size
            )
            if request.stable_customer_ids
            else None
        )
        self._drawer = RecordDrawer(content, caps=caps, universe=universe)
        self._next_record_id = 0
        self._counts: list[tuple[date, int]] | None = None

    def day_counts(self) -> list[tuple[date, int]]:
        """``(day, records)`` for every day of a historical request, ``max_records`` applied
        (drawn once per simulation, so unseeded counts stay the same on later calls)."""
        if self._counts is None:
            request = self.request
            assert request.start_date is not None and request.end_date is not None
            counts = _truncate(day_counts(request, self._timeline_rng), request.max_records)
            days = calendar.iter_days(request.start_date, request.end_date)
            self._counts = list(zip(days, counts, strict=True))
        return self._counts

    def batches(self) -> Iterator[Batch]:
        """Every record of a historical request, day by day, in batches."""
        for day, count in self.day_counts():
            if count == 0:
                continue
            seconds = times_of_day(self._timeline_rng, count)
            for start in range(0, count, self._batch_size):
                chunk = seconds[start : start + self._batch_size]
                yield self._batch(day, render.historical_timestamps(day.isoformat(), chunk))

    def realtime_lines(self, n: int) -> Batch:
        """The next ``n`` records with :data:`bnpl.simulator.render.TIMESTAMP_PLACEHOLDER` for the
        ``_timestamp`` text (the server writes the send time there)."""
        stamps = pl.Series([render.TIMESTAMP_PLACEHOLDER] * n, dtype=pl.Utf8)
        return self._batch(None, stamps)

    def _batch(self, day: date | None, timestamps: pl.Series) -> Batch:
        n = len(timestamps)
        columns = self._drawer.draw(n)
        atoms = render.value_atoms(columns, self._next_record_id, timestamps)
        if perturbation_active(self.request):
            atoms.update(perturbed_atoms(columns, self.request, self._noise_rng, _utcnow()))
        lines = render.render_lines(np.asarray(columns["scenario"]), atoms)
        batch = Batch(day, self._next_record_id, lines)
        self._next_record_id += n
        return batch


def simulate(request: StreamRequest, *, caps: PoolCaps = SIMTOM_CAPS) -> bytes:
    """The whole response body of a historical request (for tests, benchmarks and notebooks)."""
    if not request.historical:
        raise ValueError("simulate() needs start_date and end_date; real-time streams never end")
    return b"".join(batch.payload() for batch in Simulation(request, caps=caps).batches())


def realtime_rate(request: StreamRequest, today: date, rng: np.random.Generator) -> float:
    """Real-time arrival rate (records/s): the base rate times the day's volume multiplier,
    including the seeded noise for ``today`` (contract §1.5)."""
    base = request.rate_per_second or request.base_daily_volume / 86_400
    if request.seeded:
        assert request.seed is not None
        noise = calendar.source_noise(request.seed, today)
    else:
        noise = math.exp(float(rng.normal(0.0, calendar.SOURCE_NOISE_SIGMA)))
    return base * calendar.source_multiplier(today) * noise


def realtime_timestamp(now: datetime) -> str:
    """``datetime.utcnow().isoformat()`` text: naive UTC, microseconds unless they are 0."""
    return now.isoformat()


__all__ = [
    "BATCH_SIZE",
    "Batch",
    "PoolCaps",
    "Simulation",
    "day_counts",
    "realtime_rate",
    "realtime_timestamp",
    "simulate",
    "times_of_day",
]
