"""Days, day types, the request plan and the source's expected volume.

Two calendars live here and are kept apart on purpose:

* **bnpl's day types** (``weekday``, ``weekend``, ``holiday``) come from the ``holidays`` package's
  US federal calendar plus Black Friday and Cyber Monday. They shape the request plan and the
  calendar features of the models.
* **simtom's event calendar** (contract §3.1) is what the source applies to its own per-day
  volume, bugs included (Mother's and Father's Day on Mondays, year-end periods that never reach
  January). :func:`source_volume` reproduces it exactly so the quality gate can compare a loaded
  day with what the source must have sent, and so the bundled simulator emits the same counts.

Dates are calendar days with no time zone: simtom's historical timestamps are a synthetic local
time of day (see :mod:`bnpl.timeutil`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import holidays as holidays_lib
import numpy as np

from bnpl.errors import ConfigError
from bnpl.settings import PlanSettings

DayType = Literal["weekday", "weekend", "holiday"]

MAX_SOURCE_RANGE_DAYS = 366
"""simtom accepts ``(end - start).days <= 365``: at most 366 calendar days in one request."""

SOURCE_NOISE_SIGMA = 0.1
"""Standard deviation of the log-normal noise simtom multiplies each day's volume by."""

_SEED_SPACE = 2**31 - 1

# --- simtom's volume model (contract §3.1) -------------------------------------------------------

_DOW = (1.15, 1.10, 1.05, 1.10, 1.25, 0.85, 0.70)  # Monday first
_MOY = (0.75, 0.85, 0.95, 1.00, 1.00, 1.05, 1.05, 1.05, 1.00, 1.05, 1.10, 1.20)


def _wom(day_of_month: int) -> float:
    if day_of_month <= 7:
        return 1.15
    if day_of_month <= 14:
        return 0.95
    if day_of_month <= 21:
        return 1.10
    return 0.90


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


@lru_cache(maxsize=64)
def _source_events(year: int) -> tuple[dict[date, float], tuple[tuple[date, date, float], ...]]:
    """simtom's single-day events and periods for one year, with its multipliers."""
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    mothers_day = _nth_weekday(year, 5, 0, 2)  # simtom bug: 2nd Monday, not Sunday
    fathers_day = _nth_weekday(year, 6, 0, 3)  # simtom bug: 3rd Monday, not Sunday
    days = {
        date(year, 1, 1): 0.2,
        date(year, 2, 14): 1.15,
        date(year, 7, 4): 0.8,
        date(year, 10, 31): 1.05,
        date(year, 12, 24): 0.3,
        date(year, 12, 25): 0.1,
        date(year, 12, 31): 0.4,
        thanksgiving: 0.2,
        thanksgiving + timedelta(days=1): 1.6,  # black friday
        thanksgiving + timedelta(days=4): 1.4,  # cyber monday
        _nth_weekday(year, 9, 0, 1): 1.05,  # labor day
        mothers_day: 1.2,
        fathers_day: 1.1,
    }
    periods = (
        # year-crossing periods are computed for the date's own year only (simtom bug)
        (date(year, 12, 20), date(year + 1, 1, 5), 0.5),
        (date(year, 12, 1), date(year, 12, 23), 1.2),
        (date(year, 12, 26), date(year + 1, 1, 2), 1.3),
        (thanksgiving - timedelta(days=1), thanksgiving + timedelta(days=4), 1.3),
        (date(year, 2, 11), date(year, 2, 15), 1.1),
        (mothers_day - timedelta(days=3), mothers_day + timedelta(days=1), 1.15),
        (date(year, 8, 15), date(year, 9, 15), 1.2),
        (date(year, 6, 15), date(year, 8, 15), 1.0),
    )
    return days, periods


def source_event_multiplier(day: date) -> float:
    """simtom's EVENT factor: the minimum of active multipliers below 1, else their maximum."""
    days, periods = _source_events(day.year)
    active = [m for (lo, hi, m) in periods if lo <= day <= hi]
    if day in days:
        active.append(days[day])
    if not active:
        return 1.0
    below = [m for m in active if m < 1.0]
    return min(below) if below else max(active)


