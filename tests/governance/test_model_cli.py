"""`bnpl model train|promote|rollback|list` on a small demo warehouse, as a user runs them: the
whole loop, and each bad input as one line, exit 2 (1 for a run that fails), nothing registered
and no alias moved."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl
import pytest
from cli_helpers import run
from simulator_helpers import free_port

import bnpl
from bnpl.governance import registry, store
from bnpl.settings import Settings, load_settings
from bnpl.warehouse.duckdb import DuckDBWarehouse

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def state(settings: Settings) -> tuple[int | None, int | None, int | None]:
    """(latest version, champion, challenger) of the registered model."""
    client = store.open_client(settings)
    name = settings.model.registered_model
    if not registry.model_exists(client, name):
        return None, None, None
    return (
        registry.latest_version(client, name),
        registry.alias_version(client, name, registry.CHAMPION),
        registry.alias_version(client, name, registry.CHALLENGER),
    )


def decisions() -> int:
    try:
        return bnpl.read_table("bnpl_audit.model_decisions").height
    except Exception:
        return 0


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]
    assert len(err) == 1, err
    return err[0]


def test_train_promote_list_rollback(
    demo: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Train twice, make the first champion explicitly, compare the second with it, list; each
    success prints its table and nothing of MLflow's on stderr; bad inputs on the way exit 2 and
    change nothing."""
    monkeypatch.setenv("BNPL_MODEL__MIN_OUTCOMES", "20")
    assert run(["model", "train", "--as-of", "2024-01-20"]) == 2  # nothing matured yet
    assert "no matured labels" in one_error_line(capsys)
    assert state(settings) == (None, None, None)

    assert run(["model", "train", "--as-of", "2024-06-30"]) == 0
    out, err = capsys.readouterr()
    assert "version 1 registered as challenger" in out and "| test |" in out and "PSI" in out
    noise = [line for line in err.splitlines() if " INFO bnpl." not in line]
    assert noise == [], noise  # no MLflow logging, warnings or tracebacks

    assert run(["model", "promote"]) == 2
    assert "--initial" in one_error_line(capsys)
    assert state(settings) == (1, None, 1) and decisions() == 0

    assert run(["model", "promote", "--initial"]) == 0
    assert "first champion" in capsys.readouterr().out
    assert run(["model", "train", "--as-of", "2024-07-31"]) == 0
    capsys.readouterr()
    assert state(settings) == (2, 1, 2)

    monkeypatch.setenv("BNPL_MODEL__MIN_OUTCOMES", "100000")
    assert run(["model", "promote"]) == 2
    assert "at least 100000 of each" in one_error_line(capsys)
    assert state(settings) == (2, 1, 2) and decisions() == 1

    monkeypatch.setenv("BNPL_MODEL__MIN_OUTCOMES", "20")
    assert run(["model", "promote"]) == 0
    out = capsys.readouterr().out
    assert "| roc_auc |" in out and "risk_score alone" in out and "2024-04-19..2024-05-08" in out
    rows = bnpl.read_table("bnpl_audit.model_decisions").sort("decided_at")
    assert rows["action"].to_list() == ["initial", "promote"]
    last = rows.row(-1, named=True)
    assert last["verdict"] in ("promoted", "kept") and last["risk_score_roc_auc"] > 0.5
    assert state(settings)[1] == last["new_champion_version"]

    assert run(["model", "list"]) == 0
    listed = capsys.readouterr().out
    assert "| 2 |" in listed and "| 1 |" in listed and "2024-01-01..2024-04-18" in listed

    code = run(["model", "rollback"])
    if last["verdict"] == "promoted":
        assert code == 0 and state(settings)[1] == 1
    else:
        assert code == 2 and "no previous champion" in one_error_line(capsys)
        assert state(settings)[1] == 1


def test_missing_model_and_unreachable_server(
    demo: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A registered model that does not exist, and a tracking server that does not answer: one
    line each, exit 2, nothing registered."""
    monkeypatch.setenv("BNPL_MODEL__REGISTERED_MODEL", "no-such-model")
    for argv in (["model", "promote"], ["model", "list"], ["model", "rollback"]):
        assert run(argv) == 2
        assert "'no-such-model' does not exist" in one_error_line(capsys)
    monkeypatch.setenv("BNPL_MODEL__TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    assert run(["model", "train", "--as-of", "2024-06-30"]) == 2
    assert "does not answer" in one_error_line(capsys)
    assert run(["model", "promote"]) == 2
    assert "BNPL_MODEL__TRACKING_URI" in one_error_line(capsys)
    monkeypatch.delenv("BNPL_MODEL__TRACKING_URI")
    assert state(load_settings()) == (None, None, None)


def test_training_refuses_gate_failed_days(
    demo: Path, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A day of the set whose newest gate run failed an error-level check: exit 1, the day
    named, nothing registered."""
    warehouse = DuckDBWarehouse(settings.warehouse)  # type: ignore[arg-type]
    try:
        row = {
            "run_id": "failed-run",
            "logical_date": date(2024, 2, 14),
            "range_start": date(2024, 2, 14),
            "range_end": date(2024, 2, 14),
            "check_name": "volume",
            "category": "volume",
            "model": "bnpl_raw.transactions",
            "severity": "error",
            "status": "fail",
            "observed_value": 1.0,
            "threshold": 0.0,
            "details": "test",
            "checked_at": datetime(2030, 1, 1, tzinfo=UTC),
        }
        frame = pl.DataFrame([row])  # noqa: F841 - read by DuckDB below
        with warehouse.connection() as con:
            con.sql(
                f"INSERT INTO {warehouse.qualified('bnpl_audit', 'dq_results')} BY NAME SELECT * FROM frame"
            )
    finally:
        warehouse.close()
    assert run(["model", "train", "--as-of", "2024-06-30"]) == 1
    assert "2024-02-14" in one_error_line(capsys)
    assert state(settings) == (None, None, None)


def test_export_gives_the_rows_the_warehouse_gives(demo: Path, settings: Settings) -> None:
    """Training from `bnpl features export` reads exactly the rows of the training set as of
    the same date; an export of another date is refused."""
    from bnpl.errors import ConfigError
    from bnpl.features import export, training_frame
    from bnpl.governance.train import read_export

    day = date(2024, 6, 30)
    out = demo.parent / "export"
    export(day, out, settings=settings)
    assert read_export(out, day).equals(training_frame(as_of=day, settings=settings))
    with pytest.raises(ConfigError, match="not 2024-07-31"):
        read_export(out, date(2024, 7, 31))
