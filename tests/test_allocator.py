"""The ingestion commands' allocator setting (bnpl.allocator): Polars' jemalloc reads it, the
ingestion commands and their simulator get it, and a user's own value wins."""

from __future__ import annotations

import os
import subprocess
import sys

from bnpl import allocator

_CHILD_SEES = "import os; print(os.environ.get('_RJEM_MALLOC_CONF', 'unset'))"


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


_MAIN_THEN_CHILD = """
import subprocess, sys
import bnpl.cli
sys.argv = ["bnpl", *sys.argv[1:]]
try:
    bnpl.cli.main()
except SystemExit:
    pass
subprocess.run([sys.executable, "-c", {child!r}], check=True)
"""


def test_ingestion_commands_pass_it_to_their_children_and_others_do_not():
    """``bnpl backfill`` (here stopped at its bad input, before any work) sets the variable for
    the processes it starts; ``bnpl status`` does not; a user's value is kept."""
    code = _MAIN_THEN_CHILD.format(child=_CHILD_SEES)
    backfill = ("backfill", "--start", "2024-02-30", "--end", "2024-03-01")
    ingest = _python(code, {}, *backfill)
    assert ingest.stdout.strip().endswith(allocator.JEMALLOC_CONF), ingest.stdout + ingest.stderr
    assert "2024-02-30" in ingest.stderr  # the bad date was reported: the command did run
    other = _python(code, {}, "status", "--help")
    assert other.stdout.strip().endswith("unset"), other.stdout + other.stderr
    users = _python(code, {allocator.JEMALLOC_VARIABLE: "narenas:2"}, *backfill)
    assert users.stdout.strip().endswith("narenas:2"), users.stdout + users.stderr
