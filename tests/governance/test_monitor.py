"""`bnpl model monitor` on synthetic logged scores and outcomes of known figures, in a real
DuckDB warehouse: ROC AUC, Brier, approval rate and score PSI per version and week, only
matured outcomes counted, every run in bnpl_audit.model_monitor, shown by promote and the
quality report; bad input is one line, exit 2."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from cli_helpers import run
from governance_data import AS_OF, TRUTH, logistic, synthetic_rows
from registry_helpers import Register

from bnpl.contracts import polars_schema
from bnpl.errors import WarehouseError
from bnpl.governance import monitor_figures, promote
from bnpl.governance.monitor import OUTCOMES, monitor
from bnpl.governance.report import decision_markdown
from bnpl.quality.report import _model_section
from bnpl.serving.scores import ScoresSink
from bnpl.settings import Settings
from bnpl.warehouse import names
from bnpl.warehouse.duckdb import DuckDBWarehouse

WEEK1 = date(2024, 4, 1)  # a Monday
AS_OF_MONITOR = date(2024, 6, 10)  # 4 instalments of week 1 matured, 6 not
POSITIVES = (0.9, 0.8, 0.4)
NEGATIVES = (0.7, 0.3, 0.2, 0.1)
"""Scores of the matured purchases: 11 of the 12 pairs ranked right, ROC AUC 11/12."""


def _decision(score: float) -> str:
    return "decline" if score > 0.5 else "review" if score > 0.3 else "approve"


def _score(i: int, day: date, score: float, version: int, role: str) -> dict[str, Any]:
    ts = datetime.combine(day, datetime.min.time()) + timedelta(hours=10)
    return {
        "request_id": f"r-{version}-{i}",
        "role": role,
        "model_name": "bnpl-default-risk",
        "model_version": version,
        "score": score,
        "decision": _decision(score),
        "transaction_id": f"t-{i}",
        "customer_id": "c",
        "customer_key": "k",
        "transaction_date": day,
        "transaction_ts": ts,
        "scored_at": datetime(2024, 4, 1, tzinfo=UTC),
        "features_fingerprint": "f",
        "received_at": datetime(2024, 4, 1, tzinfo=UTC),
        "loaded_at": datetime(2024, 4, 1, tzinfo=UTC),
    }


def _write_scores(warehouse: DuckDBWarehouse, rows: list[dict[str, Any]]) -> None:
    frame = pl.DataFrame(rows, schema=polars_schema(names.SCORES.table))
    empty_dead = pl.DataFrame(schema=polars_schema(names.QUARANTINE.table))
    empty_offsets = pl.DataFrame(schema=polars_schema(names.LIVE_OFFSETS.table))
    warehouse.write_live_batch(ScoresSink().batch(frame, empty_dead, empty_offsets))


def _outcomes(warehouse: DuckDBWarehouse, rows: list[tuple[str, date, int, bool]]) -> None:
    """The built warehouse's purchases (transaction id, day, instalments, outcome)."""
    warehouse.ensure_schema()
    warehouse.execute(
        f"CREATE TABLE {warehouse.qualified(*OUTCOMES)} (transaction_id VARCHAR, "
        "transaction_date DATE, transaction_ts TIMESTAMP, installment_count BIGINT, "
        "will_default BOOLEAN)"
    )
    for tid, day, count, default in rows:
        warehouse.execute(
            f"INSERT INTO {warehouse.qualified(*OUTCOMES)} VALUES ($1, $2, $3, $4, $5)",
            {
                "1": tid,
                "2": day,
                "3": datetime.combine(day, datetime.min.time()),
                "4": count,
                "5": default,
            },
        )


