"""Pure statistics of the quality checks: PSI, quantile binning, noise bands.

Nothing here does I/O; inputs and outputs are NumPy arrays, Polars frames and floats.
"""

from __future__ import annotations

import math
from datetime import date, timedelta
from statistics import NormalDist

import numpy as np
import polars as pl

PSI_EPSILON = 1e-4
"""Share substituted for an empty bin, so that PSI stays finite (a common convention)."""


def psi(reference: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of ``actual`` against ``reference`` (counts per bin).

    ``PSI = Σ (a_i − r_i) · ln(a_i / r_i)`` over bin shares, with empty shares replaced by
    :data:`PSI_EPSILON`. 0 means identical; under 0.1 is usually read as stable, over 0.25 as a
    shift. Both arrays hold counts for the same bins.

    Raises:
        ValueError: the arrays differ in length or one of them is all zeros.
    """
    ref = np.asarray(reference, dtype=float)
    act = np.asarray(actual, dtype=float)
    if ref.shape != act.shape:
        raise ValueError(f"bins differ: {ref.shape} vs {act.shape}")
    return float(psi_rows(ref[np.newaxis, :], act[np.newaxis, :])[0])


def psi_rows(reference: np.ndarray, actual: np.ndarray) -> np.ndarray:
    """Row-wise :func:`psi` of two ``days × bins`` count matrices (vectorised)."""
    ref_tot = reference.sum(axis=1, keepdims=True)
    act_tot = actual.sum(axis=1, keepdims=True)
    if np.any(ref_tot == 0) or np.any(act_tot == 0):
        raise ValueError("a row of counts sums to zero; PSI is undefined")
    r = np.maximum(reference / ref_tot, PSI_EPSILON)
    a = np.maximum(actual / act_tot, PSI_EPSILON)
    result: np.ndarray = ((a - r) * np.log(a / r)).sum(axis=1)
    return result


def quantile_groups(bins: pl.Series, counts: pl.Series, groups: int) -> dict[str, int]:
    """Merge ordered fine bins into about ``groups`` groups of equal total count.

    ``bins`` are fine-bin labels in ascending order, ``counts`` their pooled counts. Returns a map
    from fine-bin label to group index (0-based). A fine bin is never split, so heavy bins can
    leave fewer groups than asked.
    """
    total = float(counts.sum())
    if total <= 0:
        return {str(b): 0 for b in bins}
    cumulative = np.cumsum(counts.to_numpy().astype(float)) / total
    # the group of a fine bin is how many quantile cut points lie strictly below its upper edge
    cuts = np.arange(1, groups) / groups
    index = np.searchsorted(cuts, cumulative - 1e-12, side="right")
    # the last fine bin's cumulative is 1.0; clamp to the last group
    index = np.minimum(index, groups - 1)
    return {str(b): int(i) for b, i in zip(bins.to_list(), index.tolist(), strict=True)}


def trailing_psi(
    histogram: pl.DataFrame,
    *,
    days: list[date],
    window: int,
    min_reference_days: int,
    min_rows: int,
) -> pl.DataFrame:
    """PSI of each day in ``days`` against the sum of the ``window`` days before it.

    Args:
        histogram: ``day`` (Date), ``group`` (Int64, bin index), ``n`` (Int64) rows; days with no
            rows count as not loaded.
        days: the days to score (ascending).
        window: trailing days in the reference (the day itself excluded).
        min_reference_days: a day is scored only when its window holds this many loaded days.
        min_rows: a day is scored only when it has this many rows.

    Returns:
        ``day``, ``psi`` (null when not scored), ``rows``, ``reference_rows``, ``reference_days``.
    """
    if not days:
        return _empty_psi()
    first = min(days[0] - timedelta(days=window), _min_day(histogram, days[0]))
    span = (days[-1] - first).days + 1
    groups = int(histogram["group"].to_numpy().max()) + 1 if histogram.height else 1
    matrix = np.zeros((span, groups))
    if histogram.height:
        offsets = (histogram["day"] - first).dt.total_days().to_numpy()
        keep = (offsets >= 0) & (offsets < span)
        np.add.at(
            matrix,
            (offsets[keep], histogram["group"].to_numpy()[keep]),
            histogram["n"].to_numpy()[keep].astype(float),
        )
    loaded = (matrix.sum(axis=1) > 0).astype(int)
    cum = np.vstack([np.zeros((1, groups)), np.cumsum(matrix, axis=0)])
    cum_loaded = np.concatenate([[0], np.cumsum(loaded)])
    idx = np.array([(d - first).days for d in days])
    lo = np.maximum(idx - window, 0)
    reference = cum[idx] - cum[lo]
    reference_days = cum_loaded[idx] - cum_loaded[lo]
    actual = matrix[idx]
    rows = actual.sum(axis=1)
    reference_rows = reference.sum(axis=1)
    scored = (reference_days >= min_reference_days) & (rows >= min_rows) & (reference_rows > 0)
    values = np.full(len(days), np.nan)
    if scored.any():
        values[scored] = psi_rows(reference[scored], actual[scored])
    return pl.DataFrame(
        {
            "day": days,
            "psi": values,
            "rows": rows.astype(np.int64),
            "reference_rows": reference_rows.astype(np.int64),
            "reference_days": reference_days.astype(np.int64),
        },
        schema={
            "day": pl.Date,
            "psi": pl.Float64,
            "rows": pl.Int64,
            "reference_rows": pl.Int64,
            "reference_days": pl.Int64,
        },
    ).with_columns(pl.col("psi").fill_nan(None))


def _min_day(histogram: pl.DataFrame, default: date) -> date:
    if histogram.height == 0:
        return default
    value = histogram["day"].min()
    return value if isinstance(value, date) else default


def _empty_psi() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "day": pl.Date,
            "psi": pl.Float64,
            "rows": pl.Int64,
            "reference_rows": pl.Int64,
            "reference_days": pl.Int64,
        }
    )


def family_sigmas(sigmas: float, tests: int) -> float:
    """Per-test band width (in sigmas) that keeps the family-wise false-alarm rate of ``tests``
    two-sided tests equal to that of one test at ``sigmas`` (Bonferroni)."""
    if tests <= 1:
        return sigmas
    alpha = 2.0 * (1.0 - NormalDist().cdf(sigmas))
    return max(sigmas, NormalDist().inv_cdf(1.0 - alpha / (2.0 * tests)))


def log_band(expected: float, log_sd: float, sigmas: float) -> tuple[float, float]:
    """``expected × exp(±sigmas × log_sd)``: a band for a log-normally noisy ratio."""
    spread = math.exp(sigmas * log_sd)
    return expected / spread, expected * spread
