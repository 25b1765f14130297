"""Fixtures of the pipeline tests: the fake source over the captured simtom days, and a session on it."""

from __future__ import annotations

from fake_source import records_by_day, session, settings, source

__all__ = ["records_by_day", "session", "settings", "source"]
