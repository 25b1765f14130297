"""A user's project directory (BNPL_PROJECT__DIR): its models build and publish beside the
bundled ones, and a missing, clashing or malformed one is a one-line error, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from bnpl.cli import main
from bnpl.errors import ConfigError
from bnpl.models import load_project
from bnpl.settings import DuckDBSettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

USER_MART = """\
{{ config(
    materialized='table',
    description='Transactions per day type, from the bundled daily volume mart.',
    grain='one row per day_type',
) }}
{{ column('day_type', 'STRING', 'Day type of mart_bnpl_daily_volume', nullable=False) }}
{{ column('transaction_count', 'INT64', 'Transactions on days of that type', nullable=False) }}
SELECT day_type, SUM(transaction_count) AS transaction_count
FROM {{ ref('mart_bnpl_daily_volume') }}
GROUP BY day_type
"""


def _project(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / "models" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def db(loaded: DuckDBWarehouse, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The loaded warehouse's file, selected through BNPL_WAREHOUSE__PATH."""
    loaded.close()
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(loaded.path))
    return loaded.path


def test_user_model_refs_a_bundled_one_builds_and_is_published(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`bnpl build` with BNPL_PROJECT__DIR builds the user's mart from a bundled mart and
    publishes it beside the bundled marts."""
    user = _project(tmp_path / "proj", {"marts/mart_user_day_types.sql": USER_MART})
    monkeypatch.setenv("BNPL_PROJECT__DIR", str(user))
    code, out, err = _run(["build"], capsys)
    assert code == 0, err
    assert "mart_user_day_types" in out
    warehouse = DuckDBWarehouse(DuckDBSettings(path=db))
    try:
        mart = warehouse.read_table("bnpl_marts.mart_user_day_types")
        daily = warehouse.read_table("bnpl_marts.mart_bnpl_daily_volume")
    finally:
        warehouse.close()
    assert mart.height > 0
    assert mart["transaction_count"].sum() == daily["transaction_count"].sum()


@pytest.mark.parametrize(
    ("files", "needle"),
    [
        (None, "is not a directory"),
        ({}, "holds no models/ folder"),
        ({"marts/mart_bnpl_customers.sql": USER_MART}, "the name is also used by sql/marts/"),
        (
            {"marts/mart_user_broken.sql": "{{ config(materialized='table') }}\nSELEC 1\n"},
            "mart_user_broken",
        ),
        (
            {"marts/mart_user_refs.sql": USER_MART.replace("mart_bnpl_daily_volume", "nope")},
            "names no model",
        ),
    ],
    ids=["missing", "no-models-folder", "name-clash", "malformed", "unknown-ref"],
)
def test_bad_project_dir_is_one_line_naming_the_variable_exit_2(
    files: dict[str, str] | None,
    needle: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A missing directory, one without models/, a model name the bundle uses, a model that does
    not parse or a ref to nothing: `bnpl build` exits 2 with one line naming BNPL_PROJECT__DIR."""
    root = tmp_path / "proj"
    if files is not None:
        root.mkdir()
        _project(root, files)
    monkeypatch.setenv("BNPL_PROJECT__DIR", str(root))
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(tmp_path / "w.duckdb"))
    code, _, err = _run(["build"], capsys)
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1 and "BNPL_PROJECT__DIR" in lines[0] and needle in lines[0], err


def test_user_models_join_the_bundled_project(tmp_path: Path) -> None:
    """load_project(user_dir=...) holds the bundled models and the user's, which names its file
    by the user's path."""
    user = _project(tmp_path / "proj", {"marts/mart_user_day_types.sql": USER_MART})
    project = load_project(user_dir=user)
    bundled = load_project()
    assert set(project.models) == {*bundled.models, "mart_user_day_types"}
    assert (
        project.model("mart_user_day_types").relpath
        == f"{user}/models/marts/mart_user_day_types.sql"
    )
    with pytest.raises(ConfigError, match="BNPL_PROJECT__DIR"):
        load_project(user_dir=tmp_path / "missing")
