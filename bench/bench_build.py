"""The full-year build (issue 12, "Numbers"): ``bnpl build`` after a year was loaded.

One year (2024-01-01..2024-12-31, default plan, bundled simulator) is loaded once through the plain
engine (``bnpl.ingest.run_range``) into a DuckDB file, or ``BNPL_BENCH_WAREHOUSE`` names a file
already loaded. Each measured run copies that file and runs ``bnpl build`` (12 models, the quality
gate, publish) on the copy in a subprocess, so every run starts from the same loaded year with no
model built yet. Wall time and the peak RSS of the process (``ru_maxrss`` from ``wait4``) are
recorded, and the log gives the per-model and per-check seconds.

Baseline in the same run: the ``bnpl``, ``sql`` and ``schemas`` trees of ``BNPL_BENCH_BASELINE``
(a git revision, default ``BASELINE``) are exported to a temporary directory and run the same way
(``PYTHONPATH`` puts them first), alternating with the working tree; the figure is the best of
``ROUNDS``. After the rounds, each mart of the last baseline and working-tree copy is compared
(row count and an order-independent hash of its rows), which shows the change kept the results.

Targets: ≤ 35 s wall, ≤ 2 GiB peak RSS on 2 cores.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parents[1]
BASELINE = "c1b3973"
ROUNDS = int(os.environ.get("BNPL_BENCH_ROUNDS", "2"))
TARGET_WALL_S = 35.0
TARGET_RSS = 2 * 1024**3
START, END = "2024-01-01", "2024-12-31"
COMMAND = ".venv/bin/python -m bench build"

_LOAD = f"""
from datetime import date
from bnpl import ingest
from bnpl.settings import load_settings
with ingest.open_session(load_settings()) as session:
    summary = ingest.run_range(session, date.fromisoformat("{START}"), date.fromisoformat("{END}"))
if summary.failures:
    raise SystemExit(f"load failed: {{summary}}")
