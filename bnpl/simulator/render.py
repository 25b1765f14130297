"""Record text: drawn columns to ``data: <json>\\n\\n`` lines, as simtom's ``json.dumps`` writes them.

Keys follow :data:`bnpl.record.KEY_ORDER` for each record's scenario; separators are ``", "`` and
``": "``; floats are Python ``repr`` text. All records are formatted by one Polars
``concat_str`` over :func:`field_layout` (field values as text columns, keys and constants as
literals); the few slots whose presence depends on the scenario (a key moved after ``status``,
``credit_utilization``) are written only for the scenarios that put a key there.

Polars writes a float64 as Python's ``repr`` does for ``1e-4 <= |x| < 1e16`` (both print the
shortest round-trip digits); :func:`float_text` hands the rest to Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
import pyarrow as pa

from bnpl import record
from bnpl.simulator.records import PURCHASE_CONTEXT_BY_SCENARIO, Array, Columns

PREFIX = "data: "
TERMINATOR = "\n\n"
TIMESTAMP_PLACEHOLDER = "@@TIMESTAMP@@"
"""Stands for the ``_timestamp`` text of real-time records until they are sent."""

_FLOAT_TEXT_LOW, _FLOAT_TEXT_HIGH = 1e-4, 1e16


@dataclass(frozen=True, slots=True)
class _Atom:
    """A text column in a line template."""

    name: str


_Piece = str | _Atom


def float_text(values: Array) -> pl.Series:
    """JSON text of each float exactly as ``json.dumps`` writes it (Python ``repr``)."""
    text = pl.Series(values, dtype=pl.Float64).cast(pl.Utf8)
    magnitude = np.abs(values)
    odd = ~((magnitude >= _FLOAT_TEXT_LOW) & (magnitude < _FLOAT_TEXT_HIGH)) & (values != 0)
    if odd.any():
        rows = np.flatnonzero(odd)
        fixed = pl.Series([json.dumps(float(v)) for v in values[rows]], dtype=pl.Utf8)
        text = text.scatter(rows, fixed)
    return text


def int_text(values: Array) -> pl.Series:
    """Decimal text of each integer."""
    return pl.Series(values, dtype=pl.Int64).cast(pl.Utf8)


@lru_cache(maxsize=64)
def _quoted(domain: tuple[str, ...]) -> pl.Series:
    return pl.Series([json.dumps(v) for v in domain], dtype=pl.Utf8)


def quoted(domain: tuple[str, ...], codes: Array) -> pl.Series:
    """JSON string text of ``domain[code]`` for each code."""
    return _quoted(domain).gather(codes)


_BOOL_TEXT = ("false", "true")


def bool_text(flags: Array) -> pl.Series:
    """``true``/``false`` for 1/0."""
    return _quoted_raw(_BOOL_TEXT).gather(flags)


@lru_cache(maxsize=8)
def _quoted_raw(domain: tuple[str, ...]) -> pl.Series:
    return pl.Series(list(domain), dtype=pl.Utf8)


@lru_cache(maxsize=1)
def _time_of_day() -> pl.Series:
    return pl.Series(
        [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)], dtype=pl.Utf8
    )


def historical_timestamps(day_iso: str, seconds: Array) -> pl.Series:
    """``YYYY-MM-DDTHH:MM:SS`` for seconds of the day."""
    hms = _time_of_day().gather(seconds)
    return pl.select(pl.concat_str([pl.lit(day_iso + "T"), pl.lit(hms)])).to_series()


_SUBCATEGORIES = tuple(
    s for c in record.PRODUCT_CATEGORIES for s in record.PRODUCT_SUBCATEGORIES[c]
)
_SUBCATEGORY_OFFSET = np.cumsum(
    [0] + [len(record.PRODUCT_SUBCATEGORIES[c]) for c in record.PRODUCT_CATEGORIES[:-1]]
)
_LIMITS_TEXT = tuple(str(v) for v in record.PAYMENT_CREDIT_LIMITS)

_ID_PIECES: dict[str, tuple[_Piece, ...]] = {
    "transaction_id": ('"txn_', _Atom("rid8"), '"'),
    "customer_id": ('"cust_', _Atom("cust6"), '"'),
    "product_id": ('"prod_', _Atom("prod6"), '"'),
    "device_id": ('"cust_', _Atom("cust6"), "_device_", _Atom("device_no"), '"'),
    "payment_method_id": ('"cust_', _Atom("cust6"), "_pm_", _Atom("method_no"), '"'),
    "_timestamp": ('"', _Atom("_timestamp"), '"'),
}


def value_atoms(
    columns: Columns, first_record_id: int, timestamps: pl.Series
) -> dict[str, pl.Series]:
    """Text columns for every non-constant field of the records in ``columns``."""
    n = len(columns["scenario"])
    rid = first_record_id + np.arange(n, dtype=np.int64)
    c = {k: np.asarray(v) for k, v in columns.items()}
    amount = float_text(c["amount_cents"] / 100)
    missed = int_text(c["days_to_first_missed_payment"])
    atoms = {
        "rid8": int_text(rid).str.zfill(8),
        "_record_id": int_text(rid),
        "cust6": int_text(c["customer_id"]).str.zfill(6),
        "prod6": int_text(c["product_id"]).str.zfill(6),
        "device_no": int_text(c["device_no"]),
        "method_no": int_text(c["method_no"]),
        "_timestamp": timestamps,
        "amount": amount,
        "product_price": amount,
        "first_payment_amount": float_text(c["first_payment_cents"] / 100),
        "risk_score": float_text(c["risk_score"]),
        "credit_utilization": float_text(np.nan_to_num(c["credit_utilization"], nan=1.0)),
        "risk_level": quoted(record.RISK_LEVELS, c["risk_level"]),
        "installment_count": int_text(c["installment_count"]),
        "checkout_speed": quoted(record.CHECKOUT_SPEEDS, c["checkout_speed"]),
        "cart_abandonment_count": int_text(c["cart_abandonment_count"]),
        "price_comparison_time": int_text(c["price_comparison_time"]),
        "time_on_site_seconds": int_text(c["time_on_site_seconds"]),
        "will_default": bool_text(c["will_default"]),
        "days_to_first_missed_payment": missed.zip_with(
            pl.Series(c["will_default"] == 1), pl.Series(["null"] * n, dtype=pl.Utf8)
        ),
        "customer_age_bracket": quoted(record.AGE_BRACKETS, c["customer_age_bracket"]),
        "customer_tenure_days": int_text(c["customer_tenure_days"]),
        "customer_income_bracket": quoted(record.INCOME_BRACKETS, c["customer_income"]),
        "customer_credit_score_range": quoted(record.CREDIT_SCORE_RANGES, c["customer_credit"]),
        "customer_verification_level": quoted(
            record.VERIFICATION_LEVELS, c["customer_verification"]
        ),
        "customer_address_stability": quoted(record.ADDRESS_STABILITIES, c["customer_stability"]),
        "customer_state": quoted(record.US_STATES, c["customer_state"]),
        "product_category": quoted(record.PRODUCT_CATEGORIES, c["product_category"]),
        "product_subcategory": quoted(
            _SUBCATEGORIES, _SUBCATEGORY_OFFSET[c["product_category"]] + c["product_subcategory"]
        ),
        "product_brand": quoted(record.PRODUCT_BRANDS, c["product_brand"]),
        "product_bnpl_eligible": bool_text(c["product_eligible"]),
        "product_risk_category": quoted(record.PRODUCT_RISK_CATEGORIES, c["product_risk"]),
        "device_type": quoted(record.DEVICE_TYPES, c["device_type"]),
        "device_os": quoted(record.DEVICE_OS, c["device_os"]),
        "device_is_trusted": bool_text(c["device_trusted"]),
        "payment_provider": quoted(record.PAYMENT_PROVIDERS, c["method_provider"]),
        "payment_credit_limit": _quoted_raw(_LIMITS_TEXT).gather(c["method_limit"]),
    }
    return atoms


def _field_pieces(field: str, atoms: dict[str, pl.Series]) -> tuple[_Piece, ...]:
    if field in _ID_PIECES:
        return _ID_PIECES[field]
    if field in atoms:
        return (_Atom(field),)
    if field in record.CONSTANTS:
        return (json.dumps(record.CONSTANTS[field]),)
    raise KeyError(f"no value for field {field!r}")


@lru_cache(maxsize=1)
def field_layout() -> tuple[tuple[str, frozenset[int]], ...]:
    """One sequence of fields in which every scenario's key order is a subsequence, each slot
    with the scenario codes that write it there.

    Built from :data:`bnpl.record.KEY_ORDER` by merging the orders (shortest common
    supersequence, pairwise); a moved key appears twice (after ``status`` and at its usual place).
    """
    merged: list[str] = []
    for name in record.RISK_SCENARIOS:
        merged = _supersequence(merged, list(record.KEY_ORDER[name]))
    slots: list[set[int]] = [set() for _ in merged]
    for code, name in enumerate(record.RISK_SCENARIOS):
        at = 0
        for field in record.KEY_ORDER[name]:
            at = merged.index(field, at)
            slots[at].add(code)
            at += 1
    return tuple((field, frozenset(codes)) for field, codes in zip(merged, slots, strict=True))


def _supersequence(a: list[str], b: list[str]) -> list[str]:
    """A shortest sequence having both ``a`` and ``b`` as subsequences (LCS dynamic program)."""
    lcs = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            lcs[i][j] = lcs[i + 1][j + 1] + 1 if a[i] == b[j] else max(lcs[i + 1][j], lcs[i][j + 1])
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        if a[i] == b[j]:
            out.append(a[i])
            i, j = i + 1, j + 1
        elif lcs[i + 1][j] >= lcs[i][j + 1]:
            out.append(a[i])
            i += 1
        else:
            out.append(b[j])
            j += 1
    return out + a[i:] + b[j:]


def _concat(pieces: list[_Piece]) -> list[pl.Expr]:
    """``concat_str`` inputs, adjacent literals merged."""
    exprs: list[pl.Expr] = []
    literal = ""
    for piece in pieces:
        if isinstance(piece, str):
            literal += piece
            continue
        if literal:
            exprs.append(pl.lit(literal))
            literal = ""
        exprs.append(pl.col(piece.name))
    if literal:
        exprs.append(pl.lit(literal))
    return exprs


def _line_expression(atoms: dict[str, pl.Series], scenarios: frozenset[int]) -> pl.Expr:
    """The framed line of every record: fields every scenario writes at a slot are plain pieces;
    the others are written only where the record's scenario puts them."""
    pieces: list[_Piece | pl.Expr] = [PREFIX + "{"]
    for i, (field, codes) in enumerate(field_layout()):
        key = ("" if i == 0 else ", ") + json.dumps(field) + ": "
        value = _field_pieces(field, atoms)
        if codes >= scenarios:
            pieces.extend((key, *value))
        elif codes & scenarios:
            written = pl.concat_str(_concat([key, *value]))
            pieces.append(
                pl.when(pl.col("__scenario").is_in(sorted(codes)))
                .then(written)
                .otherwise(pl.lit(""))
            )
    pieces.append("}" + TERMINATOR)
    exprs: list[pl.Expr] = []
    run: list[_Piece] = []
    for piece in pieces:
        if isinstance(piece, pl.Expr):
            exprs.extend(_concat(run))
            exprs.append(piece)
            run = []
        else:
            run.append(piece)
    exprs.extend(_concat(run))
    return pl.concat_str(exprs)


