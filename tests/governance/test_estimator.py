"""The pipeline bnpl registers scores raw feature columns exactly as the Polars-encoded fit
path does, unseen levels and nulls included."""

from __future__ import annotations

import numpy as np
import polars as pl

from bnpl.features.training import Feature
from bnpl.governance.estimator import (
    encoded_matrix,
    encoded_probabilities,
    fit_pipeline,
    levels_of,
    model_input,
    probabilities,
    threads,
)

FEATURES = [
    Feature("amount", "FLOAT64", "numeric", ""),
    Feature("device", "STRING", "categorical", ""),
    Feature("trusted", "BOOL", "boolean", ""),
]


def test_pipeline_and_polars_path_agree() -> None:
    """predict_proba on model_input equals the encoded-matrix path train scores with (the train
    frame's levels), for known and unseen levels."""
    rng = np.random.default_rng(0)
    n = 4000
    device = rng.choice(["ios", "android", "web"], n)
    amount = rng.normal(size=n)
    y = rng.random(n) < 1 / (1 + np.exp(-(amount + (device == "web"))))
    train = pl.DataFrame({"amount": amount, "device": device, "trusted": rng.random(n) < 0.5})
    model = fit_pipeline(train, y, FEATURES)
    rows = pl.DataFrame(
        {
            "amount": [0.1, None, -1.0, 2.0],
            "device": ["web", "ios", "smart-tv", None],
            "trusted": [True, None, False, True],
        },
        schema={"amount": pl.Float64, "device": pl.String, "trusted": pl.Boolean},
    )
    via_pandas = probabilities(model, model_input(rows, FEATURES))
    via_polars = encoded_probabilities(
        model, encoded_matrix(rows, FEATURES, levels_of(train, FEATURES))
    )
    assert np.allclose(via_pandas, via_polars)
    assert via_pandas[0] > via_pandas[2]  # web and a higher amount: the riskier row


def test_boosting_stops_on_the_validation_rows_given() -> None:
    """With validation rows, boosting stops on their log loss: rows whose labels the features do
    not predict stop it almost at once, rows like the train rows much later."""
    rng = np.random.default_rng(1)
    n = 12_000  # early stopping ("auto") needs more than 10,000 train rows

    def rows(count: int) -> tuple[pl.DataFrame, np.ndarray]:
        amount = rng.normal(size=count)
        frame = pl.DataFrame(
            {"amount": amount, "device": rng.choice(["ios", "web"], count), "trusted": True}
        )
        return frame, rng.random(count) < 1 / (1 + np.exp(-2 * amount))

    train, y = rows(n)
    held, held_y = rows(3000)
    unrelated = rng.random(3000) < 0.5
    like_train = fit_pipeline(train, y, FEATURES, validation=(held, held_y))
    noise = fit_pipeline(train, y, FEATURES, validation=(held, unrelated))
    stopped = noise.named_steps["classifier"]
    assert len(stopped.validation_score_) == stopped.n_iter_ + 1
    assert stopped.n_iter_ <= 12 < like_train.named_steps["classifier"].n_iter_


def test_threads_limits_scikit_learn_openmp() -> None:
    """Inside ``threads(1)`` scikit-learn's OpenMP runs one thread, and the limit ends with it."""
    from threadpoolctl import threadpool_info

    def openmp() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "openmp"]

    with threads(1):
        assert openmp() and set(openmp()) == {1}
    with threads(2):
        assert set(openmp()) == {2}
