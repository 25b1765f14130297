"""Fixtures of the governance tests: a real MLflow store (embedded SQLite) and DuckDB warehouse in
the test's directory, synthetic models of known strength registered as bnpl registers its own,
and a small demo warehouse built once per session."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from model_demo import build_demo
from registry_helpers import TRAINED, Register, register  # noqa: F401  (shared: the fixture)

from bnpl.settings import Settings, load_settings

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1

AS_OF = date(2024, 8, 31)
"""As-of date of the synthetic comparisons: the window is 2024-05-12..2024-06-08."""
TRUTH = (-2.0, 1.5, 1.5)
"""The synthetic outcome: logit P(default) = -2 + 1.5 x1 + 1.5 x2."""


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings with this test's own MLflow store and DuckDB file, and 300 resamples."""
    for name in [n for n in os.environ if n.startswith("BNPL_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "bnpl.duckdb"))
    monkeypatch.setenv("BNPL_MODEL__STORE_DIR", str(tmp_path / "mlflow"))
    monkeypatch.setenv("BNPL_MODEL__BOOTSTRAP_RESAMPLES", "300")
    return load_settings()


def synthetic_rows(seed: int = 0, per_day: int = 250) -> pl.DataFrame:
    """Outcomes drawn from :data:`TRUTH` over 2024-04-01..2024-06-30, with a weak ``risk_score``."""
    rng = np.random.default_rng(seed)
    days = [date(2024, 4, 1) + timedelta(days=i) for i in range(91)]
    n = per_day * len(days)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    logit = TRUTH[0] + TRUTH[1] * x1 + TRUTH[2] * x2
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pl.DataFrame(
        {
            "transaction_date": pl.Series([d for d in days for _ in range(per_day)], dtype=pl.Date),
            "x1": x1,
            "x2": x2,
            "risk_score": 1 / (1 + np.exp(-(0.5 * x1))),
            "will_default": y,
        }
    )


def logistic(columns: list[str], coef: list[float], intercept: float, frame: pl.DataFrame) -> Any:
    """A pipeline (columns, logistic regression) with the given coefficients: a model whose
    strength is known by construction."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    model = Pipeline(
        [
            ("columns", ColumnTransformer([("x", "passthrough", columns)])),
            ("classifier", LogisticRegression()),
        ]
    )
    pandas = frame.select(columns).to_pandas()
    model.fit(pandas, frame.get_column("will_default").to_numpy())
    model.named_steps["classifier"].coef_ = np.array([coef])
    model.named_steps["classifier"].intercept_ = np.array([intercept])
    return model


def free_port_here() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven months of simulated days (40 a day), loaded, built and published (built once)."""
    path = tmp_path_factory.mktemp("governance") / "demo.duckdb"
    build_demo(path)
    return path


@pytest.fixture
def demo(demo_db: Path, settings: Settings, tmp_path: Path) -> Iterator[Path]:
    """This test's copy of the demo warehouse, named by BNPL_WAREHOUSE__PATH."""
    path = tmp_path / "bnpl.duckdb"
    shutil.copy(demo_db, path)
    yield path
