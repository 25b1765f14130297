"""bnpl.source.framing: the pure ``data: <json>\\n\\n`` state machine."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bnpl import record
from bnpl.errors import FramingError, TruncatedStreamError
from bnpl.source.framing import Framer, frame_all

# Payloads: any bytes without a newline (the framer never parses JSON).
payloads = st.lists(
    st.binary(min_size=0, max_size=40).map(lambda b: b.replace(b"\n", b" ")), max_size=12
)


def body_of(records: list[bytes]) -> bytes:
    return b"".join(b"data: " + r + b"\n\n" for r in records)


def feed_in_chunks(body: bytes, cuts: list[int]) -> tuple[Framer, list[bytes]]:
    framer, out, last = Framer(), [], 0
    for cut in [*sorted(cuts), len(body)]:
        out.extend(framer.feed(body[last:cut]))
        last = cut
    return framer, out


@given(records=payloads, data=st.data())
def test_any_chunking_yields_the_same_records(records, data):
    """Splitting a valid body at arbitrary points gives exactly its records, in order."""
    body = body_of(records)
    cuts = data.draw(st.lists(st.integers(0, len(body)), max_size=20))
    framer, out = feed_in_chunks(body, cuts)
    framer.close()
    assert out == records


@given(records=payloads.filter(bool), data=st.data())
def test_a_cut_inside_a_record_is_reported_as_truncation(records, data):
    """A body that stops anywhere but a record boundary raises TruncatedStreamError at close."""
    body = body_of(records)
    boundaries = {len(body_of(records[:i])) for i in range(len(records) + 1)}
    stop = data.draw(st.integers(1, len(body) - 1).filter(lambda c: c not in boundaries))
    framer, out = feed_in_chunks(body[:stop], data.draw(st.lists(st.integers(0, stop))))
    with pytest.raises(TruncatedStreamError):
        framer.close()
    assert len(out) < len(records)


@given(records=payloads, data=st.data())
def test_garbage_lines_are_reported_with_their_offset(records, data):
    """A line that is not ``data: `` framing raises FramingError naming its byte offset."""
    at = data.draw(st.integers(0, len(records)))
    garbage = data.draw(st.sampled_from([b"event: x", b"<html>", b"dat: {}", b"{}", b":"]))
    prefix = body_of(records[:at])
    body = prefix + garbage + b"\n\n" + body_of(records[at:])
    with pytest.raises(FramingError) as caught:
        feed_in_chunks(body, data.draw(st.lists(st.integers(0, len(body)), max_size=8)))
    assert caught.value.position == len(prefix)


def test_trailing_garbage_without_newline_is_garbage_not_truncation():
    """A partial line that can no longer become ``data: `` is reported as framing, at once."""
    framer = Framer()
    framer.feed(b"data: {}\n\n")
    with pytest.raises(FramingError) as caught:
        framer.feed(b"HTTP/1.1 500")
    assert caught.value.position == len(b"data: {}\n\n")


def test_two_data_lines_without_a_blank_line_are_garbage():
    """A second data line before the blank line ending a record is a framing error."""
    with pytest.raises(FramingError, match="second data line"):
        frame_all(b"data: {}\ndata: {}\n\n")


def test_missing_final_blank_line_is_truncation():
    """``data: {...}\\n`` without the blank line is an unfinished record."""
    with pytest.raises(TruncatedStreamError, match="without its blank"):
        frame_all(b"data: {}\n\ndata: {}\n")


def test_extra_blank_lines_are_ignored():
    """Empty lines between records separate nothing and yield nothing."""
    assert frame_all(b"\ndata: a\n\n\n\ndata: b\n\n") == [b"a", b"b"]


def test_captured_real_response_frames_to_686_records(captured_body, captured_counts):
    """The real simtom capture frames to 686 JSON records, 39/407/240 per day, 44 or 45 keys."""
    records = [json.loads(r) for r in frame_all(captured_body)]
    assert len(records) == 686
    assert Counter(r["_timestamp"][:10] for r in records) == captured_counts
    for r in records:
        expected = record.KEY_ORDER[r["risk_scenario"]]
        assert tuple(r) == expected
        assert len(r) == (45 if r["risk_scenario"] == "credit_stretched" else 44)


def test_captured_body_frames_the_same_in_small_chunks(captured_body):
    """Feeding the capture 7 bytes at a time gives the same records as one feed."""
    framer = Framer()
    out = []
    for i in range(0, len(captured_body), 7):
        out.extend(framer.feed(captured_body[i : i + 7]))
    framer.close()
    assert out == frame_all(captured_body)
    assert framer.consumed == len(captured_body)
