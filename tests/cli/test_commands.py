"""bnpl.cli.commands: one command imports only its own area; the area table matches the modules."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import typer

from bnpl.cli import commands


@pytest.mark.parametrize("area", sorted(commands.AREAS))
def test_area_table_names_what_each_module_registers(area: str):
    """Every area registers exactly the top-level names the table gives it."""
    app = typer.Typer()
    importlib.import_module(f"bnpl.cli.{area}").register(app)
    names = {c.name for c in app.registered_commands}
    names |= {g.name or g.typer_instance.info.name for g in app.registered_groups}
    assert names == set(commands.AREAS[area])


def test_command_name_skips_global_options():
    """Global flags and --log-level's value are skipped; no command gives None."""
    assert commands.command_name(["--quiet", "--log-level", "DEBUG", "build", "-s"]) == "build"
    assert commands.command_name(["--json", "check", "--start", "x"]) == "check"
    assert commands.command_name(["--help"]) is None
    assert commands.command_name([]) is None


def test_areas_for_picks_the_owner_or_every_area():
    """A known command selects its area; --version none; help or an unknown name all of them."""
    assert commands.areas_for(["--quiet", "daily", "--date", "2024-06-01"]) == ("orchestrate",)
    assert commands.areas_for(["serving", "promote"]) == ("serving",)
    assert commands.areas_for(["--help"]) == tuple(commands.AREAS)
    assert commands.areas_for(["no-such-command"]) == tuple(commands.AREAS)
    assert commands.areas_for(["--version"]) == ()


def test_build_help_does_not_import_the_ingest_side():
    """``bnpl build --help`` loads neither pandera nor the ingest package nor Prefect."""
    code = (
        "import sys\n"
        "from bnpl.cli import main\n"
        "try:\n"
        "    main(['build', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('pandera', 'bnpl.ingest', 'prefect') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert "Usage" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_unknown_command_still_lists_every_command():
    """An unknown command exits 2 and the help of the full app is reachable."""
    done = subprocess.run(
        [sys.executable, "-c", "from bnpl.cli import main; main(['--help'])"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    for names in commands.AREAS.values():
        for name in names:
            assert name in done.stdout
    bad = subprocess.run(
        [sys.executable, "-c", "from bnpl.cli import main; main(['no-such-command'])"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 2
    assert "no-such-command" in bad.stderr
