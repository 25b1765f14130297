"""One day's simtom records to typed, keyed Polars frames (pure; no I/O): :mod:`~bnpl.normalize.parse`,
:mod:`~bnpl.normalize.keys`, :mod:`~bnpl.normalize.shape`.

Parsing
    The day's records (JSON text, ``data: `` prefix already stripped) are joined into one NDJSON
    buffer and read by :func:`polars.read_ndjson` with an explicit schema built from
    :data:`bnpl.record.FIELDS`, so fields are read by name whatever their order. Lines the fast
    read cannot take, and lines whose key count is not what the contract predicts, go through a
    per-line check with the standard ``json`` module that says exactly what is wrong; the rest of
    the day stays on the vectorised path. One bad line never fails the day.

What a line must be to become a row (anything else is rejected with a check name and a column,
and the contract layer puts it in quarantine with its raw text):

* ``framing``: a non-empty record without a line break. ``json_parse``: valid UTF-8 JSON, an object,
  no ``NaN``/``Infinity``. ``duplicate_key``: no key twice (readers disagree on which one wins).
* ``required_field``: every key of :data:`bnpl.record.REQUIRED` is present (``null`` counts as
  present; whether null is allowed is the contract's ``not_nullable`` check).
* ``type``: an ``int`` field holds a JSON integer within int64, a ``bool`` field ``true`` or
  ``false``, a ``float`` field a finite JSON number (integers are widened when exact).
  **Integral floats are not coerced**: ``4.0`` in ``installment_count`` or ``1.0`` in
  ``will_default`` is quarantined like ``4.26886``. simtom writes floats there only when its
  noise or drift post-processing ran (contract §4.9), and that also perturbs ``amount``,
  ``product_price`` and ``risk_score``; a typed column only ever holds values the source wrote
  with that type. ``string`` fields take any JSON value as its text; a number or object there
  then fails the field's pattern or domain check in :mod:`bnpl.contracts`.
* Unknown keys are **kept**: a JSON object of them (sorted keys, compact) in ``extra``, and their
  names are reported. Known fields are never moved into ``extra``.

A vectorised key guard sends a line that Polars read to the exact check when its keys may not be
the contract's (see :func:`_odd_keys`): Polars silently ignores unknown keys, reads a missing key
as null and keeps the first of two equal keys.

Keys (``DESIGN.md``, Identity)
    Every key is the first 32 hex digits (128 bits) of SHA-256 over UTF-8 parts joined by U+001F,
    computed in Polars by the ``polars-hash`` plugin (``pl.Expr.hash`` is not stable across
    Polars versions). The same value is ``SUBSTR(TO_HEX(SHA256(...)), 1, 32)`` in BigQuery and
    ``sha256(...)[1:32]`` in DuckDB, so a key can be recomputed in SQL.

    * ``batch_id`` = key(source identity, canonical request body).
    * ``transaction_key`` = key(batch_id, transaction_id).
    * ``attribute_fingerprint`` = key(the 7 :data:`bnpl.record.CUSTOMER_ATTRIBUTES` as text).
    * ``customer_key`` = key(scope, customer_id, attribute_fingerprint); see :func:`customer_scope`.
"""

from __future__ import annotations

from bnpl.normalize.keys import (
    KEY_HEX_DIGITS,
    KEY_SEPARATOR,
    SOURCE_SCOPE_FIELDS,
    IdentityScope,
    batch_id,
    canonical_json,
    customer_scope,
    identity_scope_of,
    key_expr,
    stable_key,
)
from bnpl.normalize.parse import (
    LINE,
    READ_SCHEMA,
    LineCheck,
    ParsedRecords,
    Problem,
    Rejection,
    check_line,
    parse_records,
)
from bnpl.normalize.shape import attribute_fingerprint_expr, dedupe_customers, shape_transactions

__all__ = [
    "KEY_HEX_DIGITS",
    "KEY_SEPARATOR",
    "LINE",
    "READ_SCHEMA",
    "SOURCE_SCOPE_FIELDS",
    "IdentityScope",
    "LineCheck",
    "ParsedRecords",
    "Problem",
    "Rejection",
    "attribute_fingerprint_expr",
    "batch_id",
    "canonical_json",
    "check_line",
    "customer_scope",
    "dedupe_customers",
    "identity_scope_of",
    "key_expr",
    "parse_records",
    "shape_transactions",
    "stable_key",
]
