"""``bnpl live status``: how far behind the live path is, and what waits for a person.

* the log: depth, events pending (handed out, not acknowledged), lag of the loaders' group in
  events and in seconds (age of the oldest unacknowledged event);
* the warehouse: the newest event written per consumer, dead letters by reason, the last seal of
  each recent day and the stale days (changed since their seal: seal them again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl

from bnpl import timeutil
from bnpl.live.log import EventLog, LogStats
from bnpl.live.seal import stale_days
from bnpl.warehouse import Warehouse
from bnpl.warehouse.live import read_day_counts, read_dead_letter_reasons, read_offsets, read_seals


@dataclass(frozen=True)
class LiveStatus:
    """A snapshot of the live path (see the module docstring); frames are small."""

    at: datetime
    group: str
    log: LogStats | None
    dead_letters: pl.DataFrame
    offsets: pl.DataFrame
    seals: pl.DataFrame
    stale: pl.DataFrame

    @property
    def lag_seconds(self) -> float | None:
        """Seconds since the oldest event the group has not acknowledged arrived (0 when none)."""
        if self.log is None:
            return None
        oldest = self.log.oldest_unacked_at
        if oldest is None:
            return 0.0
        return max(0.0, (self.at - timeutil.as_utc(oldest)).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """The status as JSON-ready values (``--json``)."""
        log = None
        if self.log is not None:
            log = {
                "depth": self.log.depth,
                "pending": self.log.pending,
                "lag_events": self.log.lag_events,
                "lag_seconds": self.lag_seconds,
                "oldest_unacked_at": _iso(self.log.oldest_unacked_at),
            }
        return {
            "at": _iso(self.at),
            "group": self.group,
            "log": log,
            "dead_letters": {
                r["reason"]: int(r["n"]) for r in self.dead_letters.iter_rows(named=True)
            },
            "consumers": [
                {
                    "consumer": r["consumer"],
                    "partition": r["log_partition"],
                    "last_offset": r["last_offset"],
                    "last_received_at": _iso(r["last_received_at"]),
                    "committed_at": _iso(r["committed_at"]),
                }
                for r in self.offsets.iter_rows(named=True)
            ],
            "seals": [
                {
                    "day": r["day"].isoformat(),
                    "sealed_at": _iso(r["finished_at"]),
                    "records_loaded": r["records_loaded"],
                    "records_quarantined": r["records_quarantined"],
                }
                for r in self.seals.iter_rows(named=True)
            ],
            "stale_days": [r["day"].isoformat() for r in self.stale.iter_rows(named=True)],
        }

    def render(self) -> str:
        """The status as a few lines of text."""
        lines = [f"live path at {self.at.isoformat(timespec='seconds')} (group {self.group})"]
        if self.log is None:
            lines.append("log: not reachable")
        else:
            lag = self.lag_seconds or 0.0
            lines.append(
                f"log: depth {self.log.depth:,}, pending {self.log.pending:,}, "
                f"lag {self.log.lag_events:,} events / {lag:.1f} s"
            )
        for r in self.offsets.iter_rows(named=True):
            lines.append(
                f"consumer {r['consumer']} partition {r['log_partition']}: offset "
                f"{r['last_offset']}, committed {_iso(r['committed_at'])}"
            )
        if self.dead_letters.is_empty():
            lines.append("dead letters: none")
        else:
            reasons = ", ".join(
                f"{r['reason']} {int(r['n']):,}" for r in self.dead_letters.iter_rows(named=True)
            )
            lines.append(f"dead letters: {reasons}")
        for r in self.seals.iter_rows(named=True):
            lines.append(
                f"sealed {r['day']}: {r['records_loaded']:,} rows, {r['records_quarantined']:,} "
                f"dead letters at {_iso(r['finished_at'])}"
            )
        if self.stale.is_empty():
            lines.append("stale days: none")
        else:
            for r in self.stale.iter_rows(named=True):
                lines.append(
                    f"stale {r['day']}: {r['live_rows']:,} live rows and {r['dead_letters']:,} "
                    f"dead letters vs {r['records_loaded']:,} and {r['records_quarantined']:,} "
                    f"sealed; run bnpl live seal --date {r['day']}"
                )
        return "\n".join(lines)


def _iso(value: datetime | date | None) -> str | None:
    return None if value is None else value.isoformat()


def read_status(
    warehouse: Warehouse,
    log: EventLog | None,
    *,
    group: str,
    days: int = 31,
    now: datetime | None = None,
) -> LiveStatus:
    """The live path's status: the log's (when ``log`` is given) and the warehouse's, with the
    seals and stale days of the last ``days`` days."""
    now = timeutil.as_utc(now or timeutil.utc_now())
    start = now.date() - timedelta(days=days)
    with warehouse.session():
        reasons = read_dead_letter_reasons(warehouse)
        offsets = read_offsets(warehouse).filter(pl.col("consumer_group") == group)
        seals = read_seals(warehouse, start)
        counts = read_day_counts(warehouse, start)
    return LiveStatus(
        at=now,
        group=group,
        log=log.stats(group) if log is not None else None,
        dead_letters=reasons,
        offsets=offsets.sort("consumer", "log_partition"),
        seals=seals,
        stale=stale_days(counts, seals),
    )


def status_json(status: LiveStatus) -> str:
    """``--json`` output."""
    return json.dumps(status.to_dict(), indent=2, sort_keys=True)
