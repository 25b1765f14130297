"""Where the year backfill's CPU goes, and the load change of issue 17 ("Numbers"), in one run.

1. Stages, one after the other in one process, over a month (``BENCH_STAGES_START``..``END``,
   default 2024-03-01..2024-03-31) on the embedded default with the bundled simulator: fetching
   every day (bnpl's client and the simulator process, CPU each), parsing
   (:func:`bnpl.normalize.parse_records`), preparing (:func:`bnpl.ingest.fetch.prepare_fetched`:
   parse, shape, key, screen, split, customers), then loading in groups of 8 days
   (:func:`bnpl.ingest.load.load_group`) with the load script on DuckDB's configured threads (as
   before) and on :data:`bnpl.warehouse.duckdb.LOAD_THREADS` (now), each into a fresh file.
   Sequential stages make each stage's process CPU exact (``time.process_time`` counts every
   thread: Polars', DuckDB's).
2. The year 2024-01-01..2024-12-31: the engine (``bnpl.ingest.run_range``, as ``bench_ingest``)
   as before (the load on DuckDB's threads), the engine now, and ``bnpl backfill`` now (direct,
   no Prefect API), each in a subprocess on a fresh file: wall, CPU of the process tree by
   process, peak RSS. Targets: ≤ 40 s wall, ≤ 1.5 GiB, ~≤ 70 CPU-s.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_ingest import BNPL, END, START, Measured, _env, _gib, _measure, _verdict

BASELINE = os.environ.get("BENCH_BASELINE")
"""A commit whose code runs the "before" year (its tree exported, first on ``PYTHONPATH``, the
same installed packages); unset: the load script on DuckDB's threads, as at the load change."""
STAGES_START = os.environ.get("BENCH_STAGES_START", "2024-03-01")
STAGES_END = os.environ.get("BENCH_STAGES_END", "2024-03-31")
TARGET_WALL_S = 40.0
TARGET_RSS = int(1.5 * 1024**3)
TARGET_CPU_S = 70.0

_BEFORE = """
import duckdb
import bnpl.warehouse.duckdb as adapter
adapter.LOAD_THREADS = 1 << 16  # never lowers: the load runs on DuckDB's configured threads
"""

_ENGINE = """
from datetime import date
from bnpl import ingest
from bnpl.cli import configure_logging
from bnpl.settings import load_settings
configure_logging()
with ingest.open_session(load_settings()) as session:
    summary = ingest.run_range(session, date.fromisoformat("{start}"), date.fromisoformat("{end}"))
print(summary)
"""

_STAGES = """
import json, os, time
from datetime import date
import psutil
import bnpl.warehouse.duckdb as adapter
from bnpl import ingest, normalize
from bnpl.ingest.fetch import prepare_fetched
from bnpl.ingest.load import load_group
from bnpl.ingest.plan import plan_range
from bnpl.settings import load_settings

def cpu(p):
    t = p.cpu_times()
    return t.user + t.system

out = {{}}
settings = load_settings()
with ingest.open_session(settings) as session:
    sim = next(c for c in psutil.Process().children() if "simulator" in " ".join(c.cmdline()))
    requests = plan_range(settings, date.fromisoformat("{start}"), date.fromisoformat("{end}"))
    c0, s0 = time.process_time(), cpu(sim)
    fetched = [session.client.fetch_day(r) for r in requests]
    out["fetch: bnpl client"], out["fetch: simulator"] = time.process_time() - c0, cpu(sim) - s0
    c0 = time.process_time()
    for f in fetched:
        normalize.parse_records(f.records)
    out["parse (part of prepare)"] = time.process_time() - c0
    c0 = time.process_time()
    ready = [prepare_fetched(session, r, f) for r, f in zip(requests, fetched)]
    out["prepare"] = time.process_time() - c0
    del fetched
    rows = sum(r.prepared.stats.records_loaded for r in ready)
for label, threads in (("load: before (DuckDB's threads)", 1 << 16), ("load: now", 1)):
    adapter.LOAD_THREADS = threads
    path = settings.warehouse.path.with_name(f"stages-{{threads}}.duckdb")
    warehouse = adapter.DuckDBWarehouse(settings.warehouse.model_copy(update={{"path": path}}))
    session = ingest.IngestSession(settings, "x", "batch", None, warehouse)
    c0 = time.process_time()
    for at in range(0, len(ready), 8):
        load_group(session, ready[at : at + 8])
    out[label] = time.process_time() - c0
    warehouse.close()
print(json.dumps({{"days": len(ready), "rows": rows, "cpu": out}}))
"""


