"""No leakage: features ignore the future and the labels.

* property: changing or deleting any data after a random time t leaves every feature of the
  transactions at or before t unchanged, and the training set as of the day before t too;
* mutation: inverting every label changes no feature;
* lineage: no feature column is computed, through any model, from will_default or
  days_to_first_missed_payment, and the training set reads the labels only as label columns.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from feature_data import Records, build, flip_labels, future_changed, load_records, timestamp
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlglot import exp
from sqlglot.lineage import lineage

from bnpl.features import training_frame
from bnpl.features.training import LABEL_COLUMNS, META_COLUMNS, TRAINING_SET
from bnpl.models import Project
from bnpl.models.render import REF_PREFIX, SOURCE_PREFIX
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.base import table_spec
from bnpl.warehouse.duckdb import DuckDBWarehouse

FEATURE_MARTS = ["+mart_bnpl_ml_features"]
"""What the training set reads: enough to build for each changed world."""


def _features(warehouse: DuckDBWarehouse) -> pl.DataFrame:
    return warehouse.read_table("bnpl_marts.mart_bnpl_ml_features").sort("transaction_key")


@pytest.fixture(scope="module")
def base_features(built_db: Path) -> pl.DataFrame:
    """The base world's feature mart."""
    warehouse = DuckDBWarehouse(DuckDBSettings(path=built_db))
    try:
        return _features(warehouse)
    finally:
        warehouse.close()


@pytest.fixture(scope="module")
def instants(base_records: Records) -> list[datetime]:
    """Every distinct purchase time of the base world, sorted."""
    return sorted({timestamp(r) for records in base_records.values() for r in records})


