"""The registry fixture shared by the governance and serving tests: register a model in this
test's real MLflow store (``settings``' ``BNPL_MODEL__STORE_DIR``) as bnpl registers its own; and
the small synthetic model the serving tests register (:func:`risk_model`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import polars as pl
import pytest

from bnpl.features.training import feature_columns
from bnpl.governance import estimator, registry, store
from bnpl.governance.window import Window
from bnpl.settings import Settings

TRAINED = Window(date(2024, 1, 1), date(2024, 3, 31))
"""The training window every registered test model is tagged with."""

Register = Callable[..., int]
"""``register(model, columns, alias=CHALLENGER) -> version``."""

RISK_FEATURES = ["risk_score", "amount_cents", "prior_txn_count_28d", "product_category"]
"""The columns :func:`risk_model` is fitted on."""


def risk_model(sign: float = 1.0) -> tuple[Any, pl.DataFrame]:
    """The bnpl pipeline fitted on 2000 synthetic rows of :data:`RISK_FEATURES` where
    risk_score drives defaults (``sign``: +1 risky means default), and those rows."""
    catalog = {f.name: f for f in feature_columns()}
    rng = np.random.default_rng(0)
    n = 2000
    risk = rng.uniform(0.1, 0.8, n)
    frame = pl.DataFrame(
        {
            "risk_score": risk,
            "amount_cents": rng.integers(1000, 50000, n),
            "prior_txn_count_28d": rng.integers(0, 5, n),
            "product_category": rng.choice(["electronics", "clothing", "home"], n),
        }
    )
    y = rng.random(n) < 1 / (1 + np.exp(-sign * 10 * (risk - 0.45)))
    return estimator.fit_pipeline(frame, y, [catalog[c] for c in RISK_FEATURES]), frame


def register_model(
    settings: Settings,
    model: Any,
    columns: list[str],
    alias: str = registry.CHALLENGER,
    *,
    as_of: str = "2024-06-30",
    train_start: str = TRAINED.start.isoformat(),
    train_end: str = TRAINED.end.isoformat(),
) -> int:
    """Log ``model`` taking ``columns`` to ``settings``' MLflow store and register it as bnpl
    does (its tags, ``alias``); returns the version. The tests' and the benches' one copy."""
    import mlflow

    client = store.open_client(settings)
    name = settings.model.registered_model
    tags = {
        "bnpl.as_of": as_of,
        "bnpl.train_start": train_start,
        "bnpl.train_end": train_end,
        "bnpl.features": json.dumps(columns),
    }
    with (
        store.quiet(),
        mlflow.start_run(experiment_id=store.experiment_id(client, settings)) as run,
    ):
        return registry.register_version(
            client, name, model, run_id=run.info.run_id, tags=tags, alias=alias
        )


@pytest.fixture
def register(settings: Settings) -> Register:
    """Log ``model`` taking ``columns`` to the store and register it as bnpl does (tags, the
    ``alias``: ``challenger`` unless told); returns the version."""

    def run(model: Any, columns: list[str], alias: str = registry.CHALLENGER) -> int:
        return register_model(settings, model, columns, alias)

    return run
