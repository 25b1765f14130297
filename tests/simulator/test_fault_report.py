"""bnpl.simulator.report: the request fault rate of a replay, and the report of its runs."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bnpl.errors import ConfigError
from bnpl.settings import FaultSettings
from bnpl.simulator.faults import request_faults
from bnpl.simulator.report import RunOutcome, request_fault_settings, summarize_simulation


@given(st.floats(min_value=0.0, max_value=1.0))
def test_fault_rate_is_the_chance_that_an_attempt_fails(rate: float) -> None:
    """5xx, 429 and cut, drawn one after the other, combine to exactly the requested rate."""
    faults = request_fault_settings(rate)
    each = faults.error_rate
    assert faults.rate_limit_rate == faults.cut_rate == each
    assert 1 - (1 - each) ** 3 == pytest.approx(rate, abs=1e-12)
    assert faults.malformed_rate == faults.missing_field_rate == 0


def test_injected_fault_share_matches_the_rate() -> None:
    """Over many request attempts the simulator fails about the requested share of them."""
    faults = request_fault_settings(0.05, seed=3)
    attempts = [
        request_faults(faults, i.to_bytes(8, "big"), attempt)
        for i in range(2000)
        for attempt in (1, 2)
    ]
    failed = sum(f.status is not None or f.cut_at is not None for f in attempts)
    assert 0.04 < failed / len(attempts) < 0.06


def test_other_fault_settings_are_kept() -> None:
    """Retry-After and record-level faults of the base settings survive; the seed is replaced."""
    base = FaultSettings(seed=9, retry_after_s=0.2, malformed_rate=0.01, error_rate=0.9)
    faults = request_fault_settings(0.1, seed=4, base=base)
    assert (faults.seed, faults.retry_after_s, faults.malformed_rate) == (4, 0.2, 0.01)
    assert faults.error_rate < 0.1


def test_fault_rate_outside_zero_to_one_is_refused() -> None:
    """A rate of 5 (meant as 5 %) is a ConfigError, not 100 % faults."""
    with pytest.raises(ConfigError, match="between 0 and 1"):
        request_fault_settings(5)


def _outcome(day: int, attempts: int, completed: bool, source: int | None = 1) -> RunOutcome:
    error = "" if attempts == 1 else "boom"
    return RunOutcome(date(2024, 3, day), attempts, completed, error, 1.0, source)


def test_simulation_report_counts_recovered_and_failed_runs() -> None:
    """First-attempt failures split into recovered (completed on retry) and failed (not); runs
    whose request the client retried are counted apart."""
    report = summarize_simulation(
        [
            _outcome(3, 2, False, None),
            _outcome(1, 1, True, 3),
            _outcome(2, 2, True),
            _outcome(4, 1, True),
        ],
        fault_rate=0.05,
        retries=1,
    )
    assert [o.day.day for o in report.outcomes] == [1, 2, 3, 4]
    assert [o.status for o in report.outcomes] == ["completed", "recovered", "failed", "completed"]
    assert (report.runs, report.failed_first, report.recovered, report.failed) == (4, 2, 1, 1)
    assert report.client_retried == 1
    assert report.failure_rate == 0.25
    assert report.first_attempt_failure_rate == 0.5
    text = report.render()
    assert "| 4 | 1 | 2 (50.0%) | 1 | 1 | 25.0% |" in text
    assert "| 2024-03-02 | recovered | 2 | boom |" in text
    assert "2024-03-01" not in text


def test_empty_simulation_has_no_failure_rate() -> None:
    """No runs means a zero rate, not a division error."""
    report = summarize_simulation([], fault_rate=0.0, retries=0)
    assert report.failure_rate == report.first_attempt_failure_rate == 0.0
