"""``bnpl model train``: fit the model on the training set as of a date and register it.

The rows are the point-in-time training set (:func:`bnpl.features.training_frame`: only labels
matured by the end of the as-of day), read from the warehouse or from an export of the same
as-of date (``bnpl features export``): the same rows either way. The model is fitted on the
*train* split only; its figures are logged for every split next to ``risk_score`` alone.

Before anything is fitted the checks run (:mod:`bnpl.governance.checks`): a day of the set that
failed the quality gate stops the run and nothing is registered. The PSI of every feature between
the training window and the evaluation window is reported (logged, recorded on the run and the
version, printed by the CLI) at the ``BNPL_MODEL__PSI_WARN`` and ``BNPL_MODEL__PSI_ERROR``
levels; it does not stop the run, since calendar and market features drift by construction
(``days_to_next_holiday`` of April is not that of January). The run logs
parameters, metrics per split, the features and their types, the data card and its fingerprint,
the code version and the model with its input signature; the new version gets the
``challenger`` alias. Registering is the last step.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from bnpl.errors import ConfigError, RegistryError, TrainingCheckError
from bnpl.features.export import build_card, card_markdown
from bnpl.features.training import (
    LABEL,
    ROW_ORDER,
    SPLITS,
    Feature,
    feature_columns,
    ledger_through,
    opened,
    training_frame,
)
from bnpl.governance import estimator, metrics, registry, store
from bnpl.governance.checks import Drift, feature_drift, gate_failed_days
from bnpl.governance.window import Window, evaluation_window
from bnpl.settings import Settings
from bnpl.version import VERSION
from bnpl.warehouse import Warehouse

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train` registered.

    Attributes:
        version: the new model version (alias ``challenger``).
        run_id: the MLflow run.
        as_of: the training set's as-of date.
        training: the train split's days.
        rows: rows per split.
        scores: split -> ``model`` and ``risk_score`` figures.
        drift: every feature's PSI, worst first, and the days it compares against.
        drift_window: the days the training window is compared with.
    """

    version: int
    run_id: str
    as_of: date
    training: Window
    rows: Mapping[str, int]
    scores: Mapping[str, Mapping[str, metrics.Figures]]
    drift: Sequence[Drift] = field(default_factory=tuple)
    drift_window: Window | None = None


