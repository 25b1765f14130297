"""The source stage: the simtom client, its framing, and the bundled simulator and server.

Import the parts from their modules (``bnpl.source.client``, ``bnpl.source.server``, ...); this
package only names the bundled simulator's source identity, so importing it stays cheap.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    _VERSION = version("bnpl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    _VERSION = "0.0.0"

SIMULATOR_IDENTITY = f"simulator:bnpl/{_VERSION}"
"""Source identity of the bundled simulator: its port changes every run, so not its URL."""
SIMULATOR = SIMULATOR_IDENTITY
"""Alias of :data:`SIMULATOR_IDENTITY`."""

STABLE_IDS_HEADER = "x-bnpl-stable-customer-ids"
"""Response header by which a source confirms it honoured ``stable_customer_ids`` (the bundled
simulator sends it; simtom ignores unknown request fields and does not)."""

__all__ = ["SIMULATOR", "SIMULATOR_IDENTITY", "STABLE_IDS_HEADER"]
