"""``bnpl model monitor``: the logged scores (``bnpl_raw.scores``) against the outcomes as they
mature, per model version and period.

Outcomes: a purchase's ``will_default`` counts once it has matured by the end of the as-of date,
by the training set's own rule (:func:`bnpl.governance.window.matured`: ``transaction_ts`` plus
14 days per instalment before the next day starts). Scores are matched to outcomes on the source
``transaction_id``.

Per model version, role (champion or challenger) and period (a day, or an ISO week starting on
Monday): scores logged, how many have a matured outcome, ROC AUC, Brier score and expected
calibration error on those (:func:`bnpl.governance.metrics.figures`; null while one class is
missing), the mean score, the observed default rate, the approval rate (share of the period's
scores whose decision was ``approve``), and the PSI of the period's scores against the version's
first period (ten equal-width probability bins; the first period has none).

Every run's figures are appended to ``bnpl_audit.model_monitor`` (values bound) and feed
``bnpl model promote`` as evidence (:func:`latest_figures`).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import numpy as np
import polars as pl
import sqlglot
from sqlglot import exp

from bnpl.errors import ConfigError
from bnpl.governance import metrics
from bnpl.governance.window import matured
from bnpl.models.dialect import to_dialect
from bnpl.quality.assertions import row_params
from bnpl.quality.stats import psi
from bnpl.settings import Settings
from bnpl.sqltext import param
from bnpl.timeutil import utc_now
from bnpl.version import VERSION
from bnpl.warehouse import Warehouse
from bnpl.warehouse.names import INTERMEDIATE, MODEL_MONITOR, SCORES, TableName

logger = logging.getLogger(__name__)

Grain = Literal["day", "week"]
GRAINS: tuple[Grain, ...] = ("day", "week")
PSI_BINS = 10
PSI_REFERENCE = "first_period"
OUTCOMES = TableName(INTERMEDIATE, "int_bnpl_transactions_enriched")
"""Where the outcomes are read (``will_default``, ``installment_count``, ``transaction_ts``)."""

OutcomeSource = Callable[[date, date, date], pl.DataFrame]
"""(first day, last day, as-of date) -> the purchases of those days with ``transaction_id``,
``transaction_ts``, ``installment_count`` and ``will_default`` (tests pass synthetic ones)."""


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


def read_scores(warehouse: Warehouse, through: date) -> pl.DataFrame:
    """Every logged score of a checkout on or before ``through``."""
    warehouse.ensure_schema()
    query = (
        exp.select(
            "role",
            "model_name",
            "model_version",
            "score",
            "decision",
            "transaction_id",
            "transaction_date",
        )
        .from_(warehouse.table(*SCORES))
        .where(exp.LTE(this=exp.column("transaction_date"), expression=param("through")))
    )
    return warehouse.query(to_dialect(query, warehouse.dialect), {"through": through})


def warehouse_outcomes(warehouse: Warehouse) -> OutcomeSource:
    """The outcomes from the built warehouse (``bnpl_intermediate``)."""

    def read(first: date, last: date, as_of: date) -> pl.DataFrame:
        if not warehouse.table_exists(*OUTCOMES):
            raise ConfigError(f"{OUTCOMES} does not exist; run `bnpl build` first")
        day = exp.column("transaction_date")
        query = (
            exp.select("transaction_id", "transaction_ts", "installment_count", "will_default")
            .from_(warehouse.table(*OUTCOMES))
            .where(
                exp.and_(
                    exp.GTE(this=day, expression=param("first")),
                    exp.LTE(this=day.copy(), expression=param("last")),
                )
            )
        )
        return warehouse.query(
            to_dialect(query, warehouse.dialect), {"first": first, "last": min(last, as_of)}
        )

    return read


def _period(grain: Grain) -> pl.Expr:
    day = pl.col("transaction_date")
    return day if grain == "day" else day.dt.truncate("1w")


def _bins(scores: np.ndarray) -> np.ndarray:
    index = np.minimum((scores * PSI_BINS).astype(np.int64), PSI_BINS - 1)
    return np.bincount(index, minlength=PSI_BINS)


def _figures(done: pl.DataFrame) -> tuple[float | None, float | None, float | None]:
    """ROC AUC, Brier and ECE of the matured rows ``done`` (None without both outcomes)."""
    if done.is_empty() or done["will_default"].n_unique() < 2:
        return None, None, None
    f = metrics.figures(done["will_default"].cast(pl.Int64).to_numpy(), done["score"].to_numpy())
    return f.roc_auc, f.brier, f.ece


def compute(
    scores: pl.DataFrame, outcomes: pl.DataFrame, *, as_of: date, grain: Grain
) -> list[PeriodFigures]:
    """The figures per version, role and period (pure; ``outcomes`` unfiltered: the maturity
    rule is applied here)."""
    ripe = matured(outcomes, as_of).select("transaction_id", "will_default")
    ripe = ripe.unique("transaction_id", keep="first")
    joined = scores.join(ripe, on="transaction_id", how="left").with_columns(period=_period(grain))
    found = []
    for (version, role), rows in sorted(
        joined.partition_by(["model_version", "role"], as_dict=True).items(),
        key=lambda item: (item[0][0], str(item[0][1])),
    ):
        reference: np.ndarray | None = None
        for (period,), group in sorted(
            rows.partition_by(["period"], as_dict=True).items(), key=lambda item: item[0][0]
        ):
            counts = _bins(group["score"].to_numpy())
            drift = None if reference is None else round(psi(reference, counts), 6)
            reference = counts if reference is None else reference
            done = group.filter(pl.col("will_default").is_not_null())
            positives = int(done["will_default"].cast(pl.Int64).sum()) if done.height else 0
            auc, brier, ece = _figures(done)
            found.append(
                PeriodFigures(
                    model_version=int(version),
                    role=str(role),
                    period_start=period,
                    scores=group.height,
                    matured=done.height,
                    positives=positives,
                    approval_rate=float(np.mean(group["decision"].to_numpy() == "approve")),
                    mean_score=float(np.mean(group["score"].to_numpy())),
                    roc_auc=auc,
                    brier=brier,
                    ece=ece,
                    default_rate=positives / done.height if done.height else None,
                    score_psi=drift,
                )
            )
    return found


def monitor(
    settings: Settings,
    warehouse: Warehouse,
    *,
    as_of: date,
    grain: Grain = "week",
    versions: Sequence[int] = (),
    outcomes: OutcomeSource | None = None,
    record: bool = True,
    flow_run_id: str | None = None,
) -> MonitorResult:
    """Figures of the registered model's logged scores as of ``as_of`` (only ``versions`` when
    given), appended to ``bnpl_audit.model_monitor`` when ``record``.

    Raises:
        ConfigError: an unknown grain, no scores of the model through ``as_of``, or a version
            asked for that has none.
    """
    if grain not in GRAINS:
        raise ConfigError(f"--per must be one of {', '.join(GRAINS)}, got {grain!r}")
    name = settings.model.registered_model
    every = read_scores(warehouse, as_of)
    scores = every.filter(pl.col("model_name") == name)
    if scores.is_empty():
        others = sorted(set(every["model_name"].to_list()))
        raise ConfigError(
            f"bnpl_raw.scores holds no scores of {name!r} through {as_of}"
            + (f" (it holds {', '.join(others)})" if others else "")
            + "; run `bnpl serve` and `bnpl serving load-scores` first"
        )
    if versions:
        known = set(scores["model_version"].to_list())
        missing = sorted(set(versions) - known)
        if missing:
            raise ConfigError(
                f"no scores of {name!r} version(s) {', '.join(map(str, missing))} through "
                f"{as_of}; versions scored: {', '.join(map(str, sorted(known)))}"
            )
        scores = scores.filter(pl.col("model_version").is_in(list(versions)))
    first, last = scores["transaction_date"].min(), scores["transaction_date"].max()
    assert isinstance(first, date) and isinstance(last, date)
    rows = (outcomes or warehouse_outcomes(warehouse))(first, last, as_of)
    result = MonitorResult(
        name, as_of, grain, tuple(compute(scores, rows, as_of=as_of, grain=grain))
    )
    if record:
        write_figures(warehouse, result, flow_run_id=flow_run_id)
    return result


def monitor_warehouse(
    settings: Settings,
    *,
    as_of: date | None = None,
    grain: Grain = "week",
    versions: Sequence[int] = (),
    flow_run_id: str | None = None,
) -> MonitorResult:
    """:func:`monitor` on the settings' existing warehouse (opened and closed here), as of
    ``as_of`` or else the last loaded day: ``bnpl model monitor`` and the flow's one copy."""
    from bnpl.features import last_loaded_day
    from bnpl.warehouse import open_warehouse

    warehouse = open_warehouse(settings, access="existing")
    try:
        day = as_of or last_loaded_day(warehouse)
        return monitor(
            settings, warehouse, as_of=day, grain=grain, versions=versions, flow_run_id=flow_run_id
        )
    finally:
        warehouse.close()


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


