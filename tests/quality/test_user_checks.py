"""bnpl.quality.user_checks: SQL assertions in BNPL_PROJECT__DIR/checks run beside the bundled checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from quality_data import END, START

from bnpl.cli import main
from bnpl.errors import ConfigError
from bnpl.models import load_project
from bnpl.quality import all_checks, read_results, run_checks
from bnpl.quality.user_checks import user_checks
from bnpl.settings import DuckDBSettings, QualitySettings
from bnpl.warehouse.duckdb import DuckDBWarehouse

PASSING = """\
{{ config(description='no transaction has a negative amount') }}
SELECT transaction_key, amount
FROM {{ ref('mart_bnpl_transactions') }}
WHERE transaction_date BETWEEN @start_date AND @end_date AND amount < 0
"""
FAILING = """\
{{ config(severity='warn', model='mart_bnpl_daily_volume') }}
-- every day is a violation: the check warns
SELECT v.transaction_date, r.n
FROM {{ ref('mart_bnpl_daily_volume') }} AS v
JOIN (SELECT COUNT(*) AS n FROM {{ source('raw', 'transactions') }}
      WHERE transaction_date BETWEEN @start_date AND @end_date) AS r ON TRUE
WHERE v.transaction_date BETWEEN @start_date AND @end_date
"""


def bnpl(*args: str) -> int:
    """Run the ``bnpl`` command in-process and return its exit code."""
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    """A user project directory with an empty models/ folder and two checks."""
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "checks").mkdir()
    (root / "checks" / "no_negative_amounts.sql").write_text(PASSING)
    (root / "checks" / "every_day_flagged.sql").write_text(FAILING)
    return root


def test_user_checks_are_loaded_by_file_name_with_their_header(project_dir: Path) -> None:
    """Each file is one check named after it; severity, model and description come from config()."""
    checks = {c.name: c for c in user_checks(load_project(user_dir=project_dir))}
    assert set(checks) == {"no_negative_amounts", "every_day_flagged"}
    assert (checks["no_negative_amounts"].severity, checks["no_negative_amounts"].model) == (
        "error",
        "mart_bnpl_transactions",
    )
    assert (checks["every_day_flagged"].severity, checks["every_day_flagged"].model) == (
        "warn",
        "mart_bnpl_daily_volume",
    )
    names = [c.name for c in all_checks(load_project(user_dir=project_dir))]
    assert {"no_negative_amounts", "every_day_flagged", "freshness"} <= set(names)
    assert user_checks(load_project()) == []


@pytest.mark.slow  # reads the real marts
def test_user_checks_run_on_the_audited_marts(
    built_warehouse: DuckDBWarehouse, project_dir: Path
) -> None:
    """A check returning no rows passes; one returning rows is reported at its severity with examples."""
    project = load_project(user_dir=project_dir)
    results = {
        r.check_name: r
        for r in run_checks(
            built_warehouse,
            QualitySettings(),
            start=START,
            end=END,
            logical_date=END,
            checks=user_checks(project),
        )
    }
    assert results["no_negative_amounts"].status == "pass"
    flagged = results["every_day_flagged"]
    days = (END - START).days + 1
    assert (flagged.status, flagged.observed_value) == ("warn", days)
    assert f"{days} violating rows, e.g. transaction_date=" in flagged.details


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad_sql.sql", "SELECT FROM WHERE", r"line"),
        ("no_model.sql", "SELECT 1 AS x", r"name the checked model"),
        ("bad_ref.sql", "SELECT 1 FROM {{ ref('nope') }}", r"ref\('nope'\) names no model"),
        ("bad_param.sql", "SELECT 1 FROM {{ ref('mart_bnpl_transactions') }} WHERE 1 = @x", r"uses \['@x'\]"),
        ("bad_severity.sql", "{{ config(severity='fatal', model='mart_bnpl_customers') }} SELECT 1", r"config\(severity='fatal'\)"),
        ("Bad-Name.sql", "SELECT 1", r"a check file is named lower_snake_case"),
        ("two.sql", "{{ config(model='mart_bnpl_customers') }} SELECT 1; SELECT 2", r"expected one SQL statement"),
    ],
)  # fmt: skip
def test_a_malformed_check_is_one_error_naming_the_file(
    project_dir: Path, name: str, text: str, message: str
) -> None:
    """Bad SQL, header, ref, parameter or file name: a ConfigError naming BNPL_PROJECT__DIR and the file."""
    (project_dir / "checks" / name).write_text(text)
    with pytest.raises(ConfigError, match=rf"BNPL_PROJECT__DIR: check checks/{name}: {message}"):
        user_checks(load_project(user_dir=project_dir))


def test_a_check_named_like_a_bundled_one_is_refused(project_dir: Path) -> None:
    """A user check may not take a bundled check's name (its history would mix)."""
    (project_dir / "checks" / "freshness.sql").write_text(PASSING)
    with pytest.raises(ConfigError, match=r"\['freshness'\] are used twice"):
        all_checks(load_project(user_dir=project_dir))


@pytest.mark.parametrize(
    ("check_file", "env", "named"),
    [
        ("SELEC 1", {}, "checks/broken.sql"),
        (PASSING, {"BNPL_QUALITY__SEVERITY_OVERRIDES": '{"nope": "warn"}'}, "['nope']"),
    ],
)
def test_bnpl_check_with_a_bad_check_or_check_name_exits_2_writing_nothing(
    db_path: Path,
    project_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    check_file: str,
    env: dict[str, str],
    named: str,
) -> None:
    """A malformed check file or an unknown check name: one line naming it, exit 2, before any build or result is written."""
    (project_dir / "checks" / "broken.sql").write_text(check_file)
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(db_path))
    monkeypatch.setenv("BNPL_PROJECT__DIR", str(project_dir))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert bnpl("check", "--start", str(START), "--end", str(END)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err
    wh = DuckDBWarehouse(DuckDBSettings(path=db_path))
    try:
        assert read_results(wh).height == 0
        assert not wh.table_exists("bnpl_audit", "mart_bnpl_transactions")
    finally:
        wh.close()
