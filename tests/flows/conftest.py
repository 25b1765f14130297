"""Flow tests run on the session's temporary Prefect API (``prefect_api`` in tests/conftest.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _prefect(prefect_api: str) -> str:
    """Every flow test talks to the session's temporary API."""
    return prefect_api
