"""The training run's own helpers: splitting the set into its parts without copying it."""

from __future__ import annotations

import polars as pl

from bnpl.governance.train import split_parts


def test_split_parts_are_the_rows_of_each_split_in_either_order() -> None:
    """Day-ordered rows and shuffled rows give the same parts, without the split column, and an
    absent split is an empty part."""
    frame = pl.DataFrame(
        {
            "day": [1, 1, 2, 3, 4, 5],
            "split": ["train", "train", "train", "validation", "validation", "validation"],
        }
    )
    ordered = split_parts(frame)
    shuffled = split_parts(frame.sample(fraction=1.0, shuffle=True, seed=1).reverse())
    assert ordered["train"].get_column("day").to_list() == [1, 1, 2]
    assert ordered["validation"].get_column("day").to_list() == [3, 4, 5]
    assert ordered["test"].is_empty() and ordered["test"].columns == ["day"]
    for name in ("train", "validation", "test"):
        assert sorted(shuffled[name].get_column("day").to_list()) == sorted(
            ordered[name].get_column("day").to_list()
        )
        assert "split" not in shuffled[name].columns
