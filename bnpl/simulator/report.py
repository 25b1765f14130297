"""Fault simulation of the daily flow: the faults that make a share of source requests fail, and
the report of how the runs of a replay ended (``bnpl simulate-days``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

from bnpl.errors import ConfigError
from bnpl.markdown import table_cell
from bnpl.settings import FaultSettings

REQUEST_FAULT_KINDS = ("error_rate", "rate_limit_rate", "cut_rate")
"""Request-level simulator faults that ``--fault-rate`` spreads evenly: 5xx, 429, a cut stream."""


def request_fault_settings(
    fault_rate: float, *, seed: int = 0, base: FaultSettings | None = None
) -> FaultSettings:
    """Simulator faults where one request attempt fails with probability ``fault_rate``.

    The rate is shared evenly by a 5xx answer, a 429 and a cut stream: each is injected with
    probability ``r`` such that ``1 - (1 - r)**3 == fault_rate`` (the simulator decides them one
    after the other). Every other field comes from ``base`` (default: no other fault), so
    ``Retry-After``, latency and record-level faults configured in the settings still apply;
    record-level faults are data problems that quarantine rows, not failures a retry could cure.
    """
    if not 0 <= fault_rate <= 1:
        raise ConfigError(f"fault rate {fault_rate} is not between 0 and 1")
    each = 1 - (1 - fault_rate) ** (1 / 3)
    update: dict[str, float | int] = {"seed": seed, **dict.fromkeys(REQUEST_FAULT_KINDS, each)}
    return (base or FaultSettings()).model_copy(update=update)


RunStatus = Literal["completed", "recovered", "failed"]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """How one simulated daily run (one day) ended.

    Attributes:
        day: the run's logical date.
        attempts: times the run was executed (1 + retries used).
        completed: whether its last attempt completed.
        error: why it failed: the first failure of a recovered run, the last of a failed one,
            '' for a run that completed at once.
        seconds: wall time of all attempts.
        source_attempts: requests the client sent for the day in the run's last attempt (more
            than 1: the client's retries absorbed a fault); None when the run failed.
    """

    day: date
    attempts: int
    completed: bool
    error: str
    seconds: float
    source_attempts: int | None = None

    @property
    def status(self) -> RunStatus:
        """``completed`` at once, ``recovered`` by a retry, or ``failed`` after its retries."""
        if not self.completed:
            return "failed"
        return "completed" if self.attempts == 1 else "recovered"


@dataclass(frozen=True, slots=True)
class SimulationReport:
    """Per-run failure figures of a replay of the daily flow over a range.

    A run is one day. ``client_retried`` counts completed runs whose source request the client
    retried (faults absorbed without failing the run); ``failed_first`` runs whose first attempt
    failed; ``recovered`` those of them that a run retry completed; ``failed`` those still failed
    after every retry.
    """

    outcomes: tuple[RunOutcome, ...]
    fault_rate: float
    retries: int

    @property
    def runs(self) -> int:
        return len(self.outcomes)

    @property
    def client_retried(self) -> int:
        """Completed runs whose source request the client had to retry (a fault absorbed)."""
        return sum((o.source_attempts or 1) > 1 for o in self.outcomes if o.completed)

    @property
    def failed_first(self) -> int:
        return sum(o.attempts > 1 or not o.completed for o in self.outcomes)

    @property
    def recovered(self) -> int:
        return sum(o.status == "recovered" for o in self.outcomes)

    @property
    def failed(self) -> int:
        return sum(o.status == "failed" for o in self.outcomes)

    @property
    def failure_rate(self) -> float:
        """Share of runs failed after retries (0 for an empty report)."""
        return self.failed / self.runs if self.runs else 0.0

    @property
    def first_attempt_failure_rate(self) -> float:
        """Share of runs whose first attempt failed."""
        return self.failed_first / self.runs if self.runs else 0.0

    def render(self) -> str:
        """A Markdown summary: the figures, then one row per run that did not complete at once."""
        lines = [
            f"# Daily run simulation: {self.runs} days, source fault rate {self.fault_rate:.1%}",
            "",
            "| runs | source faults absorbed by the client | failed on first attempt "
            "| recovered by retry | failed after "
            f"{self.retries} retr{'y' if self.retries == 1 else 'ies'} | failure rate |",
            "|---:|---:|---:|---:|---:|---:|",
            f"| {self.runs} | {self.client_retried} "
            f"| {self.failed_first} ({self.first_attempt_failure_rate:.1%}) "
            f"| {self.recovered} | {self.failed} | {self.failure_rate:.1%} |",
        ]
        troubled = [o for o in self.outcomes if o.status != "completed"]
        if troubled:
            lines += ["", "| day | status | attempts | error |", "|---|---|---:|---|"]
            lines += [
                f"| {o.day} | {o.status} | {o.attempts} | {table_cell(o.error)} |" for o in troubled
            ]
        return "\n".join(lines) + "\n"


def summarize_simulation(
    outcomes: Sequence[RunOutcome], *, fault_rate: float, retries: int
) -> SimulationReport:
    """Collect run outcomes in day order."""
    return SimulationReport(tuple(sorted(outcomes, key=lambda o: o.day)), fault_rate, retries)
