"""Shaping: typed records to the ``transactions`` rows (keys, cents, timestamps) and the day's
de-duplicated ``customers``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

from bnpl import record, timeutil
from bnpl.normalize.keys import IdentityScope, key_expr
from bnpl.normalize.parse import IN_MEMORY, LINE


def attribute_fingerprint_expr() -> pl.Expr:
    """The customer attribute fingerprint: key over the 7 attributes, in their declared order."""
    return key_expr(*(pl.col(a).cast(pl.String) for a in record.CUSTOMER_ATTRIBUTES))


def shape_transactions(
    parsed: pl.DataFrame,
    *,
    batch_id: str,
    customer_scope: str,
    loaded_at: datetime,
    columns: Sequence[str],
    realtime: bool = False,
) -> pl.DataFrame:
    """Typed records to ``bnpl_raw.transactions`` rows, plus :data:`LINE` and
    ``attribute_fingerprint`` (helpers, after ``columns``).

    ``amount_cents`` is ``round(amount * 100)``; ``transaction_ts`` is ``_timestamp`` as naive
    source time (:mod:`bnpl.timeutil`) and ``transaction_date`` its calendar day. Values that do
    not convert become null and are rejected by the contract, not here. ``realtime``: the
    records come from the live path, stamped in real-time mode (naive UTC, microseconds).
    """
    parse = timeutil.parse_realtime_timestamp if realtime else timeutil.parse_source_timestamp
    ts = parse(pl.col("_timestamp"))
    return (
        parsed.lazy()
        .with_columns(
            transaction_ts=ts,
            attribute_fingerprint=attribute_fingerprint_expr(),
            amount_cents=(pl.col("amount") * 100).round().cast(pl.Int64, strict=False),
            batch_id=pl.lit(batch_id),
            transaction_key=key_expr(batch_id, pl.col("transaction_id")),
            loaded_at=pl.lit(timeutil.as_utc(loaded_at), timeutil.UTC_TIMESTAMP),
        )
        .with_columns(
            transaction_date=pl.col("transaction_ts").dt.date(),
            customer_key=key_expr(
                customer_scope, pl.col("customer_id"), pl.col("attribute_fingerprint")
            ),
        )
        .select(*columns, LINE, "attribute_fingerprint")
        .collect(engine=IN_MEMORY)
    )


def dedupe_customers(
    transactions: pl.DataFrame,
    *,
    day: date,
    identity_scope: IdentityScope,
    columns: Sequence[str],
) -> pl.DataFrame:
    """One ``bnpl_raw.customers`` row per ``customer_key`` of the (valid) transactions.

    ``transactions`` needs ``attribute_fingerprint`` beside its table columns. A customer id seen
    with more than one fingerprint in the batch gives one row per fingerprint, each flagged
    ``attributes_changed``. Rows come out sorted by ``first_seen_ts`` then ``customer_key``.
    """
    attributes = list(record.CUSTOMER_ATTRIBUTES)
    return (
        transactions.lazy()
        .group_by("customer_key")
        .agg(
            pl.col("batch_id", "customer_id", "attribute_fingerprint").first(),
            pl.col(attributes).first(),
            first_seen_ts=pl.col("transaction_ts").min(),
            last_seen_ts=pl.col("transaction_ts").max(),
            transaction_count=pl.len().cast(pl.Int64),
            loaded_at=pl.col("loaded_at").first(),
        )
        .with_columns(
            transaction_date=pl.lit(day, pl.Date),
            identity_scope=pl.lit(identity_scope),
            attributes_changed=pl.col("attribute_fingerprint").n_unique().over("customer_id") > 1,
        )
        .sort("first_seen_ts", "customer_key")
        .select(columns)
        .collect(engine=IN_MEMORY)
    )
