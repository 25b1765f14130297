"""The daily run's day and its report: which day a scheduled run processes, and the Markdown
summary of what each of its steps did.

Days are calendar days in UTC: the daily schedule fires at 02:00 UTC and processes the previous
UTC day, the last complete one.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from bnpl.markdown import table_cell


def previous_day(moment: datetime) -> date:
    """The UTC calendar day before ``moment`` (a naive ``moment`` is taken as UTC)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).date() - timedelta(days=1)


@dataclass(frozen=True, slots=True)
class StepTiming:
    """Wall time of one step of a daily run."""

    step: str
    seconds: float
    detail: str


def render_daily_summary(
    day: date, steps: Sequence[StepTiming], *, outcome: str, failed_checks: Sequence[str] = ()
) -> str:
    """The Markdown summary of one daily run: the outcome, then each step that ran, its wall time
    and what it did (or its error)."""
    if failed_checks:
        outcome += (
            f"; not published: {len(failed_checks)} error-level check(s) failed "
            f"({', '.join(failed_checks)})"
        )
    total = math.fsum(s.seconds for s in steps)
    lines = [
        f"# bnpl daily run for {day}",
        "",
        f"**Outcome:** {outcome}. **Wall time:** {total:.1f} s.",
        "",
        "| step | seconds | result |",
        "|---|---:|---|",
    ]
    lines += [f"| {s.step} | {s.seconds:.2f} | {table_cell(s.detail)} |" for s in steps]
    return "\n".join(lines) + "\n"
