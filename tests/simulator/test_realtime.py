"""bnpl.simulator.realtime: real-time rates and inter-arrival waits (contract §1.5, §3.5)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pytest

from bnpl.simulator.realtime import _draws, arrival_interval, nhpp_factor
from bnpl.simulator.simulation import realtime_rate
from bnpl.source.request import StreamRequest

SUNDAY = date(2026, 11, 22)  # the day the contract's real-time observations were made


def waits(
    request: StreamRequest, n: int = 5, rng: np.random.Generator | None = None
) -> list[float]:
    rng = rng or np.random.default_rng(1)
    rate = realtime_rate(request, SUNDAY, rng)
    now = datetime(2026, 11, 22, 3)
    return [arrival_interval(request, rate, _draws(request, SUNDAY, rng), now) for _ in range(n)]


def test_seeded_poisson_interval_is_constant_like_simtoms():
    """A seeded poisson stream re-seeds before every wait: rate 10, seed 5 waits ~0.329 s each time."""
    got = waits(StreamRequest(rate_per_second=10, seed=5, arrival_pattern="poisson"))
    assert len(set(got)) == 1
    assert 0.32 <= got[0] <= 0.33  # observed 0.329 s including simtom's per-record overhead


def test_unseeded_poisson_intervals_vary():
    """Without a seed the waits are exponential draws, all different."""
    got = waits(StreamRequest(rate_per_second=10, arrival_pattern="poisson"), 20)
    assert len(set(got)) == 20 and all(w > 0 for w in got)


def test_uniform_rate_is_scaled_by_the_days_multiplier():
    """The uniform wait is 1 / (rate x today's volume multiplier): ~0.68 on 2026-11-22."""
    (wait,) = set(waits(StreamRequest(rate_per_second=2, seed=5)))
    multiplier = 1 / (2 * wait)
    assert 0.6 < multiplier < 0.75
    default = realtime_rate(
        StreamRequest(base_daily_volume=86_400, seed=5), SUNDAY, np.random.default_rng()
    )
    assert default == pytest.approx(multiplier)


@pytest.mark.parametrize(
    ("hour", "factor"),
    [(12, 5.0), (19, 5.0), (3, 0.2), (9, 2.0), (13, 3.0), (20, 4.0), (0, 1.0), (23, 1.0)],
)
def test_nhpp_hour_factors(hour, factor):
    """NHPP multiplies the rate by 5 at peak hours, else by the hour band's factor."""
    assert nhpp_factor(hour, [12, 19]) == factor


def test_burst_waits_take_two_values_when_seeded():
    """A seeded burst stream alternates between fixed values (simtom re-seeds before each draw)."""
    got = waits(
        StreamRequest(rate_per_second=5, seed=9, arrival_pattern="burst", burst_probability=0.5), 10
    )
    assert 1 <= len(set(got)) <= 2