def source_dow_factor(day: date) -> float:
    """simtom's day-of-week factor of ``day`` (Monday 1.15 … Sunday 0.70, contract §3.1)."""
    return _DOW[day.weekday()]


def source_multiplier(day: date) -> float:
    """The deterministic part of simtom's per-day volume: DOW × WOM × MOY × EVENT."""
    return _DOW[day.weekday()] * _wom(day.day) * _MOY[day.month - 1] * source_event_multiplier(day)


def source_noise(seed: int, day: date) -> float:
    """simtom's log-normal factor for a seeded day: ``exp(N(0, 0.1))`` drawn after seeding NumPy's
    legacy generator with ``seed + day.toordinal()`` (a private RandomState: no global state)."""
    rs = np.random.RandomState(seed + day.toordinal())
    return math.exp(float(rs.normal(0.0, SOURCE_NOISE_SIGMA)))


def source_volume(base_daily_volume: int, day: date, seed: int | None) -> int:
    """Records simtom emits for ``day`` in historical mode (contract §3.1), exact when seeded.

    With ``seed`` None (or 0, which simtom treats as unseeded) the noise is random and this returns
    the noise-free median ``floor(base × multiplier)``; see :func:`source_volume_band`.
    """
    factor = source_noise(seed, day) if seed else 1.0
    return max(1, math.floor(base_daily_volume * source_multiplier(day) * factor))


def source_volume_band(base_daily_volume: int, day: date, sigmas: float) -> tuple[int, int]:
    """Inclusive count band for an unseeded day: the median × exp(±sigmas × 0.1)."""
    mid = base_daily_volume * source_multiplier(day)
    spread = math.exp(sigmas * SOURCE_NOISE_SIGMA)
    return max(1, math.floor(mid / spread)), max(1, math.floor(mid * spread))


def source_count_band(
    base_daily_volume: int, day: date, seed: int | None, *, tolerance: float, sigmas: float
) -> tuple[int, int, int]:
    """``(expected, lo, hi)``: the count simtom sends for one day's request and the inclusive band
    a received count must fall in. Seeded: the exact count, widened by the relative ``tolerance``
    (0: exact). Unseeded: the noise-free median and :func:`source_volume_band` at ``sigmas``.
    The ingest check and the quality gate's volume check both use it."""
    if seed:
        exact = source_volume(base_daily_volume, day, seed)
        return exact, math.floor(exact * (1 - tolerance)), math.ceil(exact * (1 + tolerance))
    lo, hi = source_volume_band(base_daily_volume, day, sigmas)
    return source_volume(base_daily_volume, day, None), lo, hi


# --- bnpl's day types ------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _us_holidays(year: int) -> dict[date, str]:
    named: dict[date, str] = dict(holidays_lib.country_holidays("US", years=year).items())
    thanksgiving = _nth_weekday(year, 11, 3, 4)
    named[thanksgiving + timedelta(days=1)] = "Black Friday"
    named[thanksgiving + timedelta(days=4)] = "Cyber Monday"
    return named


def holiday_name(day: date) -> str | None:
    """The US holiday on ``day`` (federal calendar plus Black Friday and Cyber Monday), or None."""
    return _us_holidays(day.year).get(day)


def day_type(day: date) -> DayType:
    """``holiday`` wins over ``weekend``; everything else is a ``weekday``."""
    if holiday_name(day) is not None:
        return "holiday"
    return "weekend" if day.weekday() >= 5 else "weekday"


