"""What ``bnpl simulate push`` delivers: the bundled simulator's real-time records as webhook
events, with the provider-side faults decided per event.

Records come from :class:`bnpl.simulator.simulation.Simulation` in real-time mode with stable
customer ids (the same generator as ``bnpl simulate serve``): the record schema is the
contract's, ``_timestamp`` is the time the event happened (naive UTC ISO text with microseconds,
as simtom's real-time mode writes it). A seeded run gives the same event ids, record contents
(all but ``_timestamp``) and fault decisions every time; an unseeded run draws fresh ones.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np

from bnpl import record
from bnpl.settings import PushSettings
from bnpl.simulator.realtime import REALTIME_BATCH
from bnpl.simulator.render import PREFIX, TERMINATOR, TIMESTAMP_PLACEHOLDER
from bnpl.simulator.simulation import Simulation
from bnpl.source.request import StreamRequest

STALE_BY_S = 86_400
"""Age of the ``webhook-timestamp`` of a stale delivery (outside any sane tolerance)."""
MAX_HOLD_BACK = 16
"""Most later events an out-of-order event is delivered after."""
MALFORMED_FIELD = "amount"
"""The required field a ``missing_field`` body lacks."""


class Fault(StrEnum):
    """A provider-side fault of one event (at most one of the rejected kinds per event)."""

    NONE = "none"
    BAD_SIGNATURE = "bad_signature"  # 401, not retried
    STALE = "stale"  # 400, not retried
    MALFORMED = "malformed"  # 400 and a dead letter


@dataclass(frozen=True, slots=True)
class PushEvent:
    """One event to deliver.

    Attributes:
        index: position in generation order (0-based).
        event_id: the ``webhook-id`` (the idempotency key).
        body: the request body, exactly as signed.
        fault: the rejected-kind fault, if any.
        duplicate: deliver it a second time after it is acknowledged.
        hold_back: deliver it after this many later events (0: in order).
        late: its ``_timestamp`` lies ``late_by_s`` in the past.
    """

    index: int
    event_id: str
    body: bytes
    fault: Fault
    duplicate: bool
    hold_back: int
    late: bool


def event_id(seed: int | None, index: int) -> str:
    """``msg_`` + 24 hex digits: a function of (seed, index) when seeded, random otherwise."""
    if not seed:
        return "msg_" + secrets.token_hex(12)
    return "msg_" + hashlib.blake2b(f"{seed}:{index}".encode(), digest_size=12).hexdigest()


def forged_secret(seed: int | None) -> str:
    """A ``whsec_`` secret no gateway is configured with (for bad-signature deliveries)."""
    raw = hashlib.sha256(f"forged:{seed}:{secrets.token_hex(8) if not seed else ''}".encode())
    return "whsec_" + base64.b64encode(raw.digest()).decode()


class EventSource:
    """Generates :class:`PushEvent` s in order; ``next_event(now)`` stamps the record with ``now``
    (naive UTC), or ``now - late_by_s`` for a late event."""

    def __init__(self, settings: PushSettings, *, seed: int | None, universe_seed: int = 0) -> None:
        self._settings = settings
        self._seed = seed
        request = StreamRequest(
            seed=seed or None, stable_customer_ids=True, customer_universe_seed=universe_seed
        )
        self._simulation = Simulation(request)
        entropy = np.random.SeedSequence(seed) if seed else np.random.SeedSequence()
        self._faults = np.random.default_rng(entropy)
        self._pending: Iterator[str] = iter(())
        self._index = 0

    def _next_text(self) -> str:
        for line in self._pending:
            return line
        lines = self._simulation.realtime_lines(REALTIME_BATCH).lines.to_list()
        self._pending = iter(lines)
        return next(self._pending)

    def next_event(self, now: datetime) -> PushEvent:
        """The next event, happening at ``now`` (naive UTC) unless it is late."""
        s = self._settings
        u = self._faults.random(6)
        index = self._index
        self._index += 1
        late = bool(u[0] < s.late_rate)
        happened = now - timedelta(seconds=s.late_by_s) if late else now
        line = self._next_text()
        text = line[len(PREFIX) : -len(TERMINATOR)].replace(
            TIMESTAMP_PLACEHOLDER, happened.isoformat(), 1
        )
        fault = Fault.NONE
        if u[1] < s.malformed_rate:
            fault = Fault.MALFORMED
            text = _malformed(text, index)
        elif u[2] < s.bad_signature_rate:
            fault = Fault.BAD_SIGNATURE
        elif u[3] < s.stale_rate:
            fault = Fault.STALE
        hold_back = 1 + int(u[5] * MAX_HOLD_BACK) if u[4] < s.out_of_order_rate else 0
        duplicate = fault is Fault.NONE and bool(self._faults.random() < s.duplicate_rate)
        return PushEvent(
            index, event_id(self._seed, index), text.encode(), fault, duplicate, hold_back, late
        )


def _malformed(text: str, index: int) -> str:
    """Every other malformed body is cut in half (not JSON); the rest lack a required field."""
    if index % 2 == 0:
        return text[: len(text) // 2]
    data = json.loads(text)
    assert MALFORMED_FIELD in record.REQUIRED
    del data[MALFORMED_FIELD]
    return json.dumps(data)


def utcnow() -> datetime:
    """Naive UTC now (the record's ``_timestamp`` convention)."""
    return datetime.now(UTC).replace(tzinfo=None)
