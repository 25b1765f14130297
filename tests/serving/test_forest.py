"""The champion's trees evaluated in NumPy score exactly as scikit-learn's pipeline does."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl
import pytest
from registry_helpers import RISK_FEATURES, risk_model

from bnpl.features.training import feature_columns
from bnpl.governance import estimator
from bnpl.serving.forest import CompiledForest
from bnpl.serving.scorer import LoadedModel, _frame, compiled


@pytest.fixture(scope="module")
def fitted() -> tuple[Any, pl.DataFrame]:
    """The project's pipeline fitted on synthetic rows of every feature (NaNs and null levels
    included), with labels driven by a category and a number so both kinds of split occur."""
    features = feature_columns()
    rng = np.random.default_rng(0)
    n = 3000
    data: dict[str, Any] = {}
    for f in features:
        if f.kind == "categorical":
            levels = rng.choice(["a", "b", "c", "d"], n).tolist()
            data[f.name] = [None if rng.random() < 0.05 else v for v in levels]
        else:
            column = rng.normal(size=n)
            column[rng.random(n) < 0.1] = np.nan
            data[f.name] = column
    frame = pl.DataFrame(data).fill_nan(None)
    category = next(f.name for f in features if f.kind == "categorical")
    number = next(f.name for f in features if f.kind != "categorical")
    signal = (
        2 * frame[number].fill_null(0).to_numpy()
        + (frame[category] == "a").fill_null(False).to_numpy() * 2.0
    )
    labels = rng.random(n) < 1 / (1 + np.exp(-signal))
    # native categorical splits: the forest also scores versions trained with them
    return estimator.fit_pipeline(frame, labels, features, native_categories=True), frame


def test_probabilities_equal_scikit_learns(fitted: tuple[Any, pl.DataFrame]) -> None:
    """On 500 rows (missing numbers, missing and unseen levels) the compiled forest's
    probabilities equal predict_proba's to 1e-15, and categorical splits were exercised."""
    model, frame = fitted
    features = tuple(feature_columns())
    rows: list[Mapping[str, Any]] = list(frame.head(500).to_dicts())
    category = next(f.name for f in features if f.kind == "categorical")
    rows[0] = {**rows[0], category: "never-seen"}
    rows[1] = {f.name: None for f in features}
    forest = CompiledForest(model, features)
    assert forest._categorical_split.any()
    expected = estimator.probabilities(model, _frame(rows, features))
    got = forest.probabilities(rows)
    assert got.shape == expected.shape
    assert np.max(np.abs(got - expected)) < 1e-15


def test_a_model_with_few_categorical_splits_scores_equally() -> None:
    """A model on one category and three numbers (most trees without a categorical split, so
    the category bitsets are fewer than the trees) scores as scikit-learn does."""
    model, frame = risk_model()
    catalog = {f.name: f for f in feature_columns()}
    features = tuple(catalog[n] for n in RISK_FEATURES)
    rows: list[Mapping[str, Any]] = list(frame.head(300).to_dicts())
    forest = CompiledForest(model, features)
    expected = estimator.probabilities(model, _frame(rows, features))
    assert np.max(np.abs(forest.probabilities(rows) - expected)) < 1e-15


def test_a_model_that_is_not_the_pipeline_is_scored_by_scikit_learn() -> None:
    """compiled() gives None for a model it cannot read (the scorer falls back to sklearn)."""

    class Other:
        """A model of another kind."""

    loaded = LoadedModel("m", 1, Other(), tuple(feature_columns()))
    assert compiled(loaded) is None


def test_level_index_pipeline_scores_the_same(fitted: tuple[Any, pl.DataFrame]) -> None:
    """The pipeline bnpl trains today (categories as level indexes, no categorical splits) is
    scored by the compiled forest exactly as by scikit-learn, unseen levels included."""
    _, frame = fitted
    features = tuple(feature_columns())
    labels = np.asarray(frame.get_column(features[-1].name).fill_null(0).to_numpy() > 0)
    model = estimator.fit_pipeline(frame, labels, features)
    rows: list[Mapping[str, Any]] = list(frame.head(300).to_dicts())
    category = next(f.name for f in features if f.kind == "categorical")
    rows[0] = {**rows[0], category: "never-seen"}
    forest = CompiledForest(model, features)
    assert not forest._categorical_split.any()
    expected = estimator.probabilities(model, _frame(rows, features))
    assert np.max(np.abs(forest.probabilities(rows) - expected)) < 1e-15


def test_each_missing_equals_the_rows_built_one_by_one(fitted: tuple[Any, pl.DataFrame]) -> None:
    """The reasons' batch built by copying the encoded row (one feature NaN per copy) scores
    exactly as the rows built with that feature None, categorical and numeric alike."""
    model, frame = fitted
    features = tuple(feature_columns())
    forest = CompiledForest(model, features)
    for row in frame.slice(10, 5).to_dicts():
        names = [f.name for f in features if row[f.name] is not None]
        rows = [row, *({**row, name: None} for name in names)]
        got = forest.probabilities_with_each_missing(row, names)
        assert np.array_equal(got, forest.probabilities(rows))
        assert np.array_equal(got[:1], forest.probabilities([row]))
