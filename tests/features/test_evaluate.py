"""The baseline evaluation: models trained on train, scored on validation and test next to
risk_score alone; deterministic; clear errors without scikit-learn or without both classes."""

from __future__ import annotations

import sys
from datetime import date, timedelta

import numpy as np
import polars as pl
import pytest
from feature_data import DAYS

from bnpl.errors import ConfigError
from bnpl.features import Feature, evaluate, evaluate_frame, evaluation_markdown, training_frame
from bnpl.features.evaluate import MODELS, category_levels, design_matrix
from bnpl.models import Project
from bnpl.warehouse.duckdb import DuckDBWarehouse

FEATURES = (
    Feature("x", "FLOAT64", "numeric", "signal"),
    Feature("flag", "BOOL", "boolean", "noise"),
    Feature("colour", "STRING", "categorical", "noise"),
    Feature("risk_score", "FLOAT64", "numeric", "noise"),
)


def synthetic(rows: int = 3000, seed: int = 1) -> pl.DataFrame:
    """A frame whose label is a threshold of ``x`` (plus a little noise), split by date."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    start = date(2024, 1, 1)
    days = [start + timedelta(days=int(i * 100 / rows)) for i in range(rows)]
    return pl.DataFrame(
        {
            "transaction_date": days,
            "x": x,
            "flag": rng.random(rows) < 0.5,
            "colour": rng.choice(["red", "blue", None], rows),
            "risk_score": rng.random(rows),
            "will_default": x + rng.normal(scale=0.3, size=rows) > 1.0,
        }
    ).with_columns(
        split=pl.when(pl.col("transaction_date") < date(2024, 3, 11))
        .then(pl.lit("train"))
        .when(pl.col("transaction_date") < date(2024, 3, 26))
        .then(pl.lit("validation"))
        .otherwise(pl.lit("test"))
    )


def auc(labels: list[bool], scores: list[float]) -> float:
    """ROC AUC by definition: the share of (positive, negative) pairs ranked right, ties half."""
    positives = [s for s, y in zip(scores, labels, strict=True) if y]
    negatives = [s for s, y in zip(scores, labels, strict=True) if not y]
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


@pytest.mark.slow
def test_models_learn_a_real_signal() -> None:
    """On data whose label follows x, both models score far above chance and risk_score (pure
    noise here) scores near 0.5: the evaluation can tell signal from noise."""
    result = evaluate_frame(synthetic(), FEATURES)
    assert {(s.model, s.split) for s in result.scores} == {
        (m, s) for m in MODELS for s in ("validation", "test")
    }
    assert result.score("logistic_regression").roc_auc > 0.95
    assert result.score("gradient_boosting").roc_auc > 0.9
    assert abs(result.score("risk_score").roc_auc - 0.5) < 0.1
    assert sum(result.rows.values()) == 3000


def test_risk_score_auc_is_the_pairwise_definition() -> None:
    """The risk_score row is the ROC AUC of risk_score on the test split, by definition."""
    frame = synthetic(rows=600)
    test = frame.filter(pl.col("split") == "test")
    expected = auc(test["will_default"].to_list(), test["risk_score"].to_list())
    assert evaluate_frame(frame, FEATURES).score("risk_score").roc_auc == pytest.approx(expected)


def test_design_matrix_encodes_categories_from_train_levels() -> None:
    """Categories become one-hot columns or level indices from the train split's levels; unseen
    levels and nulls are missing, booleans are 0/1."""
    train = pl.DataFrame({"colour": ["red", "blue", None], "flag": [True, False, None]})
    other = pl.DataFrame({"colour": ["green", "red", None], "flag": [False, True, True]})
    features = [FEATURES[2], FEATURES[1]]
    levels = category_levels(train, features)
    assert levels == {"colour": ["blue", "red"]}
    onehot = design_matrix(other, features, levels, one_hot=True)
    assert onehot.columns == ["colour=blue", "colour=red", "flag"]
    assert onehot.rows() == [(0.0, 0.0, 0.0), (0.0, 1.0, 1.0), (0.0, 0.0, 1.0)]
    codes = design_matrix(other, features, levels, one_hot=False)
    assert codes["colour"].to_list() == [None, 1.0, None]


def test_a_split_without_both_classes_is_refused() -> None:
    """AUC is undefined without positives: ConfigError saying to use a later as-of date."""
    frame = synthetic().with_columns(
        will_default=pl.when(pl.col("split") == "test")
        .then(False)
        .otherwise(pl.col("will_default"))
    )
    with pytest.raises(ConfigError, match=r"test split.*both classes"):
        evaluate_frame(frame, FEATURES)


def test_missing_scikit_learn_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without scikit-learn the error says to install bnpl[ml]."""
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ConfigError, match=r"bnpl\[ml\]"):
        evaluate_frame(synthetic(rows=300), FEATURES)


@pytest.mark.slow
def test_evaluates_the_training_set(built: DuckDBWarehouse, project: Project) -> None:
    """On the fixture's training set all three models are scored on both splits, the same way
    twice, and the Markdown lists each with the split's size and label rate."""
    first = evaluate(warehouse=built, project=project)
    assert first.as_of == DAYS[-1], "the default as-of is the last loaded day"
    assert first == evaluate(as_of=DAYS[-1], warehouse=built, project=project)
    frame = training_frame(as_of=DAYS[-1], warehouse=built, project=project)
    assert dict(first.rows) == {
        s: frame.filter(pl.col("split") == s).height for s in ("train", "validation", "test")
    }
    assert all(0.0 <= s.roc_auc <= 1.0 and 0.0 <= s.pr_auc <= 1.0 for s in first.scores)
    text = evaluation_markdown(first)
    assert all(f"| {m} | test | {first.rows['test']:,} |" in text for m in MODELS)
