"""The evaluation window: after every training window, fully matured as of its date, and the
training set's rows of those days all present (nothing of them excluded as unmatured)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bnpl.errors import ConfigError
from bnpl.governance.window import MAX_TERM_DAYS, Window, evaluation_window, matured_through

DAYS = st.dates(min_value=date(2023, 1, 1), max_value=date(2026, 12, 31))


@st.composite
def trained_windows(draw: st.DrawFn) -> list[Window]:
    """One to three training windows of any length and place."""
    windows = []
    for _ in range(draw(st.integers(1, 3))):
        start = draw(DAYS)
        windows.append(Window(start, start + timedelta(days=draw(st.integers(0, 400)))))
    return windows


@given(as_of=DAYS, trained=trained_windows(), days=st.integers(1, 120))
def test_window_is_disjoint_from_training_and_fully_matured(
    as_of: date, trained: list[Window], days: int
) -> None:
    """For any as-of date and training windows: the window avoids every training window, every
    purchase on its days has matured by the as-of date, and it is at most `days` long; when none
    exists, a training window reaches the matured edge."""
    try:
        window = evaluation_window(as_of, trained, days)
    except ConfigError as exc:
        assert max(w.end for w in trained) >= matured_through(as_of)
        assert "no out-of-time outcomes" in str(exc)
        return
    assert all(not window.overlaps(w) and window.start > w.end for w in trained)
    # the last instalment of a 6-instalment purchase on the window's last day falls due by as_of
    assert window.end + timedelta(days=MAX_TERM_DAYS) <= as_of
    assert 1 <= window.days <= days
    # the most recent such window: it ends on the matured edge
    assert window.end == matured_through(as_of)


def test_window_without_models_is_the_last_matured_days() -> None:
    """With no training window the window is the `days` days ending 84 days before as-of."""
    window = evaluation_window(date(2024, 12, 31), [], 28)
    assert window == Window(date(2024, 9, 11), date(2024, 10, 8))


def test_bad_window_length_is_refused() -> None:
    """A window of no days is a configuration error."""
    with pytest.raises(ConfigError):
        evaluation_window(date(2024, 12, 31), [], 0)
