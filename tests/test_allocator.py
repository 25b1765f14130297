"""The ingestion commands' allocator setting (bnpl.allocator): Polars' jemalloc reads it, the
ingestion commands set it for themselves (not for the simulator), and a user's value wins."""

from __future__ import annotations

import os
import subprocess
import sys

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
    """The variable is added once; a value the user set is never replaced."""
    environ: dict[str, str] = {}
    assert allocator.configure(environ) is True
    assert environ == {allocator.JEMALLOC_VARIABLE: allocator.JEMALLOC_CONF}
    mine = {allocator.JEMALLOC_VARIABLE: "narenas:1"}
    assert allocator.configure(mine) is False
    assert mine == {allocator.JEMALLOC_VARIABLE: "narenas:1"}


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
    here, child = ingest.stdout.split()
    assert here.endswith(allocator.JEMALLOC_CONF) and child == "unset", ingest.stderr
    assert "2024-02-30" in ingest.stderr  # the bad date was reported: the command did run
    other = _python(_AFTER_MAIN, {}, "status", "--help")
    assert other.stdout.split()[-2:] == ["unset", "unset"], other.stderr
    users = _python(_AFTER_MAIN, {allocator.JEMALLOC_VARIABLE: "narenas:2"}, *backfill)
    here, child = users.stdout.split()
    assert here.endswith("narenas:2") and child == here, users.stderr
