"""The model bnpl trains: one scikit-learn pipeline from the training set's feature columns to
a probability of default, so that whoever loads it (``bnpl model promote``, a scoring service)
passes feature columns and nothing else.

``model_input`` turns training-set rows into the pipeline's input: a pandas DataFrame with the
feature columns in order, numbers and booleans as float64 (nulls NaN), categories as strings
(nulls None). The pipeline encodes categories itself (levels learned on the train split; an
unseen level is treated as missing) and feeds a histogram gradient-boosted classifier, which
handles missing values natively. scikit-learn and pandas come with the ``ml`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from bnpl.features.training import Feature

PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 150,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 200,
    "l2_regularization": 1.0,
    "early_stopping": False,
    "random_state": 0,
}
"""Hyper-parameters of the classifier (logged with every run)."""


TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "functools.partial",
    "sklearn.utils.validation.check_array",
]
"""Types skops must be told to trust to load the pipeline (MLflow saves sklearn models with
skops, not pickle). bnpl writes these files itself; a registry anyone can write to should not be
loaded from."""


def model_input(frame: pl.DataFrame, features: Sequence[Feature]) -> Any:
    """The feature columns of ``frame`` as the pipeline's pandas input."""
    columns = [
        pl.col(f.name).cast(pl.String) if f.kind == "categorical" else pl.col(f.name).cast(pl.Float64)
        for f in features
    ]
    return frame.select(columns).to_pandas()


def build_pipeline(features: Sequence[Feature]) -> Any:
    """An unfitted pipeline: categories ordinal-encoded, then the gradient-boosted classifier."""
    from sklearn.compose import ColumnTransformer  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from sklearn.ensemble import HistGradientBoostingClassifier  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from sklearn.pipeline import Pipeline  # type: ignore[import-untyped,import-not-found,unused-ignore]
    from sklearn.preprocessing import OrdinalEncoder  # type: ignore[import-untyped,import-not-found,unused-ignore]

    categorical = [f.name for f in features if f.kind == "categorical"]
    other = [f.name for f in features if f.kind != "categorical"]
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )
    columns = ColumnTransformer(
        [("categories", encoder, categorical), ("numbers", "passthrough", other)],
        verbose_feature_names_out=False,
    )
    mask = np.array([True] * len(categorical) + [False] * len(other), dtype=bool)
    classifier = HistGradientBoostingClassifier(categorical_features=mask, **PARAMS)
    return Pipeline([("columns", columns), ("classifier", classifier)])


def probabilities(model: Any, inputs: Any) -> Any:
    """The model's probability of default per row (float64 array)."""
    return np.asarray(model.predict_proba(inputs)[:, 1], dtype=np.float64)
