"""Sealing a live day (pure): its live rows and dead letters become the day batch that
:meth:`~bnpl.warehouse.base.Warehouse.load_day` writes (the same atomic day replace as a batch
day), with a ledger row whose ``source_url`` is ``live``.

* ``transactions``: the day's live rows, as they are (same keys, same ``loaded_at``);
* ``customers``: de-duplicated from them as a batch day's are (``source`` identity scope);
* ``quarantine``: nothing new: the day's dead letters already are quarantine rows, and the day
  replace keeps them; the ledger counts them (``records_quarantined``);
* the ledger's ``content_sha256`` hashes the sorted event ids of the day (rows and dead letters),
  so two seals of the same events have the same checksum.

A day is *stale* when its live rows or dead letters no longer match its seal's counts (an event
arrived, or a dead letter was replayed, after the seal): :func:`stale_days`; the next seal of the
day replaces it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import polars as pl

from bnpl import normalize, timeutil
from bnpl.contracts import Customers, check_ledger_row, check_or_raise, polars_schema
from bnpl.errors import SealTooEarlyError
from bnpl.live.records import live_batch_id, live_request_body
from bnpl.version import VERSION
from bnpl.warehouse import DayBatch, names


@dataclass(frozen=True)
class LiveDay:
    """Day ``day`` of the live path as read for its seal (``read_at``: when it was read)."""

    day: date
    rows: pl.DataFrame
    dead_letters: pl.DataFrame
    started_at: datetime
    read_at: datetime


def day_end(day: date) -> datetime:
    """The instant UTC day ``day`` ends (a live row's day is a UTC day)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=UTC)


def check_sealable(day: date, *, now: datetime, grace_s: float, force: bool) -> None:
    """Raise unless ``day`` ended at least ``grace_s`` seconds before ``now`` (or ``force``).

    Raises:
        SealTooEarlyError: one line saying from when the day can be sealed.
    """
    ready = day_end(day) + timedelta(seconds=grace_s)
    if force or timeutil.as_utc(now) >= ready:
        return
    raise SealTooEarlyError(
        f"{day} cannot be sealed before {ready.isoformat(timespec='seconds')} (its end plus "
        f"BNPL_LIVE__SEAL_GRACE_S={grace_s:g} s for late events); wait, or pass --force"
    )


def _unknown_fields(rows: pl.DataFrame) -> list[str]:
    names_seen: set[str] = set()
    for text in rows["extra"].drop_nulls().unique().to_list():
        names_seen.update(json.loads(text))
    return sorted(names_seen)


def content_sha256(live: LiveDay) -> str:
    """sha256 of the day's sorted event ids (rows and dead letters), one per line."""
    ids = sorted([*live.rows["event_id"].to_list(), *live.dead_letters["event_id"].to_list()])
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def seal_batch(
    live: LiveDay, *, generator: str, finished_at: datetime, flow_run_id: str | None
) -> DayBatch:
    """The day batch of a live day: its frames and its ledger row (checked against the
    contracts).

    Raises:
        ContractError: a frame or the ledger row breaks its contract (a bug in bnpl).
    """
    day = live.day
    batch_id = live_batch_id(day)
    columns = list(polars_schema(names.TRANSACTIONS.table))
    transactions = live.rows.select(columns)
    customers = normalize.dedupe_customers(
        live.rows.with_columns(attribute_fingerprint=normalize.attribute_fingerprint_expr()),
        day=day,
        identity_scope="source",
        columns=list(polars_schema(names.CUSTOMERS.table)),
    )
    check_or_raise(customers, Customers)
    unknown = _unknown_fields(live.rows)
    ledger: dict[str, Any] = {
        "batch_id": batch_id,
        "transaction_date": day,
        "source_url": names.LIVE_SOURCE,
        "generator": generator,
        "request_body": normalize.canonical_json(live_request_body(day)),
        "request_seed": None,
        "identity_scope": "source",
        "expected_records": None,
        "records_received": live.rows.height + live.dead_letters.height,
        "records_loaded": transactions.height,
        "records_quarantined": live.dead_letters.height,
        "customers_loaded": customers.height,
        "customers_changed_attributes": customers.filter("attributes_changed")[
            "customer_id"
        ].n_unique(),
        "unknown_fields": json.dumps(unknown) if unknown else None,
        "content_sha256": content_sha256(live),
        "status": "loaded",
        "attempts": 1,
        "started_at": timeutil.as_utc(live.started_at),
        "fetched_at": timeutil.as_utc(live.read_at),
        "finished_at": timeutil.as_utc(finished_at),
        "flow_run_id": flow_run_id,
        "bnpl_version": VERSION,
    }
    check_ledger_row(ledger)
    return DayBatch(
        day=day,
        batch_id=batch_id,
        transactions=transactions,
        customers=customers,
        quarantine=pl.DataFrame(schema=polars_schema(names.QUARANTINE.table)),
        ledger=ledger,
    )


def stale_days(counts: pl.DataFrame, seals: pl.DataFrame) -> pl.DataFrame:
    """Sealed days whose live rows or dead letters differ from their seal's counts.

    Args:
        counts: per ``day``: ``live_rows``, ``dead_letters`` (:func:`bnpl.warehouse.live.read_day_counts`).
        seals: the seals' ledger rows (:func:`bnpl.warehouse.live.read_seals`).

    Returns:
        ``day``, ``live_rows``, ``dead_letters``, ``records_loaded``, ``records_quarantined``.
    """
    joined = seals.join(counts, on="day", how="left").with_columns(
        pl.col("live_rows").fill_null(0).cast(pl.Int64),
        pl.col("dead_letters").fill_null(0).cast(pl.Int64),
    )
    return joined.filter(
        (pl.col("live_rows") != pl.col("records_loaded"))
        | (pl.col("dead_letters") != pl.col("records_quarantined"))
    ).select("day", "live_rows", "dead_letters", "records_loaded", "records_quarantined")
