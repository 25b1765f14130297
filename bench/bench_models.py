"""The daily incremental run against the size of the history: flat, because incremental models
touch only the day's partitions (and the keys it changes).

The daily run is what the daily deployment does for one day: ingest it (the bundled simulator over
loopback HTTP, normalise, validate, load; ``bnpl.ingest.run_range``) and build every incremental
model (and view) for that day into the audit area, then publish (the selection of
``bnpl.pipeline.build`` with ``snapshots=False``). The two models materialised as ``table`` (as-of snapshots) are not
part of the daily run: they are rebuilt from every loaded day by the weekly ``bnpl-features``
flow, ``bnpl build`` and ``bnpl check``; their cost is timed and reported separately (it grows
with the history). It is measured on the same three
days (2024-12-02..04) after 30 and after 365 days of history were ingested and fully built, in
DuckDB files of their own; the figure is the median of the three. The 30-day history is the
baseline. Target (issue 4): 365 days cost at most 1.5x the 30 days.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

COMMAND = ".venv/bin/python -m bench models"
MEASURED = (date(2024, 12, 2), date(2024, 12, 3), date(2024, 12, 4))
HISTORIES = (30, 365)
TARGET = 1.5


def _count(warehouse: Any, dataset: str, table: str) -> int:
    sql = f"SELECT count(*) AS n FROM {warehouse.qualified(dataset, table)}"  # noqa: S608
    return int(warehouse.query(sql).item())


def measure(history: int, workdir: Path, project: Any) -> dict[str, Any]:
    """Ingest and build ``history`` days before MEASURED, then time the daily run of each
    MEASURED day (and, apart, the rebuild of the ``table`` models)."""
    from bnpl import pipeline
    from bnpl.ingest import open_session, run_range
    from bnpl.models import build_models, publish_models
    from bnpl.settings import load_settings

    settings = load_settings(
        warehouse={"kind": "duckdb", "path": str(workdir / f"history_{history}.duckdb")}
    )
    tables = [m.name for m in project.models.values() if m.config.materialized == "table"]
    incremental = [m.name for m in project.models.values() if m.name not in tables]
    first = MEASURED[0] - timedelta(days=history)
    last = MEASURED[0] - timedelta(days=1)
    with open_session(settings) as session:
        began = time.perf_counter()
        summary = run_range(session, first, last)
        if summary.failures:
            raise RuntimeError(f"history ingest failed: {summary}")
        ingest_s = time.perf_counter() - began
        began = time.perf_counter()
        # build every model and publish the marts; no quality checks (the gate is not timed here)
        pipeline.write_audit_publish(
            session.warehouse, settings, run_id="bench", project=project, checks=()
        )
        full_build_s = time.perf_counter() - began
        rows = _count(session.warehouse, "bnpl_raw", "transactions")
        customers = _count(session.warehouse, "bnpl_marts", "mart_bnpl_customers")
        runs = []
        for day in MEASURED:
            began = time.perf_counter()
            daily = run_range(session, day, day)
            if daily.failures:
                raise RuntimeError(f"daily ingest of {day} failed: {daily}")
            ingested = time.perf_counter()
            # what the daily DAG's run_sql_pipeline and publish steps run (bnpl.pipeline.build/publish)
            result = build_models(
                session.warehouse, project, selection=incremental, start=day, end=day, audit=True
            )
            publish_models(session.warehouse, result.marts)
            built = time.perf_counter()
            models = {m.name: m.seconds for m in result.models}
            if tables:
                began_tables = time.perf_counter()
                rebuilt = pipeline.write_audit_publish(
                    session.warehouse,
                    settings,
                    run_id="bench",
                    selection=tables,
                    project=project,
                    checks=(),
                ).build
                models |= {m.name: m.seconds for m in rebuilt.models}
                tables_s = time.perf_counter() - began_tables
            else:
                tables_s = 0.0
            runs.append(
                {
                    "ingest": ingested - began,
                    "build": built - ingested,
                    "total": built - began,
                    "tables": tables_s,
                    "models": models,
                }
            )
    return {
        "history": history,
        "rows": rows,
        "customers": customers,
        "ingest_s": ingest_s,
        "full_build_s": full_build_s,
        "runs": runs,
    }


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(run[key] for run in runs)


def _model_median(runs: list[dict[str, Any]], model: str) -> float:
    return statistics.median(run["models"][model] for run in runs)


def main() -> str:
    """Run both histories and return the Markdown section."""
    from bnpl.models import load_project

    project = load_project()
    tables = [m.name for m in project.models.values() if m.config.materialized == "table"]
    with tempfile.TemporaryDirectory(prefix="bnpl-bench-models-") as tmp:
        results = [measure(history, Path(tmp), project) for history in HISTORIES]
    base, big = results
    lines = [
        f"Command: `{COMMAND}`. Daily run = ingest one day (bundled simulator over loopback, "
        "default plan: base volume 4,600) + incremental build of every non-`table` model for "
        "that day with "
        f"write-audit-publish. Days measured: {MEASURED[0]}..{MEASURED[-1]} (median of 3), after "
        "the history below was ingested and fully built. DuckDB file warehouse.",
        "",
        "| history | raw transactions | customers | history ingest | full build | daily ingest | daily build | daily run | `table` models |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['history']} days | {r['rows']:,} | {r['customers']:,} | {r['ingest_s']:.1f} s | "
            f"{r['full_build_s']:.1f} s | {_median(r['runs'], 'ingest'):.2f} s | "
            f"{_median(r['runs'], 'build'):.2f} s | {_median(r['runs'], 'total'):.2f} s | "
            f"{_median(r['runs'], 'tables'):.2f} s |"
        )
    total_ratio = _median(big["runs"], "total") / _median(base["runs"], "total")
    build_ratio = _median(big["runs"], "build") / _median(base["runs"], "build")
    verdict = "meets" if total_ratio <= TARGET else "MISSES"
    lines += [
        "",
        f"Daily run, 365 vs 30 days of history: **{total_ratio:.2f}x** ({verdict} the target of "
        f"{TARGET}x); the build alone: {build_ratio:.2f}x. Not in the daily run: "
        f"{', '.join(tables) or 'no'} `table` models, rebuilt from every loaded day (last column).",
        "",
        "Per model (median seconds of the daily build):",
        "",
        "| model | 30 days | 365 days | ratio |",
        "|---|---|---|---|",
    ]
    for model in base["runs"][0]["models"]:
        small, large = _model_median(base["runs"], model), _model_median(big["runs"], model)
        lines.append(f"| {model} | {small:.3f} | {large:.3f} | {large / small:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(main())
