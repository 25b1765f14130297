"""The export: Parquet partitioned by month plus a data card, byte-identical for the same as-of
date, with the card's counts, rates, feature definitions, batches and file hashes right."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from feature_data import DAYS

from bnpl.errors import ConfigError
from bnpl.features import export, feature_columns, training_frame
from bnpl.models import Project
from bnpl.warehouse.duckdb import DuckDBWarehouse


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_as_of_gives_byte_identical_files(
    built: DuckDBWarehouse, project: Project, tmp_path: Path
) -> None:
    """Two exports of one as-of date, and a re-export over the first, are byte for byte the same
    (Parquet and card); another as-of date gives another card."""
    first = export(DAYS[-1], tmp_path / "a", warehouse=built, project=project)
    second = export(DAYS[-1], tmp_path / "b", warehouse=built, project=project)
    a = files(tmp_path / "a")
    assert a == files(tmp_path / "b")
    assert first.files == second.files == tuple(sorted(a))
    assert any(name.endswith(".parquet") for name in a)
    export(DAYS[-1], tmp_path / "a", warehouse=built, project=project)
    assert files(tmp_path / "a") == a
    other = export(DAYS[-2], tmp_path / "c", warehouse=built, project=project)
    assert files(tmp_path / "c")["card.json"] != a["card.json"]
    assert other.card["as_of"] == DAYS[-2].isoformat()


def test_parquet_holds_the_frame_partitioned_by_month(
    built: DuckDBWarehouse, project: Project, tmp_path: Path
) -> None:
    """Each month=YYYY-MM/part-0.parquet holds that month's rows in the frame's order, and all of
    them together are the training frame."""
    export(DAYS[-1], tmp_path / "out", warehouse=built, project=project)
    frame = training_frame(as_of=DAYS[-1], warehouse=built, project=project)
    parts = sorted((tmp_path / "out").glob("month=*/part-0.parquet"))
    months = [p.parent.name.removeprefix("month=") for p in parts]
    assert months == sorted(frame["transaction_date"].dt.strftime("%Y-%m").unique())
    for part, month in zip(parts, months, strict=True):
        rows = pl.read_parquet(part)
        assert (rows["transaction_date"].dt.strftime("%Y-%m") == month).all()
    assert pl.concat([pl.read_parquet(p) for p in parts]).equals(frame)


def test_card_counts_rates_features_batches_and_files(
    built: DuckDBWarehouse, project: Project, tmp_path: Path
) -> None:
    """card.json has rows and label rate per split, every feature with its model definition,
    the as-of date, the ledger batches up to the last included day and each file's rows and
    sha256; card.md says the same."""
    result = export(DAYS[-1], tmp_path / "out", warehouse=built, project=project)
    card = json.loads((tmp_path / "out" / "card.json").read_text())
    assert card == json.loads(json.dumps(result.card))
    frame = training_frame(as_of=DAYS[-1], warehouse=built, project=project)
    assert card["as_of"] == "2024-05-26" and card["rows"] == frame.height
    for split, summary in card["splits"].items():
        part = frame.filter(pl.col("split") == split)
        assert summary["rows"] == part.height > 0
        assert summary["positives"] == part["will_default"].sum()
        assert summary["label_rate"] == pytest.approx(part["will_default"].mean(), abs=1e-6)
    assert sum(s["rows"] for s in card["splits"].values()) == frame.height
    definitions = {f.name: f.definition for f in feature_columns(project)}
    assert {f["name"]: f["definition"] for f in card["features"]} == definitions
    ledger = built.read_table("bnpl_raw.source_batches")
    included = ledger.filter(pl.col("transaction_date") <= frame["transaction_date"].max())
    batches = card["source_batches"]["batches"]
    assert [b["batch_id"] for b in batches] == included.sort("transaction_date")[
        "batch_id"
    ].to_list()
    assert card["source_batches"]["identity_scopes"] == ["source"]
    for entry in card["files"]:
        data = (tmp_path / "out" / entry["path"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert pl.read_parquet(tmp_path / "out" / entry["path"]).height == entry["rows"]
    markdown = (tmp_path / "out" / "card.md").read_text()
    assert "as of 2024-05-26" in markdown
    assert all(f"`{name}`" in markdown for name in definitions)
    assert f"{card['splits']['test']['rows']:,}" in markdown


def test_refuses_to_overwrite_other_files(
    built: DuckDBWarehouse, project: Project, tmp_path: Path
) -> None:
    """A non-empty directory that is not an earlier export is left alone: ConfigError."""
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="not a bnpl features export"):
        export(DAYS[-1], target, warehouse=built, project=project)
    assert (target / "notes.txt").read_text() == "keep me"


def test_an_empty_set_exports_a_card(
    built: DuckDBWarehouse, project: Project, tmp_path: Path
) -> None:
    """Before any label has matured the export is a card with zero rows and no Parquet."""
    result = export(date(2024, 3, 5), tmp_path / "early", warehouse=built, project=project)
    assert result.card["rows"] == 0 and result.files == ("card.json", "card.md")
    assert result.card["source_batches"]["count"] == 0
