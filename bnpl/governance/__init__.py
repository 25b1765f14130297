"""Model governance: training runs in an MLflow registry, champion/challenger promotion on
matured out-of-time outcomes, rollback, and every decision kept.

::

    from bnpl import load_settings
    from bnpl import governance
    settings = load_settings()
    result = governance.train(settings, as_of=date(2024, 12, 31))   # new version, "challenger"
    decision = governance.promote(settings)                          # or initial=True, the first time
    governance.rollback(settings)
    model, version, feature_names = governance.load_model(settings, "champion")

MLflow and scikit-learn are the ``ml`` extra and are imported only when a function needs them.
Modules: :mod:`~.window` (which days), :mod:`~.metrics` (figures, paired bootstrap),
:mod:`~.checks` (gate and PSI), :mod:`~.estimator` (the pipeline), :mod:`~.store` and
:mod:`~.registry` (MLflow), :mod:`~.train`, :mod:`~.promote`, :mod:`~.decisions`,
:mod:`~.report` (a decision's Markdown), :mod:`~.monitor` (the logged scores on matured
outcomes) and :mod:`~.monitor_figures` (a monitor run's records, table and Markdown).
"""

from __future__ import annotations

from bnpl.governance.decisions import Decision
from bnpl.governance.promote import decide, promote, rollback
from bnpl.governance.registry import CHALLENGER, CHAMPION, load_model
from bnpl.governance.train import TrainResult, train
from bnpl.governance.window import Window, evaluation_window

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "Decision",
    "TrainResult",
    "Window",
    "decide",
    "evaluation_window",
    "load_model",
    "promote",
    "rollback",
    "train",
]
