"""Helpers of the integration tests: run ``bnpl`` in subprocesses, make reference runs, compare
tables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from bnpl import ingest
from bnpl.cli import main
from bnpl.settings import Settings, load_settings
from bnpl.warehouse.duckdb import DuckDBWarehouse

BNPL = Path(sys.executable).with_name("bnpl")

RUN_COLUMNS = {
    "transactions": ["loaded_at"],
    "customers": ["loaded_at"],
    "quarantine": ["quarantined_at"],
    "source_batches": ["started_at", "fetched_at", "finished_at", "flow_run_id", "attempts"],
}
"""Columns that say when, by which run or after how many attempts a row was written; every other
column must come out identical from any run over the same days."""

PREFECT_ENV = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_API_ENABLE_HTTP2": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
}


def bnpl_env(**bnpl: object) -> dict[str, str]:
    """``BNPL_<NAME>=value`` for each keyword (``plan__seed=7`` is ``BNPL_PLAN__SEED=7``)."""
    return {f"BNPL_{k.upper()}": str(v) for k, v in bnpl.items()}


def base_env() -> dict[str, str]:
    """This process's environment without BNPL_ and PREFECT_ variables."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("BNPL_", "PREFECT_"))}


@dataclass
class Cli:
    """Runs ``bnpl`` in subprocesses, each with a PREFECT_HOME of its own.

    Attributes:
        root: working directory of the subprocesses.
        api_url: the session's temporary Prefect API; subprocesses use it instead of each
            starting a temporary API of its own (10-25 s each), unless ``ephemeral``.
    """

    root: Path
    api_url: str
    _homes: int = 0

    def env(self, *, ephemeral: bool = False, **bnpl: object) -> dict[str, str]:
        """A subprocess environment: no BNPL_/PREFECT_ from outside, a fresh PREFECT_HOME, the
        session's Prefect API (or none: ``ephemeral`` runs start Prefect's temporary API, as
        ``make demo`` does) and ``BNPL_<NAME>=value`` for each keyword."""
        self._homes += 1
        home = self.root / f"prefect-{self._homes}"
        home.mkdir()
        env = {**base_env(), **PREFECT_ENV, "PREFECT_HOME": str(home)}
        if not ephemeral:
            env["PREFECT_API_URL"] = self.api_url
        env.update(bnpl_env(**bnpl))
        return env

    def run(
        self, args: list[str], env: Mapping[str, str], timeout: float = 300
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BNPL), *args],
            env=dict(env),
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def popen(self, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[str]:
        """Start ``bnpl`` in its own process group (so it can be killed with its children)."""
        return subprocess.Popen(
            [str(BNPL), *args],
            env=dict(env),
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )


def settings_from(
    env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch, **overrides: object
) -> Settings:
    """The Settings a subprocess with ``env`` reads (BNPL_ variables only)."""
    for name, value in env.items():
        if name.startswith("BNPL_"):
            monkeypatch.setenv(name, value)
    try:
        return load_settings(**overrides)
    finally:
        for name in env:
            if name.startswith("BNPL_"):
                monkeypatch.delenv(name)


def reference_run(settings: Settings, start: date, end: date) -> None:
    """A clean in-process run of the engine (no Prefect) into ``settings``' warehouse."""
    with ingest.open_session(settings) as session:
        summary = ingest.run_range(session, start, end)
    assert not summary.failures, summary


def fingerprints(path: Path) -> dict[str, tuple[int, str]]:
    """Row count and content checksum of every raw table of the DuckDB file at ``path``."""
    wh = DuckDBWarehouse(load_settings(warehouse={"path": path}).warehouse)  # type: ignore[arg-type]
    try:
        return {t: wh.content_checksum("bnpl_raw", t, exclude=c) for t, c in RUN_COLUMNS.items()}
    finally:
        wh.close()


def run_cli_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run ``bnpl ARGV`` in process, expecting it to exit with exactly one ``error:`` line on
    stderr; return the exit code and that line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, err
    return int(exit_info.value.code or 0), lines[0]
