"""Real MLflow stores for the tests, started fast: an empty store's database made once per worker
(MLflow's schema migrations cost 5-40 s a store on a busy machine) and copied into each test's
store directory. Shared by the governance and serving tests (imported by tests and conftest; not a
test module)."""

from __future__ import annotations

import shutil
from pathlib import Path

from bnpl.governance import store
from bnpl.settings import load_settings

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
