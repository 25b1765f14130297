"""A fake :class:`bnpl.source.client.DaySource` serving the captured simtom response
(2024-11-28..30) by day, and the session fixtures built on it (no HTTP, a DuckDB file per test).
Imported by the conftest of the tests that use them; not a test module."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bnpl import ingest
from bnpl.calendar import DayRequest
from bnpl.settings import Settings, load_settings
from bnpl.source.client import FetchedDay
from bnpl.source.framing import frame_all

DAYS = [date(2024, 11, 28), date(2024, 11, 29), date(2024, 11, 30)]
RUN_COLUMNS = {
    "transactions": ["loaded_at"],
    "customers": ["loaded_at"],
    "quarantine": ["quarantined_at"],
    "source_batches": ["started_at", "fetched_at", "finished_at", "flow_run_id"],
}
"""Columns that record when or by which run a row was written: left out of content checksums."""


@pytest.fixture(scope="module")
def records_by_day(captured_body: bytes) -> dict[date, list[bytes]]:
    """The captured response's records, split by the day of their _timestamp."""
    days: dict[date, list[bytes]] = {}
    for rec in frame_all(captured_body):
        day = date.fromisoformat(json.loads(rec)["_timestamp"][:10])
        days.setdefault(day, []).append(bytes(rec))
    assert sorted(days) == DAYS
    return days


@dataclass
class FakeSource:
    """A DaySource serving fixed records per day; can fail or corrupt chosen days."""

    records: dict[date, list[bytes]]
    fail: dict[date, Exception] = field(default_factory=dict)
    calls: list[date] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fetch_day(self, request: DayRequest) -> FetchedDay:
        with self.lock:
            self.calls.append(request.day)
        if request.day in self.fail:
            raise self.fail[request.day]
        records = self.records[request.day]
        now = datetime.now(UTC)
        body = b"".join(b"data: " + r + b"\n\n" for r in records)
        return FetchedDay(
            day=request.day,
            records=list(records),
            content_sha256=hashlib.sha256(body).hexdigest(),
            attempts=1,
            started_at=now,
            fetched_at=now,
            url="http://fake/stream/bnpl",
        )

    def close(self) -> None:
        pass


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # the fake source serves the captured days, whose counts are not the plan's requests'
    return load_settings(
        warehouse={"path": tmp_path / "bnpl.duckdb"}, ingest={"accept_volume_mismatch": True}
    )


@pytest.fixture
def source(records_by_day: dict[date, list[bytes]]) -> FakeSource:
    return FakeSource(dict(records_by_day))


@pytest.fixture
def session(settings: Settings, source: FakeSource) -> Iterator[ingest.IngestSession]:
    with ingest.open_session(settings, client=source) as s:
        yield s