@pytest.mark.slow
@settings(
    max_examples=8,  # each example rebuilds the feature marts of a changed world (~2 s)
    deadline=None,
    database=None,  # a fresh random draw of t every run; a failure prints its example
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(position=st.floats(0.0, 1.0), nudge=st.sampled_from([-1, 0, 1]), delete=st.booleans())
@example(position=0.0, nudge=-1, delete=True)  # t before every purchase: every day emptied
def test_features_ignore_everything_after_t(
    position: float,
    nudge: int,
    delete: bool,
    base_records: Records,
    alt_records: Records,
    base_features: pl.DataFrame,
    built_db: Path,
    instants: list[datetime],
    project: Project,
) -> None:
    """For a random t (often a purchase's own second, or one second either side), deleting every
    record after t, or replacing them by another future of the same customers, leaves every
    feature of the transactions at or before t, and the training set as of the day before t,
    unchanged."""
    t = instants[int(position * (len(instants) - 1))] + timedelta(seconds=nudge)
    changed = future_changed(base_records, alt_records, t, delete=delete)
    with tempfile.TemporaryDirectory() as tmp:
        warehouse = load_records(Path(tmp) / "changed.duckdb", changed)
        try:
            build(warehouse, project, FEATURE_MARTS)
            after = _features(warehouse)
            as_of = t.date() - timedelta(days=1)
            sets = None
            if as_of >= min(base_records):
                sets = [training_frame(as_of=as_of, warehouse=warehouse, project=project)]
        finally:
            warehouse.close()
    past = pl.col("transaction_ts") <= t
    expected = base_features.filter(past)
    assert expected.height > 0 or t < instants[0]
    assert after.filter(past).equals(expected)
    if not delete and base_features.filter(~past).height:
        assert not after.filter(~past).equals(base_features.filter(~past)), "the future changed"
    if sets is not None:
        original = DuckDBWarehouse(DuckDBSettings(path=built_db))
        try:
            reference = training_frame(as_of=as_of, warehouse=original, project=project)
        finally:
            original.close()
        assert sets[0].equals(reference)


@pytest.mark.slow
def test_inverting_every_label_changes_no_feature(
    tmp_path: Path, base_records: Records, base_features: pl.DataFrame, project: Project
) -> None:
    """With every will_default inverted (and days_to_first_missed_payment set to match), the
    feature mart is identical, and so are the training set's feature columns; only its labels
    differ."""
    flipped = flip_labels(base_records)
    warehouse = load_records(tmp_path / "flipped.duckdb", flipped)
    try:
        build(warehouse, project, [*FEATURE_MARTS, TRAINING_SET])
        assert _features(warehouse).equals(base_features)
        training = warehouse.read_table(f"bnpl_marts.{TRAINING_SET}").sort("transaction_key")
        raw_labels = warehouse.read_table("bnpl_raw.transactions").select(
            "transaction_key", "will_default"
        )
    finally:
        warehouse.close()
    assert training.height > 100
    features = [c for c in training.columns if c not in {*LABEL_COLUMNS, *META_COLUMNS}]
    base = base_features.filter(
        pl.col("transaction_key").is_in(training["transaction_key"].implode())
    )
    assert training.select(features).equals(base.select(features))
    labels = training.join(raw_labels, on="transaction_key")
    assert (labels["will_default"] == labels["will_default_right"]).all()
    assert labels["will_default"].mean() > 0.5, "the labels were really inverted"  # type: ignore[operator]


# --- lineage --------------------------------------------------------------------------------------


def _schema(project: Project, model_name: str) -> dict[str, dict[str, str]]:
    """Column types of every relation the model reads, under its placeholder name."""
    model = project.models[model_name]
    schema = {
        REF_PREFIX + r: {c.name: c.type for c in project.models[r].columns} for r in model.refs
    }
    for source, table in model.sources:
        spec = table_spec("bnpl_raw", table)
        schema[f"{SOURCE_PREFIX}{source}__{table}"] = {c.name: c.type for c in spec.columns}
    return schema


_DIRECT: dict[str, dict[str, set[tuple[str, str]]]] = {}


def _direct_lineage(project: Project, model_name: str) -> dict[str, set[tuple[str, str]]]:
    """Per output column of a model, the ``(placeholder table, column)`` pairs it reads."""
    if model_name not in _DIRECT:
        model = project.models[model_name]
        nodes = lineage(
            None, model.rendered, schema=_schema(project, model_name), dialect="bigquery"
        )
        assert isinstance(nodes, dict)
        _DIRECT[model_name] = {
            column: {
                (leaf.source.name, leaf.name.split(".")[-1])
                for leaf in node.walk()
                if not leaf.downstream and isinstance(leaf.source, exp.Table)
            }
            for column, node in nodes.items()
        }
    return _DIRECT[model_name]


def raw_lineage(project: Project, model_name: str, column: str) -> set[tuple[str, str]]:
    """The raw ``(table, column)`` pairs a model column is computed from, through every model."""
    found: set[tuple[str, str]] = set()
    for table, name in _direct_lineage(project, model_name)[column]:
        if table.startswith(REF_PREFIX):
            found |= raw_lineage(project, table.removeprefix(REF_PREFIX), name)
        elif table.startswith(SOURCE_PREFIX):
            found.add((table.removeprefix(SOURCE_PREFIX).split("__", 1)[1], name))
    return found


@pytest.mark.slow
def test_lineage_finds_the_labels(project: Project) -> None:
    """The lineage walk works: the training set's label columns trace to the raw labels."""
    for label in LABEL_COLUMNS:
        assert raw_lineage(project, TRAINING_SET, label) == {("transactions", label)}
    assert ("transactions", "amount_cents") in raw_lineage(
        project, "mart_bnpl_ml_features", "amount_to_prior_avg_ratio"
    )


@pytest.mark.slow
def test_no_feature_is_computed_from_a_label(project: Project) -> None:
    """Every feature column of the training set (hence of the feature mart) traces, through
    every model, to raw columns other than will_default and days_to_first_missed_payment."""
    model = project.models[TRAINING_SET]
    traced = 0
    for column in model.column_names:
        if column in LABEL_COLUMNS:
            continue
        sources = raw_lineage(project, TRAINING_SET, column)
        assert not {name for _, name in sources} & set(LABEL_COLUMNS), column
        traced += bool(sources)
    assert traced > 50


def test_labels_are_read_only_as_label_columns(project: Project) -> None:
    """The feature mart never names a label (nor selects *), and the training set names them only
    as plain projections: no filter, join, window or split decision reads a label."""
    features = project.models["mart_bnpl_ml_features"].tree
    assert not [c for c in features.find_all(exp.Column) if c.name in LABEL_COLUMNS]
    assert not [s for s in features.find_all(exp.Star) if not isinstance(s.parent, exp.Count)]
    training = project.models[TRAINING_SET].tree
    uses = [c for c in training.find_all(exp.Column) if c.name in LABEL_COLUMNS]
    assert len(uses) == len(LABEL_COLUMNS)
    for use in uses:
        assert isinstance(use.parent, exp.Select) and use.arg_key == "expressions", use.sql()
