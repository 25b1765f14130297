"""A monitor run's figures (:mod:`bnpl.governance.monitor` computes them): the records, their
table ``bnpl_audit.model_monitor`` (appended per run, values bound; the newest run is
``bnpl model promote``'s evidence) and their Markdown."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import polars as pl
import sqlglot
from sqlglot import exp

from bnpl.models.dialect import to_dialect
from bnpl.sqltext import param
from bnpl.timeutil import utc_now
from bnpl.version import VERSION
from bnpl.warehouse import Warehouse
from bnpl.warehouse.names import MODEL_MONITOR

logger = logging.getLogger(__name__)

Grain = Literal["day", "week"]
GRAINS: tuple[Grain, ...] = ("day", "week")
PSI_REFERENCE = "first_period"


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One model version's figures in one period."""

    model_version: int
    role: str
    period_start: date
    scores: int
    matured: int
    positives: int
    approval_rate: float
    mean_score: float
    roc_auc: float | None
    brier: float | None
    ece: float | None
    default_rate: float | None
    score_psi: float | None


@dataclass(frozen=True)
class MonitorResult:
    """A monitor run."""

    registered_model: str
    as_of: date
    grain: Grain
    periods: tuple[PeriodFigures, ...]
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    computed_at: datetime = field(default_factory=utc_now)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (``--json``)."""
        return {
            "run_id": self.run_id,
            "registered_model": self.registered_model,
            "as_of": self.as_of.isoformat(),
            "grain": self.grain,
            "psi_reference": PSI_REFERENCE,
            "periods": [
                {**asdict(p), "period_start": p.period_start.isoformat()} for p in self.periods
            ],
        }


_INSERT = """
INSERT INTO t (
  run_id, computed_at, as_of_date, registered_model, model_version, role, grain, period_start,
  scores, matured, positives, approval_rate, roc_auc, brier, ece, mean_score, default_rate,
  score_psi, psi_reference, flow_run_id, bnpl_version
)
VALUES (
  @run_id, @computed_at, @as_of_date, @registered_model, @model_version, @role, @grain,
  @period_start, @scores, @matured, @positives, @approval_rate,
  CASE WHEN @has_figures THEN @roc_auc END, CASE WHEN @has_figures THEN @brier END,
  CASE WHEN @has_figures THEN @ece END, @mean_score,
  CASE WHEN @matured > 0 THEN @default_rate END, CASE WHEN @has_psi THEN @score_psi END,
  @psi_reference, NULLIF(@flow_run_id, ''), @bnpl_version
)
"""


def _numbered(row: exp.Expression, i: int, shared: frozenset[str]) -> exp.Expression:
    """``row`` with each parameter ``@name`` not in ``shared`` as ``@name_<i>``."""
    return row.transform(
        lambda node: (
            exp.Parameter(this=exp.var(f"{node.name}_{i}"))
            if isinstance(node, exp.Parameter) and node.name not in shared
            else node
        )
    )


ROWS_PER_INSERT = 600
"""Rows of one ``INSERT``: 15 parameters a row and 8 shared stay within BigQuery's 10,000 a
query."""


def write_figures(
    warehouse: Warehouse, result: MonitorResult, *, flow_run_id: str | None = None
) -> None:
    """Append ``result`` to ``bnpl_audit.model_monitor``, every value bound: the run's values
    once per statement, each period's as ``<name>_<i>``, one ``INSERT`` per
    :data:`ROWS_PER_INSERT` periods (a statement per period cost a BigQuery job each). A run is
    stored whole: if a later statement fails, the run's rows are deleted before the error is
    raised (a reader may see part of a run of several statements while it is written)."""
    warehouse.ensure_schema()
    shared = {
        "run_id": result.run_id,
        "computed_at": result.computed_at,
        "as_of_date": result.as_of,
        "registered_model": result.registered_model,
        "grain": result.grain,
        "psi_reference": PSI_REFERENCE,
        "flow_run_id": flow_run_id or "",
        "bnpl_version": VERSION,
    }
    rows = [  # every parameter typed, none None (BigQuery needs the types)
        {
            "model_version": p.model_version,
            "role": p.role,
            "period_start": p.period_start,
            "scores": p.scores,
            "matured": p.matured,
            "positives": p.positives,
            "approval_rate": p.approval_rate,
            "has_figures": p.roc_auc is not None,
            "roc_auc": p.roc_auc or 0.0,
            "brier": p.brier or 0.0,
            "ece": p.ece or 0.0,
            "mean_score": p.mean_score,
            "default_rate": p.default_rate or 0.0,
            "has_psi": p.score_psi is not None,
            "score_psi": p.score_psi or 0.0,
        }
        for p in result.periods
    ]
    table = warehouse.table(*MODEL_MONITOR)
    template = sqlglot.parse_one(_INSERT, read="bigquery")
    template.this.set("this", table)
    (row,) = template.expression.expressions
    once = frozenset(shared)
    statements = []
    for first in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[first : first + ROWS_PER_INSERT]
        statement = template.copy()
        numbered = [_numbered(row, i, once) for i in range(len(chunk))]
        statement.expression.set("expressions", numbered)
        params = shared | {
            f"{k}_{i}": v for i, values in enumerate(chunk) for k, v in values.items()
        }
        statements.append((warehouse.render(statement), params))
    for n, (sql, params) in enumerate(statements):
        try:
            warehouse.execute(sql, params)
        except Exception:
            if n:
                _forget_run(warehouse, table, result.run_id)
            raise
    logger.info(
        "monitor run %s: %d periods of %s as of %s in %s",
        result.run_id,
        len(result.periods),
        result.registered_model,
        result.as_of,
        MODEL_MONITOR,
    )


def _forget_run(warehouse: Warehouse, table: exp.Table, run_id: str) -> None:
    """Delete a run's rows (best effort: the caller raises its own error after)."""
    delete = exp.delete(table, where=exp.column("run_id").eq(param("run_id")))
    try:
        warehouse.execute(warehouse.render(delete), {"run_id": run_id})
    except Exception as exc:  # the write's error is the one to see
        logger.warning("monitor run %s partly stored; deleting it failed: %s", run_id, exc)


