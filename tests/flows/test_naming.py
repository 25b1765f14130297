"""Every flow, task, deployment and automation follows the one naming scheme of bnpl_flows/naming.py."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, Task

import bnpl_flows
from bnpl_flows import infra
from bnpl_flows.daily import daily_bnpl_processing
from bnpl_flows.naming import AUTOMATION_NAME, FLOW_NAME, SEED_TASKS, TASK_NAME, deployment_of

REPO = Path(__file__).resolve().parents[2]


def _objects() -> tuple[dict[str, Flow[..., Any]], dict[str, Task[..., Any]]]:
    """Every flow and task in a module of bnpl_flows, by ``module:attribute`` (one imported
    from another module appears under both)."""
    flows: dict[str, Flow[..., Any]] = {}
    tasks: dict[str, Task[..., Any]] = {}
    for info in pkgutil.iter_modules(bnpl_flows.__path__, "bnpl_flows."):
        module = importlib.import_module(info.name)
        for attribute, value in vars(module).items():
            where = f"{module.__name__}:{attribute}"
            if isinstance(value, Flow):
                flows[where] = value
            elif isinstance(value, Task):
                tasks[where] = value
    return flows, tasks


def _deployments() -> list[dict[str, Any]]:
    config: dict[str, Any] = yaml.safe_load((REPO / "prefect.yaml").read_text())
    deployments: list[dict[str, Any]] = config["deployments"]
    return deployments


def test_flow_names_are_bnpl_kebab_case_and_unique() -> None:
    """Each flow is named ``bnpl-<what>`` in kebab-case, and no two flows share a name."""
    flows, _ = _objects()
    names = {flow.name for flow in flows.values()}
    assert len(names) == len({id(f) for f in flows.values()}), sorted(names)
    bad = {where: f.name for where, f in flows.items() if not FLOW_NAME.fullmatch(f.name)}
    assert not bad, bad
    assert {"bnpl-daily", "bnpl-ingest-day", "bnpl-ingest-range", "bnpl-backfill"} <= names


def test_task_names_are_kebab_case_except_the_daily_seed_tasks() -> None:
    """Tasks are kebab-case; the six snake_case seed tasks are exactly the daily DAG's, in use."""
    _, tasks = _objects()
    names = {task.name for task in tasks.values()}
    bad = [n for n in names if n not in SEED_TASKS and not TASK_NAME.fullmatch(n)]
    assert not bad, bad
    daily = {t.name for where, t in tasks.items() if where.startswith("bnpl_flows.daily:")}
    assert daily == set(SEED_TASKS)
    assert [n for n in names if "_" in n] and {n for n in names if "_" in n} == set(SEED_TASKS)


def test_every_deployment_is_named_after_its_flow() -> None:
    """Each deployment in prefect.yaml carries its entrypoint flow's name, and every bnpl flow
    a deployment may launch exists under that name."""
    for deployment in _deployments():
        path, _, function = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, function)
        assert deployment["name"] == flow.name, deployment["entrypoint"]
        assert deployment_of(flow) == f"{flow.name}/{deployment['name']}"
    assert deployment_of(daily_bnpl_processing) == "bnpl-daily/bnpl-daily"


def test_automation_names_start_with_the_flow_they_watch() -> None:
    """Each automation under deployments/automations is ``<flow>-<condition>`` for a bnpl flow."""
    flows = {f.name for f in _objects()[0].values()}
    automations = infra.load_automations()
    assert automations
    for automation in automations:
        assert AUTOMATION_NAME.fullmatch(automation.name), automation.name
        assert any(automation.name.startswith(f"{flow}-") for flow in flows), automation.name


def test_a_name_outside_the_scheme_is_refused() -> None:
    """The patterns reject the names the scheme replaced (so the tests above can fail)."""
    assert not FLOW_NAME.fullmatch("ingest-day")
    assert not FLOW_NAME.fullmatch("backfill")
    assert not FLOW_NAME.fullmatch("bnpl_daily")
    assert not TASK_NAME.fullmatch("fetch_and_prepare")
    assert TASK_NAME.fullmatch("fetch-and-prepare")
