"""Where a full ``bnpl build`` spends its CPU, statement by statement (issue 12, "Numbers").

``python -m bench.profile_build LOADED.duckdb [NAME=VALUE ...]`` copies a loaded warehouse (e.g. a
year loaded by ``bnpl backfill``) next to it, runs ``bnpl build`` on the copy in this process and
times every statement the DuckDB adapter runs (``query``, ``execute``, ``execute_many``): wall
seconds and this process's CPU seconds (user + system; DuckDB's worker threads are in-process, so
their work counts, other processes' load does not). ``NAME=VALUE`` pairs are set in the
environment first (e.g. ``BNPL_WAREHOUSE__MEMORY_LIMIT=1536MB``). Prints a Markdown table: the
models' statements, the checks (summed), and the rest of the process (start-up, planning,
compiling, small statements).

DuckDB's own per-operator profile of one statement: ``bnpl build --full-refresh --dry-run``
prints the statements; run one with ``PRAGMA enable_profiling = 'json'``.
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

_TARGET = re.compile(r'^CREATE OR REPLACE TABLE "(\w+)"\."(\w+)"|^DELETE FROM "(\w+)"\."(\w+)"')


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _label(first: str | Sequence[str]) -> str:
    text = first if isinstance(first, str) else " ;; ".join(first)
    flat = " ".join(text.split())
    match = _TARGET.match(flat)
    if match:
        table = match[2] or match[4]
        return "publish" if table.startswith("_bnpl") else f"model {table}"
    if "Wraps an assertion" in flat or flat.startswith("/*"):
        return "check"
    return "other statement"


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    loaded = Path(argv[0]).resolve()
    for pair in argv[1:]:
        name, _, value = pair.partition("=")
        os.environ[name] = value
    copy = loaded.with_name(f"{loaded.stem}-profile.duckdb")
    copy.unlink(missing_ok=True)
    Path(f"{copy}.wal").unlink(missing_ok=True)
    shutil.copyfile(loaded, copy)
    os.environ["BNPL_WAREHOUSE__PATH"] = str(copy)

    from bnpl.cli import main as bnpl_main
    from bnpl.warehouse.duckdb import DuckDBWarehouse

    records: list[tuple[str, float, float]] = []

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: DuckDBWarehouse, *args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), _cpu()
            try:
                return method(self, *args, **kwargs)
            finally:
                records.append((_label(args[0]), time.perf_counter() - wall, _cpu() - cpu))

        return wrapper

    for name in ("query", "execute", "execute_many"):
        setattr(DuckDBWarehouse, name, timed(getattr(DuckDBWarehouse, name)))
    began, cpu0 = time.perf_counter(), _cpu()
    try:
        bnpl_main(["build"])
    except SystemExit as exc:
        if exc.code:
            raise
    wall, cpu = time.perf_counter() - began, _cpu() - cpu0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    copy.unlink(missing_ok=True)
    totals: dict[str, list[float]] = {}
    for label, seconds, cpu_s in records:
        entry = totals.setdefault(label, [0.0, 0.0, 0.0])
        entry[0] += seconds
        entry[1] += cpu_s
        entry[2] += 1
    rows = sorted(totals.items(), key=lambda item: -item[1][1])
    print("| statement | n | wall | CPU |\n|---|---:|---:|---:|")
    for label, (seconds, cpu_s, count) in rows:
        print(f"| {label} | {count:.0f} | {seconds:.1f} s | {cpu_s:.2f} s |")
    rest = cpu - sum(v[1] for v in totals.values())
    print(f"| start-up, planning, compiling | | | {rest:.2f} s |")
    print(
        f"| **whole build** | | {wall:.1f} s | **{cpu:.1f} s** |\n\n"
        f"Peak RSS {peak / 1024**3:.2f} GiB; 1-minute load average {os.getloadavg()[0]:.1f}."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
