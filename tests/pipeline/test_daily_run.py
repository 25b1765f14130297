"""bnpl.pipeline.daily: which day a run processes, and the daily run's summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from bnpl.calendar import check_processable_day
from bnpl.errors import ConfigError
from bnpl.pipeline import StepTiming, previous_day, render_daily_summary


def test_previous_day_is_the_utc_day_before() -> None:
    """02:00 UTC on March 5 processes March 4, whatever the moment's own time zone says."""
    assert previous_day(datetime(2024, 3, 5, 2, 0, tzinfo=UTC)) == date(2024, 3, 4)
    east = timezone(timedelta(hours=9))
    assert previous_day(datetime(2024, 3, 5, 8, 0, tzinfo=east)) == date(2024, 3, 3)
    assert previous_day(datetime(2024, 3, 1, 0, 0)) == date(2024, 2, 29)  # naive means UTC


def test_only_complete_days_are_processable() -> None:
    """Yesterday is fine; today and later have not ended and are refused with the last valid day."""
    today = date(2024, 3, 5)
    check_processable_day(date(2024, 3, 4), today=today)
    for day in (today, date(2030, 1, 1)):
        with pytest.raises(ConfigError, match=r"has not ended yet .* use 2024-03-04 or earlier"):
            check_processable_day(day, today=today)


def test_daily_summary_lists_steps_and_failed_checks() -> None:
    """The summary names every step with its time and, when blocked, the failing checks."""
    steps = [StepTiming("extract_daily_batch", 1.25, "10 records"), StepTiming("x", 0.5, "a|b")]
    text = render_daily_summary(
        date(2024, 3, 4), steps, outcome="failed", failed_checks=["quarantine_rate"]
    )
    assert "# bnpl daily run for 2024-03-04" in text
    assert "| extract_daily_batch | 1.25 | 10 records |" in text
    assert "a\\|b" in text  # a pipe in a detail does not break the table
    assert "1 error-level check(s) failed (quarantine_rate)" in text
    assert "**Wall time:** 1.8 s" in text
