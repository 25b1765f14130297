"""bnpl.ingest summary: what a run reports, and the loaded rows as Polars frames."""

from __future__ import annotations

import polars as pl
from fake_source import DAYS

import bnpl
from bnpl import ingest


def test_summary_reports_counts_failures_and_time():
    """The summary text and table hold the counts, each failure and the wall time."""
    loaded = tuple(ingest.DayResult(d, f"b{i}", 10, 9, 1, 4, 1) for i, d in enumerate(DAYS[:2]))
    summary = ingest.IngestSummary(
        DAYS[0],
        DAYS[-1],
        loaded,
        (),
        (ingest.DayFailure(DAYS[2], "SourceError: down", "SourceError"),),
        2.0,
    )
    assert (summary.days_planned, summary.rows_loaded, summary.rows_quarantined) == (3, 18, 2)
    text = str(summary)
    assert "rows loaded" in text and "18" in text
    assert f"failed {DAYS[2]}: SourceError: down" in text
    assert "9 rows/s" in text
    table = summary.table()
    assert {"metric": "days failed", "value": "1"} in table
    assert {"metric": f"failed {DAYS[2]}", "value": "SourceError: down"} in table


def test_read_table_returns_the_loaded_rows_as_polars(session, settings):
    """bnpl.read_table gives the raw table with its declared columns after a run."""
    summary = ingest.run_range(session, DAYS[0], DAYS[0])
    frame = bnpl.read_table("bnpl_raw.transactions", settings=settings)
    assert isinstance(frame, pl.DataFrame)
    assert frame.height == summary.rows_loaded
    assert frame.schema["transaction_ts"] == pl.Datetime("us")
    assert frame["transaction_date"].unique().to_list() == [DAYS[0]]
