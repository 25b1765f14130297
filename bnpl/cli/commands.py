"""Registers every area's commands on the ``bnpl`` app."""

from __future__ import annotations

import typer

from bnpl.cli import (
    build,
    features,
    ingest,
    live,
    model,
    orchestrate,
    quality,
    serving,
    simulate,
    status,
)


def register(app: typer.Typer) -> None:
    """Add all commands; each area module owns its own."""
    for area in (
        simulate,
        ingest,
        build,
        quality,
        status,
        features,
        model,
        orchestrate,
        live,
        serving,
    ):
        area.register(app)
