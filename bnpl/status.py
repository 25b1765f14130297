"""What the warehouse holds, on one screen (``bnpl status``): days loaded, missing, failed,
quarantined and blocked by the gate, and when each mart was last published.

Read from the warehouse only (the ledger, the failure log, ``dq_results``, the publish log), never
from Prefect, so it answers the same whichever way the runs were started. Days are checked
against ``start..end`` when given, else the span of the ledger and the failure log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from bnpl.calendar import iter_days
from bnpl.errors import ConfigError
from bnpl.quality.assertions import compile_template
from bnpl.quality.completeness import latest_gate_by_day
from bnpl.quality.store import read_last_published
from bnpl.warehouse import names
from bnpl.warehouse.base import Warehouse, table_spec

SHOWN = 8
"""Days listed by name in the text report per line (``--json`` lists them all)."""


@dataclass(frozen=True)
class FailedDay:
    """A day in the failure log that is not loaded: its newest failure."""

    day: date
    error_type: str
    failed_at: datetime


@dataclass(frozen=True)
class WarehouseStatus:
    """What ``bnpl status`` reports (see the module docstring)."""

    start: date
    end: date
    loaded: tuple[date, ...]
    rows_loaded: int
    missing: tuple[date, ...]
    failed: tuple[FailedDay, ...]
    quarantined_rows: int
    quarantined_days: tuple[date, ...]
    blocked: tuple[date, ...]
    gate_runs: int
    published: dict[str, datetime]

    def as_dict(self) -> dict[str, Any]:
        """Plain values (days ``YYYY-MM-DD``, times ISO 8601 UTC), for ``--json``."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days": (self.end - self.start).days + 1,
            "loaded": _iso(self.loaded),
            "rows_loaded": self.rows_loaded,
            "missing": _iso(self.missing),
            "failed": [
                {"day": f.day.isoformat(), "error_type": f.error_type, "failed_at": f.failed_at}
                for f in self.failed
            ],
            "quarantined_rows": self.quarantined_rows,
            "quarantined_days": _iso(self.quarantined_days),
            "blocked": _iso(self.blocked),
            "gate_runs": self.gate_runs,
            "published": dict(self.published),
        }

    def render(self) -> str:
        """One screen of text."""
        span = f"{self.start} .. {self.end} ({(self.end - self.start).days + 1} days)"
        rows = [
            ("range", span),
            ("loaded", f"{len(self.loaded):,} days, {self.rows_loaded:,} rows"),
            ("missing", _days(self.missing)),
            ("failed", _days(tuple(f.day for f in self.failed), _failures(self.failed))),
            (
                "quarantined",
                f"{self.quarantined_rows:,} rows on {len(self.quarantined_days):,} days",
            ),
            ("blocked by gate", _days(self.blocked, f" ({self.gate_runs:,} gate runs)")),
        ]
        width = max(len(k) for k, _ in rows)
        lines = [f"{k:<{width}}  {v}" for k, v in rows]
        lines.append("last published" if self.published else "last published  never")
        for mart, at in sorted(self.published.items()):
            lines.append(f"  {mart:<32} {at:%Y-%m-%d %H:%M:%S} UTC")
        return "\n".join(lines)


def read_status(
    warehouse: Warehouse, start: date | None = None, end: date | None = None
) -> WarehouseStatus:
    """The status of ``warehouse`` over ``start..end`` (default: the ledger's and the failure
    log's span). Writes nothing.

    Raises:
        ConfigError: nothing was ever loaded or attempted (no ledger rows, no failures).
    """
    ledger = _table(warehouse, names.LEDGER)
    failures = _table(warehouse, names.INGEST_FAILURES)
    attempted = [*ledger["transaction_date"], *failures["transaction_date"]]
    if not attempted:
        raise ConfigError(
            "the warehouse holds no loaded or failed day: load days first with "
            "`bnpl backfill --start YYYY-MM-DD --end YYYY-MM-DD` (or `bnpl ingest-day`)"
        )
    first = start or min(attempted)
    last = end or max(attempted)
    if last < first:
        raise ConfigError(f"--end {last} is before --start {first}")
    ledger = ledger.filter(pl.col("transaction_date").is_between(first, last))
    loaded = tuple(sorted(ledger["transaction_date"].to_list()))
    loaded_set = set(loaded)
    newest_failures = (
        failures.filter(
            pl.col("transaction_date").is_between(first, last)
            & ~pl.col("transaction_date").is_in(list(loaded_set))
        )
        .sort("failed_at")
        .group_by("transaction_date")
        .agg(pl.col("error_type", "failed_at").last())
        .sort("transaction_date")
    )
    failed = tuple(
        FailedDay(r["transaction_date"], r["error_type"], r["failed_at"])
        for r in newest_failures.iter_rows(named=True)
    )
    failed_set = {f.day for f in failed}
    missing = tuple(d for d in iter_days(first, last) if d not in loaded_set | failed_set)
    quarantined = ledger.filter(pl.col("records_quarantined") > 0)
    runs = _gate_runs(warehouse)
    blocked: tuple[date, ...] = ()
    if not runs.is_empty():
        latest = latest_gate_by_day(runs).filter(
            pl.col("blocked") & pl.col("day").is_between(first, last)
        )
        blocked = tuple(sorted(latest["day"].to_list()))
    published = read_last_published(warehouse) if warehouse.table_exists(*names.PUBLISH_LOG) else {}
    return WarehouseStatus(
        start=first,
        end=last,
        loaded=loaded,
        rows_loaded=int(ledger["records_loaded"].sum()),
        missing=missing,
        failed=failed,
        quarantined_rows=int(ledger["records_quarantined"].sum()),
        quarantined_days=tuple(sorted(quarantined["transaction_date"].to_list())),
        blocked=blocked,
        gate_runs=runs.height,
        published=published,
    )


def _table(warehouse: Warehouse, name: names.TableName) -> pl.DataFrame:
    """The table, or an empty frame of its declared columns when it does not exist yet."""
    if warehouse.table_exists(*name):
        return warehouse.read_table(str(name))
    spec = table_spec(*name)
    return pl.DataFrame(schema={c.name: names.POLARS_TYPES[c.type] for c in spec.columns})


def _gate_runs(warehouse: Warehouse) -> pl.DataFrame:
    if not warehouse.table_exists(*names.DQ_RESULTS):
        return pl.DataFrame()
    compiled = compile_template(warehouse, "results/gate_runs")
    return warehouse.query(compiled.sql, compiled.bind({}))


def _iso(days: tuple[date, ...]) -> list[str]:
    return [d.isoformat() for d in days]


def _days(days: tuple[date, ...], suffix: str = "") -> str:
    if not days:
        return f"none{suffix}"
    shown = ", ".join(str(d) for d in days[:SHOWN])
    more = f" and {len(days) - SHOWN} more" if len(days) > SHOWN else ""
    return f"{len(days):,} days: {shown}{more}{suffix}"


def _failures(failed: tuple[FailedDay, ...]) -> str:
    kinds = sorted({f.error_type for f in failed})
    return f" ({', '.join(kinds)}; see {names.INGEST_FAILURES})" if failed else ""
