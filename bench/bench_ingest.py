"""The full-year backfill (issue 3, item 7b): ``bnpl backfill --start 2024-01-01 --end 2024-12-31``.

Runs the installed command in a subprocess on the default plan (≈1.8M transactions) into a fresh
DuckDB file, with the bundled simulator and Prefect's ephemeral API, and records wall time, rows/s
and the peak RSS of the whole process tree (bnpl, the simulator, the temporary Prefect API),
sampled every 50 ms with psutil. Targets: ≤ 90 s wall, ≤ 2 GiB peak RSS on 2 cores.

In the same run, for comparison: the command with one Prefect task per day
(``BNPL_INGEST__DAYS_PER_TASK=1``), and the same year through the plain engine
(``bnpl.ingest.run_range``, no Prefect) in a subprocess, so the orchestration's share is visible;
CPU is broken down by process (bnpl, the temporary Prefect API, the simulator). PREFECT_HOME is a temporary
directory migrated before timing (a first run on a fresh home adds the migration, reported
separately).
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import psutil

START, END = "2024-01-01", "2024-12-31"
TARGET_WALL_S = 90.0
TARGET_RSS = 2 * 1024**3
BNPL = Path(sys.executable).with_name("bnpl")

_ENGINE = f"""
from datetime import date
from bnpl import ingest
from bnpl.cli import configure_logging
from bnpl.settings import load_settings
configure_logging()
with ingest.open_session(load_settings()) as session:
    summary = ingest.run_range(session, date.fromisoformat("{START}"), date.fromisoformat("{END}"))
print(summary)
"""


@dataclass(frozen=True)
class Measured:
    """One timed subprocess."""

    wall_s: float
    cpu_s: float
    peak_rss: int
    peak_main_rss: int
    returncode: int
    rows: int
    stdout: str
    stderr: str
    cpu_by_role: dict[str, float]


def _role(proc: psutil.Process, main: psutil.Process) -> str | None:
    """What a process of the tree is: bnpl itself, the simulator or the Prefect API (None while
    its command line cannot be read: a process that is exiting shows an empty one)."""
    if proc.pid == main.pid:
        return "bnpl"
    command = " ".join(proc.cmdline())
    if not command:
        return None
    return "simulator" if "bnpl.simulator._child" in command else "Prefect API"


def _sample(proc: psutil.Process, cpu: dict[int, tuple[str, float]]) -> tuple[int, int]:
    """Peak-RSS figures (tree, main) now; records each process's role and CPU seconds so far
    in ``cpu`` (by pid: the role first read stands, the last CPU reading before exit stands)."""
    total = main = 0
    try:
        main = proc.memory_info().rss
        total = main
        for p in [proc, *proc.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                if p is not proc:
                    total += p.memory_info().rss
                times = p.cpu_times()
                role = cpu[p.pid][0] if p.pid in cpu else _role(p, proc)
                if role is not None:
                    cpu[p.pid] = (role, times.user + times.system)
    except psutil.Error:
        pass
    return total, main


def _children_cpu() -> float:
    """CPU seconds of every waited-for descendant so far (the tree: each process waits for its
    own children, the simulator and the temporary Prefect API included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(cmd: list[str], env: dict[str, str], cwd: Path, warehouse: Path) -> Measured:
    began, cpu_before = time.perf_counter(), _children_cpu()
    proc = subprocess.Popen(
        cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    watched = psutil.Process(proc.pid)
    peaks = [0, 0]
    cpu: dict[int, tuple[str, float]] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, main = _sample(watched, cpu)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], main)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - began
    cpu_s = _children_cpu() - cpu_before
    done.set()
    sampler.join()
    rows = 0
    if warehouse.exists():
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            found = con.sql("SELECT coalesce(sum(records_loaded), 0) FROM bnpl_raw.source_batches")
            rows = int(found.fetchall()[0][0])
        finally:
            con.close()
    by_role: dict[str, float] = {}
    for role, seconds in cpu.values():
        by_role[role] = by_role.get(role, 0.0) + seconds
    return Measured(wall, cpu_s, peaks[0], peaks[1], proc.returncode, rows, out, err, by_role)


