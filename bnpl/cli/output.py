"""What a command shows: its summary (text, or one JSON document with ``--json``) on stdout, and
its progress on stderr (a bar on a terminal, periodic log lines elsewhere, nothing with
``--quiet``).

The global options (``bnpl --quiet --log-level … --json <command>``) set :data:`OUTPUT` before the
command runs; a command with a summary also takes ``--json`` after its name.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import typer

from bnpl.errors import ConfigError
from bnpl.progress import ProgressCallback, ProgressEvent

logger = logging.getLogger("bnpl.progress")

JSON_COMMANDS = frozenset(
    {"backfill", "ingest-day", "daily", "build", "check", "status", "model monitor"}
)
"""The commands whose summary ``--json`` prints."""

UNITS = {"ingest": "days", "build": "models", "check": "checks"}

STEP_LOGGERS = ("bnpl.ingest.run", "bnpl.models.run", "bnpl.quality.runner")
"""Loggers of one line per day, model or check: under a progress bar only their warnings show."""


@dataclass
class Output:
    """The command line's output options."""

    json: bool = False
    quiet: bool = False
    log_level: int = logging.INFO


OUTPUT = Output()


def want_json(command: str, flag: bool) -> bool:
    """Whether ``command`` prints JSON: its own ``--json`` or the global one."""
    if flag:
        OUTPUT.json = True
    if OUTPUT.json and command not in JSON_COMMANDS:
        raise ConfigError(json_refused(command))
    return OUTPUT.json


def json_refused(command: str) -> str:
    return (
        f"`bnpl {command}` has no summary to print as JSON; --json works with "
        f"{', '.join(sorted(JSON_COMMANDS))}"
    )


def _plain(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def emit(text: str, data: Mapping[str, Any]) -> None:
    """The command's summary on stdout: ``text``, or ``data`` as one line of JSON."""
    if OUTPUT.json:
        typer.echo(json.dumps(data, default=_plain))
    else:
        typer.echo(text)


@dataclass
class _PlainProgress:
    """Periodic log lines: one when a stage starts, then at most one every ``interval_s``, and
    one when it ends."""

    interval_s: float
    started: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: ProgressEvent) -> None:
        now = time.monotonic()
        began = self.started.setdefault(event.stage, now)
        finished = event.done >= event.total
        if (
            event.done
            and not finished
            and now - self.last.get(event.stage, began) < self.interval_s
        ):
            return
        self.last[event.stage] = now
        logger.info("%s", progress_line(event, now - began))


def progress_line(event: ProgressEvent, elapsed_s: float) -> str:
    """``ingest 120/366 days (33 %), 4.1 days/s, ETA 60 s``."""
    unit = UNITS[event.stage]
    share = 100 * event.done / event.total if event.total else 100.0
    line = f"{event.stage} {event.done}/{event.total} {unit} ({share:.0f} %)"
    if event.done and elapsed_s > 0:
        rate = event.done / elapsed_s
        line += f", {rate:.1f} {unit}/s"
        if event.done < event.total:
            line += f", ETA {(event.total - event.done) / rate:.0f} s"
        else:
            line += f", {elapsed_s:.1f} s"
    return line


class _OnlyWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not record.name.startswith(STEP_LOGGERS)


@contextmanager
def _bar() -> Iterator[ProgressCallback]:
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    tasks: dict[str, TaskID] = {}
    quieter = _OnlyWarnings()
    handlers = logging.getLogger().handlers
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        began: dict[str, float] = {}

        def update(event: ProgressEvent) -> None:
            now = time.monotonic()
            start = began.setdefault(event.stage, now)
            if event.stage not in tasks:
                tasks[event.stage] = bar.add_task(
                    f"{event.stage} ({UNITS[event.stage]})", total=event.total, rate=""
                )
            rate = event.done / (now - start) if event.done and now > start else 0.0
            bar.update(
                tasks[event.stage],
                completed=event.done,
                total=event.total,
                rate=f"{rate:.1f}/s" if rate else "",
            )

        for handler in handlers:
            handler.addFilter(quieter)
        try:
            yield update
        finally:
            for handler in handlers:
                handler.removeFilter(quieter)


@contextmanager
def progress_display(interval_s: float = 5.0) -> Iterator[ProgressCallback | None]:
    """The progress callback for a command: None with ``--quiet``, a rich bar (counts, rate, ETA)
    when stderr is a terminal, else periodic log lines."""
    if OUTPUT.quiet:
        yield None
    elif sys.stderr.isatty():
        with _bar() as update:
            yield update
    else:
        yield _PlainProgress(interval_s)
