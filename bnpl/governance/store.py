"""The MLflow tracking store and model registry: where they are, opened quietly.

MLflow is slow to import (seconds), so it is imported only inside these functions: ``bnpl --help``
and the other commands never pay for it. The embedded default is a SQLite store under
``.bnpl/mlflow`` (``BNPL_MODEL__STORE_DIR``) with its model artifacts beside it; a tracking
server is ``BNPL_MODEL__TRACKING_URI=http://...``.

MLflow logs its own progress (database migrations, "Created version ...") and warns about
pickling and requirements; a normal bnpl run shows none of it: :func:`quiet` keeps MLflow's
loggers at WARNING and drops the Python warnings and direct stderr prints of the thread that
calls MLflow (only that thread's: a server's other threads keep logging).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx

from bnpl.errors import ConfigError
from bnpl.settings import Settings

logger = logging.getLogger(__name__)

EXPERIMENT = "bnpl-default-risk"
"""Experiment of every training run (the registered model's name by default)."""
QUIET_LOGGERS = ("mlflow", "alembic", "skops", "git", "urllib3")
HTTP_RETRIES = "2"
HTTP_TIMEOUT_S = "20"


def tracking_uri(settings: Settings) -> str:
    """The configured tracking URI, or the embedded SQLite store's (its directory created)."""
    if settings.model.tracking_uri:
        return settings.model.tracking_uri
    store = settings.model.store_dir.resolve()
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{store / 'mlflow.db'}"


def describe_uri(uri: str) -> str:
    """The URI without user info (a server URL may carry credentials)."""
    if "://" in uri and "@" in uri.split("://", 1)[1].split("/", 1)[0]:
        scheme, rest = uri.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return uri


_QUIET_LOCK = threading.Lock()
_quiet_threads: Counter[int] = Counter()
"""Threads inside :func:`quiet` (a count each: the blocks nest)."""
_saved_levels: dict[str, int] = {}


class _MutedThreadsStderr:
    """``sys.stderr`` while some thread is inside :func:`quiet`: that thread's writes are dropped,
    every other thread's go to the stream it wraps (``bnpl serve`` logs its requests and its
    warm-up while the champion poller talks to MLflow). Left installed by someone who saved it
    (a capture that ended later), it only forwards."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # a text stream, also for callers probing with bytes
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        if threading.get_ident() not in _quiet_threads:
            self.stream.write(text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


class _MutedThreadsShowwarning:
    """``warnings.showwarning`` while some thread is inside :func:`quiet`: that thread's warnings
    are dropped, every other thread's shown by the function it wraps. Left installed by a
    ``warnings.catch_warnings`` that ended later, it only forwards."""

    def __init__(self, inner: Callable[..., Any]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        if threading.get_ident() not in _quiet_threads:
            self.inner(*args, **kwargs)


def _mute() -> None:
    with _QUIET_LOCK:
        if not _quiet_threads:
            if not isinstance(sys.stderr, _MutedThreadsStderr):
                sys.stderr = _MutedThreadsStderr(sys.stderr)
            if not isinstance(warnings.showwarning, _MutedThreadsShowwarning):
                warnings.showwarning = _MutedThreadsShowwarning(warnings.showwarning)
            for name in QUIET_LOGGERS:
                _saved_levels[name] = logging.getLogger(name).level
                logging.getLogger(name).setLevel(logging.WARNING)
        _quiet_threads[threading.get_ident()] += 1


def _unmute() -> None:
    with _QUIET_LOCK:
        ident = threading.get_ident()
        _quiet_threads[ident] -= 1
        if _quiet_threads[ident] == 0:
            del _quiet_threads[ident]
        if _quiet_threads:
            return
        stderr, showwarning = sys.stderr, warnings.showwarning
        if isinstance(stderr, _MutedThreadsStderr):  # else it was replaced since: leave it
            sys.stderr = stderr.stream
        if isinstance(showwarning, _MutedThreadsShowwarning):
            warnings.showwarning = showwarning.inner
        for name, level in _saved_levels.items():
            logging.getLogger(name).setLevel(level)
        _saved_levels.clear()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's chatter off for the block: its loggers at WARNING (until the last thread in a
    block leaves), and this thread's Python warnings and direct prints to stderr (``Successfully
    registered model ...``) dropped. Other threads' stderr and warnings pass
    (``contextlib.redirect_stderr`` would swallow them too: it swaps the process's stream).

    Two limits: what threads MLflow starts inside the block print or warn is not dropped (an
    artifact download's pool), and a warnings filter set to ``error`` still raises inside the
    block (filters are the process's, not a thread's)."""
    _mute()
    try:
        yield
    finally:
        _unmute()


def check_reachable(uri: str) -> None:
    """Fail fast when a tracking server does not answer (MLflow itself retries for minutes).

    Raises:
        ConfigError: naming the server and the setting.
    """
    if not uri.startswith(("http://", "https://")):
        return
    try:
        response = httpx.get(f"{uri.rstrip('/')}/health", timeout=5.0)
        answered = response.status_code < 500
    except httpx.HTTPError as exc:
        answered, response = False, exc  # type: ignore[assignment]
    if not answered:
        raise ConfigError(
            f"the MLflow tracking server at {describe_uri(uri)} does not answer ({response}); "
            "start it (mlflow server --host 127.0.0.1) or fix BNPL_MODEL__TRACKING_URI "
            "(unset: the embedded store under .bnpl/mlflow)"
        )


def open_client(settings: Settings) -> Any:
    """An ``MlflowClient`` of the configured store, also set as MLflow's global tracking and
    registry URI (``log_model`` and ``load_model`` use those).

    Raises:
        ConfigError: MLflow is not installed, or the tracking server does not answer.
    """
    uri = tracking_uri(settings)
    check_reachable(uri)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", HTTP_RETRIES)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", HTTP_TIMEOUT_S)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    try:
        with quiet():
            import mlflow
            from mlflow import MlflowClient
    except ImportError as exc:
        raise ConfigError(
            "bnpl model needs MLflow and scikit-learn, an optional extra: pip install 'bnpl[ml]'"
        ) from exc
    with quiet():
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
        return MlflowClient(tracking_uri=uri, registry_uri=uri)


def experiment_id(client: Any, settings: Settings) -> str:
    """The training experiment's id, created on first use (embedded store: artifacts under
    ``<store_dir>/artifacts``)."""
    name = settings.model.registered_model
    with quiet():
        found = client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        location = None
        if not settings.model.tracking_uri:
            artifacts = settings.model.store_dir.resolve() / "artifacts"
            artifacts.mkdir(parents=True, exist_ok=True)
            location = artifacts.as_uri()
        return str(client.create_experiment(name, artifact_location=location))
