"""The registry fixture shared by the governance and serving tests: register a model in this
test's real MLflow store (``settings``' ``BNPL_MODEL__STORE_DIR``) as bnpl registers its own."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from bnpl.governance import estimator, registry, store
from bnpl.governance.window import Window
from bnpl.settings import Settings

TRAINED = Window(date(2024, 1, 1), date(2024, 3, 31))
"""The training window every registered test model is tagged with."""

Register = Callable[..., int]
"""``register(model, columns, alias=CHALLENGER) -> version``."""


@pytest.fixture
def register(settings: Settings) -> Register:
    """Log ``model`` taking ``columns`` to the store and register it as bnpl does (tags, the
    ``alias``: ``challenger`` unless told); returns the version."""

    def run(model: Any, columns: list[str], alias: str = registry.CHALLENGER) -> int:
        import mlflow

        client = store.open_client(settings)
        name = settings.model.registered_model
        tags = {
            "bnpl.as_of": "2024-06-30",
            "bnpl.train_start": TRAINED.start.isoformat(),
            "bnpl.train_end": TRAINED.end.isoformat(),
            "bnpl.features": json.dumps(columns),
        }
        with (
            store.quiet(),
            mlflow.start_run(experiment_id=store.experiment_id(client, settings)) as run,
        ):
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                pip_requirements=["scikit-learn"],
                skops_trusted_types=estimator.TRUSTED_TYPES,
            )
            if not registry.model_exists(client, name):
                client.create_registered_model(name)
            version = int(
                client.create_model_version(
                    name, info.model_uri, run.info.run_id, tags=tags
                ).version
            )
            client.set_registered_model_alias(name, alias, str(version))
        return version

    return run
