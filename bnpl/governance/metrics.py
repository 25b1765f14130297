"""Scores of a probability model against outcomes, and a paired bootstrap of two models' gaps.

Pure NumPy. Every metric takes integer weights per row (how often a bootstrap resample drew the
row; all ones for the plain figure), so one sort per model serves every resample:

* ROC AUC: the weighted Mann-Whitney statistic over tied-score groups (ties count one half);
* PR AUC: average precision, ``Σ (R_k - R_{k-1}) P_k`` over score thresholds (as scikit-learn's
  ``average_precision_score``);
* Brier score: mean squared error of the probability;
* ECE: expected calibration error over ten equal-width probability bins,
  ``Σ_b |Σ_{i in b} (p_i - y_i)| / n``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float64]
METRICS = ("roc_auc", "pr_auc", "brier", "ece")
"""Every figure of :class:`Figures`; higher is better for the first two, lower for the others."""
CALIBRATION_BINS = 10


@dataclass(frozen=True, slots=True)
class Figures:
    """One model's scores on one set of rows."""

    roc_auc: float
    pr_auc: float
    brier: float
    ece: float

    def as_dict(self) -> dict[str, float]:
        return {m: float(getattr(self, m)) for m in METRICS}


@dataclass(frozen=True, slots=True)
class Interval:
    """A difference (challenger minus champion) and its bootstrap confidence interval."""

    point: float
    low: float
    high: float


@dataclass(frozen=True)
class Comparison:
    """Two models, and optionally ``risk_score`` alone, on the same rows.

    Attributes:
        rows: rows compared.
        positives: rows whose label is true.
        champion, challenger: each model's figures on all rows.
        baseline: ``risk_score`` used alone as the probability (None when absent).
        deltas: per metric, challenger minus champion with its paired bootstrap interval.
        resamples: bootstrap resamples drawn.
        confidence: two-sided level of the intervals.
    """

    rows: int
    positives: int
    champion: Figures
    challenger: Figures
    baseline: Figures | None
    deltas: Mapping[str, Interval]
    resamples: int
    confidence: float


class _Ranked:
    """A model's scores sorted once, in descending tied-score groups."""

    def __init__(self, y: npt.NDArray[np.int64], p: Floats) -> None:
        self.order = np.argsort(-p, kind="stable")
        ordered = p[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        self.y = y[self.order].astype(np.float64)
        self.p = p
        self.residual = p - y
        self.bins = np.minimum((p * CALIBRATION_BINS).astype(np.int64), CALIBRATION_BINS - 1)
        self.squared = (p - y) ** 2

    def figures(self, w: Floats) -> Figures:
        ws = w[self.order]
        pos = np.add.reduceat(ws * self.y, self.starts)
        neg = np.add.reduceat(ws, self.starts) - pos  # exact: the weights are whole numbers
        total_pos, total_neg = pos.sum(), neg.sum()
        cum_pos, cum_neg = np.cumsum(pos), np.cumsum(neg)
        below = total_neg - cum_neg
        auc = float((pos * (below + 0.5 * neg)).sum() / (total_pos * total_neg))
        called = cum_pos + cum_neg
        precision = np.divide(cum_pos, called, out=np.zeros_like(cum_pos), where=called > 0)
        ap = float((pos * precision).sum() / total_pos)
        n = w.sum()
        brier = float((w * self.squared).sum() / n)
        gaps = np.bincount(self.bins, weights=w * self.residual, minlength=CALIBRATION_BINS)
        ece = float(np.abs(gaps).sum() / n)
        return Figures(auc, ap, brier, ece)


def _check(y: npt.ArrayLike, *scores: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], list[Floats]]:
    labels = np.asarray(y).astype(np.int64)
    arrays = [np.asarray(s, dtype=np.float64) for s in scores]
    for a in arrays:
        if a.shape != labels.shape:
            raise ValueError(f"scores of shape {a.shape} for labels of shape {labels.shape}")
        if not np.all(np.isfinite(a)) or a.min() < 0 or a.max() > 1:
            raise ValueError("scores must be probabilities in [0, 1]")
    if labels.size == 0 or labels.min() == labels.max():
        raise ValueError("both outcomes are needed")
    return labels, arrays


def figures(y: npt.ArrayLike, p: npt.ArrayLike) -> Figures:
    """The figures of probabilities ``p`` against 0/1 outcomes ``y``.

    Raises:
        ValueError: shapes differ, ``p`` is not in [0, 1], or ``y`` holds one class only.
    """
    labels, (scores,) = _check(y, p)
    return _Ranked(labels, scores).figures(np.ones(labels.size))


def compare(
    y: npt.ArrayLike,
    champion: npt.ArrayLike,
    challenger: npt.ArrayLike,
    *,
    baseline: npt.ArrayLike | None = None,
    resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> Comparison:
    """Both models' figures on the same rows, and the paired bootstrap of their differences:
    each resample draws the rows with replacement once and scores both models on that draw.

    Raises:
        ValueError: as :func:`figures`.
    """
    labels, (p_champion, p_challenger) = _check(y, champion, challenger)
    ranked = (_Ranked(labels, p_champion), _Ranked(labels, p_challenger))
    ones = np.ones(labels.size)
    points = [r.figures(ones) for r in ranked]
    rng = np.random.default_rng(seed)
    draws = np.empty((resamples, len(METRICS)))
    n = labels.size
    with np.errstate(invalid="ignore", divide="ignore"):  # a draw without a class is NaN
        for i in range(resamples):
            w = np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64)
            a, b = (r.figures(w).as_dict() for r in ranked)
            draws[i] = [b[m] - a[m] for m in METRICS]
    tail = (1 - confidence) / 2
    low, high = np.nanquantile(draws, [tail, 1 - tail], axis=0)
    a_points, b_points = points[0].as_dict(), points[1].as_dict()
    deltas = {
        m: Interval(b_points[m] - a_points[m], float(low[j]), float(high[j]))
        for j, m in enumerate(METRICS)
    }
    base = None
    if baseline is not None:
        base = figures(labels, np.clip(np.asarray(baseline, dtype=np.float64), 0.0, 1.0))
    return Comparison(
        rows=int(n),
        positives=int(labels.sum()),
        champion=points[0],
        challenger=points[1],
        baseline=base,
        deltas=deltas,
        resamples=resamples,
        confidence=confidence,
    )