def _export(commit: str, into: Path) -> Path:
    """The tree of ``commit`` as plain files under ``into`` (no worktree, nothing checked out)."""
    into.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit, "bnpl", "sql", "schemas"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    for data in ("sql", "schemas"):  # where the build puts them (bnpl.bundle)
        (into / data).rename(into / "bnpl" / f"_{data}")
    return into


def _row(label: str, m: Measured) -> str:
    roles = " | ".join(f"{m.cpu_by_role.get(r, 0.0):.1f} s" for r in ("bnpl", "simulator"))
    return (
        f"| {label} | {m.wall_s:.1f} s | {m.cpu_s:.1f} s | {roles} | {m.rows:,} | "
        f"{_gib(m.peak_rss)} | {_gib(m.peak_main_rss)} |"
    )


def _failed(name: str, m: Measured) -> str | None:
    if m.returncode == 0:
        return None
    return f"{name} failed with exit code {m.returncode}:\n\n```\n{m.stderr[-3000:]}\n```\n"


def main() -> str:
    """Run the stages, then the year before/now and the command; return the report."""
    root = Path(tempfile.mkdtemp(prefix="bench-ingest-speed-"))
    try:
        home = root / "prefect"
        load = os.getloadavg()
        stages_wh = root / "stages.duckdb"
        code = _STAGES.format(start=STAGES_START, end=STAGES_END)
        stages = _measure([sys.executable, "-c", code], _env(home, stages_wh), root, stages_wh)
        engine = _ENGINE.format(start=START, end=END)
        before_wh = root / "before.duckdb"
        if BASELINE:
            tree = _export(BASELINE, root / "baseline")
            env = _env(home, before_wh) | {"PYTHONPATH": str(tree)}
            before = _measure([sys.executable, "-c", engine], env, root, before_wh)
        else:
            before = _measure(
                [sys.executable, "-c", _BEFORE + engine], _env(home, before_wh), root, before_wh
            )
        now_wh = root / "now.duckdb"
        now = _measure([sys.executable, "-c", engine], _env(home, now_wh), root, now_wh)
        cli_wh = root / "cli.duckdb"
        cli = _measure(
            [str(BNPL), "backfill", "--start", START, "--end", END],
            _env(home, cli_wh),
            root,
            cli_wh,
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    for name, m in (("stages", stages), ("engine before", before), ("engine", now), ("cli", cli)):
        if (failed := _failed(name, m)) is not None:
            return failed
    found = json.loads(stages.stdout.strip().splitlines()[-1])
    days, rows = found["days"], found["rows"]
    per_year = 366 / days
    stage_lines = "\n".join(
        f"| {name} | {cpu:.2f} s | {cpu / days * 1000:.1f} ms | {cpu * per_year:.1f} s |"
        for name, cpu in found["cpu"].items()
    )
    before_is = (
        f"the engine at {BASELINE}, its tree first on PYTHONPATH"
        if BASELINE
        else "the load script on DuckDB's configured threads, as before the load change"
    )
    ok = now.wall_s <= TARGET_WALL_S and now.peak_rss <= TARGET_RSS
    cli_ok = cli.wall_s <= TARGET_WALL_S and cli.peak_rss <= TARGET_RSS
    return f"""
Command: `{"BENCH_BASELINE=" + BASELINE + " " if BASELINE else ""}python -m bench ingest_speed`. Load average before the runs: {load[0]:.1f} /
{load[1]:.1f} / {load[2]:.1f} (2 cores shared with other sessions: wall times scale with the
load; read the CPU columns).

Stages one after the other in one process, {STAGES_START}..{STAGES_END} ({days} days,
{rows:,} rows; load in groups of 8 days, each variant into a fresh file):

| stage | CPU | per day | × 366 days |
|---|---|---|---|
{stage_lines}

The year {START}..{END}, one run after the other ("before": {before_is}):

| run | wall | CPU (process tree) | CPU: bnpl | CPU: simulator | rows | peak RSS (tree) | peak RSS (main) |
|---|---|---|---|---|---|---|---|
{_row("engine before (`bnpl.ingest.run_range`)", before)}
{_row("engine now", now)}
{_row("`bnpl backfill` now (direct)", cli)}

Targets ≤ {TARGET_WALL_S:.0f} s wall and ≤ {_gib(TARGET_RSS)}: engine {_verdict(ok)}, command
{_verdict(cli_ok)}; CPU ≤ {TARGET_CPU_S:.0f} s: engine {_verdict(now.cpu_s <= TARGET_CPU_S)},
command {_verdict(cli.cpu_s <= TARGET_CPU_S)}.
"""


if __name__ == "__main__":
    print(main())
