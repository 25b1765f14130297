"""The one exception tree of bnpl.

::

    BnplError
    ├── ConfigError                 bad settings or arguments; fix the input and run again
    │   └── SealTooEarlyError       a live day asked to be sealed before its grace period ended
    ├── SourceError                 the simtom API (or the bundled simulator)
    │   ├── TransientSourceError    worth retrying: transport errors, 5xx, 429, cut streams
    │   │   ├── TruncatedStreamError    the body ended without its final record terminator
    │   │   ├── RequestDeadlineError    one request outlived BNPL_SOURCE__REQUEST_DEADLINE_S
    │   │   └── VolumeMismatchError     a 200 reply held another number of records than expected
    │   ├── TerminalSourceError     retrying will not help: 4xx, malformed framing, wrong day
    │   │   ├── SourceRequestError      the server rejected the request (carries its detail)
    │   │   └── FramingError            a body line is not ``data: <json>`` framing (has its offset)
    │   └── CircuitOpenError        the client stopped calling after repeated failures
    ├── ContractError               a day's data breaks the record contract beyond tolerance
    │   └── QuarantineThresholdError    too many rows quarantined for one day
    ├── WarehouseError              reading or writing the warehouse failed
    │   ├── WarehouseLockedError    another process holds the DuckDB file (transient)
    │   └── WarehouseDamagedError   the DuckDB file is damaged; restore or rebuild it (terminal)
    ├── IngestError                 some days of a run failed (the summary says which loaded)
    │   └── SliceError              some days of one fetch task's slice failed to fetch or prepare
    ├── RunStoppedError             SIGINT/SIGTERM stopped the run; whole days only, run it again
    ├── LiveError                   the live path (gateway, event log, relay, loader, seal)
    │   ├── EventLogUnavailableError    the event log cannot be written or read (disk full, file
    │   │                               unreadable, Redis unreachable): transient, retry later
    │   └── WebhookError            the gateway refused a webhook before storing it
    │       ├── WebhookSignatureError   no signature matches the current or previous secret (401)
    │       └── WebhookTimestampError   webhook-timestamp missing, unparsable or off the clock (400)
    ├── ModelError                  a SQL model does not render, parse, resolve or build
    ├── RegistryError               the MLflow tracking store or registry failed mid-operation
    ├── TrainingCheckError          a pre-training check refused the data (gate-failed days)
    ├── ServingError                the online store or the served model is unavailable (503)
    └── QualityGateError            an error-level data-quality check failed; nothing was published

Third-party exceptions are translated at the boundary (``raise ... from exc``). Every message says
what happened and what to do next, and never a secret: ``str()`` and ``repr()`` of every
:class:`BnplError` pass through :func:`bnpl.redaction.redact`.
"""

from __future__ import annotations

from bnpl.redaction import redact


class BnplError(Exception):
    """Base class of every error bnpl raises on purpose. Its text is redacted: the secrets of
    the loaded settings never appear in ``str(error)`` or ``repr(error)``."""

    def __str__(self) -> str:
        return redact(super().__str__())

    def __repr__(self) -> str:
        return redact(super().__repr__())


class ConfigError(BnplError):
    """A setting or argument is invalid. The message names it and the accepted values."""


class SealTooEarlyError(ConfigError):
    """A live day was asked to be sealed before its end plus the grace period (late events may
    still arrive); wait, or seal with ``--force``."""


class SourceError(BnplError):
    """Fetching from the source failed."""


class TransientSourceError(SourceError):
    """A failure that a later attempt may not repeat (transport, 5xx, 429, truncation)."""


class TruncatedStreamError(TransientSourceError):
    """The response body ended inside a record or without the chunked terminator."""


class RequestDeadlineError(TransientSourceError):
    """One request (the response body included) ran past its deadline: the source is too slow
    or trickles bytes. A later attempt may be faster."""


class VolumeMismatchError(TransientSourceError):
    """A day's reply was complete HTTP but held another number of records than the request
    implies (exact for a seeded request, the noise band for an unseeded one). A later fetch may
    be whole; until then the day is not loaded.

    Attributes:
        received: records in the reply.
        expected: records the request implies (the median for an unseeded request).
    """

    def __init__(self, message: str, *, received: int, expected: int) -> None:
        super().__init__(message)
        self.received = received
        self.expected = expected


class TerminalSourceError(SourceError):
    """A failure that retrying the same request will repeat."""


