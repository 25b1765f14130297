"""`bnpl` commands for this area (registered by :mod:`bnpl.cli.commands`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to ``app``."""
