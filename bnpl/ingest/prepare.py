"""Prepare a day (pure): its records become the three raw frames.

Parse and type (:mod:`bnpl.normalize`), key, validate against
:class:`~bnpl.contracts.Transactions`, split the failing rows off into quarantine, and
de-duplicate customers from the valid rows. Nothing is dropped silently: every record received
is a loaded transaction or a quarantine row
(``records_received == records_loaded + records_quarantined``). The quarantine threshold is not
enforced here: :func:`bnpl.ingest.load.admit_day` does, once per day.
"""

from __future__ import annotations

import json
import logging
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from bnpl import normalize, timeutil
from bnpl.calendar import DayRequest
from bnpl.contracts import (
    DERIVED_COLUMNS,
    Customers,
    Failure,
    Quarantine,
    Transactions,
    check_or_raise,
    failures,
    on_day,
    passes,
    polars_schema,
    transactions_schema,
)
from bnpl.errors import ContractError
from bnpl.warehouse import names

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DayStats:
    """Counts of one prepared day (``records_received == records_loaded + records_quarantined``).

    Attributes:
        records_received: records framed from the response.
        records_loaded: rows of ``transactions``.
        records_quarantined: rows of ``quarantine``.
        customers_loaded: rows of ``customers``.
        customers_changed_attributes: customer ids with more than one attribute fingerprint
            among the loaded transactions.
        unknown_fields: sorted names of keys outside the contract (kept in ``extra``).
        quarantine_by_check: quarantined rows per first failing check.
    """

    records_received: int
    records_loaded: int
    records_quarantined: int
    customers_loaded: int
    customers_changed_attributes: int
    unknown_fields: list[str]
    quarantine_by_check: dict[str, int]

    @property
    def quarantine_rate(self) -> float:
        """Quarantined share of the records received (0.0 for an empty day)."""
        return self.records_quarantined / self.records_received if self.records_received else 0.0


@dataclass(frozen=True)
class PreparedDay:
    """Everything one day's response becomes before it is loaded.

    ``transactions``, ``customers`` and ``quarantine`` have exactly the columns, order and types
    of ``schemas/bnpl_raw/<table>.json`` (see :func:`polars_schema`).
    """

    batch_id: str
    day: date
    identity_scope: normalize.IdentityScope
    transactions: pl.DataFrame
    customers: pl.DataFrame
    quarantine: pl.DataFrame
    stats: DayStats

    @property
    def quarantine_rate(self) -> float:
        """Quarantined share of the records received (0.0 for an empty day)."""
        return self.stats.quarantine_rate


