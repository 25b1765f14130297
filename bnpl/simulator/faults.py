"""Fault decisions of the bundled simulator, deterministic by :class:`FaultSettings.seed`.

* **Request-level** faults (an error status, 429, added latency, a cut stream) are decided per
  (canonical request body, attempt number for that body), so a retried request can succeed.
* **Record-level** faults (a malformed JSON line, an unknown extra field, a missing required
  field, int and bool fields written as floats) are decided per (canonical body, ``_record_id``)
  and repeat on every attempt: they are data problems, not transport problems.

Every decision is a pure function of its inputs; no state lives here.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from bnpl import record
from bnpl.settings import FaultSettings

ERROR_STATUSES = (500, 502, 503)
EXTRA_FIELD = "injected_unknown_field"
"""Name of the field added by the extra-field fault."""
_FLOAT_KINDS = frozenset({"int", "bool"})
_NEVER_REMOVED = frozenset({"transaction_id", "_record_id"})  # keep injected rows traceable
_REMOVABLE = tuple(f for f in record.REQUIRED if f not in _NEVER_REMOVED)
_MASK64 = (1 << 64) - 1


def _unit(*parts: object) -> float:
    """A uniform number in [0, 1) from the hash of ``parts``."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True, slots=True)
class RequestFaults:
    """What the server does to one attempt of a request.

    Attributes:
        status: answer with this status (500/502/503, or 429) instead of the stream; None: stream.
        latency_s: seconds to wait before answering.
        cut_at: cut the stream inside the record with this 0-based position (counted from the
            first record sent, clamped to the records available); None: no cut.
    """

    status: int | None = None
    latency_s: float = 0.0
    cut_at: float | None = None


def request_faults(settings: FaultSettings, digest: bytes, attempt: int) -> RequestFaults:
    """Faults for the ``attempt``-th (1-based) request with body hash ``digest``.

    ``cut_at`` is a share in [0.1, 0.9) of the response's records; the server turns it into a
    record position.
    """
    key = (settings.seed, digest.hex(), attempt)
    status = None
    if _unit(*key, "error") < settings.error_rate:
        status = ERROR_STATUSES[int(_unit(*key, "which") * len(ERROR_STATUSES))]
    elif _unit(*key, "rate-limit") < settings.rate_limit_rate:
        status = 429
    latency = settings.latency_s if _unit(*key, "latency") < settings.latency_rate else 0.0
    cut = None
    if status is None and _unit(*key, "cut") < settings.cut_rate:
        cut = 0.1 + 0.8 * _unit(*key, "cut-at")
    return RequestFaults(status=status, latency_s=latency, cut_at=cut)


class RecordFault(IntEnum):
    """Record-level fault of one record (at most one per record, in this precedence)."""

    NONE = 0
    MALFORMED = 1
    MISSING_FIELD = 2
    EXTRA_FIELD = 3
    FLOAT_DRIFT = 4


def _splitmix(values: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    z = values + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _units(key: int, record_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    with np.errstate(over="ignore"):
        mixed = _splitmix(record_ids.astype(np.uint64) ^ np.uint64(key))
    return (mixed >> np.uint64(11)).astype(np.float64) / 2.0**53


def record_faults(
    settings: FaultSettings, digest: bytes, first_record_id: int, n: int
) -> npt.NDArray[np.int64]:
    """:class:`RecordFault` code of records ``first_record_id .. first_record_id + n - 1``."""
    ids = first_record_id + np.arange(n, dtype=np.int64)
    codes = np.zeros(n, dtype=np.int64)
    rates = (
        (RecordFault.MALFORMED, settings.malformed_rate),
        (RecordFault.MISSING_FIELD, settings.missing_field_rate),
        (RecordFault.EXTRA_FIELD, settings.extra_field_rate),
        (RecordFault.FLOAT_DRIFT, settings.float_drift_rate),
    )
    for kind, rate in reversed(rates):  # earlier kinds overwrite later ones
        if rate <= 0:
            continue
        key = (
            struct.unpack(
                ">Q",
                hashlib.blake2b(
                    repr((settings.seed, digest.hex(), kind.name)).encode(), digest_size=8
                ).digest(),
            )[0]
            & _MASK64
        )
        codes[_units(key, ids) < rate] = kind
    return codes


def apply_record_fault(line: str, fault: RecordFault, record_id: int) -> str:
    """The framed line (``data: {...}\\n\\n``) of one record with ``fault`` applied."""
    payload = line[len("data: ") : -2]
    if fault is RecordFault.MALFORMED:
        return "data: " + payload[: len(payload) // 2] + "\n\n"
    data = json.loads(payload)
    if fault is RecordFault.EXTRA_FIELD:
        data[EXTRA_FIELD] = "unexpected"
    elif fault is RecordFault.MISSING_FIELD:
        data.pop(_REMOVABLE[int(_unit("missing", record_id) * len(_REMOVABLE))], None)
    elif fault is RecordFault.FLOAT_DRIFT:
        for name, value in data.items():
            if (
                record.FIELDS.get(name) in _FLOAT_KINDS
                and name != "_record_id"
                and value is not None
            ):
                data[name] = float(value)
    return "data: " + json.dumps(data) + "\n\n"
