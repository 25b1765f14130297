"""ML training sets: point-in-time features with matured labels, a reproducible export, and a
baseline check that the features carry signal.

The SQL lives in ``sql/marts/`` (``mart_bnpl_ml_features``, ``mart_bnpl_ml_training_set``); this
package runs it for an as-of date. ``as_of`` is a calendar day meaning the end of that day (the
next midnight, naive event time): a row is in the set only when its label has matured by then
(``transaction_ts + 14 days × installment_count``), and nothing later is read. The as-of date is
bound as the training-set model's ``@end_date`` parameter; ``bnpl build`` publishes the same SQL
as of the last loaded day. See ``docs/features.md``::

    from bnpl import features, load_settings
    settings = load_settings()
    frame = features.training_frame(as_of=date(2024, 12, 31), settings=settings)
    features.export(date(2024, 12, 31), Path("out/training-2024-12-31"), settings=settings)
    report = features.evaluation_markdown(features.evaluate(as_of=date(2024, 12, 31), settings=settings))

Modules: :mod:`~bnpl.features.training` (the frame, the feature list), :mod:`~bnpl.features.export`
(Parquet and the data card), :mod:`~bnpl.features.evaluate` (scikit-learn, optional extra).
"""

from __future__ import annotations

from bnpl.features.evaluate import (
    Evaluation,
    Score,
    evaluate,
    evaluate_frame,
    evaluation_markdown,
)
from bnpl.features.export import ExportResult, build_card, card_markdown, export
from bnpl.features.training import (
    FEATURES_MODEL,
    LABEL,
    TRAINING_SET,
    Feature,
    feature_columns,
    last_loaded_day,
    training_frame,
)

__all__ = [
    "FEATURES_MODEL",
    "LABEL",
    "TRAINING_SET",
    "Evaluation",
    "ExportResult",
    "Feature",
    "Score",
    "build_card",
    "card_markdown",
    "evaluate",
    "evaluate_frame",
    "evaluation_markdown",
    "export",
    "feature_columns",
    "last_loaded_day",
    "training_frame",
]
