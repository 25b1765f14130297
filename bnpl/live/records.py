"""Live events to warehouse rows (pure): the same parse, keys and Pandera contract as a batch day.

Identity (``docs/decisions.md``, "Live identity"):

* a live day is one batch: ``batch_id`` = key(``live``, canonical ``{"day": D, "source":
  "live"}``), the same id for the live rows of D, their dead letters and the ledger row of D's
  seal, whenever they are written;
* ``transaction_key`` = key(``live``, event_id): stable per event (a redelivered event gets the
  same key), and never a batch key (those hash a 32-hex batch id first, never the text ``live``);
* ``customer_key`` = key(the live scope, customer_id, attribute fingerprint), the live scope
  being ``source`` scope with the source identity ``live``: the provider's customer ids are
  stable across its events, as a ``stable_customer_ids`` request's are.

The contract is the batch contract minus ``unique_in_batch`` (a transaction id is unique per
request; the live identity is the event id) and minus the requested-day check (the day is the
event's own). ``_timestamp`` is real-time (naive UTC, microseconds allowed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any

import pandera.polars as pa
import polars as pl

from bnpl import normalize, timeutil
from bnpl.contracts import (
    DERIVED_COLUMNS,
    Quarantine,
    check_or_raise,
    failures,
    passes,
    polars_schema,
)
from bnpl.contracts import Transactions as TransactionsContract
from bnpl.ingest.prepare import quarantine_frame
from bnpl.live.log import Event
from bnpl.warehouse import names

LIVE_SOURCE = names.LIVE_SOURCE
LIVE_SCOPE = normalize.customer_scope("source", batch_id="", source_identity=LIVE_SOURCE, body={})
"""The scope of a live customer id (first part of ``customer_key``)."""

GATEWAY_REJECTED = "rejected_by_gateway"
"""Dead-letter reason of an event the gateway kept although its body was unusable."""
DELIVERY_LIMIT = "delivery_limit"
"""Dead-letter reason of an event handed out too often without being written (a poison event)."""


def live_request_body(day: date) -> dict[str, Any]:
    """The request a live day stands for (its ledger ``request_body``)."""
    return {"day": day.isoformat(), "source": LIVE_SOURCE}


def live_batch_id(day: date) -> str:
    """The batch id of live day ``day``."""
    return normalize.batch_id(LIVE_SOURCE, live_request_body(day))


@cache
def live_contract() -> pa.DataFrameSchema:
    """:class:`~bnpl.contracts.Transactions` without ``unique_in_batch``."""
    schema = TransactionsContract.to_schema()
    column = schema.columns["transaction_id"]
    kept = [c for c in column.checks if c.name != "unique_in_batch"]
    return schema.update_column("transaction_id", checks=kept)


@dataclass(frozen=True)
class PreparedEvents:
    """A micro-batch's events as rows: ``rows`` (``bnpl_raw.live_transactions``) and
    ``dead_letters`` (``bnpl_raw.quarantine``, each with its ``event_id``); every event given is
    in exactly one of them."""

    rows: pl.DataFrame
    dead_letters: pl.DataFrame

    @property
    def by_reason(self) -> dict[str, int]:
        """Dead letters per reason (``check_name``)."""
        counts = self.dead_letters.group_by("check_name").len().sort("check_name")
        return dict(zip(counts["check_name"], counts["len"], strict=True))


def _utc_day(instant: datetime) -> date:
    return timeutil.as_utc(instant).date()


def _record_text(payload: bytes) -> bytes:
    """The payload as one NDJSON record: a webhook body may be pretty-printed, and JSON
    whitespace outside strings may be any of space, tab, CR, LF (inside strings a raw line break
    is not JSON anyway), so line breaks become spaces without changing what the JSON says."""
    return payload.strip().replace(b"\r", b" ").replace(b"\n", b" ")


def dead_letter_frame(
    events: Sequence[Event],
    reasons: Sequence[tuple[str, str]],
    *,
    at: datetime,
    first_line: int = 1,
) -> pl.DataFrame:
    """Dead letters of events that are not parsed (the gateway's rejects, poison events):
    ``reasons`` holds each event's ``(check_name, message)``; filed under the arrival day.
    ``line_number`` counts from ``first_line`` (the event's position in its micro-batch)."""
    rows = []
    for position, (event, (check, message)) in enumerate(zip(events, reasons, strict=True)):
        day = _utc_day(event.received_at)
        rows.append(
            {
                "batch_id": live_batch_id(day),
                "transaction_date": day,
                "line_number": first_line + position,
                "record_id": None,
                "raw_line": event.payload.decode("utf-8", errors="replace"),
                "check_name": check,
                "column_name": None,
                "failures": json.dumps(
                    [{"check": check, "column": None, "message": message}], separators=(",", ":")
                ),
                "quarantined_at": timeutil.as_utc(at),
                "event_id": event.event_id,
                "received_at": timeutil.as_utc(event.received_at),
            }
        )
    return pl.DataFrame(rows, schema=polars_schema(names.QUARANTINE.table), orient="row")


def prepare_events(events: Sequence[Event], *, loaded_at: datetime) -> PreparedEvents:
    """Parse, key and validate a micro-batch of events (pure; never raises on bad content).

    The events must have distinct ids. An event the gateway rejected (``rejected`` set) is a
    dead letter with that reason; every other payload is one record, through the batch path's
    parse (:func:`bnpl.normalize.parse_records`), shape and contract (:func:`live_contract`).
    """
    loaded_at = timeutil.as_utc(loaded_at)
    rejected = [e for e in events if e.rejected is not None]
    parsed_events = [e for e in events if e.rejected is None]
    gateway = dead_letter_frame(
        rejected,
        [(GATEWAY_REJECTED, e.rejected or "") for e in rejected],
        at=loaded_at,
        first_line=len(parsed_events) + 1,
    )
    records = [_record_text(e.payload) for e in parsed_events]
    parsed = normalize.parse_records(records)
    columns = list(polars_schema(names.TRANSACTIONS.table))
    shaped = normalize.shape_transactions(
        parsed.frame,
        batch_id="0" * normalize.KEY_HEX_DIGITS,  # replaced per row below
        customer_scope=LIVE_SCOPE,
        loaded_at=loaded_at,
        columns=columns,
        realtime=True,
    )
    ids = pl.Series("event_id", [e.event_id for e in parsed_events], pl.String)
    received = pl.Series(
        "received_at",
        [timeutil.as_utc(e.received_at) for e in parsed_events],
        timeutil.UTC_TIMESTAMP,
    )
    line = pl.col(normalize.LINE)
    days = sorted({d for d in shaped["transaction_date"].drop_nulls().to_list()})
    batch_of_day = pl.DataFrame(
        {"transaction_date": days, "_live_batch": [live_batch_id(d) for d in days]},
        schema={"transaction_date": pl.Date, "_live_batch": pl.String},
    )
    shaped = (
        shaped.with_columns(
            event_id=ids.gather(shaped[normalize.LINE])
            if shaped.height
            else pl.lit(None, pl.String),
            received_at=received.gather(shaped[normalize.LINE])
            if shaped.height
            else pl.lit(None, timeutil.UTC_TIMESTAMP),
        )
        .with_columns(transaction_key=normalize.key_expr(LIVE_SOURCE, pl.col("event_id")))
        .join(batch_of_day, on="transaction_date", how="left", maintain_order="left")
        .with_columns(
            batch_id=pl.coalesce(pl.col("_live_batch"), pl.col("batch_id")),
        )
        .drop("_live_batch")
        .sort(line)
    )
    table = shaped.select(columns)
    schema = live_contract()
    found = (
        []
        if passes(table, schema)
        else failures(table, schema, screened=True, derived=DERIVED_COLUMNS)
    )
    failed_rows = sorted({f.row for f in found})
    keep = pl.Series(range(shaped.height)).is_in(failed_rows).not_()
    valid = shaped.filter(keep) if failed_rows else shaped
    contract = quarantine_frame(
        records,
        parsed.rejections,
        found,
        shaped,
        batch="0" * normalize.KEY_HEX_DIGITS,
        day=date(1970, 1, 1),
        at=loaded_at,
    )
    dead = pl.concat([gateway, _file_under_events(contract, parsed_events, shaped)])
    check_or_raise(dead, Quarantine)
    rows = valid.select("event_id", "received_at", *columns)
    return PreparedEvents(rows, dead)


def _file_under_events(
    quarantine: pl.DataFrame, events: Sequence[Event], shaped: pl.DataFrame
) -> pl.DataFrame:
    """Give each contract reject its event: id, arrival, day (the record's own when it parsed,
    else the arrival day) and that day's batch id."""
    if quarantine.is_empty():
        return quarantine
    day_of_line = dict(
        zip(shaped[normalize.LINE].to_list(), shaped["transaction_date"].to_list(), strict=True)
    )
    event_ids, received, days = [], [], []
    for line_number in quarantine["line_number"].to_list():
        event = events[line_number - 1]
        event_ids.append(event.event_id)
        received.append(timeutil.as_utc(event.received_at))
        days.append(day_of_line.get(line_number - 1) or _utc_day(event.received_at))
    return quarantine.with_columns(
        transaction_date=pl.Series(days, dtype=pl.Date),
        batch_id=pl.Series([live_batch_id(d) for d in days], dtype=pl.String),
        event_id=pl.Series(event_ids, dtype=pl.String),
        received_at=pl.Series(received, dtype=timeutil.UTC_TIMESTAMP),
    )
