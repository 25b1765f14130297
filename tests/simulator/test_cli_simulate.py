"""`bnpl simulate serve`: flags become SimulatorSettings; the command serves the contract."""

from __future__ import annotations

import subprocess
import sys
import threading

import httpx
import pytest

from bnpl.cli.simulate import configure
from bnpl.errors import ConfigError
from bnpl.settings import SimulatorSettings


def test_flags_override_settings_and_faults():
    """Given flags replace the settings' values; absent flags (None) keep them."""
    base = SimulatorSettings(port=9000)
    settings = configure(
        base, {"host": None, "port": 0, "pace": True}, {"error_rate": 0.25, "seed": None}
    )
    assert (settings.host, settings.port, settings.pace) == ("127.0.0.1", 0, True)
    assert settings.faults.error_rate == 0.25 and settings.faults.seed == 0


def test_out_of_range_values_are_config_errors():
    """A bad value is a ConfigError naming the BNPL_SIMULATOR__ variable."""
    with pytest.raises(ConfigError, match="BNPL_SIMULATOR__FAULTS__CUT_RATE"):
        configure(SimulatorSettings(), {}, {"cut_rate": 1.5})


@pytest.mark.slow
def test_bad_flag_exits_2():
    """An out-of-range flag is a usage error (exit code 2) with one line on stderr."""
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from bnpl.cli import main; main()",
            "simulate",
            "serve",
            "--error-rate",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "--error-rate" in result.stderr


@pytest.mark.slow
def test_serve_command_answers_with_injected_faults():
    """`bnpl simulate serve --port 0 --error-rate 1` prints its URL and answers every stream with 5xx."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from bnpl.cli import main; main()",
            "simulate",
            "serve",
            "--port",
            "0",
            "--error-rate",
            "1",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line: list[str] = []
        reader = threading.Thread(
            target=lambda: line.append(process.stdout.readline()), daemon=True
        )
        reader.start()
        reader.join(60)
        url = line[0].split()[-3]
        assert url.startswith("http://127.0.0.1:")
        assert httpx.get(url + "/", timeout=10).json()["status"] == "healthy"
        response = httpx.post(
            url + "/stream/bnpl",
            json={"start_date": "2024-01-02", "end_date": "2024-01-02", "seed": 1},
            timeout=10,
        )
        assert response.status_code in (500, 502, 503)
    finally:
        process.terminate()
        process.wait(10)