def _env(home: Path, warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BNPL_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(home),
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_ENABLE_HTTP2="false",
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="180",
        BNPL_WAREHOUSE__PATH=str(warehouse),
    )
    return env


def _migrate(home: Path) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", "from prefect import flow\nflow(name='warm-up')(lambda: 1)()"],
        env=_env(home, home / "unused.duckdb"),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - began


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def _verdict(ok: bool) -> str:
    return "meets" if ok else "MISSES"


def _row(label: str, m: Measured) -> str:
    roles = " | ".join(f"{m.cpu_by_role.get(r, 0.0):.1f} s" for r in _ROLES)
    return (
        f"| {label} | {m.wall_s:.1f} s | {m.cpu_s:.1f} s | {roles} | {m.rows:,} | "
        f"{m.rows / m.wall_s:,.0f} | {_gib(m.peak_rss)} | {_gib(m.peak_main_rss)} |"
    )


_ROLES = ("bnpl", "Prefect API", "simulator")


def main() -> str:
    """Run the command, the same with one task per day, and the baseline; return the report."""
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        home = root / "prefect"
        migrate_s = _migrate(home)
        load = os.getloadavg()
        cmd = [str(BNPL), "backfill", "--start", START, "--end", END]
        cli_wh = root / "cli.duckdb"
        cli = _measure(cmd, _env(home, cli_wh), root, cli_wh)
        per_day_wh = root / "per-day.duckdb"
        per_day_env = _env(home, per_day_wh) | {"BNPL_INGEST__DAYS_PER_TASK": "1"}
        per_day = _measure(cmd, per_day_env, root, per_day_wh)
        engine_wh = root / "engine.duckdb"
        engine = _measure([sys.executable, "-c", _ENGINE], _env(home, engine_wh), root, engine_wh)
        size = cli_wh.stat().st_size if cli_wh.exists() else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    runs = (("bnpl backfill", cli), ("one task per day", per_day), ("engine baseline", engine))
    for name, m in runs:
        if m.returncode != 0:
            return f"{name} failed with exit code {m.returncode}:\n\n```\n{m.stderr[-3000:]}\n```\n"
    summary = cli.stdout.strip()
    return f"""
Command: `bnpl backfill --start {START} --end {END}` (default plan, bundled simulator, fresh
DuckDB file, Prefect ephemeral API, PREFECT_HOME migrated beforehand). Load average before the
runs: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}. In the same run, one after the other: the
command as shipped (`BNPL_INGEST__DAYS_PER_TASK` 4), the command with one Prefect task per day
(`BNPL_INGEST__DAYS_PER_TASK=1`), and the plain engine without Prefect.

| run | wall | CPU (process tree) | CPU: bnpl | CPU: Prefect API | CPU: simulator | rows | rows/s | peak RSS (process tree) | peak RSS (main process) |
|---|---|---|---|---|---|---|---|---|---|
{_row("`bnpl backfill`", cli)}
{_row("`bnpl backfill`, one task per day", per_day)}
{_row("baseline: `bnpl.ingest.run_range`, no Prefect", engine)}

CPU per process is sampled every 50 ms (a process's last sample before it exits); the tree's
CPU is exact (`getrusage`). CPU over wall above 1.8 means both cores were busy most of the run:
the run is CPU-bound.

Targets: wall ≤ {TARGET_WALL_S:.0f} s — {_verdict(cli.wall_s <= TARGET_WALL_S)}; peak RSS ≤
{_gib(TARGET_RSS)} — {_verdict(cli.peak_rss <= TARGET_RSS)}. Warehouse file: {size / 1e6:.0f} MB.
A first run on a fresh PREFECT_HOME also pays the Prefect database migration: {migrate_s:.1f} s
here.

The command's summary:

```
{summary}
```
"""


if __name__ == "__main__":
    print(main())
