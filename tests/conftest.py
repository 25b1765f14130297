"""Shared test fixtures: hermetic environment, the captured simtom response, free ports."""

from __future__ import annotations

import gzip
import json
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import stamina
from emulator import Emulator, EmulatorError, prepare
from hostile_source import HostileSource, serve_hostile
from mlflow_store import empty_store
from model_demo import build_demo
from redis_server import RedisServer, RedisServerError
from simulator_helpers import running_server

from bnpl.settings import BigQuerySettings, FaultSettings, SimulatorSettings
from bnpl.simulator.records import SIMTOM_CAPS, PoolCaps

FIXTURES = Path(__file__).parent / "fixtures"
SIMTOM_CAPTURE = FIXTURES / "simtom" / "hist_2024-11-28_3days_base200_seed42"


EMULATOR_MODULES = "bigquery"
"""Test modules with this in their file name, and only they, use the BigQuery emulator: one xdist
worker runs them all, so the session starts one emulator."""


LONGEST = frozenset(
    {
        "test_e2e_prefect_server.py",
        "test_parity.py",
        "test_model_cli.py",
        "test_wheel_install.py",
        "test_exactly_once.py",
    }
)
"""Modules whose tests take minutes each (``--durations``, bench/results.md "test suite"): started
before every other test, so that none of them is the last one running on a worker."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse an emulator test outside the emulator's modules (it would start a second emulator on
    another worker); start the longest modules' tests first, then the other slow ones, so that the
    two workers finish together."""
    for item in items:
        uses = "bq_emulator" in getattr(item, "fixturenames", ())
        if uses and EMULATOR_MODULES not in item.path.name:
            raise pytest.UsageError(
                f"{item.nodeid} uses the BigQuery emulator: move it to a module whose name "
                f"contains {EMULATOR_MODULES!r}, so that it runs on the emulator's worker"
            )
    items.sort(
        key=lambda item: (
            item.path.name not in LONGEST,
            item.get_closest_marker("slow") is None,
        )
    )


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Under ``--dist loadgroup``: one work unit for the emulator's modules, every other test on
    its own. (xdist's own ``xdist_group`` marks do not group under pytest 9.2, which no longer
    reads the node id xdist rewrites.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class EmulatorGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return "bigquery-emulator" if EMULATOR_MODULES in Path(module).name else nodeid

    return EmulatorGroup(config, log)


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """Scrub BNPL_* variables, run in a temporary directory, and disable retry sleeps."""
    for name in list(os.environ):
        if name.startswith("BNPL_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    stamina.set_testing(True, attempts=3)
    yield
    stamina.set_testing(False)


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One temporary Prefect API for the session (Prefect's test harness: its own SQLite database,
    a throw-away PREFECT_HOME, no analytics, no flow heartbeats); yields its URL, so subprocesses
    can use it too (``PREFECT_API_URL``). Starting one costs 10-25 s, so tests share it; they
    find their own runs and artifacts by flow run id."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        PREFECT_HOME,
        PREFECT_SERVER_ANALYTICS_ENABLED,
        PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    with (
        temporary_settings(
            updates={
                PREFECT_HOME: tmp_path_factory.mktemp("prefect-home"),
                # each heartbeat costs a flow run up to 1 s at exit
                PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None,
                PREFECT_SERVER_ANALYTICS_ENABLED: False,
                # a fresh database migrates on first start; a busy 2-core box needs more than 20 s
                PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: 180,
                # a run held back by a deployment concurrency limit retries after 2 s, not 30
                PREFECT_SERVER_DEPLOYMENTS_CONCURRENCY_SLOT_WAIT_SECONDS: 2,
            }
        ),
        prefect_test_harness(server_startup_timeout=180),
    ):
        url = PREFECT_API_URL.value()
        assert url, "the Prefect test harness set no API URL"
        yield str(url)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven months of simulated days (40 a day), loaded, built and published
    (``tests/model_demo.py``): built once per worker, for the governance tests and the model loop
    on the Prefect server; tests copy it."""
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    build_demo(path)
    return path


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh SQL cache folder of this test (``bnpl.sqlcache``) and cold in-process caches of
    compiled assertions and models."""
    from bnpl import sqlcache
    from bnpl.models import plan
    from bnpl.quality import assertions

    folder = tmp_path / "cache" / "sql"
    monkeypatch.setattr(sqlcache, "ROOT", folder.parent)
    monkeypatch.setattr(sqlcache, "CACHE_DIR", folder)
    assertions.compile_sql.cache_clear()
    plan._COMPILED.clear()
    return folder


@pytest.fixture(scope="session")
def mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty embedded MLflow store's database, schema migrated once per worker; tests start
    their own store from a copy (``mlflow_store.seed_store``)."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # nothing leaves 127.0.0.1
    return empty_store(tmp_path_factory.mktemp("mlflow-empty"))


@pytest.fixture
def hostile_source() -> Iterator[HostileSource]:
    """A hostile simtom on 127.0.0.1 and a free port (``tests/hostile_source.py``); starts in
    ``empty`` mode, the test switches ``mode``."""
    with serve_hostile() as source:
        yield source


@pytest.fixture(scope="session")
def captured_body() -> bytes:
    """The real simtom response for 2024-11-28..30, base 200, seed 42 (686 records)."""
    return gzip.decompress(SIMTOM_CAPTURE.with_suffix(".txt.gz").read_bytes())


@pytest.fixture(scope="session")
def captured_request() -> dict[str, object]:
    """The request body that produced :func:`captured_body`."""
    return json.loads(SIMTOM_CAPTURE.with_suffix(".request.json").read_text())  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def captured_counts() -> dict[str, int]:
    """Per-day record counts of the captured response."""
    lines = SIMTOM_CAPTURE.with_suffix(".counts.csv").read_text().split()[1:]
    return {d: int(n) for d, n in (line.split(",") for line in lines)}


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    """A running local-bigquery on 127.0.0.1, shared by the session; fails (never skips) if it cannot start."""
    try:
        executable = prepare()
    except EmulatorError as exc:
        pytest.fail(f"BigQuery emulator unavailable: {exc}", pytrace=False)
    last: EmulatorError | None = None
    for _ in range(3):  # a free port can be taken between picking and binding
        emulator = Emulator(
            executable=executable,
            data_dir=tmp_path_factory.mktemp("bq-emulator"),
            port=free_port(),
            grpc_port=free_port(),
        )
        try:
            emulator.start()
        except EmulatorError as exc:
            last = exc
            continue
        try:
            yield emulator
        finally:
            emulator.stop()
        return
    pytest.fail(f"BigQuery emulator did not start: {last}", pytrace=False)


@pytest.fixture
def bq_settings(bq_emulator: Emulator) -> BigQuerySettings:
    """Settings for the emulator with a dataset prefix of this test's own."""
    return BigQuerySettings(
        project=bq_emulator.project,
        location="US",
        dataset_prefix=f"t{uuid.uuid4().hex[:10]}_",
        api_endpoint=bq_emulator.endpoint,
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (127.0.0.1, a free port, AOF with appendfsync always);
    fails, never skips, when it cannot start."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        server.start()
    except RedisServerError as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield server
    finally:
        server.stop()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- simulators served by uvicorn on free loopback ports (source and simulator tests) ---

ServerFactory = Callable[..., str]


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """A simulator without faults, shared by a test module."""
    with running_server(SimulatorSettings(port=0)) as url:
        yield url


@pytest.fixture
def make_server() -> Iterator[ServerFactory]:
    """Start simulators with the given fault settings (all stopped after the test)."""
    with ExitStack() as stack:

        def start(*, pace: bool = False, caps: PoolCaps = SIMTOM_CAPS, **faults: object) -> str:
            settings = SimulatorSettings(port=0, pace=pace, faults=FaultSettings(**faults))
            return stack.enter_context(running_server(settings, caps))

        yield start
