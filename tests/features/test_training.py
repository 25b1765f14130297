"""The training set: only matured labels as of the as-of date, the documented split, the features
of the feature mart, and clear errors for an as-of the data cannot support."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from feature_data import DAYS, Records, build, load_into, load_records
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnpl.errors import ConfigError, ModelError
from bnpl.features import feature_columns, training_frame
from bnpl.features.training import KEY_COLUMNS, LABEL_COLUMNS, META_COLUMNS, TRAINING_SET
from bnpl.models import Project
from bnpl.warehouse.duckdb import DuckDBWarehouse


def matured_by(tx: pl.DataFrame, as_of: date) -> pl.DataFrame:
    """Brute force: the transactions whose last instalment (14 days apart) falls due on or before
    ``as_of``."""
    return tx.filter(
        (pl.col("transaction_ts") + pl.duration(days=14 * pl.col("installment_count"))).dt.date()
        <= as_of
    )


def expected_split(days: pl.Series) -> dict[date, str]:
    """Brute force of the documented split over the included days."""
    first, last = days.min(), days.max()
    assert isinstance(first, date) and isinstance(last, date)
    n = (last - first).days + 1
    validation_from = first + timedelta(days=70 * n // 100)
    test_from = first + timedelta(days=85 * n // 100)
    return {
        d: "test" if d >= test_from else "validation" if d >= validation_from else "train"
        for d in days.unique()
    }


@settings(
    max_examples=8,
    deadline=None,
    database=None,  # a fresh random draw every run
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(offset=st.integers(0, (DAYS[-1] - DAYS[0]).days))
def test_only_matured_labels_and_the_documented_split(
    offset: int, built: DuckDBWarehouse, project: Project
) -> None:
    """For any as-of date, the set holds exactly the transactions whose label matured by the end
    of that day (none maturing later), each split as documented, with the mart's features and the
    raw labels."""
    as_of = DAYS[0] + timedelta(days=offset)
    frame = training_frame(as_of=as_of, warehouse=built, project=project)
    tx = built.read_table("bnpl_raw.transactions")
    expected = matured_by(tx, as_of)
    assert sorted(frame["transaction_key"]) == sorted(expected["transaction_key"])
    limit = datetime.combine(as_of + timedelta(days=1), datetime.min.time())
    assert (frame["label_matures_ts"] < limit).all()
    assert (frame["as_of_date"] == as_of).all()
    if frame.is_empty():
        return
    splits = expected_split(frame["transaction_date"])
    assert frame["split"].to_list() == [splits[d] for d in frame["transaction_date"]]
    features = built.read_table("bnpl_marts.mart_bnpl_ml_features")
    columns = features.columns
    joined = frame.select(columns).join(features, on="transaction_key", suffix="_mart")
    for column in columns[1:]:
        assert joined[column].equals(joined[f"{column}_mart"], check_names=False), column
    labels = frame.join(tx.select("transaction_key", *LABEL_COLUMNS), on="transaction_key")
    for label in LABEL_COLUMNS:
        assert labels[label].equals(labels[f"{label}_right"], check_names=False)


def test_the_last_loaded_day_has_every_split(built: DuckDBWarehouse, project: Project) -> None:
    """As of the last fixture day, train, validation and test all hold rows with both labels, in
    date order, and the published mart equals the frame (the build's as-of is the last day)."""
    frame = training_frame(as_of=DAYS[-1], warehouse=built, project=project)
    by_split = frame.group_by("split").agg(
        pl.col("transaction_date").min().alias("first"),
        pl.col("transaction_date").max().alias("last"),
        pl.col("will_default").sum().alias("positives"),
        pl.len(),
    )
    ranges = {r["split"]: r for r in by_split.iter_rows(named=True)}
    assert set(ranges) == {"train", "validation", "test"}
    assert ranges["train"]["last"] < ranges["validation"]["first"]
    assert ranges["validation"]["last"] < ranges["test"]["first"]
    assert all(0 < r["positives"] < r["len"] for r in ranges.values())
    published = built.read_table(f"bnpl_marts.{TRAINING_SET}").sort("transaction_key")
    assert published.equals(frame.sort("transaction_key"))


def test_rows_come_in_a_fixed_order(built: DuckDBWarehouse, project: Project) -> None:
    """The frame is sorted by day, time and key, so every export writes rows in one order."""
    frame = training_frame(as_of=DAYS[-1], warehouse=built, project=project)
    assert frame.equals(frame.sort("transaction_date", "transaction_ts", "transaction_key"))
    assert frame["transaction_key"].n_unique() == frame.height


def test_columns_and_days_are_chosen_in_the_warehouse(
    built: DuckDBWarehouse, project: Project
) -> None:
    """Asking for some columns and days gives exactly those rows and columns of the whole set,
    in the same order and with the same split; an unknown column is one clear error."""
    whole = training_frame(as_of=DAYS[-1], warehouse=built, project=project)
    days = whole.get_column("transaction_date").unique().sort()
    start, end = days[len(days) // 3], days[2 * len(days) // 3]
    columns = ["split", "transaction_date", "risk_score", "will_default"]
    part = training_frame(
        as_of=DAYS[-1], warehouse=built, project=project, columns=columns, start=start, end=end
    )
    expected = whole.filter(pl.col("transaction_date").is_between(start, end)).select(columns)
    assert part.height > 0 and part.equals(expected)
    with pytest.raises(ConfigError, match="no column"):
        training_frame(as_of=DAYS[-1], warehouse=built, project=project, columns=["nope"])


def test_feature_columns_are_documented(project: Project) -> None:
    """Every feature is a training-set column that is not a key, label or bookkeeping column, and
    carries its model documentation."""
    features = feature_columns(project)
    model = project.models[TRAINING_SET]
    docs = {c.name: c.description for c in model.columns}
    names = [f.name for f in features]
    assert set(names) == set(docs) - {*KEY_COLUMNS, *LABEL_COLUMNS, *META_COLUMNS}
    assert all(f.definition == docs[f.name] and len(f.definition) > 10 for f in features)
    kinds = {f.name: f.kind for f in features}
    assert kinds["risk_score"] == "numeric" and kinds["device_is_trusted"] == "boolean"
    assert kinds["product_device_risk"] == "categorical"


def test_as_of_after_the_last_loaded_day_is_refused(
    built: DuckDBWarehouse, project: Project
) -> None:
    """An as-of after the last loaded day is a ConfigError naming the last day."""
    with pytest.raises(ConfigError, match=str(DAYS[-1])):
        training_frame(as_of=DAYS[-1] + timedelta(days=1), warehouse=built, project=project)


@pytest.mark.slow
def test_unbuilt_marts_are_reported(
    tmp_path: Path, base_records: Records, project: Project
) -> None:
    """Loaded data without a build is a ModelError telling to run bnpl build; so is a feature
    mart that stops before a later loaded day."""
    first_days = {d: base_records[d] for d in DAYS[:2]}
    warehouse = load_records(tmp_path / "raw.duckdb", first_days)
    try:
        with pytest.raises(ModelError, match="bnpl build"):
            training_frame(as_of=DAYS[1], warehouse=warehouse, project=project)
        build(warehouse, project)
        assert training_frame(as_of=DAYS[1], warehouse=warehouse, project=project).is_empty()
        load_into(warehouse, {DAYS[2]: base_records[DAYS[2]]})
        with pytest.raises(ModelError, match=f"built through {DAYS[1]}"):
            training_frame(as_of=DAYS[2], warehouse=warehouse, project=project)
    finally:
        warehouse.close()


def test_docs_define_every_feature(project: Project) -> None:
    """docs/features.md lists every feature column with its model definition."""
    text = (Path(__file__).parents[2] / "docs" / "features.md").read_text()
    for feature in feature_columns(project):
        assert f"| `{feature.name}` | {feature.type} | {feature.definition} |" in text, feature.name
