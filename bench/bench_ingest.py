"""The full-year backfill (issue 3, item 7b): ``bnpl backfill --start 2024-01-01 --end 2024-12-31``.

Runs the installed command in a subprocess on the default plan (≈1.8M transactions) into a fresh
DuckDB file, with the bundled simulator and Prefect's ephemeral API, and records wall time, rows/s
and the peak RSS of the whole process tree (bnpl, the simulator, the temporary Prefect API),
sampled every 50 ms with psutil. Targets: ≤ 90 s wall, ≤ 2 GiB peak RSS on 2 cores.

Baseline, in the same run: the same year through the plain engine (``bnpl.ingest.run_range``,
no Prefect) in a subprocess, so the orchestration's share is visible. PREFECT_HOME is a temporary
directory migrated before timing (a first run on a fresh home adds the migration, reported
separately).
"""

from __future__ import annotations

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


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    total = main = 0
    try:
        main = proc.memory_info().rss
        total = main + sum(
            c.memory_info().rss for c in proc.children(recursive=True) if c.is_running()
        )
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
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            total, main = _tree_rss(watched)
            peaks[0], peaks[1] = max(peaks[0], total), max(peaks[1], main)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - began
    cpu = _children_cpu() - cpu_before
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
    return Measured(wall, cpu, peaks[0], peaks[1], proc.returncode, rows, out, err)


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


def main() -> str:
    """Run the command and the baseline once each; return the Markdown report."""
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    try:
        home = root / "prefect"
        migrate_s = _migrate(home)
        load = os.getloadavg()
        cli_wh = root / "cli.duckdb"
        cmd = [str(BNPL), "backfill", "--start", START, "--end", END]
        cli = _measure(cmd, _env(home, cli_wh), root, cli_wh)
        engine_wh = root / "engine.duckdb"
        engine = _measure([sys.executable, "-c", _ENGINE], _env(home, engine_wh), root, engine_wh)
        size = cli_wh.stat().st_size if cli_wh.exists() else 0
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, m in (("bnpl backfill", cli), ("engine baseline", engine)):
        if m.returncode != 0:
            return f"{name} failed with exit code {m.returncode}:\n\n```\n{m.stderr[-3000:]}\n```\n"
    summary = cli.stdout.strip()
    return f"""
Command: `bnpl backfill --start {START} --end {END}` (default plan, bundled simulator, fresh
DuckDB file, Prefect ephemeral API, PREFECT_HOME migrated beforehand). Load average before the
run: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}.

| run | wall | CPU (process tree) | rows | rows/s | peak RSS (process tree) | peak RSS (main process) |
|---|---|---|---|---|---|---|
| `bnpl backfill` | {cli.wall_s:.1f} s | {cli.cpu_s:.1f} s | {cli.rows:,} | {cli.rows / cli.wall_s:,.0f} | {_gib(cli.peak_rss)} | {_gib(cli.peak_main_rss)} |
| baseline: `bnpl.ingest.run_range`, no Prefect | {engine.wall_s:.1f} s | {engine.cpu_s:.1f} s | {engine.rows:,} | {engine.rows / engine.wall_s:,.0f} | {_gib(engine.peak_rss)} | {_gib(engine.peak_main_rss)} |

CPU over wall above 1.8 means both cores were busy most of the run: the run is CPU-bound.

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