def iter_days(start: date, end: date) -> Iterator[date]:
    """Every calendar day from ``start`` to ``end``, both inclusive."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def check_range(start: date, end: date, *, max_days: int | None = None) -> None:
    """Raise :class:`ConfigError` if the range is reversed or longer than ``max_days``."""
    if end < start:
        raise ConfigError(f"end date {end} is before start date {start}; swap them")
    days = (end - start).days + 1
    if max_days is not None and days > max_days:
        raise ConfigError(f"range {start}..{end} has {days} days; the limit is {max_days}")


def check_processable_day(day: date, *, today: date) -> None:
    """Raise :class:`ConfigError` unless ``day`` has ended: ``today`` is the current UTC day.

    A day that has not ended (``today`` or later) has no complete data: the source would answer
    with a partial or synthetic future day, and the ledger would then hold it as loaded.
    """
    if day >= today:
        raise ConfigError(
            f"day {day} has not ended yet (today is {today} UTC); only complete days are "
            f"processed: use {today - timedelta(days=1)} or earlier"
        )


def check_ingest_range(start: date, end: date, *, today: date) -> None:
    """Raise :class:`ConfigError` unless one ingestion run may request ``start..end``: not
    reversed, at most :data:`MAX_SOURCE_RANGE_DAYS` days (the source's limit for one range, kept
    for a run so that a typo such as 2204 for 2024 fails before it sends thousands of requests),
    and every day ended before ``today`` (UTC)."""
    check_range(start, end)
    days = (end - start).days + 1
    if days > MAX_SOURCE_RANGE_DAYS:
        last = start + timedelta(days=MAX_SOURCE_RANGE_DAYS - 1)
        raise ConfigError(
            f"range {start}..{end} has {days} days; one run covers at most "
            f"{MAX_SOURCE_RANGE_DAYS} (the source's limit for a range): split it, e.g. "
            f"--start {start} --end {last}, then --start {last + timedelta(days=1)}"
        )
    check_processable_day(end, today=today)


def parse_day(value: str | date, *, name: str = "date") -> date:
    """A day given as ``YYYY-MM-DD`` or a :class:`~datetime.date` (a ``datetime`` is refused:
    its time would be dropped silently), or :class:`ConfigError` naming the argument."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    try:
        if not isinstance(value, str):
            raise TypeError(value)
        return date.fromisoformat(value.strip())
    except (ValueError, TypeError):
        raise ConfigError(
            f"{name} {value!r} is not a date; use YYYY-MM-DD, e.g. 2024-03-01"
        ) from None


# --- the request plan ------------------------------------------------------------------------------


def day_seed(run_seed: int, day: date) -> int:
    """Per-day request seed derived from the run seed and the date.

    In ``[1, 2**31 - 1]``: never 0 (simtom's "unseeded") and ``seed + day.toordinal()`` stays well
    inside simtom's ``[0, 2**32 - 1]`` for any date.
    """
    digest = hashlib.blake2b(f"{run_seed}:{day.isoformat()}".encode(), digest_size=8).digest()
    return 1 + int.from_bytes(digest, "big") % (_SEED_SPACE - 1)


@dataclass(frozen=True, slots=True)
class DayRequest:
    """One planned source request: a single day in historical mode.

    Attributes:
        day: the requested calendar day (``start_date == end_date == day``).
        day_type: bnpl's day type of ``day``.
        body: the JSON request body, canonical key order.
        expected_volume: records the source must send for this body (exact: the body is seeded).
    """

    day: date
    day_type: DayType
    body: dict[str, Any]
    expected_volume: int


def base_volume(day: date, plan: PlanSettings) -> int:
    """The plan's ``base_daily_volume`` for the day's type."""
    kind = day_type(day)
    if kind == "holiday":
        return plan.holiday_base_volume
    if kind == "weekend":
        return plan.weekend_base_volume
    return plan.weekday_base_volume


def plan_day(day: date, plan: PlanSettings, *, extra: dict[str, Any] | None = None) -> DayRequest:
    """The request for one day; ``extra`` adds body fields (e.g. ``stable_customer_ids``)."""
    base = base_volume(day, plan)
    seed = day_seed(plan.seed, day)
    body: dict[str, Any] = {
        "start_date": day.isoformat(),
        "end_date": day.isoformat(),
        "base_daily_volume": base,
        "seed": seed,
        **(extra or {}),
    }
    return DayRequest(day, day_type(day), body, source_volume(base, day, seed))


def plan_requests(
    start: date, end: date, plan: PlanSettings, *, extra: dict[str, Any] | None = None
) -> list[DayRequest]:
    """One request per day from ``start`` to ``end`` inclusive."""
    check_range(start, end)
    return [plan_day(d, plan, extra=extra) for d in iter_days(start, end)]
