"""Register a fitted model in a real MLflow store as ``bnpl model train`` does (the run, the
version's ``bnpl.*`` tags, an alias): shared by the governance and serving tests (imported by
tests; not a test module)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from bnpl.governance import estimator, registry, store
from bnpl.settings import Settings


def register_model(
    settings: Settings,
    model: Any,
    columns: list[str],
    *,
    trained: tuple[date, date],
    alias: str = registry.CHALLENGER,
    as_of: date = date(2024, 6, 30),
) -> int:
    """Log ``model`` taking ``columns`` to the store of ``settings``, register it with the tags
    bnpl reads (as-of date, training window ``trained``, features) and point ``alias`` at it;
    returns the version."""
    import mlflow

    client = store.open_client(settings)
    name = settings.model.registered_model
    tags = {
        "bnpl.as_of": as_of.isoformat(),
        "bnpl.train_start": trained[0].isoformat(),
        "bnpl.train_end": trained[1].isoformat(),
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
            client.create_model_version(name, info.model_uri, run.info.run_id, tags=tags).version
        )
        client.set_registered_model_alias(name, alias, str(version))
    return version
