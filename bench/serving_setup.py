"""What ``python -m bench serving`` serves: ten simulated days, their online store and a champion.

* ten days of the bundled simulator (stable customer ids, 100 customers) built into a DuckDB file;
* checkouts: those days' raw rows as API bodies (every pre-outcome field, ``timestamp`` = the
  transaction's own time) and as the ``bnpl_raw.transactions`` row the API derives from them
  (:func:`bnpl.serving.checkout.raw_row`, so customer keys are the live scope's, as served);
* a SQLite online store holding every transaction under those keys, and the market days;
* a champion in a fresh MLflow store: the project's estimator fitted on the mart's rows with every
  feature of :func:`bnpl.features.training.feature_columns` (the real model's shape; the labels
  are the simulator's outcomes, matured or not: latency does not depend on them).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from tests.registry_helpers import register_model

CUSTOMERS = 100


@dataclass(frozen=True)
class Served:
    """The bench's checkouts (API bodies and their raw rows, in time order) and the store path."""

    bodies: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    store_path: Path
    store_dir: Path


def _body(raw: dict[str, Any]) -> dict[str, Any]:
    from bnpl.serving.checkout import Checkout

    body = {name: raw[name] for name in Checkout.model_fields if name in raw}
    ts: datetime = raw["transaction_ts"]
    body["timestamp"] = ts.isoformat()
    return json.loads(json.dumps(body, default=str))  # type: ignore[no-any-return]


def prepare(tmp: Path, first: date, last: date, token: str) -> Served:
    """Build the days, fill the store, register the champion (``BNPL_MODEL__STORE_DIR`` in
    ``tmp``); returns what the bench sends."""
    from bnpl.serving.checkout import Checkout, raw_row
    from bnpl.serving.features import HISTORY_COLUMNS
    from bnpl.serving.store import SqliteStore
    from bnpl.settings import DuckDBSettings
    from bnpl.warehouse.duckdb import DuckDBWarehouse
    from tests.model_demo import build_demo

    path = tmp / "bench.duckdb"
    build_demo(
        path,
        first,
        last,
        request_extra={"stable_customer_ids": True, "customer_universe_size": CUSTOMERS},
    )
    warehouse = DuckDBWarehouse(DuckDBSettings(path=path))
    raw = warehouse.query(
        "SELECT * FROM bnpl_raw.transactions ORDER BY transaction_ts, transaction_key"
    ).to_dicts()
    features = warehouse.query(
        "SELECT f.*, t.will_default FROM bnpl_marts.mart_bnpl_ml_features AS f "
        "JOIN bnpl_raw.transactions AS t USING (transaction_key)"
    )
    warehouse.close()
    bodies = [_body(r) for r in raw]
    rows = [raw_row(Checkout.model_validate(b)) for b in bodies]
    store_path = tmp / "online.sqlite"
    store = SqliteStore(store_path)
    store.apply([{c: r[c] for c in HISTORY_COLUMNS} for r in rows])
    store.close()
    store_dir = tmp / "mlflow"
    _register(features, store_dir, token)
    return Served(bodies, rows, store_path, store_dir)


def settings_env(tmp: Path, store_path: Path, store_dir: Path, token: str) -> dict[str, str]:
    """The ``BNPL_*`` settings of the bench's server (and of its in-process scorer)."""
    return {
        "BNPL_WAREHOUSE__PATH": str(tmp / "serve.duckdb"),
        "BNPL_MODEL__STORE_DIR": str(store_dir),
        "BNPL_SERVING__STORE_PATH": str(store_path),
        "BNPL_SERVING__TOKENS": token,
    }


def _register(frame: Any, store_dir: Path, token: str) -> None:
    import os

    from bnpl.features.training import feature_columns
    from bnpl.governance import estimator, registry
    from bnpl.settings import load_settings

    saved = {k: v for k, v in os.environ.items() if k.startswith("BNPL_")}
    for name in saved:
        del os.environ[name]
    os.environ.update(settings_env(store_dir.parent, store_dir.parent / "x", store_dir, token))
    try:
        settings = load_settings()
        features = feature_columns()
        labels = frame.get_column("will_default").to_numpy()
        model = estimator.fit_pipeline(frame, labels, features)
        register_model(
            settings,
            model,
            [f.name for f in features],
            registry.CHAMPION,
            as_of="2024-01-10",
            train_start="2024-01-01",
            train_end="2024-01-10",
        )
    finally:
        for name in [n for n in os.environ if n.startswith("BNPL_")]:
            del os.environ[name]
        os.environ.update(saved)
