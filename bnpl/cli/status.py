"""``bnpl status``: days loaded, missing, failed, quarantined and blocked, and when each mart was
last published, from the warehouse alone (:mod:`bnpl.status`). Opens the warehouse read-only:
a missing or empty warehouse is one line saying what to do, exit code 2, nothing written."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from bnpl.calendar import check_range, parse_day
from bnpl.cli.output import emit, want_json
from bnpl.settings import load_settings


def register(app: typer.Typer) -> None:
    """Add ``status`` to ``app``."""

    @app.command("status")
    def status(
        start: Annotated[
            str | None,
            typer.Option("--start", help="First day expected, YYYY-MM-DD [default: first seen]."),
        ] = None,
        end: Annotated[
            str | None,
            typer.Option("--end", help="Last day expected, inclusive [default: last seen]."),
        ] = None,
        json_output: Annotated[
            bool, typer.Option("--json", help="Print the status as one JSON document.")
        ] = False,
    ) -> None:
        """Days loaded, missing, failed, quarantined and blocked by the gate; marts published.

        Reads the warehouse only (no Prefect). Exit code 2 when there is no warehouse or nothing
        in it yet.
        """
        want_json("status", json_output)
        first: date | None = None if start is None else parse_day(start, name="--start")
        last: date | None = None if end is None else parse_day(end, name="--end")
        if first is not None and last is not None:
            check_range(first, last)
        settings = load_settings()
        from bnpl.status import read_status
        from bnpl.warehouse import open_warehouse

        warehouse = open_warehouse(settings, access="read_only")
        try:
            report = read_status(warehouse, first, last)
        finally:
            warehouse.close()
        emit(report.render(), report.as_dict())
