"""Keys (``DESIGN.md``, Identity): the batch id, row keys and the scope of a customer id.

Every key is the first 32 hex digits (128 bits) of SHA-256 over UTF-8 parts joined by U+001F,
computed in Polars by the ``polars-hash`` plugin (``pl.Expr.hash`` is not stable across Polars
versions). The same value is ``SUBSTR(TO_HEX(SHA256(...)), 1, 32)`` in BigQuery and
``sha256(...)[1:32]`` in DuckDB, so a key can be recomputed in SQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Literal, cast

import polars as pl
import polars_hash  # noqa: F401  (registers the stable ``chash`` expression namespace)

IdentityScope = Literal["batch", "source"]

KEY_HEX_DIGITS = 32
"""Hex digits kept of each SHA-256 key (128 bits)."""

KEY_SEPARATOR = "\x1f"
"""Joins the parts of a key (U+001F UNIT SEPARATOR; never in a canonical JSON body)."""

SOURCE_SCOPE_FIELDS: tuple[str, ...] = ("customer_universe_seed", "customer_universe_size")
"""Request fields that name the customer universe of a ``source``-scoped batch."""


def stable_key(*parts: str) -> str:
    """The key of ``parts`` (Python side of :func:`key_expr`; same digits)."""
    text = KEY_SEPARATOR.join(parts)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_HEX_DIGITS]


def key_expr(*parts: pl.Expr | str) -> pl.Expr:
    """Vectorised :func:`stable_key`; null when any part is null."""
    exprs = [pl.lit(p) if isinstance(p, str) else p for p in parts]
    joined = pl.concat_str(exprs, separator=KEY_SEPARATOR)
    # ``chash`` is registered on pl.Expr at import time by polars_hash; mypy cannot see it.
    digest = cast(pl.Expr, joined.chash.sha2_256())  # type: ignore[attr-defined]
    return digest.str.head(KEY_HEX_DIGITS)


def canonical_json(body: Mapping[str, Any]) -> str:
    """The request body as canonical JSON: sorted keys, compact separators, ASCII."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def batch_id(source_identity: str, body: Mapping[str, Any]) -> str:
    """The id of one request: key(source identity, canonical body). Same request, same id."""
    return stable_key(source_identity, canonical_json(body))


def identity_scope_of(body: Mapping[str, Any]) -> IdentityScope:
    """``source`` when the request asks for stable customer ids, else ``batch``."""
    return "source" if body.get("stable_customer_ids") is True else "batch"


def customer_scope(
    identity_scope: IdentityScope, *, batch_id: str, source_identity: str, body: Mapping[str, Any]
) -> str:
    """The scope a ``customer_id`` is unique in, as the first part of ``customer_key``.

    ``batch``: the batch id (simtom restarts ids in every response). ``source``: the source
    identity and the customer universe the body names (:data:`SOURCE_SCOPE_FIELDS`), but not the
    request ``seed``: a plan gives every day its own seed, and the promise of stable ids is that
    one id is one customer across those days. A universe field the body omits is left out, so
    name it explicitly in every request of a run (a default spelled out is a different scope).
    """
    if identity_scope == "batch":
        return f"batch{KEY_SEPARATOR}{batch_id}"
    universe = {k: body[k] for k in SOURCE_SCOPE_FIELDS if k in body}
    return KEY_SEPARATOR.join(("source", source_identity, canonical_json(universe)))
