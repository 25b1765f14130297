"""The model bnpl trains: one scikit-learn pipeline from the training set's feature columns to
a probability of default, so that whoever loads it (``bnpl model promote``, a scoring service)
passes feature columns and nothing else.

``model_input`` turns training-set rows into the pipeline's input: a pandas DataFrame with the
feature columns in order, numbers and booleans as float64 (nulls NaN), categories as strings
(nulls None). The pipeline encodes categories itself (levels learned on the train split; an
unseen level is treated as missing) and feeds a histogram gradient-boosted classifier, which
handles missing values natively. The trees see a category as its level index (sorted levels) and
split it like a number, not with scikit-learn's native categorical splits: those re-encode and
copy the whole matrix inside every fit and predict, for no test ROC AUC on the demo's data
(docs/decisions.md). scikit-learn and pandas come with the ``ml`` extra.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
import polars as pl

from bnpl.features.training import Feature

PARAMS: dict[str, Any] = {
    "learning_rate": 0.1,
    "max_iter": 100,
    "max_leaf_nodes": 31,
    "min_samples_leaf": 200,
    "l2_regularization": 1.0,
    "early_stopping": "auto",
    "validation_fraction": 0.1,
    "n_iter_no_change": 10,
    "scoring": "loss",
    "random_state": 0,
}
"""Hyper-parameters of the classifier (logged with every run). On more than 10,000 rows
(``"auto"``) boosting stops when the log loss on the validation split (passed by
:func:`fit_encoded`; a held-out tenth of the train split when there is none) has not improved
for 10 iterations: on a year of the demo's data after about 40 of the 100 iterations, with a
test ROC AUC no lower than all 100 (bench/results.md "## model")."""


TRUSTED_TYPES = [
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "functools.partial",
    "sklearn.utils.validation.check_array",
]
"""Types skops must be told to trust to load the pipeline (MLflow saves sklearn models with
skops, not pickle). bnpl writes these files itself; a registry anyone can write to should not be
loaded from."""


@contextmanager
def threads(count: int) -> Iterator[None]:
    """At most ``count`` OpenMP threads fit and score inside the block
    (``BNPL_MODEL__THREADS``): an idle OpenMP thread spins, so on shared cores every thread
    beyond the first costs CPU seconds without shortening the run."""
    import sklearn  # type: ignore[import-untyped,import-not-found,unused-ignore]  # noqa: F401
    from threadpoolctl import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        threadpool_limits,
    )

    # threadpoolctl limits the libraries already loaded: importing scikit-learn loads its OpenMP
    with threadpool_limits(limits=count, user_api="openmp"):
        yield


def model_input(frame: pl.DataFrame, features: Sequence[Feature]) -> Any:
    """The feature columns of ``frame`` as the pipeline's pandas input."""
    columns = [
        pl.col(f.name).cast(pl.String)
        if f.kind == "categorical"
        else pl.col(f.name).cast(pl.Float64)
        for f in features
    ]
    return frame.select(columns).to_pandas()


def _categorical(features: Sequence[Feature]) -> list[Feature]:
    return [f for f in features if f.kind == "categorical"]


def _other(features: Sequence[Feature]) -> list[Feature]:
    return [f for f in features if f.kind != "categorical"]


def levels_of(frame: pl.DataFrame, features: Sequence[Feature]) -> dict[str, list[str]]:
    """The sorted non-null levels of each categorical feature (as the encoder sorts them)."""
    return {
        f.name: sorted(frame.get_column(f.name).cast(pl.String).drop_nulls().unique().to_list())
        for f in _categorical(features)
    }


def encoded_matrix(
    frame: pl.DataFrame, features: Sequence[Feature], levels: dict[str, list[str]]
) -> Any:
    """What the pipeline's column step makes of ``frame`` (categories first, as level indexes,
    unseen levels and nulls NaN; then the other features), computed in Polars: the fit never
    turns a million rows of strings into Python objects."""
    categorical, other = _categorical(features), _other(features)
    matrix = np.empty((frame.height, len(categorical) + len(other)), dtype=np.float64, order="F")
    # one column at a time: only one column's intermediate exists beside the matrix
    for i, f in enumerate(categorical):
        codes = {level: float(n) for n, level in enumerate(levels[f.name])}
        column = frame.get_column(f.name).cast(pl.String)
        matrix[:, i] = column.replace_strict(
            codes, default=None, return_dtype=pl.Float64
        ).to_numpy()
    for i, f in enumerate(other, start=len(categorical)):
        matrix[:, i] = frame.get_column(f.name).cast(pl.Float64).to_numpy()
    return matrix


