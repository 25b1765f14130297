"""`bnpl features export` and `bnpl features evaluate` against a built DuckDB file named by
BNPL_WAREHOUSE__PATH, as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run
from feature_data import DAYS


@pytest.fixture
def db(built_db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the built fixture warehouse, configured through the environment."""
    path = tmp_path / "bnpl.duckdb"
    shutil.copy(built_db, path)
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(path))
    return path


def test_export_writes_the_set(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """export --as-of D --out DIR writes the Parquet files and the card, and prints the splits."""
    out = tmp_path / "set"
    assert run(["features", "export", "--as-of", DAYS[-1].isoformat(), "--out", str(out)]) == 0
    card = json.loads((out / "card.json").read_text())
    assert card["as_of"] == DAYS[-1].isoformat() and card["rows"] > 0
    assert list(out.glob("month=*/part-0.parquet"))
    printed = capsys.readouterr().out
    assert f"{card['rows']:,} rows" in printed and "validation" in printed


def test_bad_input_exits_2(db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A malformed date, or an as-of after the last loaded day, exits 2 with a message."""
    assert run(["features", "export", "--as-of", "May 26", "--out", str(tmp_path / "x")]) == 2
    assert run(["features", "evaluate", "--as-of", "2030-01-01"]) == 2
    assert "after the last loaded day" in capsys.readouterr().err


def test_empty_warehouse_says_what_to_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without loaded data evaluate exits 2 with a message naming what to run first."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "empty.duckdb"))
    assert run(["features", "evaluate"]) == 2
    assert "bnpl backfill" in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_prints_the_table(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """evaluate prints ROC AUC and PR AUC of both models and of risk_score."""
    assert run(["features", "evaluate"]) == 0
    printed = capsys.readouterr().out
    for model in ("logistic_regression", "gradient_boosting", "risk_score"):
        assert f"| {model} | test |" in printed
    assert f"as of {DAYS[-1].isoformat()}" in printed
