"""Standard Webhooks signatures: ``webhook-id``, ``webhook-timestamp`` (integer Unix seconds) and
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, keyed by the
base64 key of a ``whsec_<base64>`` secret.

The ``standardwebhooks`` reference implementation computes the provider's signatures and decodes
the secrets; the gateway computes its expected ones the same way with one-shot ``hmac.digest``
(a quarter less CPU than ``Webhook.sign``; ``tests/test_signing.py`` holds the two equal). Its
``Webhook.verify`` is not used: its tolerance is fixed at five
minutes, it raises one error type for a bad signature and a stale timestamp (the gateway answers
401 for one and 400 for the other) and it knows one secret (the gateway accepts the current and
the previous one while providers rotate). See ``docs/decisions.md``.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from standardwebhooks.webhooks import Webhook

from bnpl.errors import WebhookSignatureError, WebhookTimestampError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
MAX_SIGNATURES = 8
"""Most space-separated entries of ``webhook-signature`` looked at (bounds the work per request)."""
SECRET_PREFIX = "whsec_"
"""What a Standard Webhooks secret may start with (the base64 key follows)."""
_MAX_STAMP_DIGITS = 11  # Unix seconds until the year 5138: datetime can hold every such value


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64>`` of ``body`` sent as ``msg_id`` at ``timestamp`` (Unix seconds)."""
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)


class Signer:
    """Signs webhooks with one ``whsec_`` secret (the provider's side)."""

    def __init__(self, secret: str) -> None:
        self._webhook = Webhook(secret)

    def headers(self, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
        """The three Standard Webhooks headers of one delivery attempt."""
        sig = self._webhook.sign(msg_id, datetime.fromtimestamp(timestamp, UTC), body)
        return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sig}


def secret_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret, decoded as the reference implementation
    (:class:`standardwebhooks.Webhook`) decodes it: an optional ``whsec_`` prefix, then base64
    (padding optional).

    Raises:
        ValueError: the secret decodes to no bytes.
    """
    text = secret.removeprefix(SECRET_PREFIX)
    key = base64.b64decode(text + "==")
    if not key:
        raise ValueError("webhook secret may not be empty")
    return key


class Verifier:
    """Checks a webhook's headers against the current and the previous secret.

    Every expected signature is compared with every entry of ``webhook-signature`` in constant
    time (``hmac.compare_digest``), with no early exit on a match.
    """

    def __init__(self, secrets: Sequence[str], *, tolerance_s: float) -> None:
        if not secrets:
            raise ValueError("at least one secret is needed")
        self._keys = [secret_key(s) for s in secrets]
        self._tolerance_s = tolerance_s

    def verify(self, headers: Mapping[str, str], body: bytes, *, now: float) -> str:
        """The ``webhook-id`` of a webhook whose signature and timestamp hold; ``now`` is Unix time.

        Raises:
            WebhookTimestampError: the timestamp header is missing or not an integer, or it is
                more than the tolerance away from ``now`` (checked after the signature, so an
                unsigned request learns nothing about the clock).
            WebhookSignatureError: the id or signature header is missing, or no entry matches.
        """
        msg_id = headers.get(ID_HEADER, "")
        stamp = headers.get(TIMESTAMP_HEADER, "")
        passed = headers.get(SIGNATURE_HEADER, "")
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= _MAX_STAMP_DIGITS):
            raise WebhookTimestampError(f"{TIMESTAMP_HEADER} is not integer Unix seconds")
        timestamp = int(stamp)
        if not msg_id or not passed:
            raise WebhookSignatureError(f"{ID_HEADER} or {SIGNATURE_HEADER} is missing")
        # Webhook.sign's "v1,<base64 HMAC-SHA256 of id.timestamp.body>" with one-shot
        # hmac.digest (tests/test_signing.py holds the two equal)
        signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
        expected = [b"v1," + base64.b64encode(hmac.digest(k, signed, "sha256")) for k in self._keys]
        matched = False
        for entry in passed.split(" ")[:MAX_SIGNATURES]:
            given = entry.encode()
            for sig in expected:
                matched |= hmac.compare_digest(sig, given)
        if not matched:
            raise WebhookSignatureError("no signature matches a known secret")
        if abs(now - timestamp) > self._tolerance_s:
            raise WebhookTimestampError(
                f"{TIMESTAMP_HEADER} is {now - timestamp:+.0f} s from the gateway's clock "
                f"(tolerance {self._tolerance_s:g} s)"
            )
        return msg_id
