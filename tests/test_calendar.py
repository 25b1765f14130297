"""bnpl.calendar: day types, the source's volume model and the request plan."""

from __future__ import annotations

from datetime import date

import pytest

from bnpl.calendar import (
    check_range,
    day_seed,
    day_type,
    holiday_name,
    parse_day,
    plan_requests,
    source_event_multiplier,
    source_volume,
    source_volume_band,
)
from bnpl.errors import ConfigError
from bnpl.settings import PlanSettings


def test_source_volume_matches_captured_counts(captured_request, captured_counts):
    """The §3.1 formula reproduces the real service's per-day counts for the captured request."""
    base, seed = captured_request["base_daily_volume"], captured_request["seed"]
    got = {d: source_volume(base, date.fromisoformat(d), seed) for d in captured_counts}
    assert got == captured_counts


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2024, 12, 5), 1.2),  # christmas_shopping
        (date(2024, 12, 21), 0.5),  # year_end_holidays beats christmas_shopping
        (date(2024, 12, 24), 0.3),
        (date(2024, 12, 25), 0.1),
        (date(2024, 12, 27), 0.5),  # post_christmas 1.3 overridden by the minimum rule
        (date(2024, 12, 31), 0.4),
        (date(2024, 1, 1), 0.2),
        (date(2024, 1, 3), 1.0),  # year-crossing periods never reach January
        (date(2024, 11, 28), 0.2),  # thanksgiving
        (date(2024, 11, 29), 1.6),  # black friday
        (date(2024, 11, 30), 1.3),  # black_friday_week
        (date(2024, 12, 2), 1.4),  # cyber monday
        (date(2024, 9, 2), 1.2),  # labor day inside back_to_school
        (date(2024, 7, 4), 0.8),
        (date(2024, 5, 13), 1.2),  # mother's day on the 2nd Monday (simtom bug)
        (date(2024, 6, 17), 1.1),  # father's day on the 3rd Monday (simtom bug)
        (date(2024, 3, 12), 1.0),
    ],
)
def test_source_event_multiplier_effective_values(day, expected):
    """EVENT takes the minimum of multipliers below 1, else the maximum (contract §3.1)."""
    assert source_event_multiplier(day) == pytest.approx(expected)


def test_unseeded_band_contains_median():
    """The noise band for an unseeded day brackets the noise-free count."""
    lo, hi = source_volume_band(1000, date(2024, 3, 12), 3.0)
    assert lo < source_volume(1000, date(2024, 3, 12), None) < hi


def test_day_types():
    """Holidays (incl. Black Friday, Cyber Monday) win over weekends; the rest are weekdays."""
    assert day_type(date(2024, 11, 29)) == "holiday"
    assert holiday_name(date(2024, 12, 2)) == "Cyber Monday"
    assert day_type(date(2024, 12, 25)) == "holiday"
    assert day_type(date(2024, 3, 9)) == "weekend"
    assert day_type(date(2024, 3, 12)) == "weekday"


def test_day_seed_is_stable_and_in_source_range():
    """Per-day seeds are deterministic, never 0, and keep seed + ordinal below 2**32."""
    seeds = {day_seed(42, date(2024, 1, 1)) for _ in range(3)}
    assert len(seeds) == 1
    assert day_seed(42, date(2024, 1, 1)) != day_seed(42, date(2024, 1, 2))
    assert day_seed(42, date(2024, 1, 1)) != day_seed(43, date(2024, 1, 1))
    for d in (date(2024, 1, 1), date(9999, 12, 31)):
        s = day_seed(7, d)
        assert s >= 1 and s + d.toordinal() < 2**32


def test_default_plan_gives_about_1_8m_for_2024():
    """The default plan requests 1.7M-1.9M transactions for 2024, mostly 3k-10k a day."""
    plan = plan_requests(date(2024, 1, 1), date(2024, 12, 31), PlanSettings())
    total = sum(r.expected_volume for r in plan)
    assert len(plan) == 366
    assert 1_700_000 <= total <= 1_900_000
    in_band = [r for r in plan if 3_000 <= r.expected_volume <= 10_000]
    assert len(in_band) >= 0.9 * len(plan)


def test_plan_body_is_one_seeded_day():
    """Each request asks for exactly one day with a seeded, typed body."""
    (req,) = plan_requests(date(2024, 3, 9), date(2024, 3, 9), PlanSettings(weekend_base_volume=10))
    assert req.body == {
        "start_date": "2024-03-09",
        "end_date": "2024-03-09",
        "base_daily_volume": 10,
        "seed": day_seed(42, date(2024, 3, 9)),
    }
    assert req.expected_volume == source_volume(10, date(2024, 3, 9), req.body["seed"])


def test_bad_ranges_and_dates_are_config_errors():
    """Reversed ranges, over-long ranges and unparseable dates say what to fix."""
    with pytest.raises(ConfigError, match="before start"):
        check_range(date(2024, 2, 1), date(2024, 1, 1))
    with pytest.raises(ConfigError, match="limit is 366"):
        check_range(date(2024, 1, 1), date(2025, 1, 1), max_days=366)
    with pytest.raises(ConfigError, match="YYYY-MM-DD"):
        parse_day("2024-13-01", name="--start")
