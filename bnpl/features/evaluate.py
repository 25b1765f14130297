"""A baseline check that the features carry signal: a logistic regression and a gradient-boosted
model trained on the train split, scored on the validation and test splits (ROC AUC, PR AUC),
next to simtom's own ``risk_score`` used alone as a score.

scikit-learn is an optional extra (``pip install 'bnpl[ml]'``), imported only here. Both models
are deterministic (fixed solver, ``random_state=0``); category levels and imputation values come
from the train split only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from bnpl.errors import ConfigError
from bnpl.features.training import (
    LABEL,
    SPLITS,
    Feature,
    feature_columns,
    last_loaded_day,
    opened,
    training_frame,
)
from bnpl.models import Project, load_project
from bnpl.settings import Settings
from bnpl.warehouse import Warehouse

logger = logging.getLogger(__name__)

MODELS = ("logistic_regression", "gradient_boosting", "risk_score")
"""What is scored: the two trained models and simtom's risk_score alone."""
SCORED_SPLITS = ("validation", "test")


@dataclass(frozen=True, slots=True)
class Score:
    """One model on one split.

    Attributes:
        model: one of :data:`MODELS`.
        split: ``validation`` or ``test``.
        roc_auc: area under the ROC curve (0.5 is chance).
        pr_auc: average precision (chance is the split's label rate).
    """

    model: str
    split: str
    roc_auc: float
    pr_auc: float


@dataclass(frozen=True)
class Evaluation:
    """The outcome of :func:`evaluate`.

    Attributes:
        as_of: the training set's as-of date (None for a frame evaluated directly).
        rows: rows per split.
        positives: label-positive rows per split.
        features: feature columns used.
        scores: every model on every scored split.
    """

    as_of: date | None
    rows: Mapping[str, int]
    positives: Mapping[str, int]
    features: int
    scores: tuple[Score, ...]

    def score(self, model: str, split: str = "test") -> Score:
        """The score of ``model`` on ``split``."""
        return next(s for s in self.scores if s.model == model and s.split == split)


def _sklearn() -> dict[str, Any]:
    """The scikit-learn pieces, imported on first use.

    Raises:
        ConfigError: scikit-learn is not installed.
    """
    try:
        from sklearn import (  # type: ignore[import-untyped,import-not-found,unused-ignore]
            ensemble,
            impute,
            linear_model,
            metrics,
            pipeline,
            preprocessing,
        )
    except ImportError as exc:
        raise ConfigError(
            "bnpl features evaluate needs scikit-learn, an optional extra: "
            "pip install 'bnpl[ml]' (or pip install scikit-learn)"
        ) from exc
    modules: dict[str, ModuleType] = {
        "ensemble": ensemble,
        "impute": impute,
        "linear_model": linear_model,
        "metrics": metrics,
        "pipeline": pipeline,
        "preprocessing": preprocessing,
    }
    return modules


def category_levels(train: pl.DataFrame, features: Sequence[Feature]) -> dict[str, list[str]]:
    """The sorted non-null values of each categorical feature in ``train``."""
    return {
        f.name: sorted(train.get_column(f.name).drop_nulls().unique().to_list())
        for f in features
        if f.kind == "categorical"
    }


def design_matrix(
    frame: pl.DataFrame,
    features: Sequence[Feature],
    levels: Mapping[str, Sequence[str]],
    *,
    one_hot: bool,
) -> pl.DataFrame:
    """Every feature as Float64 columns (nulls stay null): numbers and booleans as they are,
    categories one-hot (``name=level``) or as the level's index (unseen levels and nulls null)."""
    columns: list[pl.Expr] = []
    for f in features:
        column = pl.col(f.name)
        if f.kind != "categorical":
            columns.append(column.cast(pl.Float64))
        elif one_hot:
            columns += [
                (column == level).fill_null(False).cast(pl.Float64).alias(f"{f.name}={level}")
                for level in levels[f.name]
            ]
        else:
            codes = {level: float(i) for i, level in enumerate(levels[f.name])}
            columns.append(column.replace_strict(codes, default=None, return_dtype=pl.Float64))
    return frame.select(columns)


def _matrix(frame: pl.DataFrame) -> npt.NDArray[np.float64]:
    return frame.to_numpy().astype(np.float64)


def _labels(frame: pl.DataFrame) -> npt.NDArray[np.int64]:
    return frame.get_column(LABEL).cast(pl.Int64).to_numpy()


