"""Registers the areas' commands on the ``bnpl`` app.

Each area module owns its commands. :data:`AREAS` names the top-level commands (and groups) each
area registers, so that a run of one command imports only its own area: ``bnpl build`` does not
load the ingest side (pandera, the source client) nor the serving or model areas. Help, an
unknown command or no command registers every area.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

import typer

AREAS: dict[str, tuple[str, ...]] = {
    "simulate": ("simulate",),
    "ingest": ("backfill", "ingest-day"),
    "build": ("build", "docs"),
    "quality": ("check", "report"),
    "status": ("status",),
    "features": ("features",),
    "model": ("model",),
    "orchestrate": ("daily", "simulate-days", "prefect"),
    "live": ("live",),
    "serving": ("serve", "serving"),
}
"""Area module (``bnpl.cli.<area>``) → the names it registers on the app (a test keeps these in
step with the modules)."""

_VALUE_OPTIONS = frozenset({"--log-level"})
"""Global options that take a separate value (``--log-level INFO``)."""


def command_name(argv: Sequence[str]) -> str | None:
    """The top-level command in ``argv`` (global options skipped), or None."""
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in _VALUE_OPTIONS:
            skip = True
        elif token == "--":
            return None
        elif not token.startswith("-"):
            return token
    return None


def areas_for(argv: Sequence[str] | None) -> tuple[str, ...]:
    """The areas to register for ``argv``: the one that owns its command, none for a bare
    ``--version``, else all of them."""
    argv = argv or ()
    name = command_name(argv)
    for area, names in AREAS.items():
        if name in names:
            return (area,)
    if name is None and "--version" in argv and "--help" not in argv:
        return ()
    return tuple(AREAS)


def register(app: typer.Typer, argv: Sequence[str] | None = None) -> None:
    """Add the commands ``argv`` needs (every area's when ``argv`` is None or names none)."""
    for area in areas_for(argv):
        importlib.import_module(f"bnpl.cli.{area}").register(app)