def read_export(directory: Path, as_of: date, columns: Sequence[str] | None = None) -> pl.DataFrame:
    """The rows of a ``bnpl features export`` directory, checked to be as of ``as_of``: only
    ``columns`` when given (default: all).

    Raises:
        ConfigError: not an export, or an export of another as-of date.
    """
    try:
        card = json.loads((directory / "card.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{directory} is not a bnpl features export ({exc})") from None
    if card.get("as_of") != as_of.isoformat():
        raise ConfigError(
            f"{directory} is the training set as of {card.get('as_of')}, not {as_of}; "
            f"export it with `bnpl features export --as-of {as_of} --out {directory}`"
        )
    scan = pl.scan_parquet(directory / "month=*" / "*.parquet", hive_partitioning=False)
    if columns is None:
        return scan.sort(ROW_ORDER).collect()
    return scan.sort(ROW_ORDER).select(columns).collect()


def _labels(frame: pl.DataFrame) -> Any:
    return frame.get_column(LABEL).cast(pl.Int64).to_numpy()


def _baseline(frame: pl.DataFrame) -> Any:
    """``risk_score`` alone as a probability (nulls 0, clipped to [0, 1])."""
    return frame.get_column("risk_score").cast(pl.Float64).fill_null(0.0).clip(0, 1).to_numpy()


def _both_outcomes(y: Any) -> bool:
    return bool(y.size) and bool(y.min() != y.max())


@dataclass
class _Encoded:
    """One split as the classifier sees it, without the Polars rows: the encoded matrix,
    the labels and ``risk_score`` alone."""

    matrix: Any
    labels: Any
    baseline: Any


def _encode_splits(
    parts: Mapping[str, pl.DataFrame], features: Sequence[Feature], levels: dict[str, list[str]]
) -> dict[str, _Encoded]:
    return {
        s: _Encoded(
            estimator.encoded_matrix(part, features, levels), _labels(part), _baseline(part)
        )
        for s, part in parts.items()
    }


def _split_scores(
    model: Any, splits: Mapping[str, _Encoded]
) -> dict[str, dict[str, metrics.Figures]]:
    """Every split with both outcomes scored once: the model and ``risk_score`` alone."""
    scores: dict[str, dict[str, metrics.Figures]] = {}
    for split, part in splits.items():
        if not _both_outcomes(part.labels):
            continue
        predicted = estimator.encoded_probabilities(model, part.matrix)
        scores[split] = {
            "model": metrics.figures(part.labels, predicted),
            "risk_score": metrics.figures(part.labels, part.baseline),
        }
    return scores


def split_parts(frame: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """The rows of each split, without the ``split`` column. The set is in day order and every
    split is a run of whole days (train, then validation, then test), so each split is a slice
    of ``frame`` sharing its memory; rows in any other order are partitioned (a copy)."""
    split = frame.get_column("split")
    rows = frame.drop("split")
    parts: dict[str, pl.DataFrame] = {}
    offset = 0
    for name in SPLITS:
        count = int((split == name).sum())
        if not (split.slice(offset, count) == name).all():
            by_split = rows.with_columns(split).partition_by(
                "split", as_dict=True, include_key=False
            )
            return {s: by_split.get((s,), rows.clear()) for s in SPLITS}
        parts[name] = rows.slice(offset, count)
        offset += count
    return parts


def training_columns(features: Sequence[Feature]) -> list[str]:
    """The columns a training run reads: the features, the label, the day and the split, and
    what the data card summarises (``installment_count``) and the baseline (``risk_score``)."""
    needed = [*(f.name for f in features), LABEL, "transaction_date", "split"]
    return list(dict.fromkeys([*needed, "installment_count", "risk_score"]))


def _load_rows(
    as_of: date, source: Path | None, wh: Warehouse, features: Sequence[Feature]
) -> pl.DataFrame:
    columns = training_columns(features)
    if source is not None:
        return read_export(source, as_of, columns)
    return training_frame(as_of=as_of, warehouse=wh, columns=columns)


def train(
    settings: Settings,
    *,
    as_of: date,
    source: Path | None = None,
    warehouse: Warehouse | None = None,
) -> TrainResult:
    """Train on the set as of ``as_of`` (from ``source``, an export directory, when given) and
    register the model as a new version with the ``challenger`` alias.

    Raises:
        ConfigError: a bad as-of date (after the last loaded day, no matured labels), a bad
            export, an unreachable tracking server, MLflow missing.
        TrainingCheckError: days of the set failed the quality gate.
        ModelError: the feature marts are not built through ``as_of``.
        RegistryError: MLflow failed while logging or registering.
    """
    features = feature_columns()
    with opened(settings, warehouse) as wh:
        frame = _load_rows(as_of, source, wh, features)
        parts = split_parts(frame)
        y_train = _labels(parts["train"])
        if y_train.size == 0 or y_train.min() == y_train.max():
            raise ConfigError(
                f"no matured labels to train on as of {as_of}: the train split has {y_train.size} "
                f"rows and {int(y_train.sum())} defaults; a purchase's label is known 56 to 84 "
                "days after it, so use a later --as-of or load earlier days"
            )
        days = parts["train"].get_column("transaction_date")
        training = Window(days.min(), days.max())  # type: ignore[arg-type]
        first, last = (
            frame.get_column("transaction_date").min(),
            frame.get_column("transaction_date").max(),
        )
        failed = gate_failed_days(wh, first, last)  # type: ignore[arg-type]
        if failed:
            shown = ", ".join(d.isoformat() for d in failed[:5]) + (
                " ..." if len(failed) > 5 else ""
            )
            raise TrainingCheckError(
                f"{len(failed)} day(s) of the training set as of {as_of} failed the quality gate "
                f"({shown}); fix and rebuild them (bnpl build, bnpl check) or train as of an "
                "earlier date"
            )
        ledger = ledger_through(wh, last) if source is None else None  # type: ignore[arg-type]
    card = build_card(
        frame.select(LABEL, "transaction_date", "installment_count", "split"),
        as_of=as_of,
        features=features,
        ledger=ledger if ledger is not None else _no_ledger(),
        files={},
    )
    example = estimator.model_input(frame.head(5), features)  # a copy: frees with the set
    del frame  # the splits hold the rows; the whole set is not needed twice while fitting
    drift_window, reference = _drift_reference(as_of, training, parts, settings)
    drift = feature_drift(
        parts["train"],
        reference,
        features,
        warn=settings.model.psi_warn,
        error=settings.model.psi_error,
    )
    del reference
    _log_drift(drift, training, drift_window)
    client = store.open_client(settings)  # before fitting: an unreachable server fails fast
    levels = estimator.levels_of(parts["train"], features)
    rows = {s: parts[s].height for s in SPLITS}
    splits = _encode_splits(parts, features, levels)
    del parts  # the Polars rows go before fitting: only the matrices stay
    held = splits["validation"]
    with estimator.threads(settings.model.threads):
        model = estimator.fit_encoded(
            splits["train"].matrix,
            splits["train"].labels,
            features,
            levels,
            validation=(held.matrix, held.labels) if _both_outcomes(held.labels) else None,
        )
        scores = _split_scores(model, splits)
    del splits
    version, run_id = _register(
        client,
        settings,
        model,
        example,
        rows,
        features,
        card,
        training,
        scores,
        drift,
        drift_window,
        as_of,
    )
    logger.info(
        "registered %s version %d (challenger) as of %s: test ROC AUC %.4f, risk_score alone %.4f",
        settings.model.registered_model,
        version,
        as_of,
        scores.get("test", {}).get("model", metrics.Figures(0, 0, 0, 0)).roc_auc,
        scores.get("test", {}).get("risk_score", metrics.Figures(0, 0, 0, 0)).roc_auc,
    )
    return TrainResult(version, run_id, as_of, training, rows, scores, tuple(drift), drift_window)


def _log_drift(drift: Sequence[Drift], training: Window, window: Window | None) -> None:
    """One line: how many features are past each threshold, the error-level ones named."""
    errors = [d for d in drift if d.level == "error"]
    warns = [d for d in drift if d.level == "warn"]
    logger.info(
        "PSI of %d features, training window %s against %s: %d above warn, %d above error%s",
        len(drift),
        training,
        window,
        len(warns),
        len(errors),
        (": " + ", ".join(f"{d.feature} {d.psi:.2f}" for d in errors)) if errors else "",
    )


def _no_ledger() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "transaction_date": pl.Date,
            "batch_id": pl.String,
            "identity_scope": pl.String,
            "records_loaded": pl.Int64,
            "content_sha256": pl.String,
        }
    )


