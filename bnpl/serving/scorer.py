"""Scoring one checkout: online features, the registry's champion, a decision and its reasons.

:class:`ModelSlot` holds the model an alias points at and swaps in a new version atomically (one
attribute assignment of an immutable :class:`LoadedModel`): a request takes the slot's current
model once and scores with it, so a swap never drops or mixes a request. :meth:`ModelSlot.refresh`
is called by the API's poller every ``BNPL_SERVING__POLL_S``.

Reasons: the features whose value moved the score most, measured by scoring the checkout again
with each feature set to missing (the gradient-boosted model's own treatment of an unknown
value), all in one batch.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from bnpl.errors import ConfigError, RegistryError, ServingError
from bnpl.features.training import Feature, feature_columns
from bnpl.serving.forest import CompiledForest
from bnpl.settings import ServingSettings, Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """One registered model version, ready to score."""

    name: str
    version: int
    model: Any
    features: tuple[Feature, ...]


class ModelSlot:
    """The model behind one alias, reloaded when the alias moves."""

    def __init__(self, settings: Settings, alias: str) -> None:
        self._settings = settings
        self.alias = alias
        self.current: LoadedModel | None = None
        self._lock = threading.Lock()
        self._catalog = {f.name: f for f in feature_columns()}

    def refresh(self) -> bool:
        """Load the alias's version if it changed; True when a new model was swapped in. A
        missing alias or an unreachable registry leaves the current model serving."""
        from bnpl.governance import load_model
        from bnpl.governance.registry import alias_version
        from bnpl.governance.store import open_client

        with self._lock:
            name = self._settings.model.registered_model
            try:
                version = alias_version(open_client(self._settings), name, self.alias)
            except (ConfigError, RegistryError) as exc:
                logger.warning("registry not readable for alias %s: %s", self.alias, exc)
                return False
            if version is None or (self.current and self.current.version == version):
                return False
            try:
                model, loaded, names = load_model(self._settings, self.alias)
            except (ConfigError, RegistryError) as exc:
                logger.warning("cannot load %s of %s: %s", self.alias, name, exc)
                return False
            unknown = [n for n in names if n not in self._catalog]
            if unknown:
                logger.error("version %d needs unknown features %s; not served", loaded, unknown)
                return False
            ready = LoadedModel(name, loaded, model, tuple(self._catalog[n] for n in names))
            one_thread_per_request()  # the model's native libraries are loaded by now
            try:
                warm_model(ready)  # compiled and run before the first request sees it
            except ServingError as exc:
                logger.error("version %d cannot score: %s; not served", loaded, exc)
                return False
            self.current = ready
            logger.info("serving %s version %d as %s", name, loaded, self.alias)
            return True


@dataclass(frozen=True)
class Score:
    """A scored checkout."""

    score: float
    decision: str
    reasons: tuple[dict[str, Any], ...]
    model_name: str
    model_version: int


def _frame(rows: list[Mapping[str, Any]], features: tuple[Feature, ...]) -> Any:
    from bnpl.governance.estimator import model_input

    schema = {f.name: pl.String if f.kind == "categorical" else pl.Float64 for f in features}
    data = {
        f.name: [
            None
            if r.get(f.name) is None
            else (str(r[f.name]) if f.kind == "categorical" else float(r[f.name]))
            for r in rows
        ]
        for f in features
    }
    return model_input(pl.DataFrame(data, schema=schema), features)


_COMPILED: weakref.WeakKeyDictionary[Any, CompiledForest | None] = weakref.WeakKeyDictionary()


def compiled(loaded: LoadedModel) -> CompiledForest | None:
    """The model's :class:`~bnpl.serving.forest.CompiledForest` (built once per loaded model),
    or None for a model that is not a ``fit_pipeline`` pipeline (scored by scikit-learn)."""
    try:
        return _COMPILED[loaded.model]
    except (KeyError, TypeError):  # not compiled yet; TypeError: no weak reference possible
        pass
    try:
        forest: CompiledForest | None = CompiledForest(loaded.model, loaded.features)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError) as exc:
        logger.info("version %d scored by scikit-learn (%s)", loaded.version, exc)
        forest = None
    with contextlib.suppress(TypeError):
        _COMPILED[loaded.model] = forest
    return forest


def decide(score: float, settings: ServingSettings) -> str:
    """``decline``, ``review`` or ``approve`` by the thresholds."""
    if score > settings.decline_above:
        return "decline"
    if score > settings.review_above:
        return "review"
    return "approve"


def score_features(
    loaded: LoadedModel, features: Mapping[str, Any], settings: ServingSettings
) -> Score:
    """Score one feature row with ``loaded`` (and the reasons)."""
    from bnpl.governance.estimator import probabilities

    present = [f for f in loaded.features if features.get(f.name) is not None]
    if not settings.reasons:
        present = []  # no reasons asked for: one row, nothing to compare it with
    try:
        forest = compiled(loaded)
        if forest is None:
            rows = [features, *({**features, f.name: None} for f in present)]
            scores = probabilities(loaded.model, _frame(rows, loaded.features))
        else:  # the row, then one copy per present feature with that feature missing
            scores = forest.probabilities_with_each_missing(features, [f.name for f in present])
    except Exception as exc:  # a model that cannot score this input is a serving failure
        raise ServingError(f"model version {loaded.version} failed to score: {exc}") from exc
    score = float(scores[0])
    moved = sorted(
        ((f.name, score - float(s)) for f, s in zip(present, scores[1:], strict=True)),
        key=lambda item: -abs(item[1]),
    )
    reasons = tuple(
        {"feature": name, "value": features[name], "contribution": round(delta, 6)}
        for name, delta in moved[: settings.reasons]
        if delta != 0
    )
    return Score(score, decide(score, settings), reasons, loaded.name, loaded.version)


def warm_model(loaded: LoadedModel, passes: int = 3) -> None:
    """Compile ``loaded`` and score a dummy row (every feature present: the reasons' batch)
    ``passes`` times; raises :class:`ServingError` when it cannot score."""
    compiled(loaded)
    row = {f.name: "" if f.kind == "categorical" else 0.0 for f in loaded.features}
    settings = ServingSettings(reasons=1)  # every present feature is re-scored all the same
    for _ in range(passes):
        score_features(loaded, row, settings)
        score_rows(loaded, [row, row], settings)


def score_rows(
    loaded: LoadedModel, rows: Sequence[Mapping[str, Any]], settings: ServingSettings
) -> list[tuple[float, str]]:
    """Score many feature rows in one model call (no reasons): ``(score, decision)`` per row.
    The shadow worker's batch: one call costs about what one row does."""
    from bnpl.governance.estimator import probabilities

    if not rows:
        return []
    try:
        forest = compiled(loaded)
        scores = (
            probabilities(loaded.model, _frame(list(rows), loaded.features))
            if forest is None
            else forest.probabilities(rows)
        )
    except Exception as exc:  # a model that cannot score this input is a serving failure
        raise ServingError(f"model version {loaded.version} failed to score: {exc}") from exc
    return [(float(s), decide(float(s), settings)) for s in scores]


def one_thread_per_request() -> None:
    """Run the model's native code (OpenMP in scikit-learn's gradient boosting) on one thread
    in this process. A scoring service scales by requests, not inside one: an OpenMP team per
    predict, on a busy machine, spins and waits for cores the other requests hold
    (``python -m bench serving``: 178 CPU-ms per score with the default teams, about 30 with
    one thread, on 2 loaded cores)."""
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    threadpool_limits(limits=1)
