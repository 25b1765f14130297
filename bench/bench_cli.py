"""Everyday commands (issue 17, "Numbers"): the whole ``bnpl`` command against the work alone.

One-day commands, each in a subprocess on its own DuckDB file with the bundled simulator and no
Prefect API configured (the direct path): ``bnpl ingest-day --date D1``, ``bnpl daily --date D2``,
``bnpl build --start D2 --end D2``, ``bnpl check --start D2 --end D2``, in that order. The work
alone: the same verbs in that order on another fresh file, timed in one warm process
(``open_session`` + ``ingest_range``; ``open_session`` + ``DailyRun.run``;
``write_audit_publish`` for D2, twice: the build, then the check's gate with D2 as logical date). Overhead = command wall -
work; target ≤ 3 s each. For comparison, ``bnpl ingest-day --prefect`` (Prefect's temporary API),
as every run paid before.

The year: ``bnpl backfill --start 2024-01-01 --end 2024-12-31`` (direct path, default plan) and,
in the same run, the engine alone (``bnpl.ingest.run_range`` in a subprocess, as
``bench_ingest``), once with the command's allocator setting (:func:`bnpl.allocator.configure`
first, as the command's entry point does: command − this is the command's overhead) and once
without (this − that is the setting's effect): wall, CPU and peak RSS of the process tree.
Targets: ≤ 40 s wall, ≤ 1.5 GiB.

``BENCH_CLI_PARTS`` (comma-separated, default ``days,flow,year``) picks the parts: ``days`` the
one-day commands and their work, ``flow`` the Prefect-mode ingest-day, ``year`` the backfill and
the engine. ``BENCH_CLI_BASELINE=<git revision>`` also runs the one-day commands with that
revision's ``bnpl``, ``sql`` and ``schemas`` trees (exported, first on ``PYTHONPATH``, same venv)
on a fresh file of their own, right after the working tree's, against the same work alone. Each
sequence of commands runs in a fresh working directory (so an empty ``.bnpl/cache``: ``ingest-day``
and ``daily`` compile, ``build`` and ``check`` find what ``daily`` compiled, as a user's second
command does).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_ingest import _ENGINE, BNPL, END, START, Measured, _env, _gib, _measure, _verdict

D1, D2, D3 = "2024-06-01", "2024-06-02", "2024-06-03"
TARGET_OVERHEAD_S = 3.0
_CONFIGURED = "from bnpl import allocator\nallocator.configure()\n"
"""Run first by the engine's subprocess: the ``bnpl`` command's allocator setting."""
TARGET_YEAR_WALL_S = 40.0
TARGET_YEAR_RSS = int(1.5 * 1024**3)

_WORK = f"""
import json, time, uuid
from datetime import date
from bnpl import pipeline
from bnpl.cli import configure_logging
from bnpl.settings import load_settings
from bnpl.warehouse import open_warehouse
configure_logging()
settings = load_settings()
d1, d2 = date.fromisoformat("{D1}"), date.fromisoformat("{D2}")
times, cpu = {{}}, {{}}
began, cpu0 = time.perf_counter(), time.process_time()
with pipeline.open_session(settings) as session:
    pipeline.ingest_range(session, d1, d1, concurrency=1)
times["ingest-day"], cpu["ingest-day"] = time.perf_counter() - began, time.process_time() - cpu0
began, cpu0 = time.perf_counter(), time.process_time()
with pipeline.open_session(settings) as session:
    pipeline.DailyRun(d2, run_id=uuid.uuid4().hex).run(session)
times["daily"], cpu["daily"] = time.perf_counter() - began, time.process_time() - cpu0
began, cpu0 = time.perf_counter(), time.process_time()
warehouse = open_warehouse(settings, access="existing")
try:
    pipeline.write_audit_publish(warehouse, settings, run_id=uuid.uuid4().hex, start=d2, end=d2)
finally:
    warehouse.close()
times["build"], cpu["build"] = time.perf_counter() - began, time.process_time() - cpu0
began, cpu0 = time.perf_counter(), time.process_time()
warehouse = open_warehouse(settings, access="existing")
try:
    pipeline.write_audit_publish(
        warehouse, settings, run_id=uuid.uuid4().hex, start=d2, end=d2, logical_date=d2
    )