def _drift_reference(
    as_of: date, training: Window, parts: Mapping[str, pl.DataFrame], settings: Settings
) -> tuple[Window | None, pl.DataFrame]:
    """The evaluation window promotion would use for this model alone, and its rows; the test
    split when the set has no such window yet."""
    try:
        window = evaluation_window(as_of, [training], settings.model.evaluation_window_days)
    except ConfigError:
        window = None
    if window is not None:
        rows = pl.concat([parts["validation"], parts["test"]]).filter(
            pl.col("transaction_date").is_between(window.start, window.end)
        )
        if not rows.is_empty():
            return window, rows
    test = parts["test"]
    if test.is_empty():
        return None, test
    days = test.get_column("transaction_date")
    return Window(days.min(), days.max()), test  # type: ignore[arg-type]


def _register(
    client: Any,
    settings: Settings,
    model: Any,
    example: Any,
    rows: Mapping[str, int],
    features: Sequence[Feature],
    card: Mapping[str, Any],
    training: Window,
    scores: Mapping[str, Mapping[str, metrics.Figures]],
    drift: Sequence[Drift],
    drift_window: Window | None,
    as_of: date,
) -> tuple[int, str]:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.models import infer_signature

    name = settings.model.registered_model
    card_text = json.dumps(card, indent=2, sort_keys=True, default=str)
    fingerprint = hashlib.sha256(card_text.encode()).hexdigest()
    feature_list = [{"name": f.name, "type": f.type, "kind": f.kind} for f in features]
    tags = {
        "bnpl.as_of": as_of.isoformat(),
        "bnpl.train_start": training.start.isoformat(),
        "bnpl.train_end": training.end.isoformat(),
        "bnpl.features": json.dumps([f.name for f in features]),
        "bnpl.training_set_sha256": fingerprint,
        "bnpl.code_version": VERSION,
        "bnpl.psi_error_features": json.dumps([d.feature for d in drift if d.level == "error"]),
    }
    experiment = store.experiment_id(client, settings)
    try:
        with (
            store.quiet(),
            mlflow.start_run(experiment_id=experiment, run_name=f"train-as-of-{as_of}") as run,
        ):
            mlflow.set_tags(tags)
            mlflow.log_params(
                estimator.PARAMS | {"as_of": as_of.isoformat(), "features": len(features)}
            )
            mlflow.log_params({f"rows_{s}": n for s, n in rows.items()})
            mlflow.log_metric("boosting_iterations", estimator.iterations(model))
            for split, by_model in scores.items():
                for who, figs in by_model.items():
                    mlflow.log_metrics({f"{split}_{who}_{m}": v for m, v in figs.as_dict().items()})
            mlflow.log_metrics({f"psi_{d.feature}": d.psi for d in drift})
            mlflow.log_dict({"features": feature_list}, "features.json")
            mlflow.log_dict(
                {"window": str(drift_window), "psi": {d.feature: d.psi for d in drift}}, "psi.json"
            )
            mlflow.log_text(card_text, "data_card.json")
            mlflow.log_text(card_markdown(card), "data_card.md")
            signature = infer_signature(example, estimator.probabilities(model, example))
            run_id = run.info.run_id
            version = registry.register_version(
                client, name, model, run_id=run_id, tags=tags, signature=signature
            )
    except MlflowException as exc:
        raise RegistryError(f"MLflow failed while registering {name!r}: {exc.message}") from None
    return version, run_id
