"""Signatures: the gateway's verifier against the ``standardwebhooks`` reference signer."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from bnpl.errors import WebhookSignatureError, WebhookTimestampError
from bnpl.signing import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, Verifier, secret_key

CURRENT = "whsec_" + base64.b64encode(b"the-current-secret-of-the-tests").decode()
PREVIOUS = "whsec_" + base64.b64encode(b"the-previous-secret").decode().rstrip("=")
NOW = 1_790_000_000


def _headers(secret: str, msg_id: str, stamp: int, body: bytes) -> dict[str, str]:
    sig = Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body)
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(stamp), SIGNATURE_HEADER: sig}


@given(
    msg_id=st.text(min_size=1, max_size=40).filter(lambda s: " " not in s),
    offset=st.integers(-300, 300),
    body=st.binary(max_size=300),
    secret=st.sampled_from([CURRENT, PREVIOUS]),
)
def test_reference_signatures_verify(msg_id: str, offset: int, body: bytes, secret: str) -> None:
    """Whatever id, timestamp and body, a reference signature with either secret verifies."""
    verifier = Verifier([CURRENT, PREVIOUS], tolerance_s=300)
    headers = _headers(secret, msg_id, NOW + offset, body)
    assert verifier.verify(headers, body, now=NOW) == msg_id


@given(
    key=st.binary(min_size=1, max_size=64),
    prefix=st.sampled_from(["whsec_", ""]),
    padded=st.booleans(),
)
def test_secrets_decode_as_the_reference_decodes_them(
    key: bytes, prefix: str, padded: bool
) -> None:
    """Any key, with or without the ``whsec_`` prefix and the base64 padding: the reference
    signer's signature verifies, and the decoded key is the key."""
    text = base64.b64encode(key).decode()
    secret = prefix + (text if padded else text.rstrip("="))
    assert secret_key(secret) == key
    verifier = Verifier([secret], tolerance_s=300)
    assert verifier.verify(_headers(secret, "msg_k", NOW, b"{}"), b"{}", now=NOW) == "msg_k"


def test_an_empty_secret_is_refused() -> None:
    """A secret that decodes to no bytes is refused, as the reference refuses it."""
    with pytest.raises(ValueError, match="empty"):
        Verifier(["whsec_"], tolerance_s=300)


@given(body=st.binary(min_size=1, max_size=300), flip=st.integers(0, 299))
def test_any_changed_byte_fails(body: bytes, flip: int) -> None:
    """A body changed in any byte after signing is refused."""
    verifier = Verifier([CURRENT], tolerance_s=300)
    headers = _headers(CURRENT, "msg_1", NOW, body)
    changed = bytearray(body)
    changed[flip % len(body)] ^= 1
    with pytest.raises(WebhookSignatureError):
        verifier.verify(headers, bytes(changed), now=NOW)


def test_unknown_secret_and_stale_timestamp_are_refused() -> None:
    """An unknown secret is a signature error; a valid one too old is a timestamp error."""
    verifier = Verifier([CURRENT], tolerance_s=300)
    with pytest.raises(WebhookSignatureError):
        verifier.verify(_headers(PREVIOUS, "m", NOW, b"{}"), b"{}", now=NOW)
    with pytest.raises(WebhookTimestampError):
        verifier.verify(_headers(CURRENT, "m", NOW - 301, b"{}"), b"{}", now=NOW)