def column_step(features: Sequence[Feature], levels: dict[str, list[str]]) -> Any:
    """The pipeline's column step (categories ordinal-encoded with ``levels``, then the other
    features), fitted on a frame of the levels alone: it only learns them."""
    from sklearn.compose import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        ColumnTransformer,
    )
    from sklearn.preprocessing import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        OrdinalEncoder,
    )

    categorical, other = _categorical(features), _other(features)
    width = max([1, *(len(v) for v in levels.values())])
    sample = pl.DataFrame(
        {
            f.name: [
                levels[f.name][i % len(levels[f.name])] if levels[f.name] else None
                for i in range(width)
            ]
            for f in categorical
        }
        | {f.name: [0.0] * width for f in other}
    )
    encoder = OrdinalEncoder(
        categories=[levels[f.name] for f in categorical],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )
    columns = ColumnTransformer(
        [
            ("categories", encoder, [f.name for f in categorical]),
            ("numbers", "passthrough", [f.name for f in other]),
        ],
        verbose_feature_names_out=False,
    )
    columns.fit(model_input(sample, features))
    return columns


def fit_encoded(
    matrix: Any,
    labels: Any,
    features: Sequence[Feature],
    levels: dict[str, list[str]],
    *,
    validation: tuple[Any, Any] | None = None,
    native_categories: bool = False,
) -> Any:
    """The fitted pipeline from a train matrix already encoded by :func:`encoded_matrix` with
    ``levels``: the classifier is fitted on ``matrix``; with ``validation`` (an encoded matrix
    and its labels, both outcomes present) boosting stops on that split's log loss, otherwise
    on a held-out tenth of ``matrix`` (more than 10,000 rows) or not at all."""
    from sklearn.ensemble import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
        HistGradientBoostingClassifier,
    )
    from sklearn.pipeline import Pipeline  # type: ignore[import-untyped,import-not-found,unused-ignore]

    mask = None  # categories split as level indexes (see the module docstring)
    if native_categories:  # scikit-learn's categorical splits, as versions before issue 14's
        categorical = len(_categorical(features))
        mask = np.array([True] * categorical + [False] * (len(features) - categorical))
    classifier = HistGradientBoostingClassifier(categorical_features=mask, **PARAMS)
    if validation is None:
        classifier.fit(matrix, labels)
    else:
        classifier.fit(matrix, labels, X_val=validation[0], y_val=validation[1])
    return Pipeline([("columns", column_step(features, levels)), ("classifier", classifier)])


def fit_pipeline(
    frame: pl.DataFrame,
    labels: Any,
    features: Sequence[Feature],
    *,
    validation: tuple[pl.DataFrame, Any] | None = None,
    native_categories: bool = False,
) -> Any:
    """The fitted pipeline: categories ordinal-encoded (levels of ``frame``), then the
    gradient-boosted classifier fitted on :func:`encoded_matrix` (see :func:`fit_encoded`;
    ``validation``: rows and labels to stop boosting on)."""
    levels = levels_of(frame, features)
    held = None
    if validation is not None:
        held = (encoded_matrix(validation[0], features, levels), validation[1])
    return fit_encoded(
        encoded_matrix(frame, features, levels),
        labels,
        features,
        levels,
        validation=held,
        native_categories=native_categories,
    )


def encoded_probabilities(model: Any, matrix: Any) -> Any:
    """The probability of default per row of a matrix encoded by :func:`encoded_matrix` with
    the model's levels (float64 array)."""
    return np.asarray(model.named_steps["classifier"].predict_proba(matrix)[:, 1], dtype=np.float64)


def iterations(model: Any) -> int:
    """How many boosting iterations the pipeline's classifier kept (early stopping)."""
    return int(model.named_steps["classifier"].n_iter_)


def probabilities(model: Any, inputs: Any) -> Any:
    """The model's probability of default per row (float64 array)."""
    return np.asarray(model.predict_proba(inputs)[:, 1], dtype=np.float64)
