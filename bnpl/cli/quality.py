"""``bnpl check`` (the quality gate, ad hoc) and ``bnpl report`` (the HTML report).

``bnpl check`` calls :func:`bnpl.pipeline.write_audit_publish` directly, without Prefect: it
builds every model into ``bnpl_audit``, runs every check, stores the results and publishes only
when no error-level check failed. Exit code 0 when the gate passed, 1 when it blocked publication (or anything else
failed), 2 for bad input. The ``bnpl-quality-gate`` flow (``bnpl_flows/quality.py``) does the same
with Prefect artifacts and the failure event.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from bnpl.calendar import check_range, parse_day
from bnpl.cli.output import OUTPUT, emit, progress_display, want_json
from bnpl.models import load_project
from bnpl.pipeline import gate_range, write_audit_publish
from bnpl.quality import GateResult, declared_checks, select_checks, write_report
from bnpl.settings import load_settings
from bnpl.warehouse import open_warehouse

_MARK = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL", "skip": "skip", "error": "ERR "}


def _day(value: str | None, name: str) -> date | None:
    return None if value is None else parse_day(value, name=name)


def echo_results(gate: GateResult) -> None:
    """One line per check on stdout, then the verdict."""
    for r in gate.results:
        value = "" if r.observed_value is None else f" observed {r.observed_value:.4g}"
        limit = "" if r.threshold is None else f" limit {r.threshold:.4g}"
        typer.echo(f"{_MARK[r.status]} {r.check_name:<34} [{r.severity}]{value}{limit}")
        if r.status not in ("pass", "skip"):
            typer.echo(f"       {r.details}")
    counts = ", ".join(f"{n} {s}" for s, n in gate.counts().items() if n)
    verdict = (
        f"passed; published {', '.join(gate.published) or 'no models'}"
        if gate.passed
        else "BLOCKED: nothing published"
    )
    typer.echo(f"quality gate {gate.start}..{gate.end} (run {gate.run_id}): {counts}; {verdict}")


def gate_dict(gate: GateResult) -> dict[str, Any]:
    """The gate's verdict and results as plain values, for ``--json``."""
    return {
        "run_id": gate.run_id,
        "logical_date": gate.logical_date.isoformat(),
        "start": gate.start.isoformat(),
        "end": gate.end.isoformat(),
        "passed": gate.passed,
        "counts": {str(status): n for status, n in gate.counts().items()},
        "built": list(gate.built),
        "published": list(gate.published),
        "results": [
            {
                "check_name": r.check_name,
                "model": r.model,
                "severity": r.severity,
                "status": r.status,
                "observed_value": r.observed_value,
                "threshold": r.threshold,
                "details": r.details,
            }
            for r in gate.results
        ],
    }


def show_gate(gate: GateResult) -> None:
    """The gate's results on stdout: one line per check and the verdict, or JSON."""
    if OUTPUT.json:
        emit("", gate_dict(gate))
    else:
        echo_results(gate)


def register(app: typer.Typer) -> None:
    """Add ``check`` and ``report`` to ``app``."""

    @app.command("check")
    def check(
        start: Annotated[
            str | None,
            typer.Option("--start", help="First day, YYYY-MM-DD [default: first loaded day]."),
        ] = None,
        end: Annotated[
            str | None,
            typer.Option("--end", help="Last day, inclusive [default: last loaded day]."),
        ] = None,
        logical_date: Annotated[
            str | None,
            typer.Option(
                "--logical-date", help="The run's logical date for freshness [default: --end]."
            ),
        ] = None,
        run_id: Annotated[
            str | None,
            typer.Option("--run-id", help="Id stored with the results [default: random]."),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the results as one JSON document.")
        ] = False,
        select: Annotated[
            list[str] | None,
            typer.Option(
                "--select",
                help="Run only these checks (repeatable); results are stored, nothing is published.",
            ),
        ] = None,
    ) -> None:
        """Run the quality gate: build into bnpl_audit, check, store results, publish if clean.

        Exit code 1 when an error-level check fails (the published marts are left unchanged).
        With ``--select``, only the named checks run and nothing is published.
        """
        want_json("check", json_output)
        first = _day(start, "--start")
        last = _day(end, "--end")
        logical = _day(logical_date, "--logical-date")
        if first is not None and last is not None:
            check_range(first, last)  # before the warehouse is opened
        settings = load_settings()
        project = load_project(user_dir=settings.project.dir)
        # every named check is known before the warehouse is opened: a typo writes nothing
        checks = select_checks(declared_checks(settings.quality, project), select or ())
        warehouse = open_warehouse(settings, access="existing")  # checks loaded data: never create
        try:
            first, last, logical = gate_range(warehouse, first, last, logical)
            with progress_display() as progress:
                write_audit_publish(
                    warehouse,
                    settings,
                    run_id=run_id or uuid.uuid4().hex,
                    start=first,
                    end=last,
                    logical_date=logical,
                    on_result=show_gate,
                    progress=progress,
                    checks=checks,
                    project=project,
                    publish_marts=not select,
                )
        finally:
            warehouse.close()

    @app.command("report")
    def report(
        out: Annotated[
            Path | None,
            typer.Option("--out", help="HTML file to write [default: BNPL_QUALITY__REPORT_PATH]."),
        ] = None,
        start: Annotated[
            str | None,
            typer.Option("--start", help="First day charted [default: first loaded day]."),
        ] = None,
        end: Annotated[
            str | None, typer.Option("--end", help="Last day charted [default: last loaded day].")
        ] = None,
        run_id: Annotated[
            str | None,
            typer.Option("--run-id", help="Gate run whose results are listed [default: newest]."),
        ] = None,
    ) -> None:
        """Write the self-contained HTML data-quality report (charts and the latest results)."""
        first = _day(start, "--start")
        last = _day(end, "--end")
        settings = load_settings()
        warehouse = open_warehouse(settings)
        try:
            if first is not None or last is not None:
                first, last, _ = gate_range(warehouse, first, last)
            path = write_report(
                warehouse,
                settings.quality,
                out or settings.quality.report_path,
                start=first,
                end=last,
                run_id=run_id,
            )
        finally:
            warehouse.close()
        typer.echo(f"wrote {path}")
