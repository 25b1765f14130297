"""bnpl.pipeline's day verbs: fetch, prepare (one parse, the quarantine threshold once), load."""

from __future__ import annotations

import dataclasses

import pytest
from fake_source import DAYS, FakeSource

import bnpl
from bnpl import ingest, pipeline
from bnpl.errors import QuarantineThresholdError
from bnpl.settings import Settings


def _with_threshold(session: ingest.IngestSession, threshold: float) -> ingest.IngestSession:
    ingest_settings = session.settings.ingest.model_copy(update={"quarantine_threshold": threshold})
    settings = session.settings.model_copy(update={"ingest": ingest_settings})
    return dataclasses.replace(session, settings=settings)


def test_prepare_counts_broken_records_by_check(
    session: ingest.IngestSession, source: FakeSource
) -> None:
    """Two broken lines among a day's records are quarantined under their checks."""
    request = pipeline.plan_day(session.settings, DAYS[0])
    fetched = pipeline.fetch_day(session, request)
    broken = [*fetched.records[:30], b'{"transaction_id": "txn_1"', b"[1, 2]"]
    lenient = _with_threshold(session, 0.5)
    admitted = pipeline.prepare_day(lenient, request, dataclasses.replace(fetched, records=broken))
    stats = admitted.ready.prepared.stats
    assert (stats.records_received, stats.records_quarantined) == (32, 2)
    assert sum(stats.quarantine_by_check.values()) == 2
    assert admitted.ready.prepared.quarantine_rate == pytest.approx(2 / 32)


def test_prepare_over_threshold_fails_the_day(
    session: ingest.IngestSession, settings: Settings
) -> None:
    """More broken records than the threshold allows fails the day, saying what to do."""
    request = pipeline.plan_day(settings, DAYS[0])
    fetched = pipeline.fetch_day(session, request)
    records = [*fetched.records[:20], *[b"not json"] * 5]
    strict = _with_threshold(session, 0.01)
    with pytest.raises(
        QuarantineThresholdError, match=r"5 of 25 records .*BNPL_INGEST__QUARANTINE_THRESHOLD"
    ):
        pipeline.prepare_day(strict, request, dataclasses.replace(fetched, records=records))
    assert bnpl.read_table("bnpl_raw.source_batches", settings=settings).is_empty()


def test_clean_day_is_prepared_and_loaded_once(
    session: ingest.IngestSession, settings: Settings
) -> None:
    """A clean captured day is prepared without quarantine and loaded with its ledger row."""
    request = pipeline.plan_day(settings, DAYS[1])
    admitted = pipeline.prepare_day(session, request, pipeline.fetch_day(session, request))
    assert admitted.ready.prepared.stats.records_quarantined == 0
    loaded = pipeline.load_day(session, admitted)
    ledger = bnpl.read_table("bnpl_raw.source_batches", settings=settings)
    assert ledger["transaction_date"].to_list() == [DAYS[1]]
    assert (
        bnpl.read_table("bnpl_raw.transactions", settings=settings).height == loaded.records_loaded
    )


def test_ingest_day_records_a_failed_day(
    session: ingest.IngestSession, settings: Settings, source: FakeSource
) -> None:
    """A day the source cannot serve is raised and appended to the failure log."""
    source.fail[DAYS[2]] = RuntimeError("down")
    with pytest.raises(RuntimeError, match="down"):
        pipeline.ingest_day(session, pipeline.plan_day(settings, DAYS[2]))
    log = bnpl.read_table("bnpl_audit.ingest_failures", settings=settings)
    assert log["transaction_date"].to_list() == [DAYS[2]]
