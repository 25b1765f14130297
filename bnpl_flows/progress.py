"""Progress of a flow's verb: a Prefect progress artifact, and the caller's own display.

The verbs report :class:`bnpl.progress.ProgressEvent`; :class:`ArtifactProgress` turns them into
one progress artifact per run (created at the first event, updated at most once a second and at
the end: each update is an API call). ``bnpl`` running a flow in-process passes its bar or plain
lines through :func:`local_progress`, since a flow parameter cannot carry a callback.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

from prefect.artifacts import create_progress_artifact, update_progress_artifact

from bnpl.progress import ProgressCallback, ProgressEvent

logger = logging.getLogger(__name__)

_LOCAL: list[ProgressCallback] = []

UPDATE_EVERY_S = 1.0


@contextmanager
def local_progress(progress: ProgressCallback | None) -> Iterator[None]:
    """Also send the events of flows run in this process, until the block ends, to
    ``progress``."""
    if progress is None:
        yield
        return
    _LOCAL.append(progress)
    try:
        yield
    finally:
        _LOCAL.remove(progress)


class ArtifactProgress:
    """A progress callback that keeps the progress artifact ``key`` of the current run up to date
    (none when ``key`` is None) and forwards every event to :func:`local_progress`'s callbacks."""

    def __init__(self, key: str | None, description: str = "") -> None:
        self.key = key
        self.description = description
        self.artifact_id: UUID | None = None
        self.updated = 0.0

    def __call__(self, event: ProgressEvent) -> None:
        for local in list(_LOCAL):
            local(event)
        if self.key is None:
            return
        percent = 100.0 * event.done / event.total if event.total else 100.0
        now = time.monotonic()
        if self.artifact_id is None:
            created = create_progress_artifact(
                progress=percent, key=self.key, description=self.description
            )
            assert isinstance(created, UUID)  # the sync call returns the id, not a coroutine
            self.artifact_id = created
        elif event.done >= event.total or now - self.updated >= UPDATE_EVERY_S:
            update_progress_artifact(self.artifact_id, progress=percent)
        else:
            return
        self.updated = now
