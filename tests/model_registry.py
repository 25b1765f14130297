"""Real MLflow stores for the tests: an empty store's database made once (MLflow's schema
migrations cost 5-40 s a store on a busy machine) and copied into each test's store directory;
and a fitted model registered as ``bnpl model train`` does (the run, the version's ``bnpl.*`` tags,
an alias). Shared by the governance and serving tests (imported by tests; not a test module)."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

from bnpl.governance import estimator, registry, store
from bnpl.settings import Settings, load_settings

DATABASE = "mlflow.db"
"""The embedded store's database file in its directory (``bnpl.governance.store``)."""


def empty_store(directory: Path) -> Path:
    """Make an embedded MLflow store in ``directory`` with its schema migrated and nothing in
    it; returns its database file, to copy with :func:`seed_store`."""
    settings = load_settings(model={"store_dir": directory})
    store.open_client(settings).search_experiments()  # the first call creates and migrates it
    database = directory / DATABASE
    assert database == Path(store.tracking_uri(settings).removeprefix("sqlite:///"))
    return database


def seed_store(database: Path, store_dir: Path) -> None:
    """Start the store in ``store_dir`` from a copy of the empty ``database``: bnpl then creates
    its experiment there, with its artifacts under ``store_dir``, as on a new store."""
    store_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(database, store_dir / DATABASE)


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