"""

_BUILD = "from bnpl.cli import main; main(['build'])"

_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) \S+ (\S+): (.*)$")
_BUILT = re.compile(r"built (\S+) into \S+ \((\S+), .*\) in ([\d.]+) s")
_CHECK = re.compile(r"check (\S+): (\S+) \(([\d.]+) s\)")

_MARTS_SQL = """
SELECT table_name FROM information_schema.tables
WHERE table_schema = 'bnpl_marts' ORDER BY table_name
"""


@dataclass(frozen=True)
class Run:
    """One ``bnpl build`` on a fresh copy of the loaded year."""

    label: str
    wall_s: float
    cpu_s: float
    peak_rss: int
    models: dict[str, float]
    checks: dict[str, float]
    phases: dict[str, float]
    warehouse: Path


def _env(pythonpath: Path | None, warehouse: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BNPL_")}
    env["BNPL_WAREHOUSE__PATH"] = str(warehouse)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def _export(revision: str, into: Path) -> Path:
    """The ``bnpl``, ``sql`` and ``schemas`` trees of ``revision``, under ``into``."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", revision, "bnpl", "sql", "schemas"],
        cwd=HERE,
        capture_output=True,
        check=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _phases(stderr: str, wall_s: float, models: float, checks: float) -> dict[str, float]:
    """Seconds of models, checks, publish (last check to ``published``) and the rest."""
    stamps: list[tuple[datetime, str]] = []
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if match:
            stamps.append((datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S,%f"), match[3]))
    last_check = max((t for t, m in stamps if _CHECK.match(m)), default=None)
    published = next((t for t, m in stamps if m.startswith("published ")), None)
    publish = (published - last_check).total_seconds() if last_check and published else 0.0
    return {
        "models": models,
        "checks": checks,
        "results + publish": publish,
        "start-up and other": wall_s - models - checks - publish,
    }


def _build(label: str, loaded: Path, workdir: Path, pythonpath: Path | None) -> Run:
    warehouse = workdir / f"{label}.duckdb"
    warehouse.unlink(missing_ok=True)
    shutil.copyfile(loaded, warehouse)
    out, err = workdir / f"{label}.out", workdir / f"{label}.err"
    with out.open("w") as stdout_file, err.open("w") as stderr_file:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-c", _BUILD],
            cwd=workdir,
            env=_env(pythonpath, warehouse),
            stdout=stdout_file,
            stderr=stderr_file,
        )
        # wait4 rather than Popen.wait: it returns this child's own peak RSS
        _, status, usage = os.wait4(proc.pid, 0)
        wall_s = time.perf_counter() - began
        proc.returncode = os.waitstatus_to_exitcode(status)
    stdout, stderr = out.read_text(), err.read_text()
    if proc.returncode:
        raise RuntimeError(f"bnpl build ({label}) failed:\n{stdout}\n{stderr[-4000:]}")
    models: dict[str, float] = {}
    checks: dict[str, float] = {}
    for line in stderr.splitlines():
        match = _LINE.match(line)
        if not match:
            continue
        if built := _BUILT.search(match[3]):
            models[built[1]] = float(built[3])
        elif check := _CHECK.match(match[3]):
            checks[check[1]] = float(check[3])
    return Run(
        label,
        wall_s,
        usage.ru_utime + usage.ru_stime,
        usage.ru_maxrss * 1024,
        models,
        checks,
        _phases(stderr, wall_s, sum(models.values()), sum(checks.values())),
        warehouse,
    )


def _checksums(warehouse: Path) -> dict[str, tuple[int, int]]:
    """``table`` (row count, hash of every row) and ``table.column`` (row count, hash of the
    column) of every published mart (a table, or a view since marts are published by renaming);
    each hash is an order-independent sum of ``hash()``."""
    con = duckdb.connect(str(warehouse), read_only=True)
    con.sql("SET enable_progress_bar = false")
    try:
        tables = [row[0] for row in con.sql(_MARTS_SQL).fetchall()]
        found: dict[str, tuple[int, int]] = {}
        for table in tables:
            columns = [c[0] for c in con.sql(f'DESCRIBE bnpl_marts."{table}"').fetchall()]
            sums = ", ".join(f'sum(hash(t."{c}"))' for c in columns)
            # bench code, trusted names from information_schema
            row = con.sql(
                f'SELECT count(*), sum(hash(t)), {sums} FROM bnpl_marts."{table}" AS t'  # noqa: S608
            ).fetchall()[0]
            found[table] = (int(row[0]), int(row[1] or 0))
            for column, value in zip(columns, row[2:], strict=True):
                found[f"{table}.{column}"] = (int(row[0]), int(value or 0))
        return found
    finally:
        con.close()


def _loaded(workdir: Path) -> Path:
    given = os.environ.get("BNPL_BENCH_WAREHOUSE")
    if given:
        return Path(given)
    path = workdir / "loaded.duckdb"
    subprocess.run([sys.executable, "-c", _LOAD], env=_env(None, path), check=True, cwd=workdir)
    return path


def _gib(n: int) -> str:
    return f"{n / 1024**3:.2f} GiB"


def main() -> str:
    """Build the loaded year with the baseline and the working tree; return the Markdown."""
    baseline = os.environ.get("BNPL_BENCH_BASELINE", BASELINE)
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bnpl-bench-build-") as tmp:
        workdir = Path(tmp)
        loaded = _loaded(workdir)
        base_tree = _export(baseline, workdir / "baseline")
        runs: dict[str, list[Run]] = {"baseline": [], "working tree": []}
        for _ in range(ROUNDS):
            runs["baseline"].append(_build("baseline", loaded, workdir, base_tree))
            runs["working tree"].append(_build("current", loaded, workdir, None))
        sums = {label: _checksums(r[-1].warehouse) for label, r in runs.items()}
    best = {label: min(r, key=lambda run: run.wall_s) for label, r in runs.items()}
    old, new = best["baseline"], best["working tree"]
    lines = [
        f"Command: `{COMMAND}` (baseline: `{baseline}`, exported and run from the same venv). "
        f"A year ({START}..{END}, default plan) loaded once by `bnpl.ingest.run_range`; each run "
        "copies the file and runs `bnpl build` (every model built for the first time, 43 checks, "
        f"publish) in a subprocess. Best of {ROUNDS} alternating runs; CPU is the process's user + "
        "system time (less sensitive than wall time to other processes on a shared machine); "
        f"peak RSS of the process. 1-minute load average "
        f"{load_before:.1f} before, {os.getloadavg()[0]:.1f} after (2 cores).",
        "",
        "| build | wall | CPU | peak RSS | models | checks | results + publish | start-up and other |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, run in best.items():
        p = run.phases
        lines.append(
            f"| {label} | {run.wall_s:.1f} s | {run.cpu_s:.1f} s | {_gib(run.peak_rss)} | "
            f"{p['models']:.1f} s | "
            f"{p['checks']:.1f} s | {p['results + publish']:.1f} s | "
            f"{p['start-up and other']:.1f} s |"
        )
    wall_ok = new.wall_s <= TARGET_WALL_S
    rss_ok = new.peak_rss <= TARGET_RSS
    lines += [
        "",
        "All runs (wall / CPU / peak RSS): "
        + "; ".join(
            f"{label} "
            + ", ".join(f"{r.wall_s:.1f} s / {r.cpu_s:.1f} s / {_gib(r.peak_rss)}" for r in rs)
            for label, rs in runs.items()
        ),
        "",
        f"Targets: wall ≤ {TARGET_WALL_S:.0f} s — {'meets' if wall_ok else 'MISSES'}; "
        f"peak RSS ≤ {_gib(TARGET_RSS)} — {'meets' if rss_ok else 'MISSES'}.",
        "",
        "Same results: "
        + (
            "every published mart has the same row count and row hash in both builds."
            if sums["baseline"] == sums["working tree"]
            else "**DIFFERENT**: "
            + ", ".join(
                t
                for t in sorted(set(sums["baseline"]) | set(sums["working tree"]))
                if sums["baseline"].get(t) != sums["working tree"].get(t)
            )
        ),
        "",
        "| model | baseline | working tree |",
        "|---|---:|---:|",
    ]
    for model in old.models:
        lines.append(f"| {model} | {old.models[model]:.2f} s | {new.models.get(model, 0):.2f} s |")
    lines += ["", "| check | baseline | working tree |", "|---|---:|---:|"]
    for check in old.checks:
        lines.append(f"| {check} | {old.checks[check]:.2f} s | {new.checks.get(check, 0):.2f} s |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
