"""bnpl.telemetry: the temporary API server's background-service errors go to a file under
PREFECT_HOME, not to the command's stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bnpl.telemetry import SERVER_LOG_NAME, route_prefect_server_logs

PROBE = """
import logging
from bnpl.telemetry import route_prefect_server_logs
route_prefect_server_logs()
from prefect.logging.configuration import setup_logging
setup_logging()
try:
    raise RuntimeError("sqlite3.OperationalError: database is locked")
except RuntimeError:
    logging.getLogger("docket.worker").exception("send_telemetry_heartbeat failed")
logging.getLogger("bnpl.cli").warning("a bnpl warning still shows")
"""


def test_docket_errors_go_to_the_log_file_not_stderr(tmp_path: Path):
    """A docket traceback in a process configured like the temporary API server lands in
    $PREFECT_HOME/temporary-api.log; stderr shows only what it showed before."""
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env["PREFECT_HOME"] = str(home)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "database is locked" not in proc.stderr and "Traceback" not in proc.stderr
    assert "a bnpl warning still shows" in proc.stderr
    logged = (home / SERVER_LOG_NAME).read_text()
    assert "send_telemetry_heartbeat failed" in logged and "database is locked" in logged


def test_a_users_logging_settings_win(tmp_path: Path, monkeypatch):
    """With PREFECT_LOGGING_SETTINGS_PATH set, nothing is written or changed."""
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PREFECT_LOGGING_SETTINGS_PATH", str(tmp_path / "mine.yml"))
    assert route_prefect_server_logs() is None
    assert os.environ["PREFECT_LOGGING_SETTINGS_PATH"] == str(tmp_path / "mine.yml")
    assert not (tmp_path / "home").exists()
