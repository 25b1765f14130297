"""Progress of a long verb, reported to whoever asked: the CLI's bar or plain lines, a Prefect
progress artifact (``bnpl_flows``), a notebook.

The verbs that take many steps (:func:`bnpl.pipeline.ingest_range`, :func:`bnpl.pipeline.build`,
:func:`bnpl.pipeline.gate`, :func:`bnpl.pipeline.write_audit_publish`) accept an optional
``progress`` callback and call it with a :class:`ProgressEvent` once before the first step
(``done == 0``) and after each step. A callback must be quick and must not raise: it runs in the
verb's thread between steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Stage = Literal["ingest", "build", "check"]


@dataclass(frozen=True, slots=True)
class ProgressEvent:
    """``done`` of ``total`` steps of ``stage`` are finished; ``item`` names the last one (a day,
    a model, a check; empty before the first)."""

    stage: Stage
    done: int
    total: int
    item: str = ""


ProgressCallback = Callable[[ProgressEvent], None]
"""Receives each :class:`ProgressEvent` of a verb."""


def report(
    progress: ProgressCallback | None, stage: Stage, done: int, total: int, item: str = ""
) -> None:
    """Send one event to ``progress`` if there is one."""
    if progress is not None:
        progress(ProgressEvent(stage, done, total, item))
