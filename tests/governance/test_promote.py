"""Promotion on synthetic models of known strength, in a real MLflow store: a clearly better
challenger is promoted, an equal one and a better-ranking but miscalibrated one are kept; every
decision is a row of bnpl_audit.model_decisions and a tag on the versions; rollback restores the
previous champion."""

from __future__ import annotations

import json

import polars as pl
import pytest
from governance_data import AS_OF, TRUTH, logistic, synthetic_rows
from registry_helpers import Register

import bnpl
from bnpl.errors import ConfigError
from bnpl.governance import promote, registry, rollback, store
from bnpl.settings import Settings

ROWS = synthetic_rows()


def rows_of(*_args: object) -> pl.DataFrame:
    return ROWS


def champion_of(settings: Settings) -> int | None:
    client = store.open_client(settings)
    return registry.alias_version(client, settings.model.registered_model, registry.CHAMPION)


def decisions() -> pl.DataFrame:
    return bnpl.read_table("bnpl_audit.model_decisions").sort("decided_at")


def weak(seed: int = 0) -> object:
    """x1 only, with the intercept that calibrates it (the champion)."""
    return logistic(["x1", "x2"], [1.2, 0.0], -1.7, synthetic_rows(seed))


@pytest.fixture
def champion(settings: Settings, register: Register) -> int:
    """Version 1, the weak model, made champion by the explicit first decision."""
    version = register(weak(), ["x1", "x2"])
    first = promote(settings, initial=True)
    assert (first.verdict, first.new_champion) == ("initial", version)
    return version


def test_clearly_better_challenger_is_promoted_then_rolled_back(
    settings: Settings, register: Register, champion: int
) -> None:
    """The true model beats x1 alone: promoted, recorded (row and tags); rollback restores v1 and
    a second rollback has nothing left to restore."""
    better = register(logistic(["x1", "x2"], list(TRUTH[1:]), TRUTH[0], ROWS), ["x1", "x2"])
    decision = promote(settings, as_of=AS_OF, rows_of=rows_of)
    assert decision.verdict == "promoted", decision.reason
    assert decision.comparison is not None and decision.comparison.deltas["roc_auc"].low > 0.02
    assert champion_of(settings) == better
    rows = decisions()
    assert rows["verdict"].to_list() == ["initial", "promoted"]
    last = rows.row(-1, named=True)
    assert (last["champion_version"], last["challenger_version"]) == (champion, better)
    assert last["new_champion_version"] == better and last["roc_auc_delta_low"] > 0.02
    assert str(last["window_start"]) == "2024-05-12" and str(last["window_end"]) == "2024-06-08"
    assert json.loads(last["figures"])["rows"] == 28 * 250
    client = store.open_client(settings)
    tags = client.get_model_version(settings.model.registered_model, str(better)).tags
    assert json.loads(tags[f"bnpl.decision.{decision.decision_id}"])["verdict"] == "promoted"

    back = rollback(settings)
    assert (back.champion, back.new_champion) == (better, champion)
    assert champion_of(settings) == champion
    assert decisions()["verdict"].to_list()[-1] == "rolled_back"
    with pytest.raises(ConfigError, match="no previous champion"):
        rollback(settings)
    assert champion_of(settings) == champion and decisions().height == 3


def test_equal_challenger_is_kept(settings: Settings, register: Register, champion: int) -> None:
    """The same model again gains nothing: the champion stays and the decision says why."""
    register(weak(seed=1), ["x1", "x2"])
    decision = promote(settings, as_of=AS_OF, rows_of=rows_of)
    assert decision.verdict == "kept" and "not above the margin" in decision.reason
    assert champion_of(settings) == champion
    assert decisions()["verdict"].to_list() == ["initial", "kept"]


def test_better_ranking_but_miscalibrated_challenger_is_kept(
    settings: Settings, register: Register, champion: int
) -> None:
    """The true ranking with overconfident probabilities: a significant AUC gain, but the
    calibration is worse beyond the tolerance, so the champion stays."""
    register(logistic(["x1", "x2"], [4.5, 4.5], 1.0, ROWS), ["x1", "x2"])
    decision = promote(settings, as_of=AS_OF, rows_of=rows_of)
    assert decision.comparison is not None and decision.comparison.deltas["roc_auc"].low > 0.02
    assert decision.verdict == "kept" and "calibration is worse" in decision.reason
    assert champion_of(settings) == champion


def test_no_champion_and_too_few_outcomes_change_nothing(
    settings: Settings, register: Register, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Promote without a champion, or on a window with too few outcomes: ConfigError, no alias
    moved, no decision recorded."""
    register(weak(), ["x1", "x2"])
    with pytest.raises(ConfigError, match="--initial"):
        promote(settings, as_of=AS_OF, rows_of=rows_of)
    assert champion_of(settings) is None
    promote(settings, initial=True)
    with pytest.raises(ConfigError, match="already has a champion"):
        promote(settings, initial=True)
    register(weak(seed=2), ["x1", "x2"])
    strict = settings.model_copy(
        update={"model": settings.model.model_copy(update={"min_outcomes": 10_000})}
    )
    with pytest.raises(ConfigError, match="at least 10000 of each"):
        promote(strict, as_of=AS_OF, rows_of=rows_of)
    assert champion_of(settings) == 1 and decisions().height == 1
