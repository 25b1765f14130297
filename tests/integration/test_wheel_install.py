"""The built wheel installs into a fresh venv and runs from an empty directory (issue 12, item 5):
it carries bnpl, bnpl_flows, the SQL, the schemas and py.typed, and nothing else top-level."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = (
    "pyproject.toml",
    "setup.py",
    "README.md",
    "bnpl",
    "bnpl_flows",
    "sql",
    "schemas",
    "deployments",
    "prefect.yaml",
)
"""What the build reads; copied so that building leaves no build/ or egg-info in the checkout."""

START, END = "2024-03-01", "2024-03-03"

USER_MART = """\
{{ config(materialized='table', description='Transactions per day type.', grain='one day_type') }}
{{ column('day_type', 'STRING', 'Day type', nullable=False) }}
{{ column('transaction_count', 'INT64', 'Transactions on days of that type', nullable=False) }}
SELECT day_type, SUM(transaction_count) AS transaction_count
FROM {{ ref('mart_bnpl_daily_volume') }}
GROUP BY day_type
"""
"""A user's model (BNPL_PROJECT__DIR) that reads a bundled mart."""

USER_CHECK = """\
{{ config(severity='error', description='every day type has transactions') }}
SELECT day_type, transaction_count
FROM {{ ref('mart_user_day_types') }}
WHERE transaction_count <= 0
"""
"""A user's check (BNPL_PROJECT__DIR/checks) of the user's model; it passes."""


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _build_wheel(tmp: Path) -> Path:
    """``pip wheel`` of a copy of the sources: no dependencies, no build isolation (setuptools
    from this venv), so nothing is fetched."""
    src = tmp / "src"
    src.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy(ROOT / name, src / name)
    dist = tmp / "dist"
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(dist),
            str(src),
        ],
        tmp,
        env,
    )
    (wheel,) = dist.glob("bnpl-*.whl")
    return wheel


def _venv_with(wheel: Path, tmp: Path) -> Path:
    """A venv with the wheel installed, seeing this venv's third-party packages through a plain
    path entry (which does not run this venv's editable-install finder)."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "dev_packages.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        tmp,
        dict(os.environ),
    )
    return venv


@pytest.mark.slow  # builds a wheel, makes a venv and runs five commands: 2-3 min
def test_wheel_installs_and_runs_from_an_empty_directory(tmp_path: Path) -> None:
    """The wheel holds bnpl, bnpl_flows (with the SQL, schemas, pool templates and prefect.yaml) and py.typed
    only; installed into a fresh venv, `bnpl backfill`, `build`, `check`, `report` and `features
    export` run from an empty directory (with a user's model beside the bundled ones), exit 0 and
    write their outputs there (the warehouse, the report, the export's card)."""
    wheel = _build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert {n.split("/")[0] for n in names} == {"bnpl", "bnpl_flows", "bnpl-0.1.0.dist-info"}
    for expected in (
        "bnpl/py.typed",
        "bnpl/_sql/marts/mart_bnpl_daily_volume.sql",
        "bnpl/_sql/assertions/invariants/risk_level.sql",
        "bnpl/_sql/warehouse/duckdb/create_table.sql",
        "bnpl/_schemas/bnpl_raw/transactions.json",
        "bnpl_flows/_deployments/process-pool.json",
        "bnpl_flows/_deployments/automations/quality-failed.yaml",
        "bnpl_flows/_deployments/prefect.yaml",
    ):
        assert expected in names
    shipped = zipfile.ZipFile(wheel).read("bnpl_flows/_deployments/prefect.yaml")
    assert shipped == (ROOT / "prefect.yaml").read_bytes()  # what `bnpl prefect setup` deploys
    assert not [n for n in names if "__pycache__" in n or n.startswith(("tests/", "bench/"))]

    venv = _venv_with(wheel, tmp_path)
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BNPL_", "PREFECT_"))}
    env |= {
        "PREFECT_HOME": str(tmp_path / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_API_ENABLE_HTTP2": "false",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    where = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import bnpl, bnpl_flows; print(bnpl.__file__, bnpl_flows.__file__)",
        ],
        work,
        env,
    )
    assert all(Path(p).is_relative_to(venv) for p in where.split()), where

    user_model = tmp_path / "project" / "models" / "marts" / "mart_user_day_types.sql"
    user_model.parent.mkdir(parents=True)
    user_model.write_text(USER_MART)
    user_check = tmp_path / "project" / "checks" / "user_day_types_have_transactions.sql"
    user_check.parent.mkdir()
    user_check.write_text(USER_CHECK)
    env["BNPL_PROJECT__DIR"] = str(tmp_path / "project")
    bnpl = str(venv / "bin" / "bnpl")
    # as the flow (--prefect): the wheel's bnpl_flows run too; build and check run directly
    _run([bnpl, "backfill", "--start", START, "--end", END, "--prefect"], work, env)
    assert (work / ".bnpl" / "bnpl.duckdb").is_file()
    built = _run([bnpl, "build"], work, env)
    assert "published" in built and "mart_user_day_types" in built
    checked = _run([bnpl, "check"], work, env)
    assert "user_day_types_have_transactions" in checked
    stored = _run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import bnpl; r = bnpl.read_table('bnpl_audit.dq_results', ['check_name', 'status']);"
            "print(sorted(set(r.filter(r['check_name'].str.starts_with('user_')).rows())))",
        ],
        work,
        env,
    )
    assert stored.strip() == "[('user_day_types_have_transactions', 'pass')]", stored
    _run([bnpl, "report"], work, env)
    assert (work / ".bnpl" / "quality-report.html").stat().st_size > 0
    _run([bnpl, "features", "export", "--as-of", END, "--out", "features"], work, env)
    card = json.loads((work / "features" / "card.json").read_text())
    # three days hold no matured label (the shortest term is 56 days): an empty, documented set
    assert (card["as_of"], card["rows"]) == (END, 0), card
    assert (work / "features" / "card.md").is_file()
