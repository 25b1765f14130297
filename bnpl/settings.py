"""The one settings object.

Read once at the edge (CLI, flow or notebook) with :func:`load_settings` and passed down. Values come
from the environment with the ``BNPL_`` prefix and ``__`` between sections, e.g.
``BNPL_WAREHOUSE__PATH=.bnpl/bnpl.duckdb`` or ``BNPL_SOURCE__URL=http://simtom:8000``, and from a
``.env`` file in the working directory if there is one (see ``.env.example``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict
from pydantic_settings.exceptions import SettingsError

from bnpl.errors import ConfigError
from bnpl.redaction import install_log_redaction, register_secrets, url_secrets
from bnpl.settings_errors import describe_unparsable, rejected_values
from bnpl.settings_errors import (  # re-exported: bnpl.settings is where callers find them
    describe_validation_error as describe_validation_error,
)
from bnpl.settings_errors import secret_values as secret_values
from bnpl.settings_sections import (  # re-exported: bnpl.settings is where callers find them
    LiveSettings as LiveSettings,
)
from bnpl.settings_sections import ModelSettings as ModelSettings
from bnpl.settings_sections import ServingSettings as ServingSettings

_SECTION = ConfigDict(extra="forbid", frozen=True)
_MEMORY_LIMIT = re.compile(r"(?i)^\s*(\d+(\.\d+)?\s*(b|bytes|[kmgt]i?b|%)|-1)\s*$")


class SourceSettings(BaseModel):
    """Where records come from and how the client treats the source."""

    model_config = _SECTION

    url: str | None = None
    """Base URL of a simtom-compatible service (``http`` or ``https``, a host, a valid port). None:
    a run starts the bundled simulator on a free 127.0.0.1 port and stops it at the end. User info
    in it (``http://user:pass@host``) is moved to :attr:`userinfo`: this field never holds it."""
    userinfo: SecretStr | None = None
    """``user:password`` sent as HTTP basic auth to the source; taken from ``BNPL_SOURCE__URL``
    when that has user info, or set alone as ``BNPL_SOURCE__USERINFO``. Never logged."""
    generator: str = "bnpl"
    """Generator name in ``POST /stream/{generator}``."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to establish a TCP connection."""
    read_timeout_s: float = Field(default=120.0, gt=0)
    """Seconds to wait for the next bytes of a response (a day of 10k records takes ~3 s on simtom)."""
    max_attempts: int = Field(default=5, ge=1, le=20)
    """Attempts per request, first one included (transport errors, 5xx, 429 and cut streams)."""
    retry_budget_s: float = Field(default=120.0, gt=0)
    """Upper bound on the seconds one day's fetch takes, every attempt and wait included: no
    attempt outlives it."""
    request_deadline_s: float = Field(default=300.0, gt=0)
    """Upper bound on the seconds one request takes, its whole response body included (a source
    that trickles bytes, each within the read timeout, is cut at this deadline)."""
    retry_initial_wait_s: float = Field(default=0.5, ge=0)
    """First back-off wait; doubles per attempt with jitter."""
    requests_per_second: float = Field(default=20.0, gt=0)
    """Client-side cap on requests started per second, across threads of one process."""
    breaker_failure_threshold: int = Field(default=5, ge=1)
    """Consecutive failed requests that open the circuit breaker."""
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    """Seconds the open breaker refuses calls before it lets one probe through."""
    stable_customer_ids: bool = False
    """Ask the source for customer ids that are stable across requests with the same seed (an
    extension only the bundled simulator understands; the real simtom ignores unknown fields)."""

    @model_validator(mode="before")
    @classmethod
    def _split_userinfo(cls, data: Any) -> Any:
        """Move user info out of ``url`` into the secret :attr:`userinfo`."""
        if not isinstance(data, dict) or not isinstance(data.get("url"), str):
            return data
        register_secrets(url_secrets(data["url"]))
        try:
            parts = urlsplit(data["url"])
        except ValueError:
            return data  # the field validator names the problem
        if "@" not in parts.netloc:
            return data
        userinfo, _, host = parts.netloc.rpartition("@")
        url = urlunsplit(parts._replace(netloc=host))
        return {**data, "url": url, "userinfo": data.get("userinfo") or userinfo}

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"not a usable URL ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("not an http(s) URL with a host, e.g. http://simtom:8000")
        if port == 0:
            raise ValueError("port 0 is not a port to call")
        return value


class PlanSettings(BaseModel):
    """The request plan: one request per day, with a base volume by day type."""

    model_config = _SECTION

    seed: int = Field(default=42, ge=1, le=2**31 - 1)
    """Run seed; each day's request seed is derived from it and the date (0 would mean unseeded)."""
    weekday_base_volume: int = Field(default=4600, ge=1, le=1_000_000)
    """``base_daily_volume`` requested for Monday-Friday days that are not holidays."""
    weekend_base_volume: int = Field(default=4600, ge=1, le=1_000_000)
    """``base_daily_volume`` requested for Saturdays and Sundays that are not holidays."""
    holiday_base_volume: int = Field(default=4600, ge=1, le=1_000_000)
    """``base_daily_volume`` requested for US holidays (plus Black Friday and Cyber Monday)."""


class IngestSettings(BaseModel):
    """Fan-out and tolerance of the ingestion engine."""

    model_config = _SECTION

    concurrency: int = Field(default=4, ge=1, le=64)
    """Days fetched and normalised in parallel."""
    days_per_task: int = Field(default=4, ge=1, le=31)
    """Consecutive days one worker (one Prefect task) fetches in turn; each day still reaches the
    writer as soon as it is ready. Fewer, longer tasks cost Prefect less per day."""
    quarantine_threshold: float = Field(default=0.01, ge=0, le=1)
    """A day whose quarantined share of received records exceeds this fails loudly."""
    accept_volume_mismatch: bool = False
    """Load a day whose reply holds another number of records than its request implies (exact
    when seeded, within ``BNPL_QUALITY__NOISE_BAND_SIGMAS`` when not), with a warning, instead of
    failing it. For a source known to send other counts; the quality gate still checks volume."""


class DuckDBSettings(BaseModel):
    """The embedded warehouse: one DuckDB file."""

    model_config = _SECTION

    kind: Literal["duckdb"] = "duckdb"
    path: Path = Path(".bnpl/bnpl.duckdb")
    """DuckDB database file; its directory is created on first write."""
    lock_timeout_s: float = Field(default=600.0, gt=0)
    """Seconds a writer waits for another process to release the file."""
    idle_release_s: float = Field(default=1.0, ge=0)
    """Seconds a process keeps the file open after its last operation, so back-to-back loads
    share one connection (opening and closing costs ~50 ms); 0 closes after every operation."""
    max_hold_s: float = Field(default=30.0, gt=0)
    """Seconds a busy process may keep the file open before it releases it for a moment, so
    another process waiting for the file (a second backfill, a notebook) gets its turn."""
    threads: int | None = Field(default=None, ge=1)
    """DuckDB worker threads; None lets DuckDB choose."""
    memory_limit: str | None = "1GB"
    """DuckDB ``memory_limit`` (e.g. ``"4GB"``, ``"512MiB"``, ``"80%"``); beyond it DuckDB spills
    to disk (the default bounds a full-year ``bnpl build``'s memory; ``bench/results.md``, section
    "build"). None or an empty value lets DuckDB choose (80% of RAM)."""

    @field_validator("memory_limit")
    @classmethod
    def _check_memory_limit(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not _MEMORY_LIMIT.match(value):
            raise ValueError("not a DuckDB memory limit such as 4GB, 512MiB, 80% or -1")
        return value


class BigQuerySettings(BaseModel):
    """Google BigQuery. Credentials come from application-default credentials or a prefect-gcp
    ``GcpCredentials`` block; never from settings files."""

    model_config = _SECTION

    kind: Literal["bigquery"] = "bigquery"
    project: str
    """GCP project id that owns the datasets and runs the jobs."""
    location: str = "US"
    """Dataset and job location."""
    dataset_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9_]*$", max_length=100)
    """Prefix for the four datasets, e.g. ``dev_`` gives ``dev_bnpl_raw`` (letters, digits, ``_``)."""
    credentials_block: str | None = None
    """Name of a prefect-gcp ``GcpCredentials`` block, loaded by the loader ``bnpl_flows/`` registers
    (``bnpl.warehouse.bigquery.set_credentials_block_loader``); None uses application-default
    credentials (or none for a loopback ``api_endpoint``)."""
    api_endpoint: str | None = None
    """Override of the BigQuery API endpoint, e.g. ``http://127.0.0.1:9050`` for the local
    emulator (a loopback endpoint without other credentials is called anonymously)."""
    credentials_json: SecretStr | None = None
    """Service-account key JSON; prefer ADC or a block. Never logged."""


WarehouseSettings = Annotated[DuckDBSettings | BigQuerySettings, Field(discriminator="kind")]


class QualitySettings(BaseModel):
    """Thresholds of the data-quality gate."""

    model_config = _SECTION

    volume_tolerance: float = Field(default=0.0, ge=0, le=1)
    """Relative tolerance of a seeded day's count against the expected volume (0: exact)."""
    noise_band_sigmas: float = Field(default=3.0, gt=0)
    """Band, in standard deviations of the log-normal noise, for unseeded days and the pattern
    checks. Over n unseeded days the per-day band widens (Bonferroni) so that the chance of a
    false alarm in the whole range stays that of one day at this many sigmas."""
    weekend_dip_min_ratio: float = Field(default=0.05, ge=0, le=1)
    """Weekend mean must be at least this fraction below the weekday mean."""
    psi_warn: float = Field(default=0.1, ge=0)
    """Population stability index that raises a warning."""
    psi_error: float = Field(default=0.25, ge=0)
    """Population stability index that blocks publication."""
    freshness_max_lag_days: int = Field(default=1, ge=0)
    """Newest loaded day may be at most this many days before the run's logical date."""
    changed_attribute_share_warn: float = Field(default=0.05, ge=0, le=1)
    """Warn when this share of a day's customer ids changed attributes within the batch."""
    quarantine_rate_max: float = Field(default=0.01, ge=0, le=1)
    """Largest share of a day's received records that may sit in quarantine."""
    drift_window_days: int = Field(default=28, ge=1, le=366)
    """Trailing days each day's feature distributions are compared with (PSI)."""
    drift_min_reference_days: int = Field(default=7, ge=1)
    """A day's PSI is computed only when its trailing window holds at least this many loaded days."""
    drift_min_day_rows: int = Field(default=500, ge=1)
    """A day's PSI is computed only when the day has at least this many transactions (a small
    sample inflates PSI: its expected value under no drift is about bins / rows)."""
    psi_bins: int = Field(default=10, ge=2, le=100)
    """Quantile bins of numeric features (amount, risk score) for PSI."""
    holiday_window_days: int = Field(default=3, ge=1, le=14)
    """Days on each side of a holiday whose counts form its surrounding baseline."""
    severity_overrides: dict[str, Literal["error", "warn"]] = Field(default_factory=dict)
    """Per-check severity overrides, e.g. ``{"weekend_dip": "warn"}``
    (``BNPL_QUALITY__SEVERITY_OVERRIDES='{"weekend_dip": "warn"}'``)."""
    report_path: Path = Path(".bnpl/quality-report.html")
    """Where ``bnpl report`` writes the HTML report when ``--out`` is not given."""


class FaultSettings(BaseModel):
    """Faults the bundled simulator injects, deterministic by ``seed``.

    Request-level faults are decided per (request body, attempt number), so a retried request can
    succeed; record-level faults are decided per (request body, record index) and repeat on every
    attempt (they are data problems, not transport problems).
    """

    model_config = _SECTION

    seed: int = 0
    """Seed of every fault decision."""
    error_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests answered 500, 502 or 503 before any byte of the stream."""
    rate_limit_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests answered 429 with ``Retry-After``."""
    retry_after_s: float = Field(default=1.0, ge=0)
    """``Retry-After`` seconds sent with an injected 429."""
    latency_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests delayed by ``latency_s`` before the response starts."""
    latency_s: float = Field(default=0.5, ge=0)
    """Added latency in seconds."""
    cut_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of requests whose stream is cut mid-response without the chunked terminator."""
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of records replaced by a line that is not valid JSON."""
    extra_field_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of records given an unknown extra field."""
    missing_field_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of records with one required field removed."""
    float_drift_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of records whose int and bool fields are written as floats (contract §4.9)."""


class PushSettings(BaseModel):
    """``bnpl simulate push``: how the provider delivers signed webhooks, and the faults it injects.

    Fault decisions are a pure function of ``seed`` and the event's position, so a seeded run
    injects the same faults into the same events every time.
    """

    model_config = _SECTION

    concurrency: int = Field(default=64, ge=1, le=4096)
    """Deliveries in flight at once (the client's connection pool is as large)."""
    timeout_s: float = Field(default=5.0, gt=0)
    """Seconds one delivery attempt may take (connect, send and the response)."""
    max_attempts: int = Field(default=12, ge=1, le=100)
    """Attempts per event, the first included (5xx, 429, timeouts and transport errors)."""
    backoff_initial_s: float = Field(default=0.1, gt=0)
    """First retry wait; it doubles each attempt, with jitter, up to ``backoff_max_s``."""
    backoff_max_s: float = Field(default=5.0, gt=0)
    """Longest wait between two attempts of one event."""
    duplicate_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of events delivered a second time (same ``webhook-id``, same body) after their ack."""
    out_of_order_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of events held back and delivered after later events (their ``_timestamp`` kept)."""
    late_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of events whose ``_timestamp`` lies ``late_by_s`` in the past (a day that ended)."""
    late_by_s: float = Field(default=86_400.0, ge=0)
    """How far in the past a late event happened (default one day: yesterday's date)."""
    bad_signature_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of events signed with a secret the gateway does not know (401, not retried)."""
    stale_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of events sent with a ``webhook-timestamp`` a day old (400, not retried)."""
    malformed_rate: float = Field(default=0.0, ge=0, le=1)
    """Share of events whose body is not JSON or lacks a required field (400, a dead letter)."""


class SimulatorSettings(BaseModel):
    """The bundled simtom-compatible simulator (``bnpl simulate serve``)."""

    model_config = _SECTION

    host: str = "127.0.0.1"
    """Interface the simulator listens on."""
    port: int = Field(default=8000, ge=0, le=65535)
    """TCP port; 0 picks a free one."""
    pace: bool = False
    """Pace historical streams like simtom: one day per second."""
    faults: FaultSettings = FaultSettings()
    """Injected faults (all off by default)."""
    push: PushSettings = PushSettings()
    """``bnpl simulate push``: delivery and injected faults (all off by default)."""


class ProjectSettings(BaseModel):
    """A user's own project directory, loaded beside the bundled SQL project."""

    model_config = _SECTION

    dir: Path | None = None
    """A directory whose ``models/`` folder holds the user's SQL models (in ``staging/``,
    ``intermediate/`` or ``marts/``, written as the bundled ones in ``sql/``), built beside the
    bundled models; they may ``ref()`` them. Its optional ``checks/`` folder holds the user's
    SQL checks (``<name>.sql``, a ``SELECT`` of the violating rows; :mod:`bnpl.quality.user_checks`),
    run by the quality gate beside the bundled ones. A model or check name used twice is an error.
    None: the bundled models and checks only."""

    @field_validator("dir", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value


class Settings(BaseSettings):
    """All bnpl settings. See ``.env.example`` for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="BNPL_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        frozen=True,
    )

    source: SourceSettings = SourceSettings()
    plan: PlanSettings = PlanSettings()
    ingest: IngestSettings = IngestSettings()
    warehouse: WarehouseSettings = DuckDBSettings()
    quality: QualitySettings = QualitySettings()
    simulator: SimulatorSettings = SimulatorSettings()
    project: ProjectSettings = ProjectSettings()
    model: ModelSettings = ModelSettings()
    live: LiveSettings = LiveSettings()
    serving: ServingSettings = ServingSettings()

    @field_validator("warehouse", mode="before")
    @classmethod
    def _default_kind(cls, value: Any) -> Any:
        """``BNPL_WAREHOUSE__PATH=...`` alone selects DuckDB."""
        if isinstance(value, dict) and "kind" not in value:
            return {**value, "kind": "duckdb"}
        return value


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and ``.env``), applying keyword overrides on top.

    Every secret of the result (each ``SecretStr``, the source's user info) is registered with
    :mod:`bnpl.redaction`, and log records of this process are redacted from then on.

    Raises:
        ConfigError: one line per invalid value, naming the ``BNPL_`` variable to fix (and never
            echoing a secret, nor the value of a variable it does not know).
    """
    install_log_redaction()
    unknown = sorted(
        name
        for name in os.environ
        if name.startswith("BNPL_") and name[5:].split("__")[0].lower() not in Settings.model_fields
    )
    if unknown:
        register_secrets(os.environ[name] for name in unknown)
        known = ", ".join(f"BNPL_{f.upper()}__*" for f in Settings.model_fields)
        raise ConfigError(f"unknown setting {', '.join(unknown)}; known sections: {known}")
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        register_secrets(rejected_values(exc))
        raise ConfigError(describe_validation_error(exc)) from None
    except SettingsError:
        raise ConfigError(describe_unparsable(Settings)) from None
    register_secrets(secret_values(settings))
    return settings
