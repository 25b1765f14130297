"""The ingestion commands' allocator setting (bnpl.allocator): Polars' jemalloc reads it, the
ingestion commands set it for themselves (not for the simulator), and a user's value wins."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bnpl import allocator


def _python(code: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != allocator.JEMALLOC_VARIABLE}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_configure_sets_the_variable_unless_the_user_has():
    """The variable is added once; a value the user set is never replaced; Polars' own defaults,
    which a parent that imported Polars passes on, are not the user's."""
    name = allocator.JEMALLOC_VARIABLE
    environ: dict[str, str] = {}
    assert allocator.configure(environ) is True
    assert environ == {name: allocator.JEMALLOC_CONF}
    assert name not in allocator.child_environment(environ)
    mine = {name: "narenas:1"}
    assert allocator.configure(mine) is False
    assert mine == {name: "narenas:1"}
    assert allocator.child_environment(mine) == mine
    for polars_default in sorted(allocator.POLARS_DEFAULTS):
        inherited = {name: polars_default}
        assert allocator.configure(inherited) is True
        assert inherited[name] == f"{polars_default},{allocator.JEMALLOC_CONF}"
        assert allocator.child_environment(inherited) == {name: polars_default}


def test_polars_writes_the_defaults_configure_recognises():
    """Importing Polars with the variable unset leaves one of POLARS_DEFAULTS in it (if Polars
    changes its defaults, this fails and the set needs the new value)."""
    seen = _python("import os, polars; print(os.environ['_RJEM_MALLOC_CONF'])", {})
    assert seen.returncode == 0, seen.stderr
    assert seen.stdout.strip() in allocator.POLARS_DEFAULTS


def test_the_allocator_commands_are_commands():
    """Each name in ALLOCATOR_COMMANDS is a registered top-level command (no stale names)."""
    from bnpl.cli import ALLOCATOR_COMMANDS
    from bnpl.cli.commands import AREAS

    known = {name for names in AREAS.values() for name in names}
    assert known >= ALLOCATOR_COMMANDS


_POLARS_WORK = "import polars as pl; print(pl.DataFrame({'a': list(range(100000))})['a'].sum())"


def test_polars_jemalloc_reads_the_variable_and_accepts_the_options():
    """Polars runs with the options and its jemalloc reports none as invalid; an unknown option
    in the same variable is reported."""
    good = _python(_POLARS_WORK, {allocator.JEMALLOC_VARIABLE: allocator.JEMALLOC_CONF})
    assert good.returncode == 0, good.stderr
    assert good.stdout.strip() == str(sum(range(100000)))
    assert "jemalloc" not in good.stderr, good.stderr
    # the control: an option jemalloc does not know is reported, so this is the variable it reads
    bad = _python(_POLARS_WORK, {allocator.JEMALLOC_VARIABLE: "no_such_option:1"})
    assert "Invalid conf pair" in bad.stderr, bad.stderr


_AFTER_MAIN = """
import os, sys
import bnpl.cli
from bnpl import allocator
sys.argv = ["bnpl", *sys.argv[1:]]
try:
    bnpl.cli.main()
except SystemExit:
    pass
name = allocator.JEMALLOC_VARIABLE
print(os.environ.get(name, "unset"), allocator.child_environment().get(name, "unset"))
"""


def test_ingestion_commands_set_it_for_their_own_process_only():
    """``bnpl backfill`` (here stopped at its bad input, before any work) sets the variable for
    its own process, not for the simulator it starts; ``bnpl status`` does not set it; a user's
    value is kept for both."""
    backfill = ("backfill", "--start", "2024-02-30", "--end", "2024-03-01")
    # Polars, once imported, puts its own defaults in front (the last value of an option wins)
    ingest = _python(_AFTER_MAIN, {}, *backfill)
    here, child = ingest.stdout.split()[-2:]
    assert here.endswith(allocator.JEMALLOC_CONF), ingest.stderr
    assert child in {"unset", *allocator.POLARS_DEFAULTS}, ingest.stderr  # as if never set
    assert "2024-02-30" in ingest.stderr  # the bad date was reported: the command did run
    other = _python(_AFTER_MAIN, {}, "status", "--help")
    assert other.stdout.split()[-2:] == ["unset", "unset"], other.stderr
    users = _python(_AFTER_MAIN, {allocator.JEMALLOC_VARIABLE: "narenas:2"}, *backfill)
    here, child = users.stdout.split()[-2:]
    assert here.endswith("narenas:2") and child == here, users.stderr


_SIMULATOR_ENV = """
import os
from bnpl import allocator
from bnpl.settings import SimulatorSettings
from bnpl.simulator.process import BackgroundSimulator
allocator.configure()
simulator = BackgroundSimulator(SimulatorSettings(port=0))
try:
    simulator.url()
    with open(f"/proc/{simulator.process.pid}/environ", "rb") as f:
        child = dict(v.split(b"=", 1) for v in f.read().split(b"\\0") if b"=" in v)
finally:
    simulator.stop()
print(os.environ[allocator.JEMALLOC_VARIABLE], child.get(b"_RJEM_MALLOC_CONF", b"unset").decode())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/<pid>/environ")
def test_the_bundled_simulator_starts_without_the_setting():
    """After configure(), this process has the setting and the simulator it starts does not."""
    done = _python(_SIMULATOR_ENV, {})
    assert done.returncode == 0, done.stderr
    here, child = done.stdout.split()[-2:]
    assert here == allocator.JEMALLOC_CONF
    assert child == "unset"