@pytest.fixture
def warehouse(settings: Settings) -> Any:
    """This test's DuckDB warehouse with three weeks of version 1's logged scores and the
    purchases behind them: week 1 holds the known-AUC purchases plus one of 6 instalments not
    matured by 2024-06-10; week 2 repeats week 1's scores (no purchase behind them); week 3's are all 0.95."""
    wh = DuckDBWarehouse(settings.warehouse)
    scores = POSITIVES + NEGATIVES
    rows, purchases = [], []
    for i, s in enumerate(scores):
        rows.append(_score(i, WEEK1, s, 1, "champion"))
        purchases.append((f"t-{i}", WEEK1, 4, s in POSITIVES))
        rows.append(_score(10 + i, WEEK1 + timedelta(days=7), s, 1, "champion"))
        rows.append(_score(20 + i, WEEK1 + timedelta(days=14), 0.95, 1, "champion"))
    late = AS_OF_MONITOR - timedelta(days=60)  # 6 instalments: matures 84 days later
    rows.append(_score(99, WEEK1, 0.5, 1, "champion"))
    rows.append(_score(19, WEEK1 + timedelta(days=7), 0.5, 1, "champion"))  # no purchase
    purchases.append(("t-99", WEEK1, 6, True))
    rows.append(_score(98, late, 0.6, 2, "challenger"))
    purchases.append(("t-98", late, 6, True))
    _write_scores(wh, rows)
    _outcomes(wh, purchases)
    try:
        yield wh
    finally:
        wh.close()


def test_figures_per_version_and_week_are_the_known_ones(
    settings: Settings, warehouse: DuckDBWarehouse
) -> None:
    """Week 1: 8 scores, 7 matured, ROC AUC 11/12, Brier 1.04/7, 3 of 8 approved; week 2 PSI 0
    against week 1 and nothing matured, week 3 a large PSI; the unmatured challenger score has no figures; the run is
    in bnpl_audit.model_monitor."""
    result = monitor(settings, warehouse, as_of=AS_OF_MONITOR, grain="week")
    ones = [p for p in result.periods if p.model_version == 1]
    assert [p.period_start for p in ones] == [WEEK1 + timedelta(days=7 * k) for k in range(3)]
    first = ones[0]
    assert (first.scores, first.matured, first.positives) == (8, 7, 3)
    assert first.roc_auc == pytest.approx(11 / 12)
    assert first.brier == pytest.approx(1.04 / 7)
    assert first.approval_rate == pytest.approx(3 / 8)
    assert first.score_psi is None
    assert ones[1].score_psi == pytest.approx(0.0)
    assert ones[2].score_psi is not None and ones[2].score_psi > 1.0
    assert ones[1].matured == 0 and ones[1].roc_auc is None
    (late,) = [p for p in result.periods if p.model_version == 2]
    assert (late.role, late.matured, late.roc_auc) == ("challenger", 0, None)

    stored = warehouse.query("SELECT * FROM bnpl_audit.model_monitor ORDER BY model_version")
    assert stored.height == 4 and stored["run_id"].unique().to_list() == [result.run_id]
    row = stored.filter(pl.col("period_start") == WEEK1).row(0, named=True)
    assert row["roc_auc"] == pytest.approx(11 / 12) and row["score_psi"] is None

    daily = monitor(settings, warehouse, as_of=AS_OF_MONITOR, grain="day", versions=[1])
    assert [p.scores for p in daily.periods] == [8, 8, 7]