class SourceRequestError(TerminalSourceError):
    """The server rejected the request with a 4xx status.

    Attributes:
        status_code: the HTTP status.
        detail: the server's ``detail`` field, or its body text.
    """

    def __init__(self, message: str, *, status_code: int, detail: object) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail


class FramingError(TerminalSourceError):
    """The response body is not ``data: <json>\\n\\n`` framing.

    Attributes:
        position: byte offset in the body where the bad line starts.
    """

    def __init__(self, message: str, *, position: int) -> None:
        super().__init__(message)
        self.position = position


class CircuitOpenError(SourceError):
    """The circuit breaker is open: the source failed repeatedly and is in its cool-down. The
    message names the failure that opened it."""


class ContractError(BnplError):
    """Data breaks the record contract in a way that cannot be quarantined row by row."""


class QuarantineThresholdError(ContractError):
    """The share of quarantined rows in one day exceeds the configured threshold."""


class WarehouseError(BnplError):
    """A warehouse operation failed."""


class WarehouseLockedError(WarehouseError):
    """Another process holds the embedded warehouse file; retry later."""


class IngestError(BnplError):
    """One or more days of an ingestion run failed; the summary says which days were loaded.

    Attributes:
        failed: the failed days, ``YYYY-MM-DD``.
        summary: the run's summary report (what was loaded, skipped and why days failed).
        data: the same summary as plain values (``IngestSummary.as_dict``), for ``--json``.
    """

    def __init__(
        self,
        message: str,
        *,
        failed: list[str],
        summary: str,
        data: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.failed = failed
        self.summary = summary
        self.data = data


class RunStoppedError(BnplError):
    """SIGINT or SIGTERM stopped the run (:mod:`bnpl.stopping`): days that finished loading are
    kept whole, the others were not loaded; running the same command again loads them.

    Attributes:
        signum: the signal, if one stopped the run.
        exit_code: the shell's code for it, ``128 + signum`` (130 SIGINT, 143 SIGTERM).
        summary: the run's summary report, if the run had one.
    """

    def __init__(self, message: str, *, signum: int | None, summary: str = "") -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum if signum is not None else 1
        self.summary = summary


class SliceError(IngestError):
    """Some days of one slice (one fetch task) failed to fetch or prepare; the slice's other days
    were handed to the writer. The run's summary and ``bnpl_audit.ingest_failures`` have them."""

    def __init__(self, message: str, *, failed: list[str]) -> None:
        super().__init__(message, failed=failed, summary=message)


class ModelError(BnplError):
    """A SQL model failed to render, parse, resolve its refs, or build. The message names the file."""


class QualityGateError(BnplError):
    """One or more error-level quality checks failed; publication was skipped.

    Attributes:
        failed: names of the failing checks.
    """

    def __init__(self, message: str, *, failed: list[str]) -> None:
        super().__init__(message)
        self.failed = failed


class WarehouseDamagedError(WarehouseError):
    """The DuckDB file is damaged (e.g. a truncated copy): restore it, or rebuild it from the
    ledger's requests. Terminal: retrying will not help."""


class RegistryError(BnplError):
    """The MLflow tracking store or model registry failed during an operation (not a bad
    setting: those are :class:`ConfigError`). Nothing is half-registered: a version is
    registered, or an alias moved, only as the last step of a command."""


class TrainingCheckError(BnplError):
    """A pre-training check refused the training set: days in it failed the quality gate.
    Nothing was trained or registered."""


class LiveError(BnplError):
    """The live path (gateway, event log, relay, loader, seal) failed."""


class EventLogUnavailableError(LiveError):
    """The event log cannot be written or read: its file is unwritable, damaged or on a full
    disk, or the Redis server is unreachable or refuses writes. The failed call's events count as
    not stored (the gateway answers 503 and the provider retries); a retry with the same event ids
    is safe, since the log drops an event id it already holds."""


class WebhookError(LiveError):
    """The gateway refused a webhook before storing anything."""


class WebhookSignatureError(WebhookError):
    """No ``webhook-signature`` entry matches the current or the previous secret (or the
    ``webhook-id`` or ``webhook-signature`` header is missing): the sender is not trusted (401)."""


class WebhookTimestampError(WebhookError):
    """``webhook-timestamp`` is missing, not an integer, or further than the tolerance from the
    gateway's clock, past or future: a replay or a wrong clock (400)."""


class ServingError(BnplError):
    """Online scoring failed: the online store cannot be opened, read or written, or no model
    can be served. The API answers 503; nothing is scored from partial state."""
