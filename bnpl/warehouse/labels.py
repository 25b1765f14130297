"""Job labels: who started a warehouse job, for cost attribution and auditing.

Callers that do not know which adapter they hold (the model runner, a flow) name the work with
:func:`job_labels`; adapters whose engine has labelled jobs (BigQuery) attach
:func:`current_job_labels` to every job started inside the block, the others ignore them::

    with job_labels(model="mart_bnpl_transactions", run_id=flow_run_id):
        warehouse.execute(sql, params)

Blocks nest; an inner value replaces an outer one. The labels live in a :class:`~contextvars.ContextVar`,
so they follow the thread or task that opened the block and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_CURRENT: ContextVar[Mapping[str, str]] = ContextVar("bnpl_job_labels", default={})  # noqa: B039 - never mutated

_MAX_LENGTH = 63
_INVALID = re.compile(r"[^a-z0-9_-]+")


@contextmanager
def job_labels(**labels: str) -> Iterator[None]:
    """Label every warehouse job started inside the block (merged over any enclosing block)."""
    token = _CURRENT.set({**_CURRENT.get(), **labels})
    try:
        yield
    finally:
        _CURRENT.reset(token)


def current_job_labels() -> Mapping[str, str]:
    """The labels of the innermost :func:`job_labels` block (empty outside any block)."""
    return dict(_CURRENT.get())


def sanitise_label_key(key: str) -> str:
    """A BigQuery label key: 1-63 of ``[a-z0-9_-]``, starting with a lowercase letter."""
    cleaned = _INVALID.sub("_", key.lower()).strip("_") or "label"
    if not cleaned[0].isalpha():
        cleaned = "l_" + cleaned
    return cleaned[:_MAX_LENGTH]


def sanitise_label_value(value: str) -> str:
    """A BigQuery label value: 0-63 of ``[a-z0-9_-]`` (anything else becomes ``_``)."""
    return _INVALID.sub("_", str(value).lower())[:_MAX_LENGTH]