def test_a_run_longer_than_one_insert_is_stored_whole(
    settings: Settings, warehouse: DuckDBWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Periods beyond ROWS_PER_INSERT go in further statements: every period is stored once,
    with its own values and the run's shared ones."""
    monkeypatch.setattr(monitor_figures, "ROWS_PER_INSERT", 3)
    result = monitor(settings, warehouse, as_of=AS_OF_MONITOR, grain="day")
    assert len(result.periods) > 3
    stored = warehouse.query(
        "SELECT run_id, grain, model_version, role, period_start, scores, matured "
        "FROM bnpl_audit.model_monitor WHERE run_id = $run_id "
        "ORDER BY model_version, role, period_start",
        {"run_id": result.run_id},
    )
    expected = sorted(
        (p.model_version, p.role, p.period_start, p.scores, p.matured) for p in result.periods
    )
    assert stored.drop("run_id", "grain").rows() == expected
    assert set(stored["grain"]) == {"day"}


def test_a_run_whose_later_insert_fails_leaves_no_rows(
    settings: Settings, warehouse: DuckDBWarehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second statement of a run fails: the error reaches the caller and none of the run's
    rows stay (the newest complete run is still the evidence)."""
    monkeypatch.setattr(monitor_figures, "ROWS_PER_INSERT", 3)
    kept = monitor(settings, warehouse, as_of=AS_OF_MONITOR, grain="day")
    execute, inserts = warehouse.execute, []

    def second_insert_fails(sql: str, params: Any = None) -> None:
        if sql.lstrip().upper().startswith("INSERT"):
            inserts.append(sql)
            if len(inserts) == 2:
                raise WarehouseError("disk full")
        execute(sql, params)

    monkeypatch.setattr(warehouse, "execute", second_insert_fails)
    with pytest.raises(WarehouseError, match="disk full"):
        monitor(settings, warehouse, as_of=AS_OF_MONITOR, grain="day")
    stored = warehouse.query("SELECT DISTINCT run_id FROM bnpl_audit.model_monitor")
    assert stored["run_id"].to_list() == [kept.run_id]


def test_cli_prints_json_and_refuses_bad_input_in_one_line(
    settings: Settings, warehouse: DuckDBWarehouse, capsys: pytest.CaptureFixture[str]
) -> None:
    """--json carries the figures; an unknown version, an unknown period and no scores at all
    are one line each, exit 2."""
    warehouse.close()
    assert run(["model", "monitor", "--as-of", "2024-06-10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["periods"][0]["roc_auc"] == pytest.approx(11 / 12)
    assert run(["model", "monitor", "--as-of", "2024-06-10"]) == 0
    assert "| 1 | champion | 2024-04-01 | 8 | 7 | 3 | 0.9167 |" in capsys.readouterr().out
    for argv, message in [
        (["--version", "7"], "no scores of 'bnpl-default-risk' version(s) 7"),
        (["--per", "month"], "--per must be one of day, week"),
        (["--as-of", "2024-03-01"], "bnpl_raw.scores holds no scores of 'bnpl-default-risk'"),
    ]:
        full = ["model", "monitor", *argv]
        if "--as-of" not in argv:
            full += ["--as-of", "2024-06-10"]
        assert run(full) == 2
        err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("error: ")]
        assert len(err) == 1 and message in err[0], err


def test_promote_and_the_quality_report_show_the_monitor_figures(
    settings: Settings, register: Register, warehouse: DuckDBWarehouse
) -> None:
    """The newest monitor figures of both versions are shown and recorded with the promotion
    decision (the rule unchanged), and listed in the quality report (its newest run only)."""
    rows = synthetic_rows()
    register(logistic(["x1", "x2"], [1.2, 0.0], -1.7, rows), ["x1", "x2"])
    promote(settings, initial=True, warehouse=warehouse)
    register(logistic(["x1", "x2"], list(TRUTH[1:]), TRUTH[0], rows), ["x1", "x2"])
    weekly = monitor(settings, warehouse, as_of=AS_OF_MONITOR)
    decision = promote(settings, as_of=AS_OF, rows_of=lambda *_: rows, warehouse=warehouse)
    assert decision.verdict == "promoted"
    assert decision.monitor is not None and set(decision.monitor) == {"1", "2"}
    assert decision.monitor["1"]["latest_roc_auc"] == pytest.approx(11 / 12)
    assert "Live monitoring (bnpl_audit.model_monitor" in decision_markdown(decision)
    stored = warehouse.query(
        "SELECT figures FROM bnpl_audit.model_decisions WHERE action = 'promote'"
    )
    assert json.loads(stored["figures"][0])["monitor"]["2"]["scores"] == 1

    html = _model_section(warehouse)
    assert 'id="model-monitor"' in html and "0.9167" in html
    assert weekly.run_id in html and "per week" in html
    daily = monitor(settings, warehouse, as_of=AS_OF_MONITOR, grain="day", versions=[1])
    html = _model_section(warehouse)  # the newest run only
    assert daily.run_id in html and weekly.run_id not in html and "per day" in html