def evaluate_frame(
    frame: pl.DataFrame, features: Sequence[Feature], *, as_of: date | None = None
) -> Evaluation:
    """Train both models on ``frame``'s train split and score them and ``risk_score`` on the
    validation and test splits.

    Raises:
        ConfigError: scikit-learn is missing, or a split lacks one of the two classes (AUC is
            undefined there).
    """
    sk = _sklearn()
    parts = {s: frame.filter(pl.col("split") == s) for s in SPLITS}
    for split in ("train", *SCORED_SPLITS):
        y = _labels(parts[split])
        if y.size == 0 or y.min() == y.max():
            raise ConfigError(
                f"the {split} split has {y.size} rows and {int(y.sum())} positives; both classes "
                "are needed (AUC is undefined otherwise): use a later as-of date or load more days"
            )
    levels = category_levels(parts["train"], features)
    categorical = [f.kind == "categorical" for f in features]
    logistic = sk["pipeline"].make_pipeline(
        sk["impute"].SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        sk["preprocessing"].StandardScaler(),
        sk["linear_model"].LogisticRegression(max_iter=2000),
    )
    boosting = sk["ensemble"].HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=300,
        max_leaf_nodes=31,
        min_samples_leaf=200,
        l2_regularization=1.0,
        categorical_features=np.array(categorical, dtype=bool),
        early_stopping=False,
        random_state=0,
    )
    y_train = _labels(parts["train"])
    logistic.fit(_matrix(design_matrix(parts["train"], features, levels, one_hot=True)), y_train)
    boosting.fit(_matrix(design_matrix(parts["train"], features, levels, one_hot=False)), y_train)
    scores = []
    for split in SCORED_SPLITS:
        part, y = parts[split], _labels(parts[split])
        predicted = {
            "logistic_regression": logistic.predict_proba(
                _matrix(design_matrix(part, features, levels, one_hot=True))
            )[:, 1],
            "gradient_boosting": boosting.predict_proba(
                _matrix(design_matrix(part, features, levels, one_hot=False))
            )[:, 1],
            "risk_score": part.get_column("risk_score").to_numpy(),
        }
        for model in MODELS:
            roc = float(sk["metrics"].roc_auc_score(y, predicted[model]))
            pr = float(sk["metrics"].average_precision_score(y, predicted[model]))
            scores.append(Score(model, split, roc, pr))
    evaluation = Evaluation(
        as_of=as_of,
        rows={s: parts[s].height for s in SPLITS},
        positives={s: int(_labels(parts[s]).sum()) for s in SPLITS},
        features=len(features),
        scores=tuple(scores),
    )
    test = {s.model: s for s in scores if s.split == "test"}
    logger.info(
        "test ROC AUC: logistic %.4f, boosting %.4f, risk_score %.4f",
        test["logistic_regression"].roc_auc,
        test["gradient_boosting"].roc_auc,
        test["risk_score"].roc_auc,
    )
    return evaluation


def evaluate(
    *,
    as_of: date | None = None,
    settings: Settings | None = None,
    warehouse: Warehouse | None = None,
    project: Project | None = None,
) -> Evaluation:
    """:func:`evaluate_frame` on the training set as of ``as_of`` (default: the last loaded day).

    Raises:
        ConfigError: scikit-learn is missing, a bad ``as_of``, or a split lacks a class.
        ModelError: the feature marts are not built through ``as_of``.
    """
    project = project or load_project(user_dir=settings.project.dir if settings else None)
    with opened(settings, warehouse) as wh:
        day = as_of or last_loaded_day(wh)
        frame = training_frame(as_of=day, warehouse=wh, project=project)
    return evaluate_frame(frame, feature_columns(project), as_of=day)


def evaluation_markdown(evaluation: Evaluation) -> str:
    """The evaluation as a Markdown table, with each split's size and label rate (the PR AUC of
    a random score)."""
    rows, positives = evaluation.rows, evaluation.positives
    as_of = evaluation.as_of.isoformat() if evaluation.as_of else "(frame)"
    lines = [
        f"Baseline evaluation of the training set as of {as_of}: trained on train "
        f"({rows['train']:,} rows, {positives['train']:,} positive), {evaluation.features} features.",
        "",
        "| model | split | rows | label rate | ROC AUC | PR AUC |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for s in evaluation.scores:
        rate = positives[s.split] / rows[s.split]
        lines.append(
            f"| {s.model} | {s.split} | {rows[s.split]:,} | {100 * rate:.2f} % | "
            f"{s.roc_auc:.4f} | {s.pr_auc:.4f} |"
        )
    return "\n".join(lines) + "\n"
