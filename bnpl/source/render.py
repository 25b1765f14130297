"""Record text: drawn columns to ``data: <json>\\n\\n`` lines, as simtom's ``json.dumps`` writes them.

Keys follow :data:`bnpl.record.KEY_ORDER` for each record's scenario; separators are ``", "`` and
``": "``; floats are Python ``repr`` text. Each scenario's rows are formatted by one Polars
``concat_str`` (field values as text columns, keys and constants as literals) and the scenarios
are interleaved back into record order.

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
from bnpl.source.records import PURCHASE_CONTEXT_BY_SCENARIO, Array, Columns

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

# Fields whose value text is one atom of the same name (numbers and categorical strings).
_VALUE_FIELDS = (
    "amount",
    "credit_utilization",
    "risk_score",
    "risk_level",
    "installment_count",
    "first_payment_amount",
    "checkout_speed",
    "cart_abandonment_count",
    "price_comparison_time",
    "time_on_site_seconds",
    "will_default",
    "days_to_first_missed_payment",
    *record.CUSTOMER_ATTRIBUTES,
    "product_category",
    "product_subcategory",
    "product_brand",
    "product_price",
    "product_bnpl_eligible",
    "product_risk_category",
    "device_type",
    "device_os",
    "device_is_trusted",
    "payment_provider",
    "payment_credit_limit",
    "_record_id",
)
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


def _field_pieces(field: str, scenario: int, atoms: dict[str, pl.Series]) -> tuple[_Piece, ...]:
    if field in atoms and field not in _ID_PIECES:
        return (_Atom(field),)
    if field in _ID_PIECES:
        return _ID_PIECES[field]
    if field == "risk_scenario":
        return (json.dumps(record.RISK_SCENARIOS[scenario]),)
    if field == "purchase_context":
        return (json.dumps(record.PURCHASE_CONTEXTS[PURCHASE_CONTEXT_BY_SCENARIO[scenario]]),)
    if field in record.CONSTANTS:
        return (json.dumps(record.CONSTANTS[field]),)
    raise KeyError(f"no value for field {field!r}")


def _template(scenario: int, atoms: dict[str, pl.Series]) -> list[pl.Expr]:
    """``concat_str`` inputs of one scenario's line, adjacent literals merged."""
    pieces: list[_Piece] = [PREFIX + "{"]
    for i, field in enumerate(record.KEY_ORDER[record.RISK_SCENARIOS[scenario]]):
        pieces.append(("" if i == 0 else ", ") + json.dumps(field) + ": ")
        pieces.extend(_field_pieces(field, scenario, atoms))
    pieces.append("}" + TERMINATOR)
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


def render_lines(scenario: Array, atoms: dict[str, pl.Series]) -> pl.Series:
    """One framed line (``data: {...}\\n\\n``) per record, in record order."""
    n = len(scenario)
    frame = pl.DataFrame(atoms).with_columns(
        pl.Series("__row", np.arange(n, dtype=np.int64)),
        pl.Series("__scenario", scenario.astype(np.int8)),
    )
    parts = []
    for code in np.unique(scenario).tolist():
        rows = frame.filter(pl.col("__scenario") == code)
        parts.append(
            rows.select(pl.col("__row"), pl.concat_str(_template(code, atoms)).alias("line"))
        )
    if not parts:
        return pl.Series("line", [], dtype=pl.Utf8)
    lines = pl.concat(parts).sort("__row").get_column("line")
    return lines


def join_lines(lines: pl.Series) -> bytes:
    """The lines' text concatenated, as ASCII bytes (read straight from the Arrow buffer)."""
    if len(lines) == 0:
        return b""
    array = lines.rechunk().to_arrow()
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if array.type != pa.large_string():
        array = array.cast(pa.large_string())
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = buffers[2]
    if data is None:
        return b""
    return bytes(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
