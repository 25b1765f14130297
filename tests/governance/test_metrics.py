"""The weighted figures agree with scikit-learn, and the paired bootstrap brackets the truth."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from bnpl.governance.metrics import compare, figures


def test_figures_match_scikit_learn_with_ties() -> None:
    """ROC AUC, PR AUC and Brier equal scikit-learn's on scores with many ties."""
    rng = np.random.default_rng(3)
    y = rng.random(5000) < 0.2
    p = np.round(np.clip(0.2 + 0.3 * (y - 0.2) + rng.normal(0, 0.2, 5000), 0, 1), 2)
    got = figures(y, p)
    assert got.roc_auc == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert got.pr_auc == pytest.approx(average_precision_score(y, p), abs=1e-12)
    assert got.brier == pytest.approx(brier_score_loss(y, p), abs=1e-12)


def test_calibration_error_sees_overconfidence() -> None:
    """Calibrated probabilities have a small ECE; the same ranking pushed to 0/1 a large one."""
    rng = np.random.default_rng(4)
    p = rng.random(20000)
    y = rng.random(20000) < p
    assert figures(y, p).ece < 0.02
    assert figures(y, (p > 0.5).astype(float)).ece > 0.2


def test_bootstrap_interval_of_identical_models_contains_zero() -> None:
    """The same scores twice: every difference and its interval is exactly zero."""
    rng = np.random.default_rng(5)
    p = rng.random(3000)
    y = rng.random(3000) < p
    result = compare(y, p, p, resamples=100)
    assert all(i.point == i.low == i.high == 0 for i in result.deltas.values())


def test_bad_scores_are_refused() -> None:
    """Scores outside [0, 1], or one class only, raise ValueError."""
    with pytest.raises(ValueError):
        figures([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError):
        figures([1, 1], [0.5, 0.2])
