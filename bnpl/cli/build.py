"""``bnpl build`` (the SQL models, write-audit-publish) and ``bnpl docs models``.

``bnpl build`` builds the selected models: staging and intermediate into ``bnpl_intermediate``,
marts into ``bnpl_audit``, runs the quality checks on what it built, and publishes the marts to
``bnpl_marts`` only when no error-level check failed (write, audit, publish). ``bnpl check`` is
the same for every model over a range, with a logical date.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

import typer

from bnpl.calendar import parse_day
from bnpl.cli.output import emit, progress_display, want_json
from bnpl.cli.quality import show_gate
from bnpl.errors import ConfigError
from bnpl.models import (
    DOCS_PATH,
    load_project,
    plan_build,
    render_models_doc,
    write_models_doc,
)
from bnpl.models.compile import statements_text
from bnpl.models.plan import validate_range
from bnpl.pipeline import Published, write_audit_publish
from bnpl.quality import GateResult
from bnpl.settings import load_settings
from bnpl.warehouse import open_warehouse


def _day(value: str | None, name: str) -> date | None:
    return None if value is None else parse_day(value, name=name)


def _build_dict(done: Published) -> dict[str, Any]:
    """What a build did as plain values, for ``--json``."""
    return {
        "start": done.build.start,
        "end": done.build.end,
        "full_refresh": done.build.full_refresh,
        "models": [
            {
                "name": m.name,
                "target": str(m.target),
                "action": m.action,
                "start": m.start,
                "end": m.end,
                "seconds": round(m.seconds, 3),
            }
            for m in done.build.models
        ],
        "published": list(done.gate.published) if done.gate else [],
        "checks": (
            {str(status): n for status, n in done.gate.counts().items()} if done.gate else {}
        ),
    }


def register(app: typer.Typer) -> None:
    """Add ``build`` and the ``docs`` group to ``app``."""

    @app.command("build")
    def build(
        select: Annotated[
            list[str] | None,
            typer.Option(
                "--select",
                "-s",
                help="Models to build: NAME, NAME+ (and downstream), +NAME (and upstream). "
                "Repeat for several [default: every model].",
            ),
        ] = None,
        start: Annotated[
            str | None,
            typer.Option(
                "--start", help="First day to rebuild, YYYY-MM-DD [default: every loaded day]."
            ),
        ] = None,
        end: Annotated[
            str | None, typer.Option("--end", help="Last day to rebuild, inclusive, YYYY-MM-DD.")
        ] = None,
        full_refresh: Annotated[
            bool,
            typer.Option("--full-refresh", help="Rebuild every table from every loaded day."),
        ] = False,
        dry_run: Annotated[
            bool,
            typer.Option("--dry-run", help="Print the SQL each model would run; write nothing."),
        ] = False,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the summary as one JSON document.")
        ] = False,
    ) -> None:
        """Build the SQL models, check them, and publish the marts if the checks pass.

        Incremental models rebuild only --start..--end (both or neither); a full refresh, and the
        first build of a model, use every loaded day. The quality checks run on the built days
        before publishing. Exit code 0 on success, 1 when a model or an error-level check fails
        (nothing is published), 2 for bad input.
        """
        as_json = want_json("build", json_output)
        if as_json and dry_run:
            raise ConfigError("--dry-run prints SQL, not a summary; drop --json or --dry-run")
        first, last = _day(start, "--start"), _day(end, "--end")
        validate_range(first, last, full_refresh)  # before the warehouse is opened (or created)
        settings = load_settings()
        project = load_project(user_dir=settings.project.dir)
        if not project.order(select or ()):
            raise ConfigError(f"no models to build: {project.sql_dir} holds none")
        # a build needs loaded data: never create a file; a dry run writes nothing at all
        warehouse = open_warehouse(settings, access="read_only" if dry_run else "existing")
        try:
            if dry_run:
                compiled = plan_build(
                    warehouse,
                    project,
                    selection=select or (),
                    start=first,
                    end=last,
                    full_refresh=full_refresh,
                    audit=True,
                )
                typer.echo(statements_text(compiled))
                return

            def show_failures(gate: GateResult) -> None:
                if not gate.passed:
                    show_gate(gate)

            with progress_display() as progress:
                done = write_audit_publish(
                    warehouse,
                    settings,
                    run_id=uuid.uuid4().hex,
                    selection=select or (),
                    start=first,
                    end=last,
                    full_refresh=full_refresh,
                    project=project,
                    on_result=show_failures,
                    progress=progress,
                )
        finally:
            warehouse.close()
        result = done.build
        if as_json:
            emit("", _build_dict(done))
            return
        for built in result.models:
            days = f" {built.start}..{built.end}" if built.start else ""
            typer.echo(
                f"{built.name:<34} {built.action:<13} {built.target}{days} {built.seconds:.2f} s"
            )
        typer.echo(
            f"built {len(result.models)} models; published {', '.join(result.marts) or 'no marts'}"
        )

    docs = typer.Typer(help="Generated documentation.", no_args_is_help=True)
    app.add_typer(docs, name="docs")

    @docs.command("models")
    def docs_models(
        check: Annotated[
            bool, typer.Option("--check", help="Exit 1 if docs/models.md is stale; write nothing.")
        ] = False,
    ) -> None:
        """Write docs/models.md (models, columns, lineage) from the templates in sql/ and those
        of BNPL_PROJECT__DIR."""
        project = load_project(user_dir=load_settings().project.dir)
        if check:
            if not DOCS_PATH.exists() or DOCS_PATH.read_text() != render_models_doc(project):
                typer.echo(f"{DOCS_PATH} is stale; run: bnpl docs models", err=True)
                raise typer.Exit(1)
            typer.echo(f"{DOCS_PATH} is current")
            return
        changed = write_models_doc(project)
        typer.echo(f"{'wrote' if changed else 'unchanged'} {DOCS_PATH}")
