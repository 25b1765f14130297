"""Does the year backfill need ``bnpl.fanout``? (issue 12, item 2)

The plain engine (``bnpl.ingest.run_range``, no Prefect) over 2024 on the default plan, bundled
simulator, fresh DuckDB file each run, two ways in the same invocation, alternated A, B, A, B
(the machine is shared, so each pair sees similar load):

* **sliced** — today's engine: ``bnpl.fanout.SlicedSubmit`` (slices of
  ``BNPL_INGEST__DAYS_PER_TASK`` days per pool job) under ``iter_completed_groups``;
* **plain** — a ``ThreadPoolExecutor`` of the same ``concurrency`` workers, one job per day,
  at most the same window of days submitted and not yet taken by the writer (a
  ``threading.Semaphore`` released when the writer takes a day), done days loaded in completion
  order, those that completed while the writer was busy as one group (at most
  ``bnpl.ingest.run.GROUP_DAYS``), through the same ``load_group`` and failure log.

Each run: wall time, CPU of the process tree, peak RSS of the tree and of the main process
(psutil, every 50 ms), rows loaded. ``python -m bench fanout``; ``BENCH_FANOUT_PAIRS`` sets the
number of A/B pairs (default 2).
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench.bench_ingest import END, START, TARGET_RSS, Measured, _env, _gib, _measure

_SETUP = """
from datetime import date
from bnpl import ingest
from bnpl.cli import configure_logging
from bnpl.settings import load_settings
configure_logging()
START, END = date.fromisoformat("{start}"), date.fromisoformat("{end}")
"""

_SLICED = """
with ingest.open_session(load_settings()) as session:
    summary = ingest.run_range(session, START, END)
print(summary)
"""

_PLAIN = """
import queue, threading, time
from concurrent.futures import Future, ThreadPoolExecutor
from bnpl.ingest import run
from bnpl.ingest.failures import log_failure, record_failures
from bnpl.ingest.fetch import fetch_and_prepare
from bnpl.ingest.load import load_group
from bnpl.ingest.plan import plan_range, select_pending
from bnpl.ingest.summary import IngestSummary, failure_of


def plain_run_range(session, start, end):
    began = time.monotonic()
    workers = session.settings.ingest.concurrency
    per_task = session.settings.ingest.days_per_task
    window = max(2 * workers, run.GROUP_WINDOW, min(workers * per_task, run.MAX_WINDOW))
    todo, skipped = select_pending(session, plan_range(session.settings, start, end))
    by_day = {r.day: r for r in todo}
    slots = threading.Semaphore(window)
    done = queue.SimpleQueue()
    loaded, failures = [], []
    with ThreadPoolExecutor(workers, thread_name_prefix="fetch") as pool:

        def feed():
            for request in todo:
                slots.acquire()
                future = pool.submit(fetch_and_prepare, session, request)
                future.add_done_callback(lambda f, r=request: done.put((r, f)))

        threading.Thread(target=feed, daemon=True).start()
        remaining = len(todo)
        while remaining:
            finished = [done.get()]
            while len(finished) < run.GROUP_DAYS:
                try:
                    finished.append(done.get_nowait())
                except queue.Empty:
                    break
            remaining -= len(finished)
            ready, fetch_failed = [], []
            for request, future in finished:
                try:
                    ready.append(future.result())
                except Exception as exc:
                    log_failure(request.day, exc)
                    fetch_failed.append(failure_of(request.day, exc))
                slots.release()
            del finished, future
            results, failed = load_group(session, ready, flow_run_id=None)
            del ready
            loaded += results
            failed = [*fetch_failed, *failed]
            record_failures(session, failed, by_day, flow_run_id=None)
            failures += failed
    return IngestSummary(
        start, end, tuple(sorted(loaded, key=lambda d: d.day)), tuple(skipped),
        tuple(sorted(failures, key=lambda f: f.day)), time.monotonic() - began,
    )


with ingest.open_session(load_settings()) as session:
    summary = plain_run_range(session, START, END)
print(summary)
"""

_WAYS = {"sliced": _SLICED, "plain": _PLAIN}


def _row(label: str, m: Measured) -> str:
    return (
        f"| {label} | {m.wall_s:.1f} s | {m.cpu_s:.1f} s | {m.rows:,} | {_gib(m.peak_rss)} | "
        f"{_gib(m.peak_main_rss)} |"
    )


def main() -> str:
    """Alternate the two fan-outs ``BENCH_FANOUT_PAIRS`` times; return the report."""
    pairs = int(os.environ.get("BENCH_FANOUT_PAIRS", "2"))
    root = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    runs: list[tuple[str, Measured]] = []
    load = os.getloadavg()
    try:
        for n in range(pairs):
            for way, body in _WAYS.items():
                warehouse = root / f"{way}-{n}.duckdb"
                code = _SETUP.format(start=START, end=END) + body
                env = _env(root / "prefect", warehouse)
                m = _measure([sys.executable, "-c", code], env, root, warehouse)
                if m.returncode != 0:
                    return f"{way} run {n + 1} failed:\n\n```\n{m.stderr[-3000:]}\n```\n"
                runs.append((way, m))
                print(f"{way} {n + 1}: {m.wall_s:.1f} s, {_gib(m.peak_rss)}", file=sys.stderr)
                warehouse.unlink(missing_ok=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    rows = "\n".join(_row(f"{way} (run {i // 2 + 1})", m) for i, (way, m) in enumerate(runs))
    med = {
        way: (
            statistics.median(m.wall_s for w, m in runs if w == way),
            max(m.peak_rss for w, m in runs if w == way),
        )
        for way in _WAYS
    }
    change = med["plain"][0] / med["sliced"][0] - 1
    return f"""
Command: `python -m bench fanout` (`BENCH_FANOUT_PAIRS={pairs}`). The year {START}..{END}
through `bnpl.ingest.run_range`'s engine without Prefect, default plan and settings
(concurrency 4, 4 days per slice, window 16 days), bundled simulator, a fresh DuckDB file per
run; the two fan-outs alternated. Load average before the runs: {load[0]:.1f} / {load[1]:.1f}
/ {load[2]:.1f} (2 cores shared with other sessions).

| run (in order) | wall | CPU (process tree) | rows | peak RSS (process tree) | peak RSS (main process) |
|---|---|---|---|---|---|
{rows}

Median wall: sliced {med["sliced"][0]:.1f} s, plain {med["plain"][0]:.1f} s ({change:+.1%}).
Highest peak RSS: sliced {_gib(med["sliced"][1])}, plain {_gib(med["plain"][1])} (bound
{_gib(TARGET_RSS)}).
"""


if __name__ == "__main__":
    print(main())
