"""Flow tests run on Prefect's ephemeral API with a throw-away PREFECT_HOME."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.server.api.server import SubprocessASGIServer
from prefect.settings import (
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    PREFECT_HOME,
    PREFECT_SERVER_ANALYTICS_ENABLED,
    PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
    temporary_settings,
)


@pytest.fixture(scope="session", autouse=True)
def _prefect_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A fresh PREFECT_HOME (its own SQLite database) for the session, no analytics, and no flow
    heartbeats (each costs a flow run up to 1 s at exit), and time for the temporary API to start."""
    home = tmp_path_factory.mktemp("prefect-home")
    with temporary_settings(
        updates={
            PREFECT_HOME: home,
            PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
            PREFECT_SERVER_ANALYTICS_ENABLED: False,
            # a fresh database migrates on first start; a busy 2-core CI box needs more than 20 s
            PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 180,
        }
    ):
        yield
        # stop the temporary API now, while pytest's streams are open (not at interpreter exit)
        SubprocessASGIServer().stop()
