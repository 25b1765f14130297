"""Named BigQuery query parameters from plain Python values.

Types are inferred: ``bool`` BOOL, ``int`` INT64, ``float`` FLOAT64, ``Decimal`` NUMERIC, ``str``
STRING, ``bytes`` BYTES, a naive ``datetime`` DATETIME, an aware one TIMESTAMP, ``date`` DATE,
``time`` TIME, and a list or tuple of one of those an ARRAY. A bare ``None`` (or an empty list) has
no type, and BigQuery needs one, so it is refused: wrap it as ``TypedParam("DATE", None)``.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

from google.cloud import bigquery

from bnpl.errors import ConfigError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class TypedParam:
    """A parameter value with an explicit BigQuery type (``"DATE"``, ``"INT64"``, ...).

    Needed for NULL and to override inference; a list or tuple value makes an ARRAY of ``type``.
    """

    type: str
    value: Any


def scalar_type(value: Any) -> str | None:
    """The BigQuery type inferred for a non-null scalar, or None when there is none."""
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, numbers.Integral):
        return "INT64"
    if isinstance(value, Decimal):
        return "NUMERIC"
    if isinstance(value, numbers.Real):
        return "FLOAT64"
    if isinstance(value, str):
        return "STRING"
    if isinstance(value, bytes):
        return "BYTES"
    if isinstance(value, datetime):
        return "DATETIME" if value.tzinfo is None else "TIMESTAMP"
    if isinstance(value, date):
        return "DATE"
    if isinstance(value, time):
        return "TIME"
    return None


def query_parameter(
    name: str, value: Any
) -> bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter:
    """One named parameter.

    Raises:
        ConfigError: the name is not a valid identifier, or the type cannot be inferred.
    """
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"query parameter name {name!r} is not a letter or _ then letters, digits, _"
        )
    if isinstance(value, TypedParam):
        if isinstance(value.value, list | tuple):
            return bigquery.ArrayQueryParameter(name, value.type, list(value.value))
        return bigquery.ScalarQueryParameter(name, value.type, value.value)
    if isinstance(value, list | tuple):
        types = {scalar_type(v) for v in value if v is not None}
        if len(types) != 1 or None in types:
            raise ConfigError(
                f"query parameter {name!r}: cannot infer one element type from {sorted(map(str, types))}; "
                "pass TypedParam('<TYPE>', [...])"
            )
        return bigquery.ArrayQueryParameter(name, types.pop(), list(value))
    if value is None:
        raise ConfigError(
            f"query parameter {name!r} is None and BigQuery needs a type for it; pass "
            "TypedParam('<TYPE>', None), e.g. TypedParam('DATE', None)"
        )
    inferred = scalar_type(value)
    if inferred is None:
        raise ConfigError(
            f"query parameter {name!r} has a {type(value).__name__}, which has no BigQuery type; "
            "pass a str, int, float, Decimal, bool, date, datetime, bytes, or a TypedParam"
        )
    return bigquery.ScalarQueryParameter(name, inferred, value)


_REFERENCED = re.compile(r"(?<![@\w])@(\w+)")
"""A ``@name`` parameter reference (not a ``@@system`` variable)."""


def query_parameters(
    params: Mapping[str, Any], sql: str
) -> list[bigquery.ScalarQueryParameter | bigquery.ArrayQueryParameter]:
    """Parameters for ``sql``: those it references as ``@name`` (others are left out; the
    names are found in one pass: a 600-row insert has 9,000 of them)."""
    used = set(_REFERENCED.findall(sql))
    return [query_parameter(name, value) for name, value in params.items() if name in used]
