"""`bnpl simulate-days`: the daily flow replayed over a range with injected source faults."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest
import stamina

import bnpl
from bnpl.calendar import plan_day
from bnpl.cli import main
from bnpl.settings import PlanSettings
from bnpl.simulator.faults import request_faults
from bnpl.simulator.report import request_fault_settings
from bnpl.source.request import StreamRequest, body_digest
from bnpl_flows.simulation import simulate_days

VOLUME = 30


@pytest.fixture
def small_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PlanSettings:
    """A scratch warehouse and a small request plan, set through the environment."""
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "sim.duckdb"))
    for kind in ("WEEKDAY", "WEEKEND", "HOLIDAY"):
        monkeypatch.setenv(f"BNPL_PLAN__{kind}_BASE_VOLUME", str(VOLUME))
    return PlanSettings(
        weekday_base_volume=VOLUME, weekend_base_volume=VOLUME, holiday_base_volume=VOLUME
    )


def _attempt_fails(rate: float, seed: int, day: date, plan: PlanSettings, attempt: int) -> bool:
    """Whether the simulator fails attempt ``attempt`` of ``day``'s request (its own decision)."""
    body = StreamRequest.model_validate(plan_day(day, plan).body)
    fault = request_faults(request_fault_settings(rate, seed=seed), body_digest(body), attempt)
    return fault.status is not None or fault.cut_at is not None


def _seed_for(pattern: list[tuple[bool, bool]], days: list[date], plan: PlanSettings) -> int:
    """A fault seed under which each day's first and second attempts fail as ``pattern`` says."""
    for seed in range(20_000):
        if all(
            (_attempt_fails(0.5, seed, d, plan, 1), _attempt_fails(0.5, seed, d, plan, 2)) == p
            for d, p in zip(days, pattern, strict=True)
        ):
            return seed
    raise AssertionError("no seed gives the pattern")  # pragma: no cover


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_report_tells_completed_recovered_and_failed_runs(
    small_plan: PlanSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose first attempt fails and whose retry succeeds is counted as recovered; one that
    fails both as failed; the CLI prints the rates."""
    days = [date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)]
    # (first run fails, retry fails): recovered, completed, failed
    seed = _seed_for([(True, False), (False, False), (True, True)], days, small_plan)
    stamina.set_testing(True, attempts=1)  # one request per run: run n sends attempt n
    argv = ["simulate-days", "--start", "2024-03-04", "--end", "2024-03-06"]
    main([*argv, "--fault-rate", "0.5", "--retries", "1", "--seed", str(seed)])
    out = capsys.readouterr().out
    assert "| 3 | 0 | 2 (66.7%) | 1 | 1 | 33.3% |" in out, out
    assert "| 2024-03-04 | recovered | 2 |" in out
    assert "| 2024-03-06 | failed | 2 |" in out
    assert "2024-03-05 |" not in out
    loaded = bnpl.read_table("bnpl_raw.source_batches")["transaction_date"].sort().to_list()
    assert loaded == days[:2]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_api")
def test_thirty_days_with_five_percent_source_faults_fail_under_five_percent(
    small_plan: PlanSettings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With 5 % of request attempts failing, under 5 % of 30 daily runs fail after retries; the
    faults were really injected (the ledger counts the client's extra attempts)."""
    stamina.set_testing(False)  # measure the client's real retry policy, with short waits
    monkeypatch.setenv("BNPL_SOURCE__RETRY_INITIAL_WAIT_S", "0.05")
    start = date(2024, 3, 1)
    report = simulate_days(start, start + timedelta(days=29), fault_rate=0.05, retries=1)
    assert report.runs == 30
    assert report.failure_rate < 0.05, report.render()
    ledger = bnpl.read_table("bnpl_raw.source_batches")
    assert ledger.height == 30 - report.failed
    retried_requests = ledger.select(pl.col("attempts").sum()).item() - ledger.height
    assert retried_requests > 0, "no fault was injected"
    assert report.client_retried == ledger.filter(pl.col("attempts") > 1).height


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--fault-rate", "5"], "--fault-rate 5.0 is not between 0 and 1"),
        (["--end", "2024-02-01"], "is before start date"),
        (["--end", "2999-01-01"], "has not ended yet"),
    ],
)
def test_bad_input_exits_2_before_anything_runs(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A rate above 1, a reversed range, or a range into the future is refused with exit code 2."""
    base = ["simulate-days", "--start", "2024-03-01", "--end", "2024-03-02"]
    args = base[:3] + argv if argv[0] == "--end" else base + argv
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / ".bnpl").exists()


def test_a_configured_source_url_is_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Faults come from the bundled simulator, so a configured source URL is a ConfigError."""
    monkeypatch.setenv("BNPL_SOURCE__URL", "http://127.0.0.1:9")
    with pytest.raises(SystemExit) as exit_:
        main(["simulate-days", "--start", "2024-03-01", "--end", "2024-03-02"])
    assert exit_.value.code == 2
    assert "unset BNPL_SOURCE__URL" in capsys.readouterr().err
