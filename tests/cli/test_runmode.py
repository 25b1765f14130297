"""bnpl.cli.runmode: a command runs as a Prefect flow only where Prefect would find an API."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnpl.cli.runmode import prefect_api_source, use_prefect

URL = "http://127.0.0.1:4200/api"


def test_nothing_configured_means_direct(tmp_path: Path):
    """No variable, no file, no profile: no API, so commands run directly."""
    env = {"PREFECT_HOME": str(tmp_path / "home")}
    assert prefect_api_source(env, tmp_path) is None


def test_the_environment_variable_is_found(tmp_path: Path):
    """PREFECT_API_URL in the environment names the source."""
    assert prefect_api_source({"PREFECT_API_URL": URL}, tmp_path) == "PREFECT_API_URL"
    assert prefect_api_source({"PREFECT_API_URL": ""}, tmp_path) is None


@pytest.mark.parametrize(
    ("name", "text", "source"),
    [
        (".env", f"export PREFECT_API_URL='{URL}'\n", ".env"),
        ("prefect.toml", f'[api]\nurl = "{URL}"\n', "prefect.toml"),
        ("pyproject.toml", f'[tool.prefect.api]\nurl = "{URL}"\n', "pyproject.toml [tool.prefect]"),
    ],
)
def test_files_in_the_working_directory_are_found(tmp_path: Path, name, text, source):
    """.env, prefect.toml and pyproject.toml in the working directory, as Prefect reads them."""
    (tmp_path / name).write_text(text)
    assert prefect_api_source({"PREFECT_HOME": str(tmp_path / "h")}, tmp_path) == source


def test_the_active_profile_decides(tmp_path: Path):
    """The profile named by `active` (or PREFECT_PROFILE) counts, the others do not; a broken
    profiles file counts as none."""
    home = tmp_path / "home"
    home.mkdir()
    profiles = home / "profiles.toml"
    profiles.write_text(
        'active = "ephemeral"\n[profiles.ephemeral]\nPREFECT_SERVER_EPHEMERAL_ENABLED = "true"\n'
        f'[profiles.local]\nPREFECT_API_URL = "{URL}"\n'
    )
    env = {"PREFECT_HOME": str(home)}
    assert prefect_api_source(env, tmp_path) is None
    assert prefect_api_source({**env, "PREFECT_PROFILE": "local"}, tmp_path) == "profile 'local'"
    profiles.write_text(profiles.read_text().replace('"ephemeral"\n[', '"local"\n[', 1))
    assert prefect_api_source(env, tmp_path) == "profile 'local'"
    moved = tmp_path / "elsewhere.toml"
    profiles.rename(moved)
    assert prefect_api_source(env, tmp_path) is None
    assert prefect_api_source({**env, "PREFECT_PROFILES_PATH": str(moved)}, tmp_path)
    moved.write_text("active = [")
    assert prefect_api_source({**env, "PREFECT_PROFILES_PATH": str(moved)}, tmp_path) is None


def test_an_explicit_choice_wins(monkeypatch: pytest.MonkeyPatch):
    """--prefect and --no-prefect override what is configured."""
    monkeypatch.setenv("PREFECT_API_URL", URL)
    assert use_prefect(None) is True
    assert use_prefect(False) is False
    monkeypatch.delenv("PREFECT_API_URL")
    monkeypatch.setenv("PREFECT_HOME", "/nonexistent-bnpl-test")
    assert use_prefect(None) is False
    assert use_prefect(True) is True