def prepare_day(
    records: Sequence[bytes],
    request: DayRequest,
    *,
    source_identity: str,
    identity_scope: normalize.IdentityScope,
    loaded_at: datetime,
) -> PreparedDay:
    """Parse, type, key, validate, split and de-duplicate one day's records (pure).

    Args:
        records: each record's JSON text as received, ``data: `` prefix stripped, stream order.
        request: the day's request; ``request.day`` is the partition and the day every
            ``_timestamp`` must fall on, ``request.body`` makes the batch id.
        source_identity: the source's identity (see ``docs/decisions.md``).
        identity_scope: ``source`` when the body asks for stable customer ids, else ``batch``.
        loaded_at: the load instant (timezone-aware), stamped on every row.

    Raises:
        ContractError: only for a bug in bnpl itself (a frame it built breaks its own contract);
            bad records are quarantined, never raised.
    """
    loaded_at = timeutil.as_utc(loaded_at)
    batch = normalize.batch_id(source_identity, request.body)
    scope = normalize.customer_scope(
        identity_scope, batch_id=batch, source_identity=source_identity, body=request.body
    )
    parsed = normalize.parse_records(records)
    columns = list(polars_schema(names.TRANSACTIONS.table))
    shaped = normalize.shape_transactions(
        parsed.frame, batch_id=batch, customer_scope=scope, loaded_at=loaded_at, columns=columns
    )
    table = shaped.select(columns)
    if passes(table, Transactions.to_schema(), extra=[(on_day(request.day), "_timestamp")]):
        found: list[Failure] = []
    else:
        found = failures(
            table, transactions_schema(request.day), screened=True, derived=DERIVED_COLUMNS
        )
    failed_rows = sorted({f.row for f in found})
    if failed_rows:
        keep = pl.Series(range(shaped.height)).is_in(failed_rows).not_()
        valid, rejected = shaped.filter(keep), shaped.filter(~keep)
    else:
        valid, rejected = shaped, shaped.clear()
    customers = normalize.dedupe_customers(
        valid,
        day=request.day,
        identity_scope=identity_scope,
        columns=list(polars_schema(names.CUSTOMERS.table)),
    )
    quarantine = quarantine_frame(
        records, parsed.rejections, found, shaped, batch=batch, day=request.day, at=loaded_at
    )
    transactions = valid.select(columns)
    check_or_raise(customers, Customers)
    check_or_raise(quarantine, Quarantine)
    stats = DayStats(
        records_received=len(records),
        records_loaded=transactions.height,
        records_quarantined=quarantine.height,
        customers_loaded=customers.height,
        customers_changed_attributes=customers.filter("attributes_changed")[
            "customer_id"
        ].n_unique(),
        unknown_fields=list(parsed.unknown_fields),
        quarantine_by_check=dict(sorted(Counter(quarantine["check_name"].to_list()).items())),
    )
    if stats.records_received != stats.records_loaded + stats.records_quarantined:
        raise ContractError(
            f"day {request.day}: {stats.records_received} records received but "
            f"{stats.records_loaded} loaded + {stats.records_quarantined} quarantined; "
            "this is a bug in bnpl's normalisation"
        )
    if rejected.height or parsed.rejections:
        logger.info(
            "day %s batch %s: %d of %d records quarantined %s",
            request.day,
            batch,
            stats.records_quarantined,
            stats.records_received,
            stats.quarantine_by_check,
        )
    return PreparedDay(
        batch, request.day, identity_scope, transactions, customers, quarantine, stats
    )


def quarantine_frame(
    records: Sequence[bytes],
    rejections: Sequence[normalize.Rejection],
    failures: Sequence[Failure],
    shaped: pl.DataFrame,
    *,
    batch: str,
    day: date,
    at: datetime,
) -> pl.DataFrame:
    """One quarantine row per rejected line and per row with failures (cold path: few rows),
    in line order; ``line_number`` is the 1-based position in ``records`` (the live path maps it
    back to its events)."""
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    record_ids: dict[int, int | None] = {}
    for r in rejections:
        found[r.line] += [
            {"check": p.check, "column": p.column, "message": p.message} for p in r.problems
        ]
        record_ids[r.line] = r.record_id
    if failures:
        lines = shaped[normalize.LINE].to_list()
        ids = shaped["_record_id"].to_list()
        for f in failures:  # already in priority order
            found[lines[f.row]].append({"check": f.check, "column": f.column, "message": f.message})
            record_ids[lines[f.row]] = ids[f.row]
    order = sorted(found)
    data: Mapping[str, list[Any]] = {
        "batch_id": [batch] * len(order),
        "transaction_date": [day] * len(order),
        "line_number": [i + 1 for i in order],
        "record_id": [record_ids[i] for i in order],
        "raw_line": [records[i].decode("utf-8", errors="replace") for i in order],
        "check_name": [found[i][0]["check"] for i in order],
        "column_name": [found[i][0]["column"] for i in order],
        "failures": [json.dumps(found[i], separators=(",", ":")) for i in order],
        "quarantined_at": [at] * len(order),
        "event_id": [None] * len(order),
        "received_at": [None] * len(order),
    }
    return pl.DataFrame(data, schema=polars_schema(names.QUARANTINE.table))