finally:
    warehouse.close()
times["check"], cpu["check"] = time.perf_counter() - began, time.process_time() - cpu0
print(json.dumps({{"wall": times, "cpu": cpu}}))
"""

COMMANDS = {
    "ingest-day": ["ingest-day", "--date", D1],
    "daily": ["daily", "--date", D2],
    "build": ["build", "--start", D2, "--end", D2],
    "check": ["check", "--start", D2, "--end", D2],
}


def _role_cpu(m: Measured, role: str) -> str:
    return f"{m.cpu_by_role.get(role, 0.0):.1f} s"


def _check(name: str, m: Measured) -> None:
    if m.returncode != 0:
        raise RuntimeError(f"{name} failed with exit code {m.returncode}:\n{m.stderr[-3000:]}")


def _export(revision: str, into: Path) -> Path:
    """The ``bnpl``, ``sql`` and ``schemas`` trees of ``revision``, under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision, "bnpl", "sql", "schemas"],
        cwd=Path(__file__).parent.parent,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _commands(root: Path, label: str, home: Path, pythonpath: Path | None) -> dict[str, Measured]:
    """The one-day commands in order on a fresh file, in a fresh working directory."""
    cwd = root / label
    cwd.mkdir()
    warehouse = cwd / "cli.duckdb"
    env = _env(home, warehouse)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    measured = {}
    for name, argv in COMMANDS.items():
        measured[name] = _measure([str(BNPL), *argv], env, cwd, warehouse)
        _check(f"{label} {name}", measured[name])
    return measured


def _rows(
    label: str, commands: dict[str, Measured], alone: dict[str, float], alone_cpu: dict[str, float]
) -> list[str]:
    lines = []
    for name, m in commands.items():
        overhead = m.wall_s - alone[name]
        main_cpu = m.cpu_by_role.get("bnpl", 0.0)
        lines.append(
            f"| {label}`bnpl {' '.join(COMMANDS[name])}` | {m.wall_s:.1f} s | {m.cpu_s:.1f} s | "
            f"{main_cpu:.1f} s | {alone[name]:.1f} s | {alone_cpu[name]:.1f} s | "
            f"{overhead:.1f} s | {main_cpu - alone_cpu[name]:.1f} s | "
            f"{_verdict(overhead <= TARGET_OVERHEAD_S)} |"
        )
    return lines


