"""Running the ``bnpl`` CLI in the test's process."""

from __future__ import annotations

from bnpl.cli import main


def run(argv: list[str]) -> int:
    """``bnpl <argv>`` in this process; its exit code (0 when it returned normally)."""
    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0
