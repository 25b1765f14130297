"""bnpl.ingest runs: skip, fetch ‖ prepare, single-writer load, the failure log and the threshold.

The source is a fake :class:`bnpl.source.client.DaySource` serving the captured simtom response
(2024-11-28..30), so these tests need no HTTP; the real client and simulator are exercised in
tests/integration and tests/flows.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from fake_source import DAYS, RUN_COLUMNS

import bnpl
from bnpl import contracts, ingest
from bnpl.errors import (
    ConfigError,
    ContractError,
    QuarantineThresholdError,
    TransientSourceError,
)
from bnpl.normalize import batch_id, canonical_json
from bnpl.settings import Settings, load_settings
from bnpl.simulator import SIMULATOR_IDENTITY
from bnpl.warehouse.duckdb import DuckDBWarehouse


def fingerprints(settings: Settings) -> dict[str, tuple[int, str]]:
    """Row count and content checksum of every raw table, run-specific columns left out."""
    wh = DuckDBWarehouse(settings.warehouse)
    try:
        return {
            t: wh.content_checksum("bnpl_raw", t, exclude=cols) for t, cols in RUN_COLUMNS.items()
        }
    finally:
        wh.close()


def corrupt(records: list[bytes], every: int) -> list[bytes]:
    """Replace every ``every``-th record by a line that is not JSON."""
    return [b'{"broken' if i % every == 0 else r for i, r in enumerate(records)]


# --- a run ---------------------------------------------------------------------------------------


def test_run_loads_every_day_and_the_ledger_adds_up(session, settings, records_by_day):
    """Each day is loaded with its ledger row; received = loaded + quarantined per day."""
    summary = ingest.run_range(session, DAYS[0], DAYS[-1])
    assert [d.day for d in summary.loaded] == DAYS
    assert summary.failures == () and summary.skipped == ()
    total = sum(len(records_by_day[d]) for d in DAYS)
    assert summary.records_received == total
    tx = bnpl.read_table("bnpl_raw.transactions", settings=settings)
    assert tx.height == summary.rows_loaded
    assert tx["transaction_key"].n_unique() == tx.height
    ledger = bnpl.read_table("bnpl_raw.source_batches", settings=settings).sort("transaction_date")
    assert ledger["transaction_date"].to_list() == DAYS
    assert ledger["records_received"].to_list() == [len(records_by_day[d]) for d in DAYS]
    assert (
        ledger["records_received"] == ledger["records_loaded"] + ledger["records_quarantined"]
    ).all()
    counts = tx.group_by("transaction_date").len().sort("transaction_date")["len"].to_list()
    assert counts == ledger["records_loaded"].to_list()


def test_ledger_row_describes_the_request_and_the_fetch(session, settings, source):
    """The ledger row holds the canonical request, the source identity, the batch id and the fetch."""
    ingest.run_range(session, DAYS[1], DAYS[1], flow_run_id="run-123")
    row = bnpl.read_table("bnpl_raw.source_batches", settings=settings).row(0, named=True)
    request = ingest.plan_range(settings, DAYS[1], DAYS[1])[0]
    assert row["batch_id"] == batch_id(SIMULATOR_IDENTITY, request.body)
    assert row["source_url"] == SIMULATOR_IDENTITY
    assert json.loads(row["request_body"]) == request.body
    assert row["request_body"] == canonical_json(request.body)
    assert row["request_seed"] == request.body["seed"]
    assert row["expected_records"] == request.expected_volume
    assert row["status"] == "loaded"
    assert row["flow_run_id"] == "run-123"
    assert row["attempts"] == 1
    body = b"".join(b"data: " + r + b"\n\n" for r in source.records[DAYS[1]])
    assert row["content_sha256"] == hashlib.sha256(body).hexdigest()
    assert row["started_at"] <= row["fetched_at"] <= row["finished_at"]
    assert row["bnpl_version"] == bnpl.__version__


def test_the_ledger_row_is_checked_against_its_contract(session, settings):
    """A loaded ledger row passes the SourceBatches contract; one whose counts do not add up, or
    with an unknown status, is a ContractError naming the rule (a bug: nothing is loaded)."""
    ingest.run_range(session, DAYS[1], DAYS[1])
    row = bnpl.read_table("bnpl_raw.source_batches", settings=settings).row(0, named=True)
    contracts.check_ledger_row(row)
    broken = {**row, "records_loaded": row["records_loaded"] + 1}
    with pytest.raises(ContractError, match="received_is_loaded_plus_quarantined"):
        contracts.check_ledger_row(broken)
    with pytest.raises(ContractError, match="status"):
        contracts.check_ledger_row({**row, "status": "maybe"})


def test_rerun_skips_loaded_days_and_changes_nothing(session, settings, source):
    """A second run fetches nothing, skips every day and leaves identical tables."""
    ingest.run_range(session, DAYS[0], DAYS[-1])
    before = fingerprints(settings)
    source.calls.clear()
    summary = ingest.run_range(session, DAYS[0], DAYS[-1])
    assert source.calls == []
    assert list(summary.skipped) == DAYS and summary.loaded == ()
    assert fingerprints(settings) == before


def test_forced_rerun_reloads_and_leaves_identical_tables(session, settings, source):
    """--force fetches and reloads every day; the tables come out identical."""
    ingest.run_range(session, DAYS[0], DAYS[-1])
    before = fingerprints(settings)
    source.calls.clear()
    summary = ingest.run_range(session, DAYS[0], DAYS[-1], force=True)
    assert sorted(source.calls) == DAYS
    assert [d.day for d in summary.loaded] == DAYS
    assert fingerprints(settings) == before


def test_rerunning_one_day_leaves_identical_tables(session, settings):
    """Reloading a single day of a loaded range changes no row of any table."""
    ingest.run_range(session, DAYS[0], DAYS[-1])
    before = fingerprints(settings)
    ingest.run_range(session, DAYS[1], DAYS[1], force=True)
    assert fingerprints(settings) == before


def test_a_changed_request_is_not_skipped(session, settings, tmp_path, source):
    """A day loaded with another plan (other batch id) is fetched again and replaced."""
    ingest.run_range(session, DAYS[0], DAYS[0])
    other = load_settings(
        warehouse={"path": tmp_path / "bnpl.duckdb"},
        plan={"seed": 7},
        ingest={"accept_volume_mismatch": True},  # the fake source's counts are not the plan's
    )
    source.calls.clear()
    with ingest.open_session(other, client=source) as s:
        summary = ingest.run_range(s, DAYS[0], DAYS[0])
    assert source.calls == [DAYS[0]] and len(summary.loaded) == 1
    ledger = bnpl.read_table("bnpl_raw.source_batches", settings=settings)
    assert ledger.height == 1
    assert ledger["batch_id"][0] == batch_id(
        SIMULATOR_IDENTITY, ingest.plan_range(other, DAYS[0], DAYS[0])[0].body
    )


def test_a_failing_day_does_not_stop_the_others(session, settings, source):
    """A source failure on one day is reported; every other day is loaded."""
    source.fail[DAYS[1]] = TransientSourceError("POST failed after 5 attempt(s); last error: 503")
    summary = ingest.run_range(session, DAYS[0], DAYS[-1])
    assert [d.day for d in summary.loaded] == [DAYS[0], DAYS[2]]
    assert [f.day for f in summary.failures] == [DAYS[1]]
    assert "TransientSourceError" in summary.failures[0].error
    assert "503" in summary.failures[0].error
    ledger = bnpl.read_table("bnpl_raw.source_batches", settings=settings)
    assert sorted(ledger["transaction_date"].to_list()) == [DAYS[0], DAYS[2]]
    message = ingest.failure_message(summary)
    assert str(DAYS[1]) in message and "1 of 3 days failed" in message
    del source.fail[DAYS[1]]
    source.calls.clear()
    again = ingest.run_range(session, DAYS[0], DAYS[-1])
    assert source.calls == [DAYS[1]]
    assert [d.day for d in again.loaded] == [DAYS[1]]
    # the failure stays in the failure log as history; the successful rerun adds nothing to it
    log = bnpl.read_table("bnpl_audit.ingest_failures", settings=settings)
    assert log["transaction_date"].to_list() == [DAYS[1]]


def test_failed_days_are_recorded_in_the_failure_log(session, settings, source, records_by_day):
    """Every day a run could not load, whatever the stage, is a row of
    bnpl_audit.ingest_failures naming its request and error; loaded days are not."""
    source.fail[DAYS[0]] = TransientSourceError("POST failed after 5 attempt(s); last error: 503")
    source.records[DAYS[2]] = corrupt(records_by_day[DAYS[2]], every=10)  # over the threshold
    before = datetime.now(UTC)
    summary = ingest.run_range(session, DAYS[0], DAYS[-1], flow_run_id="run-1")
    log = bnpl.read_table("bnpl_audit.ingest_failures", settings=settings).sort("transaction_date")
    assert log["transaction_date"].to_list() == [DAYS[0], DAYS[2]]
    assert log["error_type"].to_list() == ["TransientSourceError", "QuarantineThresholdError"]
    assert log["error"].to_list() == [f.error for f in summary.failures]
    requests = {r.day: r for r in ingest.plan_range(settings, DAYS[0], DAYS[-1])}
    assert log["batch_id"].to_list() == [
        batch_id(SIMULATOR_IDENTITY, requests[d].body) for d in (DAYS[0], DAYS[2])
    ]
    assert log["request_body"].to_list() == [
        canonical_json(requests[d].body) for d in (DAYS[0], DAYS[2])
    ]
    assert set(log["source_url"]) == {SIMULATOR_IDENTITY}
    assert set(log["flow_run_id"]) == {"run-1"}
    assert all(before <= t <= datetime.now(UTC) for t in log["failed_at"])
    ledger = bnpl.read_table("bnpl_raw.source_batches", settings=settings)
    assert ledger["transaction_date"].to_list() == [DAYS[1]]


def test_a_run_outside_prefect_logs_failures_without_a_flow_run_id(session, settings, source):
    """A run outside Prefect still records its failed day, with no flow run id."""
    source.fail[DAYS[0]] = RuntimeError("unexpected")
    ingest.run_range(session, DAYS[0], DAYS[0])
    log = bnpl.read_table("bnpl_audit.ingest_failures", settings=settings)
    assert log.select("error_type", "error", "flow_run_id").rows() == [
        ("RuntimeError", "RuntimeError: unexpected", None)
    ]


def test_a_failure_log_the_warehouse_refuses_does_not_fail_the_run(
    session, settings, source, caplog
):
    """Recording failures is best effort: the run still reports and loads every other day."""
    session.warehouse.execute("DROP TABLE bnpl_audit.ingest_failures")  # the warehouse refuses
    source.fail[DAYS[0]] = RuntimeError("unexpected")
    summary = ingest.run_range(session, DAYS[0], DAYS[1])
    assert [f.day for f in summary.failures] == [DAYS[0]]
    assert [d.day for d in summary.loaded] == [DAYS[1]]
    assert "could not record 1 failed day(s)" in caplog.text and "ingest_failures" in caplog.text


def test_a_bug_in_one_day_is_reported_not_raised(session, source):
    """Even an unexpected exception in one day's work is recorded as that day's failure."""
    source.fail[DAYS[0]] = RuntimeError("unexpected")
    summary = ingest.run_range(session, DAYS[0], DAYS[1])
    assert [f.day for f in summary.failures] == [DAYS[0]]
    assert summary.failures[0].error == "RuntimeError: unexpected"
    assert [d.day for d in summary.loaded] == [DAYS[1]]


def test_quarantine_over_threshold_fails_the_day_and_writes_nothing(
    session, settings, source, records_by_day
):
    """A day above the quarantine threshold raises, naming day, rate and checks; it writes nothing."""
    source.records[DAYS[1]] = corrupt(records_by_day[DAYS[1]], every=10)
    summary = ingest.run_range(session, DAYS[0], DAYS[-1])
    assert [f.day for f in summary.failures] == [DAYS[1]]
    error = summary.failures[0].error
    assert error.startswith("QuarantineThresholdError")
    assert str(DAYS[1]) in error and "json_parse" in error and "10.07%" in error
    for table in ("transactions", "customers", "quarantine", "source_batches"):
        rows = bnpl.read_table(f"bnpl_raw.{table}", settings=settings)
        assert DAYS[1] not in rows["transaction_date"].to_list(), table
    assert [d.day for d in summary.loaded] == [DAYS[0], DAYS[2]]


def test_check_quarantine_names_the_top_checks(session, source, records_by_day):
    """The threshold error lists the most frequent failing checks first."""
    source.records[DAYS[0]] = corrupt(records_by_day[DAYS[0]], every=2)
    ready = ingest.fetch_and_prepare(
        session, ingest.plan_range(session.settings, DAYS[0], DAYS[0])[0]
    )
    with pytest.raises(QuarantineThresholdError, match=r"top checks: json_parse \(20\)"):
        ingest.check_quarantine(ready.prepared, 0.01)
    ingest.check_quarantine(ready.prepared, 0.6)  # under a looser threshold it passes


def test_malformed_lines_under_the_threshold_are_quarantined_with_a_reason(
    tmp_path, source, records_by_day
):
    """Below the threshold, malformed lines land in quarantine with their check and raw text."""
    settings = load_settings(
        warehouse={"path": tmp_path / "w.duckdb"},
        ingest={"quarantine_threshold": 0.2, "accept_volume_mismatch": True},
    )
    source.records[DAYS[2]] = corrupt(records_by_day[DAYS[2]], every=20)
    with ingest.open_session(settings, client=source) as s:
        summary = ingest.run_range(s, DAYS[2], DAYS[2])
    bad = len(range(0, len(records_by_day[DAYS[2]]), 20))
    assert summary.rows_quarantined == bad
    assert summary.rows_loaded == len(records_by_day[DAYS[2]]) - bad
    quarantine = bnpl.read_table("bnpl_raw.quarantine", settings=settings)
    assert quarantine.height == bad
    assert set(quarantine["check_name"]) == {"json_parse"}
    assert set(quarantine["raw_line"]) == {'{"broken'}
    assert sorted(quarantine["line_number"].to_list()) == [i + 1 for i in range(0, 240, 20)]


def test_days_are_fetched_a_slice_per_job_and_a_failed_day_fails_alone(session, source):
    """With days_per_task=2, one job per 2 consecutive days; a day failing inside a slice does
    not keep the slice's other day from loading."""
    launched: list[list[date]] = []
    source.fail[DAYS[0]] = TransientSourceError("down")
    with ThreadPoolExecutor(2) as pool:

        def launch(requests, deliver):
            launched.append([r.day for r in requests])
            return pool.submit(ingest.fetch_and_prepare_days, session, requests, deliver)

        summary = ingest.run_range(session, DAYS[0], DAYS[-1], days_per_task=2, launch=launch)
    assert launched == [[DAYS[0], DAYS[1]], [DAYS[2]]]
    assert [d.day for d in summary.loaded] == [DAYS[1], DAYS[2]]
    assert [(f.day, f.error_type) for f in summary.failures] == [(DAYS[0], "TransientSourceError")]


def test_days_per_task_must_be_positive(session):
    """days_per_task=0 is a ConfigError naming the value."""
    with pytest.raises(ConfigError, match="days per task 0"):
        ingest.run_range(session, DAYS[0], DAYS[0], days_per_task=0)


def test_concurrency_must_be_positive(session):
    """A concurrency below 1 is a ConfigError."""
    with pytest.raises(ConfigError, match="concurrency"):
        ingest.run_range(session, DAYS[0], DAYS[0], concurrency=0)
