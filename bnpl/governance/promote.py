"""``bnpl model promote`` and ``bnpl model rollback``: move the ``champion`` alias on evidence,
or back, and keep every decision (:mod:`bnpl.governance.decisions`).

Promotion scores the champion and the challenger on the same rows: the matured outcomes of the
evaluation window (:func:`bnpl.governance.window.evaluation_window`: fully matured as of the
as-of date, after both training windows). It moves ``champion`` only when

* the lower bound of the paired bootstrap interval of the ROC AUC gain exceeds
  ``BNPL_MODEL__AUC_MARGIN``, and
* the challenger's expected calibration error is at most ``BNPL_MODEL__CALIBRATION_TOLERANCE``
  above the champion's;

otherwise the champion stays and the decision says why. ``risk_score`` alone is scored on the same
rows beside them; the newest ``bnpl model monitor`` figures of both versions (scores logged in
production on matured outcomes) are shown and recorded with the decision as evidence. Bad input (no champion, no challenger, too few outcomes) raises
:class:`ConfigError` before anything is recorded or moved.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import polars as pl

from bnpl.errors import ConfigError, RegistryError
from bnpl.features.training import (
    LABEL,
    Feature,
    feature_columns,
    last_loaded_day,
    opened,
    training_frame,
)
from bnpl.governance import estimator, metrics, registry, store
from bnpl.governance.decisions import Decision, tag_decision, write_decision
from bnpl.governance.metrics import Comparison
from bnpl.governance.monitor_figures import latest_figures
from bnpl.governance.window import Window, evaluation_window
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse

logger = logging.getLogger(__name__)

FrameSource = Callable[[date, Window, Sequence[str]], pl.DataFrame]
"""(as-of date, evaluation window, columns) -> the matured rows as of the date: at least the
window's days and those columns (the training set; tests pass synthetic rows)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether to promote, and why (one sentence)."""

    promote: bool
    reason: str


def decide(comparison: Comparison, *, margin: float, tolerance: float) -> Verdict:
    """The promotion rule (pure)."""
    auc = comparison.deltas["roc_auc"]
    ece = comparison.deltas["ece"]
    level = f"{100 * comparison.confidence:g} %"
    gain = f"ROC AUC gain {auc.point:+.4f} ({level} interval {auc.low:+.4f} to {auc.high:+.4f})"
    if auc.low <= margin:
        return Verdict(False, f"kept the champion: {gain} is not above the margin {margin:g}")
    if ece.point > tolerance:
        return Verdict(
            False,
            f"kept the champion: {gain}, but calibration is worse by {ece.point:+.4f} ECE "
            f"(tolerance {tolerance:g})",
        )
    return Verdict(True, f"promoted the challenger: {gain}, ECE change {ece.point:+.4f}")


def _window_rows(frame: pl.DataFrame, window: Window, settings: Settings) -> pl.DataFrame:
    rows = frame.filter(pl.col("transaction_date").is_between(window.start, window.end))
    positives = int(rows.get_column(LABEL).cast(pl.Int64).sum()) if rows.height else 0
    negatives = rows.height - positives
    need = settings.model.min_outcomes
    if positives < need or negatives < need:
        raise ConfigError(
            f"the evaluation window {window} holds {positives} defaults and {negatives} repaid "
            f"purchases; at least {need} of each are needed for the bootstrap: raise "
            "BNPL_MODEL__EVALUATION_WINDOW_DAYS, load more days, or lower BNPL_MODEL__MIN_OUTCOMES"
        )
    return rows


def _scores(name: str, version: int, rows: pl.DataFrame, features: tuple[str, ...]) -> Any:
    import mlflow

    with store.quiet():
        model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
    kinds = {f.name: f for f in feature_columns()}
    chosen = [kinds.get(n) or Feature(n, "FLOAT64", "numeric", "") for n in features]
    return estimator.probabilities(model, estimator.model_input(rows, chosen))


def warehouse_rows(settings: Settings, warehouse: Warehouse | None) -> FrameSource:
    """The training set as of a date, from the warehouse: only the window's days and the
    columns asked for (filtered in the warehouse)."""

    def rows(as_of: date, window: Window, columns: Sequence[str]) -> pl.DataFrame:
        with opened(settings, warehouse) as wh:
            return training_frame(
                as_of=as_of, warehouse=wh, columns=columns, start=window.start, end=window.end
            )

    return rows


def _default_as_of(settings: Settings, warehouse: Warehouse | None) -> date:
    with opened(settings, warehouse) as wh:
        return last_loaded_day(wh)


def compare_versions(
    settings: Settings,
    client: Any,
    champion: int,
    challenger: int,
    as_of: date,
    rows_of: FrameSource,
) -> tuple[Window, Comparison]:
    """Both versions and ``risk_score`` on the evaluation window as of ``as_of``."""
    name = settings.model.registered_model
    a = registry.version_info(client, name, champion)
    b = registry.version_info(client, name, challenger)
    window = evaluation_window(
        as_of, [a.training, b.training], settings.model.evaluation_window_days
    )
    needed = [LABEL, "transaction_date", "risk_score", *a.features, *b.features]
    rows = _window_rows(rows_of(as_of, window, list(dict.fromkeys(needed))), window, settings)
    y = rows.get_column(LABEL).cast(pl.Int64).to_numpy()
    baseline = None
    if "risk_score" in rows.columns:
        baseline = rows.get_column("risk_score").cast(pl.Float64).fill_null(0.0).to_numpy()
    with estimator.threads(settings.model.threads):
        scored = [
            _scores(name, v, rows, f) for v, f in ((champion, a.features), (challenger, b.features))
        ]
    comparison = metrics.compare(
        y,
        scored[0],
        scored[1],
        baseline=None if baseline is None else np.clip(baseline, 0, 1),
        resamples=settings.model.bootstrap_resamples,
        seed=settings.model.bootstrap_seed,
        confidence=settings.model.confidence,
    )
    return window, comparison


