"""The MLflow tracking store and model registry: where they are, opened quietly.

MLflow is slow to import (seconds), so it is imported only inside these functions: ``bnpl --help``
and the other commands never pay for it. The embedded default is a SQLite store under
``.bnpl/mlflow`` (``BNPL_MODEL__STORE_DIR``) with its model artifacts beside it; a tracking
server is ``BNPL_MODEL__TRACKING_URI=http://...``.

MLflow logs its own progress (database migrations, "Created version ...") and warns about
pickling and requirements; a normal bnpl run shows none of it: :func:`quiet` keeps MLflow's
loggers at WARNING, drops its Python warnings and its direct stderr prints.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections import Counter
from collections.abc import Iterator
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
_saved: dict[str, Any] = {}


class _MutedThreadsStderr:
    """``sys.stderr`` while some thread is inside :func:`quiet`: that thread's writes are dropped,
    every other thread's go to the stream it replaced (``bnpl serve`` logs its requests and its
    warm-up while the champion poller talks to MLflow)."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        if threading.get_ident() in _quiet_threads:
            return len(text)
        return int(self.stream.write(text))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def _showwarning(*args: Any, **kwargs: Any) -> None:
    if threading.get_ident() not in _quiet_threads:
        _saved["showwarning"](*args, **kwargs)


def _mute() -> None:
    with _QUIET_LOCK:
        if not _quiet_threads:
            _saved["stderr"] = sys.stderr
            _saved["showwarning"] = warnings.showwarning
            sys.stderr = _MutedThreadsStderr(sys.stderr)
            warnings.showwarning = _showwarning
        _quiet_threads[threading.get_ident()] += 1


def _unmute() -> None:
    with _QUIET_LOCK:
        ident = threading.get_ident()
        _quiet_threads[ident] -= 1
        if _quiet_threads[ident] == 0:
            del _quiet_threads[ident]
        if not _quiet_threads:
            if isinstance(sys.stderr, _MutedThreadsStderr):  # else someone swapped it since
                sys.stderr = _saved["stderr"]
            if warnings.showwarning is _showwarning:
                warnings.showwarning = _saved["showwarning"]
            _saved.clear()


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """MLflow's chatter off for the block: loggers at WARNING, and this thread's Python warnings
    and direct prints to stderr (``Successfully registered model ...``) dropped. Other threads'
    stderr and warnings pass (``contextlib.redirect_stderr`` would swallow them too: it swaps the
    process's stream)."""
    saved = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    _mute()
    try:
        yield
    finally:
        _unmute()
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


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
