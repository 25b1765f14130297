"""The registered model's versions and aliases, read and written through an ``MlflowClient``.

A version's tags say what it is (``bnpl.*``): the as-of date it was trained as of, its training
window (first and last day of the train split), its features and the training set's fingerprint.
Aliases ``champion`` and ``challenger`` point at versions; ``bnpl.previous_champions`` on the
registered model keeps the champions in order, so that ``rollback`` can restore the one before.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from bnpl.errors import ConfigError, RegistryError
from bnpl.governance.store import describe_uri, quiet
from bnpl.governance.window import Window

logger = logging.getLogger(__name__)

CHAMPION = "champion"
CHALLENGER = "challenger"
ALIASES = (CHAMPION, CHALLENGER)
TAG = "bnpl."
HISTORY_TAG = "bnpl.champion_history"
"""Registered-model tag: the champion versions in the order they were made champion (JSON)."""


@dataclass(frozen=True)
class VersionInfo:
    """One registered model version as bnpl reads it.

    Attributes:
        version: the version number.
        run_id: the training run.
        as_of: the as-of date it was trained as of.
        training: its training window.
        features: the feature columns it takes, in order.
        aliases: its aliases.
        tags: every tag.
    """

    version: int
    run_id: str
    as_of: date
    training: Window
    features: tuple[str, ...]
    aliases: tuple[str, ...]
    tags: Mapping[str, str]


def _missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND")


def model_exists(client: Any, name: str) -> bool:
    """Whether the registered model ``name`` exists."""
    from mlflow.exceptions import MlflowException

    try:
        with quiet():
            client.get_registered_model(name)
    except MlflowException as exc:
        if _missing(exc):
            return False
        raise RegistryError(f"cannot read registered model {name!r}: {exc.message}") from None
    return True


def require_model(client: Any, name: str) -> None:
    """Raise unless the registered model exists.

    Raises:
        ConfigError: saying how to create it or which setting names it.
    """
    if not model_exists(client, name):
        raise ConfigError(
            f"registered model {name!r} does not exist in {describe_uri(client.tracking_uri)}; "
            "train one with `bnpl model train --as-of YYYY-MM-DD`, or fix "
            "BNPL_MODEL__REGISTERED_MODEL"
        )


def version_info(client: Any, name: str, version: int | str) -> VersionInfo:
    """The version's bnpl tags, parsed.

    Raises:
        RegistryError: the version lacks bnpl's tags (not trained by bnpl).
    """
    with quiet():
        mv = client.get_model_version(name, str(version))
    tags = dict(mv.tags)
    try:
        return VersionInfo(
            version=int(mv.version),
            run_id=str(mv.run_id or ""),
            as_of=date.fromisoformat(tags["bnpl.as_of"]),
            training=Window(
                date.fromisoformat(tags["bnpl.train_start"]),
                date.fromisoformat(tags["bnpl.train_end"]),
            ),
            features=tuple(json.loads(tags["bnpl.features"])),
            aliases=tuple(sorted(getattr(mv, "aliases", []) or [])),
            tags=tags,
        )
    except (KeyError, ValueError) as exc:
        raise RegistryError(
            f"version {version} of {name!r} lacks bnpl's tags ({exc}); it was not registered by "
            "bnpl model train"
        ) from None


def alias_version(client: Any, name: str, alias: str) -> int | None:
    """The version ``alias`` points at, or None."""
    from mlflow.exceptions import MlflowException

    try:
        with quiet():
            return int(client.get_model_version_by_alias(name, alias).version)
    except MlflowException as exc:
        if _missing(exc):
            return None
        raise RegistryError(f"cannot read alias {alias!r} of {name!r}: {exc.message}") from None


def versions(client: Any, name: str) -> list[VersionInfo]:
    """Every version bnpl registered, newest first."""
    with quiet():
        found = client.search_model_versions(f"name = '{name}'")
    numbers = sorted((int(mv.version) for mv in found), reverse=True)
    return [version_info(client, name, v) for v in numbers]


def latest_version(client: Any, name: str) -> int | None:
    """The newest version number, or None."""
    with quiet():
        found = client.search_model_versions(f"name = '{name}'")
    return max((int(mv.version) for mv in found), default=None)


def champion_history(client: Any, name: str) -> list[int]:
    """The champion versions, oldest first (the last is the current one)."""
    with quiet():
        tags = dict(client.get_registered_model(name).tags)
    return [int(v) for v in json.loads(tags.get(HISTORY_TAG, "[]"))]


def set_champion(client: Any, name: str, version: int, *, history: Sequence[int]) -> None:
    """Point ``champion`` at ``version`` and record the champion history; ``challenger`` is
    removed when it points at the new champion."""
    with quiet():
        client.set_registered_model_tag(name, HISTORY_TAG, json.dumps(list(history)))
        client.set_registered_model_alias(name, CHAMPION, str(version))
        if alias_version(client, name, CHALLENGER) == version:
            client.delete_registered_model_alias(name, CHALLENGER)


def tag_version(client: Any, name: str, version: int, tags: Mapping[str, str]) -> None:
    """Set tags on a version."""
    with quiet():
        for key, value in tags.items():
            client.set_model_version_tag(name, str(version), key, value)


def register_version(
    client: Any,
    name: str,
    model: Any,
    *,
    run_id: str,
    tags: Mapping[str, str],
    alias: str = CHALLENGER,
    signature: Any = None,
) -> int:
    """Log ``model`` to the active MLflow run ``run_id`` and register it as a new version of
    ``name`` (created when missing) with ``tags``; ``alias`` moves to it. Returns the version."""
    import mlflow

    from bnpl.governance.estimator import TRUSTED_TYPES

    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=signature,
        pip_requirements=["scikit-learn", "pandas"],
        skops_trusted_types=TRUSTED_TYPES,
    )
    if not model_exists(client, name):
        client.create_registered_model(name, description="bnpl probability of default")
    version = int(
        client.create_model_version(name, info.model_uri, run_id=run_id, tags=tags).version
    )
    client.set_registered_model_alias(name, alias, str(version))
    return version


def load_model(settings: Any, alias: str = CHAMPION) -> tuple[Any, int, tuple[str, ...]]:
    """The model ``alias`` points at: ``(model, version, feature_names)``.

    ``model.predict_proba(frame)[:, 1]`` is the probability of default, where ``frame`` is a
    pandas DataFrame of ``feature_names`` columns (:func:`bnpl.governance.estimator.model_input`
    builds it from training-set rows).

    Raises:
        ConfigError: the registered model or the alias does not exist, the server does not
            answer, or MLflow is not installed.
    """
    from bnpl.governance.store import open_client

    client = open_client(settings)
    name = settings.model.registered_model
    require_model(client, name)
    version = alias_version(client, name, alias)
    if version is None:
        raise ConfigError(
            f"registered model {name!r} has no {alias!r} alias; "
            + (
                "make the first champion with `bnpl model promote --initial`"
                if alias == CHAMPION
                else "train a challenger with `bnpl model train --as-of YYYY-MM-DD`"
            )
        )
    info = version_info(client, name, version)
    import mlflow

    with quiet():
        model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    return model, version, info.features
