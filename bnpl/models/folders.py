"""Where model templates come from: the bundled ``sql/`` and a user's project directory
(``BNPL_PROJECT__DIR``), whose ``models/`` folder is laid out as ``sql/`` is."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bnpl.bundle import SQL_DIR
from bnpl.errors import ConfigError

USER_MODELS = "models"
"""The folder of a user's project directory that holds its models (``staging/``, ...)."""


@dataclass(frozen=True, slots=True)
class ModelFolder:
    """A folder of model templates.

    Attributes:
        path: the folder, resolved.
        label: how messages and docs name it (``sql``, or the user's path to ``models``).
        user: it belongs to the user's project directory: its problems are the user's input.
    """

    path: Path
    label: str
    user: bool


def bundled_folder(sql_dir: Path | None = None) -> ModelFolder:
    """``sql_dir`` (default: the bundled ``sql/``); the bundled one is named ``sql`` wherever
    it is installed, as in the repository."""
    root = (sql_dir or SQL_DIR).resolve()
    return ModelFolder(root, "sql" if root == SQL_DIR.resolve() else root.name, user=False)


def user_folder(user_dir: Path) -> ModelFolder:
    """``user_dir/models``, checked to be a readable folder.

    Raises:
        ConfigError: naming ``BNPL_PROJECT__DIR`` and what is wrong.
    """
    models = (user_dir / USER_MODELS).resolve()
    if not user_dir.is_dir():
        raise ConfigError(f"BNPL_PROJECT__DIR: {user_dir} is not a directory")
    if not models.is_dir():
        raise ConfigError(
            f"BNPL_PROJECT__DIR: {user_dir} holds no {USER_MODELS}/ folder; put the project's "
            f"models in {USER_MODELS}/staging, {USER_MODELS}/intermediate or {USER_MODELS}/marts"
        )
    try:
        next(models.iterdir(), None)
    except OSError as exc:
        raise ConfigError(f"BNPL_PROJECT__DIR: cannot read {models}: {exc}") from None
    return ModelFolder(models, str(user_dir / USER_MODELS), user=True)
