"""What a gate run shows outside the warehouse, built as plain data: the ``bnpl.quality.failed``
event, the results table and the markdown summary. ``bnpl_flows/quality.py`` hands them to Prefect
(``emit_event``, ``create_table_artifact``, ``create_markdown_artifact``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bnpl.quality.base import CheckResult, GateResult

FAILED_EVENT = "bnpl.quality.failed"
"""Event emitted when the gate blocks publication; ``deployments/automations/`` reacts to it."""

RESOURCE_PREFIX = "bnpl.quality.gate"


@dataclass(frozen=True, slots=True)
class QualityEvent:
    """Arguments of ``prefect.events.emit_event``."""

    event: str
    resource: dict[str, str]
    payload: dict[str, Any]


def _value(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _check(result: CheckResult) -> dict[str, Any]:
    return {
        "check": result.check_name,
        "model": result.model,
        "category": result.category,
        "severity": result.severity,
        "status": result.status,
        "observed_value": _value(result.observed_value),
        "threshold": _value(result.threshold),
        "details": result.details,
    }


def failure_event(gate: GateResult) -> QualityEvent:
    """The ``bnpl.quality.failed`` event of a blocked gate, failing checks in its payload."""
    names = [r.check_name for r in gate.failed]
    return QualityEvent(
        event=FAILED_EVENT,
        resource={
            "prefect.resource.id": f"{RESOURCE_PREFIX}.{gate.run_id}",
            "prefect.resource.name": f"bnpl quality gate {gate.start}..{gate.end}",
            "bnpl.range.start": gate.start.isoformat(),
            "bnpl.range.end": gate.end.isoformat(),
        },
        payload={
            "run_id": gate.run_id,
            "logical_date": gate.logical_date.isoformat(),
            "start": gate.start.isoformat(),
            "end": gate.end.isoformat(),
            "failed_count": len(names),
            "failed_check_names": names,
            "failed_checks": [_check(r) for r in gate.failed],
            "warning_count": len(gate.warnings),
            "summary": f"{len(names)} error-level checks failed for {gate.start}..{gate.end}: "
            + ", ".join(names),
        },
    )


def results_table(gate: GateResult) -> list[dict[str, Any]]:
    """One row per check, for a table artifact."""
    return [_check(r) for r in gate.results]


_ICON = {"pass": "pass", "warn": "WARN", "fail": "**FAIL**", "skip": "skip", "error": "**ERROR**"}


def summary_markdown(gate: GateResult) -> str:
    """A markdown summary: verdict, counts, then every non-passing check with its details."""
    counts = gate.counts()
    verdict = (
        f"passed; published {len(gate.published)} models"
        if gate.passed
        else "**blocked**: nothing was published"
    )
    lines = [
        f"# Data quality {gate.start} .. {gate.end}",
        "",
        f"Run `{gate.run_id}`, logical date {gate.logical_date}: {verdict}.",
        "",
        " | ".join(f"{status}: {n}" for status, n in counts.items()),
        "",
    ]
    attention = [r for r in gate.results if r.status not in ("pass", "skip")]
    if attention:
        lines += ["| check | model | severity | status | observed | threshold | details |"]
        lines += ["|---|---|---|---|---|---|---|"]
        for r in attention:
            details = r.details.replace("|", "/").replace("\n", " ")
            lines.append(
                f"| {r.check_name} | {r.model} | {r.severity} | {_ICON[r.status]} | "
                f"{_fmt(r.observed_value)} | {_fmt(r.threshold)} | {details} |"
            )
    else:
        lines.append("Every check passed or had nothing to judge.")
    return "\n".join(lines) + "\n"


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