def main() -> str:
    """Run the one-day commands and their work, the Prefect-mode ingest-day, the year and the
    engine (the parts ``BENCH_CLI_PARTS`` names); return the report."""
    parts = set(os.environ.get("BENCH_CLI_PARTS", "days,flow,year").split(","))
    baseline = os.environ.get("BENCH_CLI_BASELINE")
    root = Path(tempfile.mkdtemp(prefix="bench-cli-"))
    try:
        home = root / "prefect"
        load = os.getloadavg()
        lines: list[str] = []
        work_wall = 0.0
        if "days" in parts or "flow" in parts:
            work_wh = root / "work.duckdb"
            work = _measure([sys.executable, "-c", _WORK], _env(home, work_wh), root, work_wh)
            _check("work", work)
            work_wall = work.wall_s
            measured = json.loads(work.stdout.strip().splitlines()[-1])
            alone: dict[str, float] = measured["wall"]
            alone_cpu: dict[str, float] = measured["cpu"]
        if "days" in parts:
            commands = _commands(root, "working-tree", home, None)
            lines += _rows("", commands, alone, alone_cpu)
            if baseline:
                tree = _export(baseline, root / "baseline-tree")
                before = _commands(root, "baseline", home, tree)
                lines += _rows(f"baseline `{baseline}`: ", before, alone, alone_cpu)
        if "flow" in parts:
            # after the commands, on their file (as before parts existed); else a fresh one
            flow_wh = root / "working-tree" / "cli.duckdb" if "days" in parts else root / "f.duckdb"
            flow = _measure(
                [str(BNPL), "ingest-day", "--date", D3, "--prefect"],
                _env(home, flow_wh),
                root,
                flow_wh,
            )
            _check("ingest-day --prefect", flow)
            flow_cpu = flow.cpu_by_role.get("bnpl", 0.0)
            lines.append(
                f"| `bnpl ingest-day --date {D3} --prefect` (temporary API) | {flow.wall_s:.1f} s | "
                f"{flow.cpu_s:.1f} s | {flow_cpu:.1f} s | {alone['ingest-day']:.1f} s (D1) | "
                f"{alone_cpu['ingest-day']:.1f} s | {flow.wall_s - alone['ingest-day']:.1f} s | "
                f"{flow_cpu - alone_cpu['ingest-day']:.1f} s | - |"
            )
        if "year" in parts:
            year_wh = root / "year.duckdb"
            year = _measure(
                [str(BNPL), "backfill", "--start", START, "--end", END],
                _env(home, year_wh),
                root,
                year_wh,
            )
            _check("backfill", year)
            engine_wh = root / "engine.duckdb"
            engine = _measure(
                [sys.executable, "-c", _CONFIGURED + _ENGINE],
                _env(home, engine_wh),
                root,
                engine_wh,
            )
            _check("engine", engine)
            plain_wh = root / "plain.duckdb"
            plain = _measure([sys.executable, "-c", _ENGINE], _env(home, plain_wh), root, plain_wh)
            _check("engine without the allocator setting", plain)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    report = f"""
Command: `{_command(parts, baseline)}`. Load average before the runs: {load[0]:.1f} / {load[1]:.1f} /
{load[2]:.1f} (2 cores shared with other sessions: read the CPU columns, which the load inflates
far less than wall). No Prefect API configured, so the commands run directly.
"""
    if lines:
        table = "\n".join(lines)
        report += f"""
The work alone is the same verbs timed in one warm process ({work_wall:.1f} s for that process,
imports included; its CPU is `time.process_time`, the bnpl process only, comparable with the
command's "CPU (bnpl process)", sampled by psutil).

| command | wall | CPU (tree) | CPU (bnpl process) | work alone: wall | work alone: CPU | overhead: wall | overhead: CPU (bnpl process − work) | wall overhead ≤ {TARGET_OVERHEAD_S:.0f} s |
|---|---|---|---|---|---|---|---|---|
{table}
"""
    if "year" in parts:
        year_ok = year.wall_s <= TARGET_YEAR_WALL_S and year.peak_rss <= TARGET_YEAR_RSS
        report += f"""
| year {START}..{END} | wall | CPU (tree) | CPU: bnpl | CPU: simulator | rows | peak RSS (tree) | peak RSS (main) |
|---|---|---|---|---|---|---|---|
| `bnpl backfill` (direct) | {year.wall_s:.1f} s | {year.cpu_s:.1f} s | {_role_cpu(year, "bnpl")} | {_role_cpu(year, "simulator")} | {year.rows:,} | {_gib(year.peak_rss)} | {_gib(year.peak_main_rss)} |
| engine alone (`bnpl.ingest.run_range`), the command's allocator setting | {engine.wall_s:.1f} s | {engine.cpu_s:.1f} s | {_role_cpu(engine, "bnpl")} | {_role_cpu(engine, "simulator")} | {engine.rows:,} | {_gib(engine.peak_rss)} | {_gib(engine.peak_main_rss)} |
| engine alone, Polars' allocator defaults | {plain.wall_s:.1f} s | {plain.cpu_s:.1f} s | {_role_cpu(plain, "bnpl")} | {_role_cpu(plain, "simulator")} | {plain.rows:,} | {_gib(plain.peak_rss)} | {_gib(plain.peak_main_rss)} |

Year target ≤ {TARGET_YEAR_WALL_S:.0f} s and ≤ {_gib(TARGET_YEAR_RSS)}: {_verdict(year_ok)}
(command − engine: {year.wall_s - engine.wall_s:+.1f} s wall; the allocator setting:
{engine.wall_s - plain.wall_s:+.1f} s wall, {engine.cpu_s - plain.cpu_s:+.1f} CPU-s).
"""
    return report


def _command(parts: set[str], baseline: str | None) -> str:
    env = []
    if parts != {"days", "flow", "year"}:
        env.append(f"BENCH_CLI_PARTS={','.join(sorted(parts))}")
    if baseline:
        env.append(f"BENCH_CLI_BASELINE={baseline}")
    return " ".join([*env, ".venv/bin/python -m bench cli"])


if __name__ == "__main__":
    print(main())
