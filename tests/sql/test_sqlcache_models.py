"""Compiled models come back from the disk cache (bnpl.sqlcache) as sqlglot wrote them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bnpl.models import Project, plan
from bnpl.warehouse.duckdb import DuckDBWarehouse


def _entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("model-*.json"))


def test_models_compile_from_disk_as_from_sqlglot(
    cache_dir: Path, loaded: DuckDBWarehouse, project: Project
):
    """A build plan read from the disk cache equals the one compiled; a changed relation
    name (another target area) misses."""
    day = date(2024, 6, 1)
    selection = ("+mart_bnpl_daily_volume",)
    kwargs = {"start": day, "end": day, "full_refresh": False, "params": None}
    compiled = plan.plan_steps(loaded, project, selection, audit=False, **kwargs)
    written = len(_entries(cache_dir))
    assert written == len(compiled) > 1
    plan._COMPILED.clear()
    again = plan.plan_steps(loaded, project, selection, audit=False, **kwargs)
    assert [s.compiled for s in again] == [s.compiled for s in compiled]
    assert len(_entries(cache_dir)) == written
    plan._COMPILED.clear()
    audited = plan.plan_steps(loaded, project, selection, audit=True, **kwargs)
    marts = sum(s.audited for s in audited)
    assert marts > 0
    assert len(_entries(cache_dir)) == written + marts
