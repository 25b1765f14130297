""".env.example and the README document every setting, and the README starts with the quickstart."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from bnpl.settings import BigQuerySettings, DuckDBSettings, Settings

ROOT = Path(__file__).resolve().parents[1]


def _variables(model: type[BaseModel], prefix: str) -> set[str]:
    names: set[str] = set()
    for name, field in model.model_fields.items():
        var = f"{prefix}{name.upper()}"
        if name == "warehouse":
            names |= _variables(DuckDBSettings, f"{var}__") | _variables(
                BigQuerySettings, f"{var}__"
            )
        elif isinstance(field.default, BaseModel):
            names |= _variables(type(field.default), f"{var}__")
        else:
            names.add(var)
    return names


ALL = _variables(Settings, "BNPL_")


def test_every_setting_is_in_env_example():
    """Each BNPL_ variable appears in .env.example, and nothing there is stale."""
    listed = set(re.findall(r"^# (BNPL_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert ALL - listed == set(), "add these to .env.example"
    assert listed - ALL == set(), "remove these from .env.example"


def test_every_setting_is_in_the_readme_table():
    """The README's configuration table names each BNPL_ variable."""
    listed = set(re.findall(r"^\| `(BNPL_[A-Z0-9_]+)` \|", (ROOT / "README.md").read_text(), re.M))
    assert ALL - listed == set(), "add these to the README's configuration table"
    assert listed - ALL == set(), "remove these from the README's configuration table"


def test_readme_starts_with_the_two_command_quickstart():
    """The first section is the quickstart, and its first code block is exactly the two commands."""
    text = (ROOT / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[0] == "Quickstart"
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block is not None
    assert block.group(1).split("\n")[:-1] == ["make demo", "make test"]
