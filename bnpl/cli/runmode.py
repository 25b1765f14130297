"""Whether a command runs as a Prefect flow or calls :mod:`bnpl.pipeline` directly.

A command runs as its Prefect flow when the user asks for it (``--prefect``) or when a Prefect API
is configured where Prefect itself would find it; otherwise it calls the verbs in-process and
never imports Prefect (its temporary API costs 8-15 s a command; ``docs/decisions.md``).
``--no-prefect`` runs directly even with an API configured.

Prefect's settings are read here without importing Prefect, from the places Prefect 3 reads
``PREFECT_API_URL`` from: the environment, a ``.env`` file, ``prefect.toml`` (``[api] url``) and
``pyproject.toml`` (``[tool.prefect.api] url``) in the working directory, and the active profile
(``PREFECT_PROFILE``, else ``active`` in ``profiles.toml`` under ``PREFECT_PROFILES_PATH`` or
``PREFECT_HOME``, default ``~/.prefect``).
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def prefect_api_source(
    environ: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str | None:
    """Where a Prefect API URL is configured (e.g. ``"PREFECT_API_URL"``, ``"profile 'local'"``),
    or None when none is."""
    env = os.environ if environ is None else environ
    here = Path.cwd() if cwd is None else cwd
    if env.get("PREFECT_API_URL"):
        return "PREFECT_API_URL"
    if _dotenv_value(here / ".env", "PREFECT_API_URL"):
        return ".env"
    if _toml_get(here / "prefect.toml", ("api", "url")):
        return "prefect.toml"
    if _toml_get(here / "pyproject.toml", ("tool", "prefect", "api", "url")):
        return "pyproject.toml [tool.prefect]"
    home = Path(env.get("PREFECT_HOME") or "~/.prefect").expanduser()
    profiles = Path(env.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    data = _toml(profiles)
    active = env.get("PREFECT_PROFILE") or data.get("active")
    if isinstance(active, str):
        profile = data.get("profiles", {}).get(active, {})
        if isinstance(profile, dict) and profile.get("PREFECT_API_URL"):
            return f"profile {active!r}"
    return None


def use_prefect(asked: bool | None) -> bool:
    """``--prefect`` (True) or ``--no-prefect`` (False) as given; else whether an API is
    configured."""
    if asked is not None:
        return asked
    source = prefect_api_source()
    if source is not None:
        logger.debug("running as a Prefect flow: a Prefect API is configured (%s)", source)
    return source is not None


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}  # unreadable: Prefect would not find an API there either


def _toml_get(path: Path, keys: tuple[str, ...]) -> object:
    node: object = _toml(path)
    for key in keys:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node


def _dotenv_value(path: Path, name: str) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    for line in lines:
        key, sep, value = line.strip().removeprefix("export ").partition("=")
        if sep and key.strip() == name:
            return value.strip().strip("'\"") or None
    return None
