"""What an ingestion run did: per-day results, failures and the run summary."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bnpl.errors import IngestError


@dataclass(frozen=True)
class DayResult:
    """One loaded day."""

    day: date
    batch_id: str
    records_received: int
    records_loaded: int
    records_quarantined: int
    customers_loaded: int
    attempts: int


@dataclass(frozen=True)
class DayFailure:
    """A day that was not loaded, and why (``error`` is ``"<error_type>: <message>"``)."""

    day: date
    error: str
    error_type: str


def describe(exc: BaseException) -> str:
    """``"<error type>: <message>"``, the form of :attr:`DayFailure.error`."""
    return f"{type(exc).__name__}: {exc}"


def failure_of(day: date, exc: BaseException) -> DayFailure:
    """The :class:`DayFailure` of ``day`` failed by ``exc``."""
    return DayFailure(day, describe(exc), type(exc).__name__)


@dataclass(frozen=True)
class IngestSummary:
    """What a run did. ``str(summary)`` is the console report."""

    start: date
    end: date
    loaded: tuple[DayResult, ...]
    skipped: tuple[date, ...]
    failures: tuple[DayFailure, ...]
    wall_s: float

    @property
    def days_planned(self) -> int:
        return len(self.loaded) + len(self.skipped) + len(self.failures)

    @property
    def rows_loaded(self) -> int:
        return sum(d.records_loaded for d in self.loaded)

    @property
    def rows_quarantined(self) -> int:
        return sum(d.records_quarantined for d in self.loaded)

    @property
    def records_received(self) -> int:
        return sum(d.records_received for d in self.loaded)

    @property
    def customers_loaded(self) -> int:
        return sum(d.customers_loaded for d in self.loaded)

    def metrics(self) -> list[tuple[str, str]]:
        """(metric, value) pairs, in report order."""
        rate = self.rows_loaded / self.wall_s if self.wall_s > 0 else 0.0
        return [
            ("range", f"{self.start} .. {self.end}"),
            ("days planned", f"{self.days_planned:,}"),
            ("days loaded", f"{len(self.loaded):,}"),
            ("days skipped (already loaded)", f"{len(self.skipped):,}"),
            ("days failed", f"{len(self.failures):,}"),
            ("records received", f"{self.records_received:,}"),
            ("rows loaded", f"{self.rows_loaded:,}"),
            ("rows quarantined", f"{self.rows_quarantined:,}"),
            ("customers loaded", f"{self.customers_loaded:,}"),
            ("wall time", f"{self.wall_s:.1f} s ({rate:,.0f} rows/s)"),
        ]

    def as_dict(self) -> dict[str, object]:
        """The summary as plain values (days as ``YYYY-MM-DD``), for ``--json``."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days_planned": self.days_planned,
            "days_loaded": len(self.loaded),
            "days_skipped": len(self.skipped),
            "days_failed": len(self.failures),
            "records_received": self.records_received,
            "rows_loaded": self.rows_loaded,
            "rows_quarantined": self.rows_quarantined,
            "customers_loaded": self.customers_loaded,
            "wall_s": round(self.wall_s, 3),
            "loaded": [d.day.isoformat() for d in self.loaded],
            "failed": [
                {"day": f.day.isoformat(), "error_type": f.error_type, "error": f.error}
                for f in self.failures
            ],
        }

    def table(self) -> list[dict[str, str]]:
        """Rows for a table artifact: the metrics, then one row per failed day."""
        rows = [{"metric": m, "value": v} for m, v in self.metrics()]
        rows += [{"metric": f"failed {f.day}", "value": f.error} for f in self.failures]
        return rows

    def __str__(self) -> str:
        width = max(len(m) for m, _ in self.metrics())
        lines = [f"{m:<{width}}  {v}" for m, v in self.metrics()]
        lines += [f"failed {f.day}: {f.error}" for f in self.failures]
        return "\n".join(lines)


def failure_message(summary: IngestSummary) -> str:
    """One line naming the failed days, for the error a run ends with."""
    days = ", ".join(str(f.day) for f in summary.failures[:10])
    more = f" and {len(summary.failures) - 10} more" if len(summary.failures) > 10 else ""
    return (
        f"{len(summary.failures)} of {summary.days_planned} days failed ({days}{more}); "
        f"{others_loaded(len(summary.loaded), len(summary.skipped))}. Fix the cause and run the "
        "same command again: loaded days are skipped"
    )


def raise_for_failures(summary: IngestSummary) -> IngestSummary:
    """``summary`` when every planned day loaded or was skipped.

    Raises:
        IngestError: some days failed (the others are loaded); it carries the summary.
    """
    if summary.failures:
        raise IngestError(
            failure_message(summary),
            failed=[str(f.day) for f in summary.failures],
            summary=str(summary),
            data=summary.as_dict(),
        )
    return summary


def others_loaded(loaded: int, skipped: int = 0) -> str:
    """What happened to the days that did not fail, said truthfully (none, some, all)."""
    done = f"{loaded} day(s) were loaded" if loaded else "no day was loaded"
    return f"{done}, {skipped} were already loaded" if skipped else done
