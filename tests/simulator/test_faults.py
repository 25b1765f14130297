"""bnpl.simulator.faults: deterministic fault decisions."""

from __future__ import annotations

import json

import numpy as np

from bnpl import record
from bnpl.settings import FaultSettings
from bnpl.simulator.faults import (
    EXTRA_FIELD,
    RecordFault,
    apply_record_fault,
    record_faults,
    request_faults,
)
from bnpl.simulator.simulation import simulate
from bnpl.source.request import StreamRequest, body_digest

DIGEST = b"\x01" * 32


def test_request_faults_depend_on_attempt_and_repeat_for_the_same_inputs():
    """Decisions are a function of (seed, body, attempt): repeatable, and they vary by attempt."""
    settings = FaultSettings(seed=3, error_rate=0.5)
    first = [request_faults(settings, DIGEST, a).status for a in range(1, 200)]
    assert first == [request_faults(settings, DIGEST, a).status for a in range(1, 200)]
    assert None in first and set(first) - {None} == {500, 502, 503}
    other = [
        request_faults(FaultSettings(seed=4, error_rate=0.5), DIGEST, a).status
        for a in range(1, 200)
    ]
    assert other != first


def test_request_fault_rates_are_respected():
    """About rate x attempts get each fault; rate 0 never, rate 1 always."""
    settings = FaultSettings(rate_limit_rate=0.2, latency_rate=1.0, latency_s=0.25, cut_rate=0.0)
    decided = [request_faults(settings, DIGEST, a) for a in range(1, 2001)]
    limited = sum(d.status == 429 for d in decided)
    assert 300 < limited < 500
    assert all(d.latency_s == 0.25 and d.cut_at is None for d in decided)
    cuts = [request_faults(FaultSettings(cut_rate=1.0), DIGEST, a).cut_at for a in range(1, 100)]
    assert all(c is not None and 0.1 <= c < 0.9 for c in cuts)


def test_record_faults_do_not_depend_on_batching():
    """A record's fault depends on its _record_id only, not on how records are batched."""
    settings = FaultSettings(
        malformed_rate=0.1, extra_field_rate=0.1, missing_field_rate=0.1, float_drift_rate=0.1
    )
    whole = record_faults(settings, DIGEST, 0, 1000)
    parts = np.concatenate([record_faults(settings, DIGEST, s, 100) for s in range(0, 1000, 100)])
    assert whole.tolist() == parts.tolist()
    shares = np.bincount(whole, minlength=5) / 1000
    assert all(0.05 < s < 0.15 for s in shares[1:])


def test_apply_record_fault_kinds():
    """Malformed lines are not JSON; extra adds a key; missing removes a required one; float drift
    writes int and bool fields as floats."""
    request = StreamRequest(
        start_date="2024-03-12", end_date="2024-03-12", base_daily_volume=50, seed=1
    )
    line = simulate(request).decode().split("\n\n")[0] + "\n\n"
    original = json.loads(line[6:])
    malformed = apply_record_fault(line, RecordFault.MALFORMED, 0)
    assert malformed.startswith("data: ") and malformed.endswith("\n\n")
    try:
        json.loads(malformed[6:])
        raise AssertionError("malformed line parsed")
    except json.JSONDecodeError:
        pass
    extra = json.loads(apply_record_fault(line, RecordFault.EXTRA_FIELD, 0)[6:])
    assert set(extra) - set(original) == {EXTRA_FIELD}
    missing = json.loads(apply_record_fault(line, RecordFault.MISSING_FIELD, 0)[6:])
    gone = set(original) - set(missing)
    assert len(gone) == 1 and gone <= set(record.REQUIRED) and "transaction_id" not in gone
    floats = json.loads(apply_record_fault(line, RecordFault.FLOAT_DRIFT, 0)[6:])
    for name, value in floats.items():
        if record.FIELDS[name] in ("int", "bool") and name != "_record_id" and value is not None:
            assert type(value) is float and value == original[name]


def test_digest_is_the_canonical_body_hash():
    """Equivalent bodies share a digest, so their fault decisions are shared."""
    a = StreamRequest.model_validate(
        {"seed": 1, "start_date": "2024-01-01", "end_date": "2024-01-01"}
    )
    b = StreamRequest.model_validate(
        {"end_date": "2024-01-01", "start_date": "2024-01-01", "seed": "1", "x": 1}
    )
    assert body_digest(a) == body_digest(b)
