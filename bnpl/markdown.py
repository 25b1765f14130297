"""Markdown text shared by the run reports (the daily summary, the fault-simulation report)."""

from __future__ import annotations


def table_cell(text: str, limit: int = 160) -> str:
    """``text`` on one line, ``|`` escaped, cut to ``limit`` characters (with an ellipsis)."""
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
