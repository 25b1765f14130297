"""Pre-training checks: no day that failed the quality gate, and the drift (PSI) of every
feature between the training window and the evaluation window.

A day failed the gate when the newest gate run whose range covers it stored an error-level
check with status ``fail`` or ``error`` in ``bnpl_audit.dq_results``. PSI compares the share of
rows per bin: numeric features in ten bins cut at the training window's deciles (plus a bin for
nulls), categories and booleans per level (plus nulls), with :func:`bnpl.quality.stats.psi`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import polars as pl
from sqlglot import exp

from bnpl.features.training import Feature
from bnpl.models.dialect import to_dialect
from bnpl.quality.stats import psi
from bnpl.sqltext import param
from bnpl.warehouse import Warehouse
from bnpl.warehouse.names import DQ_RESULTS

logger = logging.getLogger(__name__)

PSI_BINS = 10
FAILED = ("fail", "error")


def gate_failed_days(warehouse: Warehouse, first: date, last: date) -> list[date]:
    """The days in ``first..last`` whose newest covering gate run failed an error-level check."""
    if not warehouse.table_exists(*DQ_RESULTS):
        return []
    columns = ["run_id", "range_start", "range_end", "severity", "status", "checked_at"]
    query = (
        exp.select(*columns)
        .from_(warehouse.table(*DQ_RESULTS))
        .where(
            exp.and_(
                exp.LTE(this=exp.column("range_start"), expression=param("last")),
                exp.GTE(this=exp.column("range_end"), expression=param("first")),
            )
        )
    )
    rows = warehouse.query(to_dialect(query, warehouse.dialect), {"first": first, "last": last})
    if rows.is_empty():
        return []
    runs = (
        rows.with_columns(
            bad=(pl.col("severity") == "error") & pl.col("status").is_in(FAILED),
        )
        .group_by("run_id")
        .agg(
            pl.col("range_start").min(),
            pl.col("range_end").max(),
            pl.col("checked_at").max(),
            pl.col("bad").any(),
        )
        .sort("checked_at")
    )
    verdict: dict[date, bool] = {}
    for run in runs.iter_rows(named=True):  # oldest first: a newer run overrides
        day = max(run["range_start"], first)
        while day <= min(run["range_end"], last):
            verdict[day] = bool(run["bad"])
            day += timedelta(days=1)
    return sorted(d for d, bad in verdict.items() if bad)


@dataclass(frozen=True, slots=True)
class Drift:
    """The PSI of one feature and its level against the thresholds."""

    feature: str
    psi: float
    level: str  # "ok", "warn" or "error"


def _counts(reference: pl.Series, actual: pl.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    if kind == "numeric":
        ref = reference.cast(pl.Float64)
        act = actual.cast(pl.Float64)
        values = ref.drop_nulls().to_numpy()
        edges = np.unique(np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)[1:-1])) if values.size else np.array([])

        def bins(s: pl.Series) -> np.ndarray:
            raw = s.to_numpy()
            out = np.full(raw.shape, len(edges) + 1, dtype=np.int64)  # the null bin
            present = ~np.isnan(raw)
            out[present] = np.searchsorted(edges, raw[present], side="right")
            return np.bincount(out, minlength=len(edges) + 2)

        return bins(ref), bins(act)
    ref_s, act_s = reference.cast(pl.String).fill_null("\0null"), actual.cast(pl.String).fill_null("\0null")
    levels = sorted(set(ref_s.unique().to_list()) | set(act_s.unique().to_list()))
    index = {level: i for i, level in enumerate(levels)}

    def tally(s: pl.Series) -> np.ndarray:
        counts = np.zeros(len(levels))
        for level, n in s.value_counts().iter_rows():
            counts[index[level]] = n
        return counts

    return tally(ref_s), tally(act_s)


def feature_drift(
    reference: pl.DataFrame,
    actual: pl.DataFrame,
    features: Sequence[Feature],
    *,
    warn: float,
    error: float,
) -> list[Drift]:
    """PSI of every feature of ``actual`` against ``reference``, worst first."""
    if reference.is_empty() or actual.is_empty():
        return []
    found = []
    for f in features:
        ref, act = _counts(reference.get_column(f.name), actual.get_column(f.name), f.kind)
        value = psi(ref, act)
        level = "error" if value > error else "warn" if value > warn else "ok"
        found.append(Drift(f.name, round(value, 6), level))
    return sorted(found, key=lambda d: -d.psi)


def drift_summary(drift: Sequence[Drift]) -> Mapping[str, float]:
    """Feature -> PSI, for logging as metrics."""
    return {d.feature: d.psi for d in drift}