def promote(
    settings: Settings,
    *,
    as_of: date | None = None,
    initial: bool = False,
    warehouse: Warehouse | None = None,
    rows_of: FrameSource | None = None,
    flow_run_id: str | None = None,
) -> Decision:
    """Compare the challenger with the champion and move ``champion`` if the rule says so;
    with ``initial``, make the latest version the first champion. The decision is tagged on the
    versions and written to ``bnpl_audit.model_decisions`` before any alias moves.

    Raises:
        ConfigError: no registered model, no champion (without ``initial``), a champion already
            (with ``initial``), no challenger, no out-of-time window, too few outcomes.
        RegistryError: MLflow failed.
    """
    client = store.open_client(settings)
    name = settings.model.registered_model
    registry.require_model(client, name)
    champion = registry.alias_version(client, name, registry.CHAMPION)
    history = registry.champion_history(client, name)
    if initial:
        if champion is not None:
            raise ConfigError(
                f"{name!r} already has a champion (version {champion}); compare a challenger "
                "with it with `bnpl model promote` (no --initial)"
            )
        latest = registry.latest_version(client, name)
        if latest is None:
            raise ConfigError(
                f"{name!r} has no versions; run `bnpl model train --as-of YYYY-MM-DD`"
            )
        decision = Decision(
            "initial",
            "initial",
            name,
            None,
            latest,
            latest,
            f"made version {latest} the first champion by an explicit decision (--initial)",
        )
        _record(settings, client, decision, warehouse, flow_run_id)
        _move(client, name, latest, [*history, latest])
        return decision
    if champion is None:
        raise ConfigError(
            f"{name!r} has no champion yet; make the first one explicitly with "
            "`bnpl model promote --initial`"
        )
    challenger = registry.alias_version(client, name, registry.CHALLENGER)
    if challenger is None or challenger == champion:
        raise ConfigError(
            f"{name!r} has no challenger besides champion version {champion}; train one with "
            "`bnpl model train --as-of YYYY-MM-DD`"
        )
    day = as_of or _default_as_of(settings, warehouse)
    window, comparison = compare_versions(
        settings, client, champion, challenger, day, rows_of or warehouse_rows(settings, warehouse)
    )
    verdict = decide(
        comparison, margin=settings.model.auc_margin, tolerance=settings.model.calibration_tolerance
    )
    with opened(settings, warehouse) as wh:  # live evidence beside the rule, not part of it
        evidence = latest_figures(wh, name, [champion, challenger])
    decision = Decision(
        "promote",
        "promoted" if verdict.promote else "kept",
        name,
        champion,
        challenger,
        challenger if verdict.promote else champion,
        verdict.reason,
        as_of=day,
        window=window,
        comparison=comparison,
        monitor=evidence or None,
    )
    _record(settings, client, decision, warehouse, flow_run_id)
    if verdict.promote:
        _move(client, name, challenger, [*history, challenger])
    logger.info("%s version %d vs %d on %s: %s", name, challenger, champion, window, verdict.reason)
    return decision


def rollback(
    settings: Settings, *, warehouse: Warehouse | None = None, flow_run_id: str | None = None
) -> Decision:
    """Make the previous champion champion again, and record it.

    Raises:
        ConfigError: no registered model, or no previous champion.
    """
    client = store.open_client(settings)
    name = settings.model.registered_model
    registry.require_model(client, name)
    champion = registry.alias_version(client, name, registry.CHAMPION)
    history = registry.champion_history(client, name)
    if champion is None or len(history) < 2:
        raise ConfigError(
            f"{name!r} has no previous champion to roll back to (champion: "
            f"{'none' if champion is None else f'version {champion}'}); nothing was changed"
        )
    previous = history[-2]
    decision = Decision(
        "rollback",
        "rolled_back",
        name,
        champion,
        previous,
        previous,
        f"rolled back from version {champion} to the previous champion, version {previous}",
    )
    _record(settings, client, decision, warehouse, flow_run_id)
    _move(client, name, previous, history[:-1])
    return decision


def _record(
    settings: Settings,
    client: Any,
    decision: Decision,
    warehouse: Warehouse | None,
    flow_run_id: str | None,
) -> None:
    from mlflow.exceptions import MlflowException

    with opened(settings, warehouse) as wh:
        write_decision(wh, decision, flow_run_id=flow_run_id)
    try:
        tag_decision(client, decision)
    except MlflowException as exc:
        raise RegistryError(
            f"decision {decision.decision_id} is in bnpl_audit.model_decisions but MLflow failed "
            f"to tag it ({exc.message}); no alias was moved, run the command again"
        ) from None


def _move(client: Any, name: str, version: int, history: list[int]) -> None:
    from mlflow.exceptions import MlflowException

    try:
        registry.set_champion(client, name, version, history=history)
    except MlflowException as exc:
        raise RegistryError(
            f"the decision is recorded but moving {name!r}@champion to version {version} failed "
            f"({exc.message}); run the command again"
        ) from None
