"""The notebook surface of bnpl is explicit and importable."""

from __future__ import annotations

import bnpl


def test_public_api_is_explicit():
    """bnpl.__all__ is sorted and every name resolves."""
    assert bnpl.__all__ == sorted(bnpl.__all__)
    assert all(hasattr(bnpl, n) for n in bnpl.__all__)
