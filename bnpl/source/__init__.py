"""The source stage: the I/O to a simtom-compatible service (client, framing, resilience, the
request body). The bundled simulator is :mod:`bnpl.simulator`.

Import the parts from their modules (``bnpl.source.client``, ...); this package only names the
header by which a source confirms stable customer ids, so importing it stays cheap.
"""

from __future__ import annotations

STABLE_IDS_HEADER = "x-bnpl-stable-customer-ids"
"""Response header by which a source confirms it honoured ``stable_customer_ids`` (the bundled
simulator sends it; simtom ignores unknown request fields and does not)."""

__all__ = ["STABLE_IDS_HEADER"]