def render_lines(scenario: Array, atoms: dict[str, pl.Series]) -> pl.Series:
    """One framed line (``data: {...}\\n\\n``) per record, in record order."""
    codes = np.asarray(scenario, dtype=np.int64)
    frame = pl.DataFrame(atoms).with_columns(
        pl.Series("__scenario", codes.astype(np.int8)),
        risk_scenario=quoted(record.RISK_SCENARIOS, codes),
        purchase_context=quoted(
            record.PURCHASE_CONTEXTS, np.take(PURCHASE_CONTEXT_BY_SCENARIO, codes)
        ),
    )
    present = frozenset(np.unique(codes).tolist())
    atoms_named = {**atoms, "risk_scenario": pl.Series(), "purchase_context": pl.Series()}
    return frame.select(_line_expression(atoms_named, present).alias("line")).get_column("line")


def join_lines(lines: pl.Series) -> memoryview:
    """The lines' text concatenated, as a read-only ASCII buffer (the Arrow data buffer, not a
    copy; ``bytes(...)`` of it, or ``b"".join`` of several, makes the bytes)."""
    if len(lines) == 0:
        return memoryview(b"")
    array = lines.rechunk().cast(pl.Binary).to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_binary():
        array = array.cast(pa.large_binary())
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = buffers[2]
    if data is None:
        return memoryview(b"")
    return memoryview(data)[int(offsets[0]) : int(offsets[-1])]