def _numbered(row: exp.Expression, i: int) -> exp.Expression:
    """``row`` with each per-row parameter ``@name`` as ``@name_<i>``."""
    return row.transform(
        lambda node: (
            exp.Parameter(this=exp.var(f"{node.name}_{i}"))
            if isinstance(node, exp.Parameter) and node.name not in _SHARED
            else node
        )
    )


_SHARED = (
    "run_id",
    "computed_at",
    "as_of_date",
    "registered_model",
    "grain",
    "psi_reference",
    "flow_run_id",
    "bnpl_version",
)
"""Parameters of a monitor run bound once per statement; the others once per row, as
``<name>_<i>``."""

ROWS_PER_INSERT = 600
"""Rows of one ``INSERT``: 15 parameters a row and 8 shared stay within BigQuery's 10,000 a
query. A run of up to this many periods is stored whole or not at all."""


def write_figures(
    warehouse: Warehouse, result: MonitorResult, *, flow_run_id: str | None = None
) -> None:
    """Append ``result`` to ``bnpl_audit.model_monitor``, every value bound, in one ``INSERT``
    per :data:`ROWS_PER_INSERT` periods (a statement per period cost a BigQuery job each)."""
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
    template = sqlglot.parse_one(_INSERT, read="bigquery")
    template.this.set("this", warehouse.table(*MODEL_MONITOR))
    (row,) = template.expression.expressions
    for first in range(0, len(rows), ROWS_PER_INSERT):
        chunk = rows[first : first + ROWS_PER_INSERT]
        statement = template.copy()
        statement.expression.set("expressions", [_numbered(row, i) for i in range(len(chunk))])
        warehouse.execute(warehouse.render(statement), shared | row_params(chunk))
    logger.info(
        "monitor run %s: %d periods of %s as of %s in %s",
        result.run_id,
        len(result.periods),
        result.registered_model,
        result.as_of,
        MODEL_MONITOR,
    )


def latest_figures(warehouse: Warehouse, name: str, versions: Sequence[int]) -> dict[str, Any]:
    """The newest monitor run's figures of each of ``versions`` (version text -> scores,
    matured outcomes and approval rate over the run's periods; ROC AUC, Brier and ECE of the
    latest period that has them; the largest score PSI), {} when none was recorded."""
    if not warehouse.table_exists(*MODEL_MONITOR):
        return {}
    table = warehouse.table(*MODEL_MONITOR)
    of_model = exp.column("registered_model").eq(param("name"))
    newest_run = (  # the table grows by a run per monitor call: read the newest run only
        exp.select("run_id").from_(table).where(of_model).order_by("computed_at DESC").limit(1)
    )
    query = (
        exp.select("*")
        .from_(table)
        .where(of_model)
        .where(exp.column("run_id").eq(newest_run.subquery()))
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
