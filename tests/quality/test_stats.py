"""The statistics behind the checks: PSI, quantile binning, rolling PSI and noise bands."""

from __future__ import annotations

import math
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl
import pytest

from bnpl.quality.stats import family_sigmas, log_band, psi, quantile_groups, trailing_psi


def test_psi_of_identical_distributions_is_zero() -> None:
    """Equal shares give PSI 0, whatever the totals."""
    assert psi(np.array([10, 20, 30]), np.array([100, 200, 300])) == pytest.approx(0.0)


def test_psi_matches_a_hand_computation() -> None:
    """50/50 against 25/75: (0.25 - 0.5) ln(0.5) + (0.75 - 0.5) ln(1.5)."""
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(expected)


def test_psi_stays_finite_with_an_empty_bin() -> None:
    """A bin empty on one side is smoothed instead of giving an infinite PSI."""
    value = psi(np.array([0, 100]), np.array([50, 50]))
    assert math.isfinite(value) and value > 1


def test_psi_refuses_mismatched_or_empty_inputs() -> None:
    """Different bin counts or an all-zero side are errors, not numbers."""
    with pytest.raises(ValueError):
        psi(np.array([1, 2]), np.array([1, 2, 3]))
    with pytest.raises(ValueError):
        psi(np.array([0, 0]), np.array([1, 2]))


def test_quantile_groups_split_uniform_counts_evenly() -> None:
    """100 equal fine bins merged into 10 groups give 10 fine bins per group, in order."""
    bins = pl.Series([str(i) for i in range(100)])
    mapping = quantile_groups(bins, pl.Series([5] * 100), 10)
    assert [mapping[str(i)] for i in range(100)] == [i // 10 for i in range(100)]


def test_quantile_groups_merge_around_a_heavy_bin() -> None:
    """A fine bin holding most of the mass takes the group its cumulative share reaches; a thin
    bin after it joins that group (groups stay in order, fewer than asked)."""
    mapping = quantile_groups(pl.Series(["a", "b", "c"]), pl.Series([1, 98, 1]), 10)
    assert [mapping[k] for k in "abc"] == [0, 9, 9]


def test_trailing_psi_equals_a_brute_force_computation() -> None:
    """Each day's PSI is psi(sum of the previous `window` days, the day) computed directly."""
    rng = np.random.default_rng(3)
    first = date(2024, 1, 1)
    days = [first + timedelta(days=i) for i in range(40)]
    counts = rng.integers(1, 50, size=(40, 4))
    counts[30] = [200, 1, 1, 1]  # a drifted day
    hist = pl.DataFrame(
        [
            {"day": d, "group": g, "n": int(counts[i, g])}
            for i, d in enumerate(days)
            for g in range(4)
        ]
    )
    scored = days[10:]
    result = trailing_psi(hist, days=scored, window=7, min_reference_days=7, min_rows=1)
    for row in result.iter_rows(named=True):
        i = days.index(row["day"])
        assert row["psi"] == pytest.approx(psi(counts[i - 7 : i].sum(axis=0), counts[i]))
        assert row["reference_days"] == 7
    worst = result.sort("psi", descending=True)["day"][0]
    assert worst == days[30]


def test_trailing_psi_skips_days_without_enough_history_or_rows() -> None:
    """Days whose window holds too few loaded days, or that have too few rows, get no PSI."""
    first = date(2024, 1, 1)
    hist = pl.DataFrame(
        [
            {"day": first + timedelta(days=i), "group": g, "n": 10 if i != 9 else 1}
            for i in range(10)
            for g in range(2)
        ]
    )
    result = trailing_psi(
        hist,
        days=[first + timedelta(days=i) for i in range(10)],
        window=28,
        min_reference_days=5,
        min_rows=5,
    )
    scored = result.filter(pl.col("psi").is_not_null())["day"].to_list()
    assert scored == [first + timedelta(days=i) for i in range(5, 9)]


def test_family_sigmas_keep_the_false_alarm_rate_of_one_test() -> None:
    """n tests at the widened band raise a false alarm as often as one test at the base band."""
    base = 3.0
    assert family_sigmas(base, 1) == base
    one = 2 * (1 - NormalDist().cdf(base))
    for n in (10, 365):
        z = family_sigmas(base, n)
        assert z > base
        assert n * 2 * (1 - NormalDist().cdf(z)) == pytest.approx(one, rel=1e-6)


def test_log_band_is_symmetric_in_log_space() -> None:
    """The band's ends are expected times and divided by the same factor."""
    lo, hi = log_band(2.0, 0.1, 3.0)
    assert lo * hi == pytest.approx(4.0)
    assert hi / 2.0 == pytest.approx(math.exp(0.3))
