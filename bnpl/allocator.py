"""Allocator settings for the ingestion commands: Polars keeps the memory it frees for reuse
instead of handing it back to the kernel at once.

A backfill allocates and frees tens of MB of Polars frames a day. Polars configures its jemalloc
(whose symbols carry the ``_rjem_`` prefix, so it reads ``_RJEM_MALLOC_CONF``) with
``dirty_decay_ms:500,muzzy_decay_ms:1000`` and appends the user's value to it (later options
win; ``polars/__init__.py``): freed pages go back to the kernel within a second or two and the
next days fault the same memory in again. A year's backfill spent 12-14 of its 73-78
CPU-seconds in the kernel (page faults, zeroing, the purges' TLB shootdowns).
``docs/decisions.md`` ("Polars keeps its freed memory") has the measurements.

:func:`configure` runs before anything imports Polars (the ``bnpl`` command's entry point, for
the ingestion commands only). A value the user has set is left as it is. The bundled simulator
starts without bnpl's value (:func:`child_environment`): it stands in for a remote source, and
with the setting too, a year's peak RSS of command and simulator was 1.42-1.48 GiB against a
budget of 1.5 (1.31-1.43 GiB without it for the simulator).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping

logger = logging.getLogger(__name__)

JEMALLOC_VARIABLE = "_RJEM_MALLOC_CONF"
"""What Polars' jemalloc reads its options from, when Polars is first loaded."""

JEMALLOC_CONF = "background_thread:false,dirty_decay_ms:-1,muzzy_decay_ms:-1"
"""No purging thread, and freed pages kept for reuse: the process's RSS stays at its peak
until it exits (a batch command's lifetime)."""


POLARS_DEFAULTS = frozenset(
    {
        "dirty_decay_ms:500,muzzy_decay_ms:1000",
        "dirty_decay_ms:500,muzzy_decay_ms:1000,thp:always,metadata_thp:always",
    }
)
"""What ``polars/__init__.py`` writes into the variable when nothing was set: a parent process
that imported Polars passes it on, and it is not the user's choice."""


def configure(environ: MutableMapping[str, str] = os.environ) -> bool:
    """Add :data:`JEMALLOC_CONF` to ``environ`` unless the user has set the variable (Polars' own
    defaults, passed on by a parent process, do not count); True if it was added.

    It takes effect in this process only if Polars is not loaded yet (a debug line says when it
    is), and in every child process started with this environment.
    """
    current = environ.get(JEMALLOC_VARIABLE)
    if current is not None and current not in POLARS_DEFAULTS:
        return False
    environ[JEMALLOC_VARIABLE] = JEMALLOC_CONF if current is None else f"{current},{JEMALLOC_CONF}"
    if "polars" in sys.modules:
        logger.debug(
            "Polars is loaded already: %s applies to child processes only", JEMALLOC_VARIABLE
        )
    return True


def child_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``environ`` for a child process that should allocate as by default: :data:`JEMALLOC_CONF`
    removed from the variable if :func:`configure` added it (Polars may have put its defaults in
    front); any other value is passed on as it is."""
    child = dict(environ)
    value = child.get(JEMALLOC_VARIABLE, "")
    if value.endswith(JEMALLOC_CONF):
        rest = value[: -len(JEMALLOC_CONF)].rstrip(",")
        if rest:
            child[JEMALLOC_VARIABLE] = rest
        else:
            del child[JEMALLOC_VARIABLE]
    return child
