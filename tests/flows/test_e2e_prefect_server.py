"""End to end on a real Prefect server, in two tests that xdist can run side by side.

The pipeline: ``bnpl prefect setup`` (which deploys), a process worker, a day that fails on a
source outage, and the same flow run retried to Completed; a failed daily run fires its automation;
two daily runs never overlap (the deployment's concurrency limit), and each completed one triggers a
features run; those features runs trigger bnpl-train, which refuses the three days (no matured
labels yet).

The model loop: on seven months of demo data the bnpl-train deployment makes the first champion,
and a completed bnpl-features run triggers bnpl-train, which trains a challenger and compares it
with the champion.

Everything runs on 127.0.0.1: the session's Prefect server (``prefect_api``, its own SQLite
database; shared with the other flow tests, so its startup is paid once per worker), and each
test's own PREFECT_HOME and DuckDB file for the CLI, the worker and its flow runs; every process a
test starts is stopped (its whole process group) and checked gone at the end. The two tests find
their own runs (those started after they began) and leave the server as setup found it (no
``bnpl-process`` pool, ``simtom-api`` limit, automations or deployments), so either may run first.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, suppress
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import psutil
import pytest
import yaml
from prefect.client.orchestration import get_client

import bnpl
from bnpl.calendar import plan_day
from bnpl.settings import FaultSettings, PlanSettings, SimulatorSettings
from bnpl.simulator.process import serve_in_background

pytestmark = [pytest.mark.slow, pytest.mark.prefect_server, pytest.mark.timeout(1200)]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (tests/conftest.py has the same; this
    directory's conftest shadows it for ``from conftest import``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
VOLUME = 40
DAY_OK, DAY_FAILS, DAY_NEW = date(2024, 3, 4), date(2024, 3, 5), date(2024, 3, 6)
TERMINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
DEPLOYMENTS = [
    d["name"] for d in yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
]


class Stack:
    """Processes started by the test, in their own sessions, stopped group by group."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.seen: set[int] = set()

    def start(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        out = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(
            args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        out.close()
        self.started.append((name, process))

    def remember_children(self) -> None:
        """Note every descendant now alive (flow-run processes), to check they end too."""
        for _, process in self.started:
            try:
                kids = psutil.Process(process.pid).children(recursive=True)
            except psutil.NoSuchProcess:
                continue
            self.seen.update(k.pid for k in kids)

    def stop(self) -> list[str]:
        """Stop everything (SIGINT, then SIGTERM, then SIGKILL per group); return leftovers."""
        self.remember_children()
        for _name, process in reversed(self.started):
            self.seen.add(process.pid)
            for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 10), (signal.SIGKILL, 5)):
                if process.poll() is not None:
                    break
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    process.wait(timeout=wait)
                except subprocess.TimeoutExpired:
                    continue
            with suppress(ProcessLookupError):  # flow-run processes may outlive the worker
                os.killpg(process.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        alive: list[str] = []
        while time.monotonic() < deadline:
            alive = []
            for pid in self.seen:
                try:
                    proc = psutil.Process(pid)
                    if proc.status() != psutil.STATUS_ZOMBIE:
                        alive.append(f"{pid} {' '.join(proc.cmdline())[:120]}")
                except psutil.NoSuchProcess:
                    continue
            if not alive:
                break
            time.sleep(0.2)
        return alive

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def _phase(began: float, what: str) -> None:
    sys.stderr.write(f"[e2e {time.monotonic() - began:6.1f} s] {what}\n")


def _run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> str:
    done = subprocess.run(
        args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (
        f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


def _wait_healthy(api: str, stack: Stack, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"Prefect server at {api} not healthy after {timeout} s")


def _flow_run(api: str, run_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api}/flow_runs/{run_id}", timeout=10)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _wait_final(api: str, run_id: str, stack: Stack, *, timeout: float = 150) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = _flow_run(api, run_id)
        state = run.get("state") or {}
        if state.get("type") in TERMINAL:
            return run
        stack.remember_children()
        time.sleep(1)
    pytest.fail(f"flow run {run_id} not finished after {timeout} s:\n{stack.log('worker')}")


def _start_run(deployment: str, params: dict[str, str], env: dict[str, str]) -> str:
    args = [str(BIN / "prefect"), "deployment", "run", deployment]
    for name, value in params.items():
        args += ["--param", f"{name}={value}"]
    out = _run(args, env, REPO)
    found = re.search(r"UUID: ([0-9a-f-]{36})", out)
    assert found, out
    return found.group(1)


def _create_run(deployment: str, params: dict[str, str]) -> str:
    """Start a run of ``deployment`` (``flow/deployment``) with Prefect's client (which retries
    a busy server's 503): what ``prefect deployment run`` does, without a CLI process to start."""
    with get_client(sync_client=True) as client:
        target = client.read_deployment_by_name(deployment)
        run = client.create_flow_run_from_deployment(target.id, parameters=params)
    return str(run.id)


def _logs(api: str, run_id: str) -> list[dict[str, Any]]:
    body = {"logs": {"flow_run_id": {"any_": [run_id]}}, "limit": 200}
    response = httpx.post(f"{api}/logs/filter", json=body, timeout=10)
    response.raise_for_status()
    logs: list[dict[str, Any]] = response.json()
    return logs


def _bnpl_logs(api: str, run_id: str, timeout_s: float = 30.0) -> list[dict[str, Any]]:
    """The run's records from ``bnpl.*`` loggers, waiting for them: the run's process sends its
    logs in batches and the last batch can reach the API after the run is Completed."""
    deadline = time.monotonic() + timeout_s
    while True:
        found = [log for log in _logs(api, run_id) if log["name"].startswith("bnpl.")]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _request(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One API call; a 503 (the temporary server's SQLite busy) is retried for up to 10 s."""
    for _ in range(10):
        response = httpx.request(method, url, timeout=10, **kwargs)
        if response.status_code != 503:
            break
        time.sleep(1)
    response.raise_for_status()
    return response


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    return _request("POST", f"{api}/{path}", json=body).json()


def _events(api: str, name: str, *, resource: str, related: str | None = None) -> list[Any]:
    """Events called ``name`` about ``resource`` (and ``related``, when given) the server holds."""
    event_filter: dict[str, Any] = {"event": {"name": [name]}, "resource": {"id": [resource]}}
    if related is not None:
        event_filter["related"] = {"id": [related]}
    found: list[Any] = _post(api, "events/filter", {"filter": event_filter, "limit": 50})["events"]
    return found


def _automation_fired_for(api: str, automation: str, run_id: str, timeout_s: float = 60) -> None:
    """Wait until ``automation`` ran its action for an event of flow run ``run_id``: the
    server's ``prefect.automation.action.executed`` event names the triggering event."""
    (found,) = [a for a in _post(api, "automations/filter", {}) if a["name"] == automation]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for trigger in _events(
            api, "prefect.flow-run.Failed", resource=f"prefect.flow-run.{run_id}"
        ):
            executed = _events(
                api,
                "prefect.automation.action.executed",
                resource=f"prefect.automation.{found['id']}",
                related=f"prefect.event.{trigger['id']}",
            )
            if executed:
                return
        time.sleep(1)
    pytest.fail(f"automation {automation} did not fire for flow run {run_id} in {timeout_s} s")


def _deployment_runs(api: str, deployment: str, others: set[str]) -> list[dict[str, Any]]:
    """The runs of ``deployment`` that are not among ``others`` (another test's)."""
    runs: list[dict[str, Any]] = _post(
        api, "flow_runs/filter", {"deployments": {"name": {"any_": [deployment]}}}
    )
    return [run for run in runs if run["id"] not in others]


def _state_names(api: str, run_id: str) -> list[str]:
    states = _request("GET", f"{api}/flow_run_states/", params={"flow_run_id": run_id}).json()
    return [s["name"] for s in states]


def _expected(day: date) -> int:
    plan = PlanSettings(
        weekday_base_volume=VOLUME, weekend_base_volume=VOLUME, holiday_base_volume=VOLUME
    )
    return plan_day(day, plan).expected_volume


def _day(table: str, day: date) -> pl.DataFrame:
    return bnpl.read_table(table).filter(pl.col("transaction_date") == day)


def _env(api: str, tmp_path: Path) -> dict[str, str]:
    """The environment of the CLI and the worker: this test's PREFECT_HOME, the session's API."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BNPL_", "PREFECT_"))}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"),
        PREFECT_API_URL=api,
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_API_ENABLE_HTTP2="false",
        PREFECT_WORKER_QUERY_SECONDS="1",
        PREFECT_WORKER_PREFETCH_SECONDS="1",
    )
    return env


def _worker_env(env: dict[str, str], tmp_path: Path, warehouse: Path) -> dict[str, str]:
    worker_env = dict(env)
    worker_env.update(
        BNPL_WAREHOUSE__PATH=str(warehouse),
        BNPL_PLAN__WEEKDAY_BASE_VOLUME=str(VOLUME),
        BNPL_PLAN__WEEKEND_BASE_VOLUME=str(VOLUME),
        BNPL_PLAN__HOLIDAY_BASE_VOLUME=str(VOLUME),
        BNPL_MODEL__STORE_DIR=str(tmp_path / "mlflow"),
        BNPL_MODEL__MIN_OUTCOMES="20",
        BNPL_MODEL__BOOTSTRAP_RESAMPLES="200",
        MLFLOW_DISABLE_TELEMETRY="true",
    )
    return worker_env


def _features_out(api: str, out: Path) -> None:
    """The exports triggered features runs write go to ``out`` (the test's), not the repo's."""
    features = _request("GET", f"{api}/deployments/name/bnpl-features/bnpl-features").json()
    _request("PATCH", f"{api}/deployments/{features['id']}", json={"parameters": {"out": str(out)}})


def _run_ids(api: str) -> set[str]:
    """Every flow run the server holds now (runs of the other tests on this server)."""
    ids: set[str] = set()
    while page := _post(api, "flow_runs/filter", {"limit": 200, "offset": len(ids)}):
        ids.update(r["id"] for r in page)
    return ids


@pytest.fixture
def clean_server(prefect_api: str) -> Iterator[str]:
    """The session's server without what ``bnpl prefect setup`` made, after the test (the
    ``simtom-api`` limit, the automations, the deployments, the ``bnpl-process`` pool), so the
    other test of this module finds it as it was."""
    yield prefect_api
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        for deployment in client.read_deployments():
            if deployment.name in DEPLOYMENTS:
                client.delete_deployment(deployment.id)
        for automation in client.read_automations():
            if automation.name.startswith("bnpl-"):
                client.delete_automation(automation.id)
        with suppress(ObjectNotFound):
            client.delete_global_concurrency_limit_by_name("simtom-api")
        with suppress(ObjectNotFound):
            client.delete_work_pool("bnpl-process")


@pytest.fixture
def stack(tmp_path: Path, clean_server: str) -> Iterator[Stack]:
    """Processes of the test; fails the test if any survives being stopped (before the server
    is cleaned)."""
    logs = tmp_path / "logs"
    logs.mkdir()
    started = Stack(logs)
    try:
        yield started
    finally:
        leftovers = started.stop()
        assert not leftovers, f"processes left running: {leftovers}"


def test_deploy_run_fail_and_retry_one_day_on_a_prefect_server(
    tmp_path: Path, stack: Stack, monkeypatch: pytest.MonkeyPatch, clean_server: str
) -> None:
    """setup (pool, limit, automations, deployments) + worker: a day completes; a day failed by a source outage is retried as the
    same flow run and completes with its rows loaded once; a backfill launches per-day runs; a
    parameter that is not a date fails at once; completed daily runs trigger features runs, which
    trigger bnpl-train runs that refuse days without matured labels."""
    began = time.monotonic()
    source_port = free_port()
    api = clean_server  # the session's server: its startup is shared with the other flow tests
    warehouse = tmp_path / "warehouse" / "bnpl.duckdb"
    env = _env(api, tmp_path)
    _wait_healthy(api, stack)
    others = _run_ids(api)
    _phase(began, "server healthy")

    # one command prepares the server and registers prefect.yaml's deployments; a second run
    # changes nothing
    setup = [str(BIN / "bnpl"), "prefect", "setup", "--api-limit", "2"]
    first = _run(setup, env, tmp_path, timeout=400)
    assert re.search(r"work pool bnpl-process\s+created", first), first
    assert re.search(r"concurrency limit simtom-api\s+created", first), first
    for name in DEPLOYMENTS:
        assert re.search(rf"deployment {name}/{name}\s+created", first), first
    again = _run(setup, env, tmp_path, timeout=400)
    assert "created" not in again and "updated" not in again, again
    assert all(f"deployment {name}/{name}" in again for name in DEPLOYMENTS), again
    _phase(began, "bnpl prefect setup (pool, limit, automations, deployments), twice")
    _features_out(api, tmp_path / "features")

    worker_env = _worker_env(env, tmp_path, warehouse)
    worker_env.update(
        BNPL_SOURCE__URL=f"http://127.0.0.1:{source_port}",
        BNPL_SOURCE__MAX_ATTEMPTS="2",
        BNPL_SOURCE__RETRY_INITIAL_WAIT_S="0.05",
    )
    stack.start(
        "worker",
        [str(BIN / "prefect"), "worker", "start", "--pool", "bnpl-process", "--type", "process"],
        worker_env,
        tmp_path,
    )
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(warehouse))  # for bnpl.read_table below

    with ExitStack() as source:
        # 1. a healthy source: the day completes and is loaded once; meanwhile a daily run given
        #    a parameter that is not a date fails at once, saying what to pass
        source.enter_context(serve_in_background(SimulatorSettings(port=source_port)))
        ok_id = _start_run("bnpl-ingest-day/bnpl-ingest-day", {"day": DAY_OK.isoformat()}, env)
        typo_id = _start_run("bnpl-daily/bnpl-daily", {"logical_date": "yesterday"}, env)
        ok = _wait_final(api, ok_id, stack)
        assert ok["state"]["type"] == "COMPLETED", (ok["state"], stack.log("worker"))
        assert _day("bnpl_raw.transactions", DAY_OK).height == _expected(DAY_OK)
        assert _day("bnpl_raw.source_batches", DAY_OK)["flow_run_id"].to_list() == [ok_id]
        assert _bnpl_logs(api, ok_id), "no bnpl logs"
        typo = _wait_final(api, typo_id, stack)
        assert typo["state"]["type"] == "FAILED"
        assert "not a date; use YYYY-MM-DD" in typo["state"]["message"], typo["state"]
        _phase(began, "a day completed; a bad parameter failed")
        # the failed bnpl-daily run's state event reached the server and fired the automation
        # `bnpl prefect setup` registered (no --notify here: its action is do-nothing)
        _automation_fired_for(api, "bnpl-daily-failed", typo_id)
        _phase(began, "the failed daily run fired bnpl-daily-failed")

        # 2. the source answers 5xx to every request: the day's run fails, nothing is written
        source.close()
        outage = FaultSettings(error_rate=1.0)
        source.enter_context(
            serve_in_background(SimulatorSettings(port=source_port, faults=outage))
        )
        bad_id = _start_run("bnpl-ingest-day/bnpl-ingest-day", {"day": DAY_FAILS.isoformat()}, env)
        bad = _wait_final(api, bad_id, stack)
        assert bad["state"]["type"] == "FAILED", bad["state"]
        assert DAY_FAILS.isoformat() in bad["state"]["message"], bad["state"]
        assert _day("bnpl_raw.transactions", DAY_FAILS).is_empty()
        _phase(began, "a day failed on a source outage")

        # 3. the source is back: retry that same flow run; it completes, the day is loaded once
        source.close()
        source.enter_context(serve_in_background(SimulatorSettings(port=source_port)))
        _run([str(BIN / "prefect"), "flow-run", "retry", bad_id], env, tmp_path)
        retried = _wait_final(api, bad_id, stack)
        assert retried["state"]["type"] == "COMPLETED", (retried["state"], stack.log("worker"))
        assert retried["run_count"] == 2
        keys = _day("bnpl_raw.transactions", DAY_FAILS)["transaction_key"]
        assert keys.len() == keys.n_unique() == _expected(DAY_FAILS)
        assert _day("bnpl_raw.source_batches", DAY_FAILS)["flow_run_id"].to_list() == [bad_id]
        assert _day("bnpl_raw.transactions", DAY_OK).height == _expected(DAY_OK)
        _phase(began, "the same flow run retried to Completed")

        # 4. a backfill deployment run: one child ingest-day run per day under simtom-api
        parent_id = _start_run(
            "bnpl-backfill/bnpl-backfill",
            {"start": DAY_FAILS.isoformat(), "end": DAY_NEW.isoformat()},
            env,
        )
        parent = _wait_final(api, parent_id, stack, timeout=180)
        assert parent["state"]["type"] == "COMPLETED", (parent["state"], stack.log("worker"))
        children = httpx.post(
            f"{api}/flow_runs/filter",
            json={"flow_runs": {"parent_flow_run_id": {"any_": [parent_id]}}},
            timeout=10,
        ).json()
        assert sorted(c["parameters"]["day"] for c in children) == [
            DAY_FAILS.isoformat(),
            DAY_NEW.isoformat(),
        ]
        assert all(c["deployment_id"] and c["state"]["type"] == "COMPLETED" for c in children)
        assert _day("bnpl_raw.transactions", DAY_NEW).height == _expected(DAY_NEW)
        assert _day("bnpl_raw.transactions", DAY_FAILS).height == _expected(DAY_FAILS)
        _phase(began, "a backfill ran one flow run per day")

        # 5. two daily runs at once: the deployment's limit of 1 holds the second back
        #    (AwaitingConcurrencySlot) until the first ends; each completed run triggers bnpl-features
        daily_ids = [
            _create_run("bnpl-daily/bnpl-daily", {"logical_date": day.isoformat()})
            for day in (DAY_OK, DAY_NEW)
        ]
        dailies = [_wait_final(api, run_id, stack, timeout=240) for run_id in daily_ids]
        for run in dailies:
            assert run["state"]["type"] == "COMPLETED", (run["state"], stack.log("worker"))
        first, second = sorted(dailies, key=lambda r: r["start_time"])
        assert first["end_time"] <= second["start_time"], (first, second)
        assert "AwaitingConcurrencySlot" in _state_names(api, second["id"])
        _phase(began, "two daily runs, one after the other")

        deadline = time.monotonic() + 60
        while len(_deployment_runs(api, "bnpl-features", others)) < len(dailies):
            assert time.monotonic() < deadline, "no bnpl-features run after the daily runs"
            time.sleep(1)
        for run in _deployment_runs(api, "bnpl-features", others):
            final = _wait_final(api, run["id"], stack, timeout=240)
            assert final["state"]["type"] == "COMPLETED", (final["state"], stack.log("worker"))
            assert final["start_time"] >= first["end_time"]
        _phase(began, "each completed daily run triggered a features run")

    # 6. every bnpl-train run those features runs triggered refuses the three days: no label has
    #    matured yet (one line, the run failed, nothing registered)
    deadline = time.monotonic() + 60
    while len(_deployment_runs(api, "bnpl-train", others)) < len(dailies):
        assert time.monotonic() < deadline, "no bnpl-train run after the features runs"
        time.sleep(1)
    for run in _deployment_runs(api, "bnpl-train", others):
        final = _wait_final(api, run["id"], stack, timeout=400)
        assert final["state"]["type"] == "FAILED", (final["state"], stack.log("worker"))
        assert "no matured labels" in final["state"]["message"], final["state"]
    _phase(began, "the features runs triggered bnpl-train, which refused unmatured days")


def test_model_loop_on_a_prefect_server(
    tmp_path: Path,
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    clean_server: str,
    demo_db: Path,
) -> None:
    """On seven months of demo data: the bnpl-train deployment makes the first champion when
    told to (initial); then a completed bnpl-features run triggers bnpl-train by itself, which
    trains a challenger, compares it with the champion and records the decision (artifact and
    bnpl_audit.model_decisions)."""
    began = time.monotonic()
    api = clean_server
    warehouse = tmp_path / "warehouse" / "bnpl.duckdb"
    warehouse.parent.mkdir()
    shutil.copy(demo_db, warehouse)
    env = _env(api, tmp_path)
    _wait_healthy(api, stack)
    others = _run_ids(api)
    _run([str(BIN / "bnpl"), "prefect", "setup", "--api-limit", "2"], env, tmp_path, timeout=400)
    _features_out(api, tmp_path / "features")
    stack.start(
        "worker",
        [str(BIN / "prefect"), "worker", "start", "--pool", "bnpl-process", "--type", "process"],
        _worker_env(env, tmp_path, warehouse),
        tmp_path,
    )
    monkeypatch.setenv("BNPL_WAREHOUSE__PATH", str(warehouse))  # for bnpl.read_table below
    _phase(began, "setup done, worker started on the demo warehouse")
    made_id = _start_run("bnpl-train/bnpl-train", {"initial": "true"}, env)
    made = _wait_final(api, made_id, stack, timeout=400)
    assert made["state"]["type"] == "COMPLETED", (made["state"], stack.log("worker"))
    assert _artifact(api, made_id, "model-decision")
    decided = bnpl.read_table("bnpl_audit.model_decisions")
    assert decided["action"].to_list() == ["initial"]
    assert decided["flow_run_id"].to_list() == [made_id]
    _phase(began, "bnpl-train made the first champion")

    features_id = _start_run("bnpl-features/bnpl-features", {}, env)
    features = _wait_final(api, features_id, stack, timeout=300)
    assert features["state"]["type"] == "COMPLETED", (features["state"], stack.log("worker"))
    triggered = _wait_triggered(api, "bnpl-train", exclude=others | {made_id}, stack=stack)
    compared = _wait_final(api, triggered, stack, timeout=400)
    assert compared["state"]["type"] == "COMPLETED", (compared["state"], stack.log("worker"))
    markdown = _artifact(api, triggered, "model-decision")
    assert "Kept the champion" in markdown or "Promoted the challenger" in markdown, markdown
    actions = bnpl.read_table("bnpl_audit.model_decisions").sort("decided_at")["action"]
    assert actions.to_list() == ["initial", "promote"]
    _phase(began, "bnpl-features triggered bnpl-train: train, then promote")


def _artifact(api: str, run_id: str, key: str) -> str:
    """The markdown of the run's artifact ``key`` ('' when there is none)."""
    body = {"artifacts": {"flow_run_id": {"any_": [run_id]}, "key": {"any_": [key]}}}
    found = httpx.post(f"{api}/artifacts/filter", json=body, timeout=10).json()
    return str(found[0]["data"]) if found else ""


def _wait_triggered(
    api: str, flow_name: str, *, exclude: set[str], stack: Stack, timeout: float = 120
) -> str:
    """The id of a run of ``flow_name`` started by an automation (not one of ``exclude``)."""
    deadline = time.monotonic() + timeout
    body = {"flows": {"name": {"any_": [flow_name]}}}
    while time.monotonic() < deadline:
        runs = httpx.post(f"{api}/flow_runs/filter", json=body, timeout=10).json()
        fresh = [r["id"] for r in runs if r["id"] not in exclude]
        if fresh:
            return str(fresh[0])
        stack.remember_children()
        time.sleep(1)
    pytest.fail(f"no {flow_name} run was triggered within {timeout} s:\n{stack.log('worker')}")
