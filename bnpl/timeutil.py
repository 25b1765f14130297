"""Time semantics of bnpl, stated once.

Two kinds of time exist in bnpl and they are never mixed:

* **Source event time** (simtom's ``_timestamp``). In historical mode, the only mode bnpl ingests
  (one request per past day), simtom writes ``YYYY-MM-DDTHH:MM:SS``: no offset, no ``Z``, no
  fractional seconds (contract §3.4). The value is a *synthetic local time of day*: simtom draws
  the hour from a daily shape (busy 9-17, quiet at night) without any time zone, so it is neither
  UTC nor the server's zone. bnpl keeps it **naive**: Polars ``Datetime("us")`` without a zone,
  BigQuery ``DATETIME``, DuckDB ``TIMESTAMP``. Its calendar day is the transaction's day and the
  partition (``transaction_date``). Do not convert it to UTC; there is nothing to convert from.
  (simtom's real-time mode writes naive *UTC* with microseconds in the same field; only the live
  path takes that mode, with :func:`parse_realtime_timestamp`; :data:`SOURCE_TS_FORMAT` rejects
  those values. A live row's ``transaction_ts`` is therefore naive UTC, its day a UTC day.)
* **Instants bnpl records** (``loaded_at``, ``quarantined_at``, the ledger's timings). These are
  real moments: timezone-aware UTC, Polars ``Datetime("us", "UTC")``, BigQuery ``TIMESTAMP``.

Resolution is microseconds everywhere, the finest both warehouses store.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

SOURCE_TS_FORMAT = "%Y-%m-%dT%H:%M:%S"
"""strptime format of a historical ``_timestamp`` (exact: zero-padded, no fraction, no zone)."""

SOURCE_TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"
"""Regular expression a historical ``_timestamp`` matches in full (strptime alone is lenient: it
takes ``+2024-…``, a leading space, an unpadded hour and second 60)."""

LOCAL_DATETIME = pl.Datetime("us")
"""Polars type of source event time: naive, synthetic local (BigQuery ``DATETIME``)."""

UTC_TIMESTAMP = pl.Datetime("us", "UTC")
"""Polars type of instants bnpl records: aware UTC (BigQuery ``TIMESTAMP``)."""


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC (the only way bnpl reads the wall clock)."""
    return datetime.now(UTC)


def as_utc(instant: datetime) -> datetime:
    """``instant`` converted to UTC.

    Raises:
        ValueError: when ``instant`` is naive; an instant without a zone is ambiguous.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(
            f"naive datetime {instant.isoformat()} given where an instant is needed; "
            "pass a timezone-aware value such as bnpl.timeutil.utc_now()"
        )
    return instant.astimezone(UTC)


def parse_source_timestamp(expr: pl.Expr) -> pl.Expr:
    """Parse historical ``_timestamp`` text into naive source event time.

    Vectorised; a value that does not match :data:`SOURCE_TS_PATTERN` or is not a calendar day
    (``2024-02-30T00:00:00``) becomes null, never an error.
    """
    parsed = expr.str.strptime(LOCAL_DATETIME, SOURCE_TS_FORMAT, strict=False)
    return pl.when(expr.str.contains(SOURCE_TS_PATTERN)).then(parsed)


REALTIME_TS_PATTERN = r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?$"
"""A real-time ``_timestamp`` (naive UTC, Python's ``isoformat``): the historical form with an
optional fraction of up to six digits."""


def parse_realtime_timestamp(expr: pl.Expr) -> pl.Expr:
    """Parse real-time ``_timestamp`` text (naive UTC, optional microseconds) into a naive
    datetime; anything else becomes null, never an error."""
    parsed = expr.str.strptime(LOCAL_DATETIME, "%Y-%m-%dT%H:%M:%S%.f", strict=False)
    return pl.when(expr.str.contains(REALTIME_TS_PATTERN)).then(parsed)
