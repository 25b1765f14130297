"""bnpl.ingest plan and session: one request per day, the source identity, opening a run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from fake_source import DAYS

from bnpl import ingest
from bnpl.calendar import check_ingest_range
from bnpl.errors import (
    ConfigError,
)
from bnpl.settings import load_settings
from bnpl.simulator import SIMULATOR_IDENTITY


def test_plan_range_is_one_request_per_day_inclusive(settings):
    """start..end inclusive gives one single-day request per day, in order."""
    plan = ingest.plan_range(settings, date(2024, 2, 27), date(2024, 3, 1))
    assert [r.day for r in plan] == [date(2024, 2, 27) + timedelta(days=i) for i in range(4)]
    assert all(r.body["start_date"] == r.body["end_date"] == r.day.isoformat() for r in plan)


def test_plan_range_rejects_a_reversed_range(settings):
    """end before start is a ConfigError that says to swap them."""
    with pytest.raises(ConfigError, match="swap"):
        ingest.plan_range(settings, date(2024, 3, 2), date(2024, 3, 1))


def test_a_run_covers_at_most_the_source_limit_and_only_ended_days():
    """366 days ending yesterday pass; 367 days, or a range reaching today, fail naming the fix."""
    today = date(2025, 1, 1)
    check_ingest_range(date(2024, 1, 1), date(2024, 12, 31), today=today)
    with pytest.raises(ConfigError, match=r"367 days; .* --start 2023-12-31 --end 2024-12-30"):
        check_ingest_range(date(2023, 12, 31), date(2024, 12, 31), today=today)
    with pytest.raises(ConfigError, match=r"has not ended yet .* use 2024-12-31 or earlier"):
        check_ingest_range(date(2024, 12, 30), date(2025, 1, 1), today=today)
    with pytest.raises(ConfigError, match="swap"):
        check_ingest_range(date(2024, 3, 2), date(2024, 3, 1), today=today)


def test_stable_customer_ids_go_into_the_request(tmp_path):
    """BNPL_SOURCE__STABLE_CUSTOMER_IDS asks the source for stable ids in every request."""
    settings = load_settings(
        warehouse={"path": tmp_path / "w.duckdb"}, source={"stable_customer_ids": True}
    )
    assert all(
        r.body["stable_customer_ids"] is True for r in ingest.plan_range(settings, *DAYS[:2])
    )


@pytest.mark.parametrize(
    ("url", "identity"),
    [
        ("http://simtom:8000", "http://simtom:8000"),
        ("HTTP://User:Secret@SimTom:80/", "http://simtom"),
        ("https://api.example.com:443/v1/?token=x#frag", "https://api.example.com/v1"),
        ("http://127.0.0.1:9000/base/", "http://127.0.0.1:9000/base"),
    ],
)
def test_source_identity_drops_credentials_and_normalises(url, identity):
    """A configured URL's identity is the normalised URL, never its credentials or query."""
    assert ingest.source_identity_of_url(url) == identity


@pytest.mark.parametrize("url", ["ftp://simtom", "simtom:8000", "http://"])
def test_source_identity_rejects_non_http_urls(url):
    """A URL that is not http(s) with a host is a ConfigError naming BNPL_SOURCE__URL."""
    with pytest.raises(ConfigError, match="BNPL_SOURCE__URL"):
        ingest.source_identity_of_url(url)


def test_session_identity_follows_the_settings(tmp_path, source):
    """No URL: the simulator identity; a URL: its normalised form (also in the ledger)."""
    base = {"warehouse": {"path": tmp_path / "w.duckdb"}}
    with ingest.open_session(load_settings(**base), client=source) as s:
        assert s.source_identity == SIMULATOR_IDENTITY
        assert s.identity_scope == "batch"
    url = load_settings(**base, source={"url": "http://u:p@Simtom:8000/"})
    with ingest.open_session(url, client=source) as s:
        assert s.source_identity == "http://simtom:8000"


def test_unusable_warehouse_fails_before_the_source_is_touched(tmp_path, source):
    """An unwritable warehouse path is a ConfigError raised before any fetch."""
    blocker = tmp_path / "file"
    blocker.write_text("x")
    settings = load_settings(warehouse={"path": blocker / "w.duckdb"})
    with (
        pytest.raises(ConfigError, match="BNPL_WAREHOUSE__PATH"),
        ingest.open_session(settings, client=source),
    ):
        pass  # pragma: no cover
    assert source.calls == []