def newest_run(table: exp.Table, where: exp.Expression | None = None) -> exp.Subquery:
    """``(SELECT run_id ...)``: the newest monitor run in ``table`` (of the rows ``where``
    selects), by ``computed_at`` and then ``run_id``, so ties resolve the same everywhere."""
    query = exp.select("run_id").from_(table)
    if where is not None:
        query = query.where(where)
    return query.order_by("computed_at DESC", "run_id DESC").limit(1).subquery()


def latest_figures(warehouse: Warehouse, name: str, versions: Sequence[int]) -> dict[str, Any]:
    """The newest monitor run's figures of each of ``versions`` (version text -> scores,
    matured outcomes and approval rate over the run's periods; ROC AUC, Brier and ECE of the
    latest period that has them; the largest score PSI), {} when none was recorded."""
    if not warehouse.table_exists(*MODEL_MONITOR):
        return {}
    table = warehouse.table(*MODEL_MONITOR)
    of_model = exp.column("registered_model").eq(param("name"))
    query = (  # the table grows by a run per monitor call: read the newest run only
        exp.select("*")
        .from_(table)
        .where(of_model)
        .where(exp.column("run_id").eq(newest_run(table, of_model)))
    )
    run = warehouse.query(to_dialect(query, warehouse.dialect), {"name": name})
    if run.is_empty():
        return {}
    newest = run.get_column("run_id")[0]
    run = run.sort("period_start")
    found: dict[str, Any] = {}
    for version in versions:
        mine = run.filter(pl.col("model_version") == version)
        if mine.is_empty():
            continue
        scored = mine.filter(pl.col("roc_auc").is_not_null())
        last = scored.row(-1, named=True) if scored.height else None
        found[str(version)] = {
            "run_id": newest,
            "as_of": str(mine["as_of_date"][0]),
            "role": mine["role"][-1],
            "scores": int(mine["scores"].sum()),
            "matured": int(mine["matured"].sum()),
            "approval_rate": float((mine["approval_rate"] * mine["scores"]).sum())
            / max(int(mine["scores"].sum()), 1),
            "latest_period": str(last["period_start"]) if last else None,
            "latest_roc_auc": last["roc_auc"] if last else None,
            "latest_brier": last["brier"] if last else None,
            "latest_ece": last["ece"] if last else None,
            "max_score_psi": mine["score_psi"].max(),
        }
    plain: dict[str, Any] = json.loads(json.dumps(found, default=str))
    return plain


def _num(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def monitor_markdown(result: MonitorResult) -> str:
    """The figures as a Markdown table (the CLI's output)."""
    lines = [
        f"# {result.registered_model}: scores on outcomes matured by {result.as_of} "
        f"(per {result.grain})",
        "",
        f"Monitor run `{result.run_id}` (bnpl_audit.model_monitor); PSI against each version's "
        "first period.",
        "",
        "| version | role | period | scores | matured | defaults | ROC AUC | Brier | ECE "
        "| approval rate | score PSI |",
        "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in result.periods:
        lines.append(
            f"| {p.model_version} | {p.role} | {p.period_start} | {p.scores:,} | {p.matured:,} | "
            f"{p.positives:,} | {_num(p.roc_auc)} | {_num(p.brier)} | {_num(p.ece)} | "
            f"{_num(p.approval_rate, 3)} | {_num(p.score_psi)} |"
        )
    return "\n".join(lines) + "\n"
