"""The scores stream: every score ``bnpl serve`` gives, as events of their own log, loaded into
``bnpl_raw.scores``.

One event per scored request (``event_id`` = the request id, partition key = the customer id):
a JSON object with the checkout's identity, when it was scored, the fingerprint of the features
and one entry per model that scored them (the champion's answer and the challenger's shadow
score). The stream is a separate event log (``BNPL_SERVING__SCORE_LOG_PATH`` or the Redis prefix
``BNPL_SERVING__SCORE_LOG_REDIS_PREFIX``, same engine as the live log) consumed by the live
loader (:class:`bnpl.live.loader.Loader`) with :class:`ScoresSink` in its own consumer group:
the same at-least-once delivery, offsets committed with the rows, and a write idempotent on
the request id, so each score lands exactly once.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl

from bnpl import timeutil
from bnpl.contracts import polars_schema
from bnpl.live.loader import Loader
from bnpl.live.log import Event, EventLog
from bnpl.live.records import dead_letter_frame
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse
from bnpl.warehouse.live_batch import LiveBatch
from bnpl.warehouse.names import SCORES

logger = logging.getLogger(__name__)

SOURCE = "scores"
"""``Event.source`` of a scores event."""
UNPARSEABLE = "score_event_unparseable"
"""``check_name`` of a scores event that is not a scores event (a dead letter)."""
CHAMPION, CHALLENGER = "champion", "challenger"


def fingerprint(features: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the feature names and values: sorted by name, as canonical JSON (floats
    by their shortest round-trip text, anything else not JSON by its text). Equal features, in
    any order, give the same fingerprint in every process."""
    pairs = [[name, _plain(features[name])] for name in sorted(features)]
    text = json.dumps(pairs, separators=(",", ":"), ensure_ascii=True, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _PLAIN or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class ModelScore:
    """One model's score of a request."""

    role: str
    model_name: str
    model_version: int
    score: float
    decision: str


@dataclass(frozen=True, slots=True)
class ScoredRequest:
    """A request and every score it got."""

    request_id: str
    transaction_id: str
    customer_id: str
    customer_key: str
    transaction_ts: datetime
    scored_at: datetime
    features_fingerprint: str
    scores: tuple[ModelScore, ...]

    def event(self, received_at: datetime) -> Event:
        """The scores event of this request."""
        body = {
            "request_id": self.request_id,
            "transaction_id": self.transaction_id,
            "customer_id": self.customer_id,
            "customer_key": self.customer_key,
            "transaction_ts": self.transaction_ts.replace(tzinfo=None).isoformat(),
            "scored_at": timeutil.as_utc(self.scored_at).isoformat(),
            "features_fingerprint": self.features_fingerprint,
            "scores": [  # dataclasses.asdict's dict, without its deep copies
                {
                    "role": s.role,
                    "model_name": s.model_name,
                    "model_version": s.model_version,
                    "score": s.score,
                    "decision": s.decision,
                }
                for s in self.scores
            ],
        }
        return Event(
            event_id=self.request_id,
            key=self.customer_id,
            payload=json.dumps(body, separators=(",", ":")).encode(),
            received_at=received_at,
            source=SOURCE,
        )


def _rows(event: Event, loaded_at: datetime) -> list[dict[str, Any]]:
    body = json.loads(event.payload)
    ts = datetime.fromisoformat(body["transaction_ts"]).replace(tzinfo=None)
    common = {
        "request_id": event.event_id,
        "transaction_id": str(body["transaction_id"]),
        "customer_id": str(body["customer_id"]),
        "customer_key": str(body["customer_key"]),
        "transaction_date": ts.date(),
        "transaction_ts": ts,
        "scored_at": timeutil.as_utc(datetime.fromisoformat(body["scored_at"])),
        "features_fingerprint": str(body["features_fingerprint"]),
        "received_at": timeutil.as_utc(event.received_at),
        "loaded_at": timeutil.as_utc(loaded_at),
    }
    rows = []
    for s in body["scores"]:
        if s["role"] not in (CHAMPION, CHALLENGER):
            raise ValueError(f"unknown role {s['role']!r}")
        rows.append(
            {
                **common,
                "role": s["role"],
                "model_name": str(s["model_name"]),
                "model_version": int(s["model_version"]),
                "score": float(s["score"]),
                "decision": str(s["decision"]),
            }
        )
    if not rows:
        raise ValueError("no scores")
    return rows


class ScoresSink:
    """The loader's sink for the scores stream: rows of ``bnpl_raw.scores`` keyed by
    ``(request_id, role)``; an event that is not a scores event is a dead letter
    (``score_event_unparseable``) in ``bnpl_raw.quarantine`` with its raw body."""

    def prepare(
        self, events: Sequence[Event], *, loaded_at: datetime
    ) -> tuple[pl.DataFrame, pl.DataFrame]:
        rows: list[dict[str, Any]] = []
        bad: list[Event] = []
        reasons: list[tuple[str, str]] = []
        for event in events:
            try:
                rows += _rows(event, loaded_at)
            except (ValueError, KeyError, TypeError) as exc:
                logger.error("scores event %s is unparseable: %s", event.event_id, exc)
                bad.append(event)
                reasons.append((UNPARSEABLE, f"not a scores event: {exc}"))
        schema = polars_schema(SCORES.table)
        frame = pl.DataFrame(rows, schema=schema, orient="row").select(list(schema))
        return frame, dead_letter_frame(bad, reasons, at=loaded_at)

    def batch(self, rows: pl.DataFrame, dead: pl.DataFrame, offsets: pl.DataFrame) -> LiveBatch:
        return LiveBatch(
            rows,
            dead,
            offsets,
            table=SCORES,
            id_column="request_id",
            key_columns=("request_id", "role"),
        )


def score_loader(
    log: EventLog, warehouse: Warehouse, settings: Settings, *, consumer: str | None = None
) -> Loader:
    """The live loader on the scores stream: :class:`ScoresSink`, in the consumer group
    ``BNPL_SERVING__SCORE_LOADER_GROUP``, with the live loader's batch and delivery settings."""
    return Loader(
        log,
        warehouse,
        settings.live,
        consumer=consumer,
        sink=ScoresSink(),
        group=settings.serving.score_loader_group,
    )
