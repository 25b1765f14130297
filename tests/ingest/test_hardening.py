"""Issue 16 in-process: the volume rule, redaction, settings validated at load, the request
deadline and the breaker's cause (against the hostile source on 127.0.0.1)."""

from __future__ import annotations

import base64
import logging
import os
import time
from datetime import date

import pytest
from hostile_source import HostileSource

from bnpl.calendar import plan_day, source_volume_band
from bnpl.errors import (
    CircuitOpenError,
    ConfigError,
    RequestDeadlineError,
    SourceError,
    TransientSourceError,
    VolumeMismatchError,
)
from bnpl.ingest.summary import IngestSummary, failure_message
from bnpl.ingest.volume import check_volume
from bnpl.redaction import redact
from bnpl.settings import PlanSettings, load_settings
from bnpl.source.client import SourceClient
from bnpl.source.resilience import CircuitBreaker
from bnpl.telemetry import quiet_prefect_telemetry

DAY = date(2024, 3, 5)
PLAN = PlanSettings(seed=7, weekday_base_volume=200)
SECRET = "pw-7f3a9c1e5d"


def test_a_seeded_day_must_hold_exactly_its_count():
    """A seeded reply with one record fewer or more than its request implies is a failed fetch."""
    settings = load_settings()
    request = plan_day(DAY, PLAN)
    check_volume(request, request.expected_volume, settings)
    for received in (0, request.expected_volume // 2, request.expected_volume + 1):
        with pytest.raises(VolumeMismatchError, match=f"exactly {request.expected_volume}"):
            check_volume(request, received, settings)


def test_an_unseeded_day_must_fall_in_the_quality_gates_noise_band():
    """Unseeded: inside the gate's band passes, outside fails, unless accepted knowingly."""
    request = plan_day(DAY, PLAN)
    unseeded = type(request)(request.day, request.day_type, {**request.body, "seed": None}, 0)
    settings = load_settings()
    lo, hi = source_volume_band(200, DAY, settings.quality.noise_band_sigmas)
    check_volume(unseeded, lo, settings)
    check_volume(unseeded, hi, settings)
    with pytest.raises(VolumeMismatchError, match=f"{lo}..{hi}"):
        check_volume(unseeded, hi + 1, settings)
    check_volume(unseeded, 0, load_settings(ingest={"accept_volume_mismatch": True}))


def test_url_userinfo_is_a_secret_and_still_authenticates(monkeypatch, hostile_source):
    """User info in BNPL_SOURCE__URL moves to a SecretStr; the client sends it as basic auth."""
    url = hostile_source.url.replace("http://", f"http://bnpl:{SECRET}@") + "/base"
    monkeypatch.setenv("BNPL_SOURCE__URL", url)
    settings = load_settings()
    assert settings.source.url == hostile_source.url + "/base"
    assert SECRET not in repr(settings) and SECRET not in str(settings.model_dump())
    with SourceClient(settings.source) as client:
        assert client.fetch_day(plan_day(DAY, PLAN)).records == []  # the empty mode
    token = base64.b64encode(f"bnpl:{SECRET}".encode()).decode()
    assert hostile_source.authorizations == [f"Basic {token}"]


def test_errors_and_log_records_are_redacted(monkeypatch, caplog):
    """Once settings hold a secret, no BnplError text nor log record (message, args, traceback)
    carries it."""
    monkeypatch.setenv("BNPL_SOURCE__URL", f"http://bnpl:{SECRET}@127.0.0.1:9/")
    load_settings()
    error = TransientSourceError(f"GET http://bnpl:{SECRET}@host failed")
    assert SECRET not in str(error) and SECRET not in repr(error)
    logger = logging.getLogger("any.library")
    with caplog.at_level(logging.INFO):
        logger.info("calling %s", f"http://bnpl:{SECRET}@host")
        try:
            raise ValueError(f"boom {SECRET}")
        except ValueError:
            logger.exception("failed")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert "calling" in text and "boom ***" in text
    assert SECRET not in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BNPL_WAREHOUSE__CREDENTIAL_JSON", SECRET),  # misspelled: CREDENTIALS_JSON
        ("BNPL_SORCE__URL", SECRET),  # misspelled section
        ("BNPL_SOURCE__URL", f"http://u:{SECRET}@h:99999/"),  # invalid port
        ("BNPL_SOURCE__URL", f"ftp://u:{SECRET}@h/"),  # not http
        ("BNPL_WAREHOUSE__KIND", SECRET),  # not a warehouse kind
    ],
)
def test_a_rejected_setting_never_echoes_a_secret(monkeypatch, name, value):
    """The error names the variable and never repeats a value that may be a secret."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert name.split("__")[0] in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BNPL_QUALITY__SEVERITY_OVERRIDES", "{weekend_dip: warn"),
        ("BNPL_SOURCE__URL", "http://simtom:99999"),
        ("BNPL_WAREHOUSE__MEMORY_LIMIT", "4 gigs"),
    ],
)
def test_a_bad_setting_is_one_config_error_naming_it(monkeypatch, name, value):
    """A malformed JSON, an invalid port or memory limit: a ConfigError naming the variable."""
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name) as info:
        load_settings()
    assert "\n" not in str(info.value)


def test_a_trickling_source_is_cut_at_the_request_deadline(hostile_source: HostileSource):
    """A reply trickling one byte per 0.2 s (each read in time) ends at the deadline, and the
    retry budget bounds the day."""
    hostile_source.mode, hostile_source.trickle_s = "trickle", 0.2
    settings = load_settings(
        source={
            "url": hostile_source.url,
            "request_deadline_s": 1.5,
            "retry_budget_s": 2.5,
            "max_attempts": 5,
            "retry_initial_wait_s": 0,
        }
    )
    started = time.monotonic()
    with SourceClient(settings.source) as client, pytest.raises(TransientSourceError) as info:
        client.fetch_day(plan_day(DAY, PLAN))
    assert time.monotonic() - started < 2.5 + 1.5
    assert isinstance(info.value.__cause__ or info.value, TransientSourceError)
    assert "deadline" in str(info.value)
    assert issubclass(RequestDeadlineError, TransientSourceError)


def test_an_open_breaker_names_the_failure_that_opened_it(hostile_source: HostileSource):
    """Every day refused by the open breaker carries the 5xx that opened it."""
    hostile_source.mode = "refuse"
    settings = load_settings(
        source={"url": hostile_source.url, "max_attempts": 1, "breaker_failure_threshold": 1}
    )
    with SourceClient(settings.source) as client:
        with pytest.raises(SourceError, match="HTTP 503"):
            client.fetch_day(plan_day(DAY, PLAN))
        with pytest.raises(CircuitOpenError, match="HTTP 503: hostile source: down"):
            client.fetch_day(plan_day(date(2024, 3, 6), PLAN))


def test_breaker_keeps_the_last_cause():
    """CircuitBreaker.record_failure's cause is named while the breaker is open."""
    breaker = CircuitBreaker(2, 60)
    breaker.record_failure("the response body was cut")
    breaker.record_failure("HTTP 502: bad gateway")
    with pytest.raises(CircuitOpenError, match="last: HTTP 502: bad gateway"):
        breaker.before_request("http://x")


def test_a_run_where_no_day_loaded_says_so():
    """The failure line never says "the other days were loaded" when none was."""
    from bnpl.ingest.summary import DayFailure

    failures = tuple(DayFailure(DAY, "X: y", "X") for _ in range(5))
    line = failure_message(IngestSummary(DAY, DAY, (), (), failures, 1.0))
    assert "5 of 5 days failed" in line and "no day was loaded" in line
    assert "other days were loaded" not in line


def test_prefect_telemetry_defaults_never_override_the_user(monkeypatch):
    """Telemetry is turned off when unset; an explicit value is kept."""
    monkeypatch.delenv("PREFECT_SERVER_ANALYTICS_ENABLED", raising=False)
    monkeypatch.setenv("DO_NOT_TRACK", "0")
    applied = quiet_prefect_telemetry()
    assert os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    assert os.environ["DO_NOT_TRACK"] == "0" and "DO_NOT_TRACK" not in applied


def test_redact_masks_every_registered_secret():
    """redact() replaces each registered secret, longest first."""
    load_settings(source={"userinfo": f"me:{SECRET}"})
    assert redact(f"a me:{SECRET} b {SECRET}") == "a *** b ***"
