"""Options that commands of several areas share (each area module imports only this, not the
other area's module)."""

from __future__ import annotations

import typer

ONCE_OPTION = typer.Option("--once", help="Stop when the log has nothing more for the group.")
"""A log consumer's ``--once`` (``bnpl live load``, ``bnpl serving load-scores``)."""
CONSUMER_OPTION = typer.Option(
    "--consumer", help="This loader's name [default: BNPL_LIVE__LOADER_CONSUMER]."
)
"""A log consumer's ``--consumer`` (``bnpl live load``, ``bnpl serving load-scores``)."""
