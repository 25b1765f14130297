"""The request body of ``POST /stream/{generator}`` (contract §1.2) and its canonical form.

:class:`StreamRequest` validates exactly what simtom validates (same fields, bounds, defaults, lax
coercion, the ``end_date`` rule) and ignores unknown keys, as simtom does. Three bnpl extensions
are understood only by the bundled simulator (the real service ignores them):

* ``stable_customer_ids`` (bool, default false): customer ids and their attributes (and their
  devices' and payment methods') come from one customer universe instead of a per-response
  counter, so ``cust_000123`` is the same person in every response that names the same universe.
  Each record picks its customer from the universe by a fixed per-customer activity weight
  (some customers buy far more often); there is no "new customer" draw and no eviction.
* ``customer_universe_seed`` (int, default 0): which universe. It is independent of ``seed``
  because a request plan gives every day its own ``seed`` (:func:`bnpl.calendar.day_seed`).
* ``customer_universe_size`` (int, default 100,000): customers in the universe.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

SEED_RANGE_DETAIL = "Seed must be between 0 and 2**32 - 1"
"""simtom's 404 detail when ``seed + day.toordinal()`` leaves NumPy's seed range."""

_MAX_RANGE_DAYS = 365


class ArrivalPattern(StrEnum):
    """Real-time inter-arrival model (contract §3.5)."""

    UNIFORM = "uniform"
    POISSON = "poisson"
    NHPP = "nhpp"
    BURST = "burst"


class NoiseType(StrEnum):
    """Post-processing noise of numeric and boolean fields."""

    NONE = "none"
    GAUSSIAN = "gaussian"
    UNIFORM = "uniform"
    OUTLIERS = "outliers"


class DriftType(StrEnum):
    """Time-dependent post-processing of numeric and boolean fields."""

    NONE = "none"
    LINEAR = "linear"
    SEASONAL = "seasonal"
    SUDDEN = "sudden"
    GRADUAL = "gradual"


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class StreamRequest(BaseModel):
    """A validated ``POST /stream/{generator}`` body (simtom's ``GeneratorConfig``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    rate_per_second: float | None = Field(default=None, ge=0.01, le=1000.0)
    """Real-time base arrival rate; None means ``base_daily_volume / 86400``."""
    base_daily_volume: int = Field(default=1000, ge=1)
    """Base of the per-day count formula (historical) or of the default rate (real-time)."""
    max_records: int | None = Field(default=None, ge=1)
    """Hard cap on the records of one response, in both modes."""
    arrival_pattern: ArrivalPattern = ArrivalPattern.UNIFORM
    """Real-time inter-arrival model."""
    peak_hours: list[int] = Field(default_factory=lambda: [12, 19])
    """NHPP: hours with five times the rate."""
    burst_intensity: float = Field(default=2.0, ge=1.0, le=10.0)
    """Burst pattern: rate multiplier inside a burst."""
    burst_probability: float = Field(default=0.1, ge=0.0, le=1.0)
    """Burst pattern: probability that an interval is a burst interval."""
    start_date: date | None = None
    """First day (historical mode when both dates are set)."""
    end_date: date | None = None
    """Last day, inclusive; at most 365 days after ``start_date``."""
    include_holiday_patterns: bool = True
    """Accepted and ignored, as by simtom."""
    weekend_multiplier: float = Field(default=0.85, ge=0.1, le=5.0)
    """Accepted and ignored, as by simtom."""
    noise_type: NoiseType = NoiseType.NONE
    """Noise applied to every numeric and boolean field (turns them into floats)."""
    noise_level: float = Field(default=0.0, ge=0.0, le=1.0)
    """Noise scale."""
    drift_type: DriftType = DriftType.NONE
    """Drift applied to every numeric and boolean field (turns them into floats)."""
    drift_strength: float = Field(default=0.0, ge=0.0, le=1.0)
    """Drift scale."""
    seed: int | None = None
    """Seed; None or 0 means a different response every time."""
    start_time: datetime = Field(default_factory=_utcnow)
    """Reference time of drift and NHPP; default: when the body was parsed (naive UTC)."""
    time_compression: float = Field(default=1.0, ge=0.1, le=1000.0)
    """Speed of the drift and NHPP clocks."""
    stable_customer_ids: bool = False
    """bnpl extension: customers come from a universe shared by every response naming it."""
    customer_universe_seed: int = Field(default=0, ge=0, le=2**63 - 1)
    """bnpl extension: which universe (only read with ``stable_customer_ids``)."""
    customer_universe_size: int = Field(default=100_000, ge=1, le=10_000_000)
    """bnpl extension: customers in the universe (only read with ``stable_customer_ids``)."""

    @field_validator("end_date")
    @classmethod
    def _check_range(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if value is not None and start is not None:
            if value < start:
                raise ValueError("end_date must be >= start_date")
            if (value - start).days > _MAX_RANGE_DAYS:
                raise ValueError("date range cannot exceed 365 days")
        return value

    @property
    def historical(self) -> bool:
        """True when both dates are set (historical mode); else real-time mode."""
        return self.start_date is not None and self.end_date is not None

    @property
    def seeded(self) -> bool:
        """simtom treats a missing seed and seed 0 alike: unseeded."""
        return bool(self.seed)


def check_seed_range(request: StreamRequest) -> None:
    """Raise ``ValueError(SEED_RANGE_DETAIL)`` if a historical day's NumPy seed is out of range.

    simtom seeds NumPy with ``seed + day.toordinal()`` for every day of the range; the server maps
    this error to 404, as simtom does.
    """
    if not (request.historical and request.seeded):
        return
    assert request.start_date is not None and request.end_date is not None
    assert request.seed is not None
    low = request.seed + request.start_date.toordinal()
    high = request.seed + request.end_date.toordinal()
    if low < 0 or high > 2**32 - 1:
        raise ValueError(SEED_RANGE_DETAIL)


def canonical_body(request: StreamRequest) -> bytes:
    """The request in canonical form: every field with its value (defaults included), sorted keys,
    compact separators. Two bodies that mean the same request give the same bytes. ``start_time``
    is left out unless the body set it (its default is the parse time)."""
    exclude = None if "start_time" in request.model_fields_set else {"start_time"}
    data: dict[str, Any] = request.model_dump(mode="json", exclude=exclude)
    return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()


def body_digest(request: StreamRequest) -> bytes:
    """SHA-256 of :func:`canonical_body`: the root of every seeded decision for this request."""
    return hashlib.sha256(canonical_body(request)).digest()
