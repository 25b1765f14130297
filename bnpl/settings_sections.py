"""Settings sections of the live path, the model registry and online serving (``BNPL_LIVE__*``,
``BNPL_MODEL__*``, ``BNPL_SERVING__*``). Part of the one :class:`bnpl.settings.Settings`, which
re-exports them; kept apart so that each settings module stays readable.
"""

from __future__ import annotations

import base64
import binascii
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import NoDecode

_SECTION = ConfigDict(extra="forbid", frozen=True)


def split_list(value: Any) -> Any:
    """A list setting from the environment: a JSON list, or comma-separated values."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class LiveSettings(BaseModel):
    """The live path (``bnpl live ...``): the event log, the relay, the gateway and the loader."""

    model_config = _SECTION

    # --- event log and relay (bnpl/live/log.py, sqlite_log.py, redis_log.py, relay.py) ---
    log_engine: Literal["sqlite", "redis"] = "sqlite"
    """Event log engine: ``sqlite`` (an embedded SQLite file in WAL mode, no server) or ``redis``
    (Redis Streams on a ``redis-server`` run with ``appendonly yes``, ``appendfsync always``)."""
    log_path: Path = Path(".bnpl/live/events.sqlite")
    """SQLite event log file (``log_engine=sqlite``); its directory is created on first use."""
    log_redis_url: SecretStr | None = None
    """Redis URL (``redis://[:password@]host:port/db``) of the event log (``log_engine=redis``).
    Secret because it may hold a password; never logged."""
    log_redis_prefix: str = Field(default="bnpl:live", pattern=r"^[A-Za-z0-9_:.-]+$")
    """Prefix of every Redis key the event log uses (streams, idempotency keys, metadata)."""
    log_partitions: int = Field(default=8, ge=1, le=256)
    """Partitions of the event log (events are placed by a hash of the customer id). Fixed when
    the log is created: opening a log made with another count is an error."""
    log_retention_h: float = Field(default=168.0, gt=0)
    """Hours an event stays in the log after its append before ``trim`` may drop it (only once
    every consumer group acknowledged it); also how long an event id is remembered for
    deduplication."""
    log_trim_interval_s: float = Field(default=300.0, ge=0)
    """Seconds between two trims of the event log by ``bnpl live load`` (each loader drops the
    events older than ``log_retention_h`` that every consumer group acknowledged); 0: trim
    before every micro-batch (tests)."""
    log_busy_timeout_s: float = Field(default=10.0, gt=0)
    """Seconds a SQLite event log operation waits for another process's write lock, and the
    socket timeout of a Redis event log operation; then the log counts as unavailable."""
    relay_max_backoff_s: float = Field(default=30.0, gt=0)
    """Longest wait of ``bnpl live relay`` between reconnects to a failing source (the wait
    doubles from ``BNPL_SOURCE__RETRY_INITIAL_WAIT_S`` with jitter)."""
    relay_batch_size: int = Field(default=100, ge=1, le=10_000)
    """Records ``bnpl live relay`` appends to the log in one durable write, at most (a record
    never waits for a batch to fill: each write takes what arrived while the last one ran)."""

    # --- gateway (bnpl/live/gateway.py) ---
    webhook_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """Standard Webhooks secrets (``whsec_<base64>``): the current one first, then the previous
    one while providers rotate. A JSON list or comma-separated. The gateway needs at least one;
    ``bnpl simulate push`` signs with the first. Never logged."""
    webhook_tolerance_s: float = Field(default=300.0, gt=0)
    """Largest difference in seconds, past or future, between ``webhook-timestamp`` and the
    gateway's clock (replay protection); outside it the gateway answers 400."""
    max_body_bytes: int = Field(default=65_536, gt=0)
    """Largest webhook body in bytes; a larger one gets 413 (read no further than this)."""
    gateway_host: str = "127.0.0.1"
    """Interface ``bnpl live gateway`` listens on."""
    gateway_port: int = Field(default=8088, ge=1, le=65535)
    """TCP port of ``bnpl live gateway``."""
    max_batch_events: int = Field(default=512, ge=1, le=100_000)
    """Most events the gateway appends to the log in one durable write (group commit)."""

    @field_validator("webhook_secrets", mode="before")
    @classmethod
    def _split_secrets(cls, value: Any) -> Any:
        return split_list(value)

    @field_validator("webhook_secrets")
    @classmethod
    def _check_secrets(cls, value: list[SecretStr]) -> list[SecretStr]:
        for position, secret in enumerate(value, 1):
            text = secret.get_secret_value()
            body = text.removeprefix("whsec_").rstrip("=")
            try:
                raw = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
            except (ValueError, binascii.Error):
                raw = b""
            if not text.startswith("whsec_") or not raw:
                raise ValueError(f"secret {position} is not whsec_<base64 of the key>")
        return value

    # --- loader, dead letters and day seals (bnpl/live/loader.py, replay.py, seal.py) ---
    loader_group: str = Field(default="bnpl-loader", min_length=1, max_length=200)
    """The event log's consumer group the loaders share."""
    loader_consumer: str | None = Field(default=None, max_length=200)
    """This loader's name in the group; None: the host name (keep it stable across restarts, so
    that a restarted loader takes back what it held)."""
    batch_max_events: int = Field(default=500, ge=1, le=10_000)
    """A micro-batch holds at most this many events."""
    batch_max_ms: int = Field(default=500, ge=1, le=60_000)
    """A micro-batch waits at most this many milliseconds for more events after its first."""
    claim_idle_ms: int = Field(default=30_000, ge=100)
    """Events another consumer held unacknowledged this long are taken over (a dead loader's)."""
    max_deliveries: int = Field(default=5, ge=1, le=100)
    """An event handed out more often than this without being written is a dead letter
    (``delivery_limit``): a poison event never blocks the stream."""
    seal_grace_s: float = Field(default=3600.0, ge=0)
    """Seconds after a UTC day ends before it may be sealed (late events); ``--force`` overrides."""
    seal_days: bool = False
    """The daily flow seals its day from the live rows instead of fetching it from the source."""

    @model_validator(mode="after")
    def _redis_needs_url(self) -> LiveSettings:
        if self.log_engine == "redis" and self.log_redis_url is None:
            raise ValueError("log_engine=redis needs BNPL_LIVE__LOG_REDIS_URL")
        return self


class ModelSettings(BaseModel):
    """Model governance: the MLflow tracking store and registry, and the promotion rule."""

    model_config = _SECTION

    tracking_uri: str = ""
    """MLflow tracking and registry URI, e.g. ``http://127.0.0.1:5000`` for a tracking server.
    Empty: an embedded SQLite store, ``sqlite:///<store_dir>/mlflow.db``, no server."""
    store_dir: Path = Path(".bnpl/mlflow")
    """Directory of the embedded store (database and model artifacts) when no URI is set."""
    registered_model: str = Field(default="bnpl-default-risk", min_length=1)
    """Registered model every training run adds a version to."""
    evaluation_window_days: int = Field(default=28, ge=1, le=366)
    """Days of matured outcomes promotion compares champion and challenger on."""
    bootstrap_resamples: int = Field(default=1000, ge=50, le=100_000)
    """Paired bootstrap resamples of the evaluation window."""
    bootstrap_seed: int = 0
    """Seed of the bootstrap (the same window and models give the same figures)."""
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    """Two-sided level of the bootstrap confidence intervals."""
    auc_margin: float = Field(default=0.0, ge=0, le=0.5)
    """Promote only when the lower confidence bound of the ROC AUC gain exceeds this."""
    calibration_tolerance: float = Field(default=0.01, ge=0, le=1)
    """Promote only when the challenger's expected calibration error exceeds the champion's by
    at most this."""
    psi_warn: float = Field(default=0.1, ge=0)
    """PSI of a feature, training against evaluation window, that is reported as a warning."""
    psi_error: float = Field(default=0.25, ge=0)
    """PSI of a feature, training against evaluation window, reported as an error (recorded on the model version; training goes on)."""
    min_outcomes: int = Field(default=100, ge=1)
    """Fewest defaults, and fewest repaid purchases, an evaluation window must hold."""
    threads: int = Field(default=1, ge=1, le=256)
    """OpenMP threads that fit and score the model; 1 spends the fewest CPU seconds on shared cores (bench/results.md), raise it on cores of the run's own."""


class ServingSettings(BaseModel):
    """Online scoring (``bnpl serve``, ``bnpl serving ...``): the online store and the API."""

    model_config = _SECTION

    store_engine: Literal["sqlite", "redis"] = "sqlite"
    """Online store: ``sqlite`` (an embedded file) or ``redis`` (a redis-server)."""
    store_path: Path = Path(".bnpl/serving/online.sqlite")
    """SQLite online store file (``store_engine=sqlite``)."""
    store_redis_url: SecretStr | None = None
    """Redis URL of the online store (``store_engine=redis``). Secret, never logged."""
    store_redis_prefix: str = Field(default="bnpl:serving", min_length=1)
    """Prefix of every Redis key the online store uses."""
    host: str = "127.0.0.1"
    """Interface ``bnpl serve`` listens on."""
    port: int = Field(default=8090, ge=1, le=65535)
    """TCP port of ``bnpl serve``."""
    tokens: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """Bearer tokens the scoring API accepts; a JSON list or comma-separated. Never logged."""
    max_body_bytes: int = Field(default=16_384, gt=0)
    """Largest request body in bytes; a larger one gets 413."""
    decline_above: float = Field(default=0.5, ge=0, le=1)
    """Scores above this are declined."""
    review_above: float = Field(default=0.3, ge=0, le=1)
    """Scores above this (and not above ``decline_above``) go to review; the rest are approved."""
    champion_alias: str = Field(default="champion", min_length=1)
    """Registry alias of the model that scores."""
    challenger_alias: str = Field(default="challenger", min_length=1)
    """Registry alias of the model scored in shadow, when it exists."""
    poll_s: float = Field(default=10.0, gt=0)
    """Seconds between checks of the aliases; a moved alias is loaded and swapped in."""
    reasons: int = Field(default=3, ge=0, le=20)
    """Features listed as reasons for a score (those that moved it most)."""
    score_log: bool = True
    """Log every score (the champion's, and the challenger's in shadow) to the scores event log,
    off the request path; ``false`` turns the shadow worker off entirely (e.g. for a bench)."""
    shadow: bool = True
    """Score the challenger alias, when it exists, in shadow on the same features."""
    shadow_queue: int = Field(default=10_000, ge=1)
    """Scored requests waiting for the shadow worker; when full, a request's log entry is
    dropped (counted in ``/metrics``), never the request."""
    score_log_batch: int = Field(default=500, ge=1)
    """Most scored requests appended to the scores log in one call (one fsync)."""
    score_log_linger_s: float = Field(default=0.2, ge=0, le=10)
    """Longest the shadow worker waits to fill a batch: fewer, larger appends and challenger
    calls (far less CPU per request) for scores logged that much later."""
    score_log_path: Path = Path(".bnpl/serving/scores.sqlite")
    """SQLite scores event log file (``BNPL_LIVE__LOG_ENGINE=sqlite``)."""
    score_log_redis_prefix: str = Field(default="bnpl:scores", pattern=r"^[A-Za-z0-9_:.-]+$")
    """Prefix of the scores stream's Redis keys (``BNPL_LIVE__LOG_ENGINE=redis``, same server)."""
    score_loader_group: str = Field(default="bnpl-scores", min_length=1, max_length=200)
    """Consumer group of the scores loader (``bnpl serving load-scores``)."""

    @field_validator("tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        return split_list(value)
