"""Allocator settings for the ingestion commands: Polars keeps the memory it frees for reuse
instead of handing it back to the kernel at once.

A backfill allocates and frees tens of MB of Polars frames a day. Polars' jemalloc (its symbols
carry the ``_rjem_`` prefix, so it reads ``_RJEM_MALLOC_CONF``) runs a background thread that
purges freed pages after a few seconds, and the next days fault the same memory in again: a
year's backfill spent 12-14 of its 73-78 CPU-seconds in the kernel (page faults, zeroing, the
purges' TLB shootdowns). ``docs/decisions.md`` ("Polars keeps its freed memory") has the
measurements.

:func:`configure` runs before anything imports Polars (the ``bnpl`` command's entry point, for
the ingestion commands only). The variable reaches this process's jemalloc and the children it
starts (the bundled simulator). A value the user has set is left as it is.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping

logger = logging.getLogger(__name__)

JEMALLOC_VARIABLE = "_RJEM_MALLOC_CONF"
"""What Polars' jemalloc reads its options from, when Polars is first loaded."""

JEMALLOC_CONF = "background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1"
"""No purging thread, and freed pages kept for reuse: the process's RSS stays at its peak
until it exits (a batch command's lifetime)."""


def configure(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Set :data:`JEMALLOC_VARIABLE` in ``environ`` unless the user has; True if it was set.

    It takes effect in this process only if Polars is not loaded yet (a debug line says when it
    is), and in every child process started afterwards.
    """
    if JEMALLOC_VARIABLE in environ:
        return False
    environ[JEMALLOC_VARIABLE] = JEMALLOC_CONF
    if "polars" in sys.modules:
        logger.debug(
            "Polars is loaded already: %s applies to child processes only", JEMALLOC_VARIABLE
        )
    return True
