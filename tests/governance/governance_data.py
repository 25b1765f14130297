"""The governance tests' synthetic data: outcomes of known truth, and logistic models of known
strength (imported by tests; a module of its own, because ``from conftest import``
finds whichever conftest pytest imported last when several directories run together)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import polars as pl

AS_OF = date(2024, 8, 31)
"""As-of date of the synthetic comparisons: the window is 2024-05-12..2024-06-08."""
TRUTH = (-2.0, 1.5, 1.5)
"""The synthetic outcome: logit P(default) = -2 + 1.5 x1 + 1.5 x2."""


def synthetic_rows(seed: int = 0, per_day: int = 250) -> pl.DataFrame:
    """Outcomes drawn from :data:`TRUTH` over 2024-04-01..2024-06-30, with a weak ``risk_score``."""
    rng = np.random.default_rng(seed)
    days = [date(2024, 4, 1) + timedelta(days=i) for i in range(91)]
    n = per_day * len(days)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = TRUTH[0] + TRUTH[1] * x1 + TRUTH[2] * x2
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {
            "transaction_date": pl.Series([d for d in days for _ in range(per_day)], dtype=pl.Date),
            "x1": x1,
            "x2": x2,
            "risk_score": 1 / (1 + np.exp(-(0.5 * x1))),
            "will_default": y,
        }
    )


def logistic(columns: list[str], coef: list[float], intercept: float, frame: pl.DataFrame) -> Any:
    """A pipeline (columns, logistic regression) with the given coefficients: a model whose
    strength is known by construction."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [
            ("columns", ColumnTransformer([("x", "passthrough", columns)])),
            ("classifier", LogisticRegression()),
        ]
    )
    pandas = frame.select(columns).to_pandas()
    model.fit(pandas, frame.get_column("will_default").to_numpy())
    model.named_steps["classifier"].coef_ = np.array([coef])
    model.named_steps["classifier"].intercept_ = np.array([intercept])
    return model
