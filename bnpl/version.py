"""The installed bnpl's version, read once from the package metadata (the ledger's and the
failure log's ``bnpl_version``, the bundled simulator's source identity, ``bnpl.__version__``)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    VERSION = version("bnpl")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without metadata
    VERSION = "0.0.0"

__all__ = ["VERSION"]
