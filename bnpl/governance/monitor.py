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
``bnpl model promote`` as evidence (:mod:`bnpl.governance.monitor_figures`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import date

import numpy as np
import polars as pl
from sqlglot import exp

from bnpl.errors import ConfigError
from bnpl.governance import metrics
from bnpl.governance.monitor_figures import (
    GRAINS,
    Grain,
    MonitorResult,
    PeriodFigures,
    write_figures,
)
from bnpl.governance.window import matured
from bnpl.models.dialect import to_dialect
from bnpl.quality.stats import psi
from bnpl.settings import Settings
from bnpl.sqltext import param
from bnpl.warehouse import Warehouse
from bnpl.warehouse.names import INTERMEDIATE, SCORES, TableName

logger = logging.getLogger(__name__)

PSI_BINS = 10
OUTCOMES = TableName(INTERMEDIATE, "int_bnpl_transactions_enriched")
"""Where the outcomes are read (``will_default``, ``installment_count``, ``transaction_ts``)."""

OutcomeSource = Callable[[date, date, date], pl.DataFrame]
"""(first day, last day, as-of date) -> the purchases of those days with ``transaction_id``,
``transaction_ts``, ``installment_count`` and ``will_default`` (tests pass synthetic ones)."""


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
