"""``bnpl prefect setup`` registers the deployments of prefect.yaml on a real Prefect server (the
session's ``prefect_api``): read back through Prefect's client with their pool, parameters,
schedule, concurrency limit and triggers; a second run changes nothing; drift is put back.

The deployments and the ``bnpl-process`` pool have the names prefect.yaml gives them, so the test
starts and ends with them (and setup's other fixed-name objects) removed from the shared server.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import DeploymentUpdate
from prefect.events.actions import RunDeployment
from prefect.events.schemas.automations import EventTrigger
from prefect.events.schemas.events import ResourceSpecification
from prefect.exceptions import ObjectNotFound

from bnpl.cli import main
from bnpl.errors import ConfigError
from bnpl_flows.deploy import register_deployments
from bnpl_flows.infra import DEFAULT_POOL

pytestmark = [pytest.mark.prefect_server, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
DECLARED: list[dict[str, Any]] = yaml.safe_load((REPO / "prefect.yaml").read_text())["deployments"]
FIXED = ("bnpl-daily-failed", "bnpl-daily-unfinished", "bnpl-quality-gate-failed")


def _clear(client: SyncPrefectClient) -> None:
    """Remove prefect.yaml's deployments, their pool and what setup creates under fixed names."""
    for entry in DECLARED:
        name = entry["name"]
        with contextlib.suppress(ObjectNotFound):
            deployment = client.read_deployment_by_name(f"{name}/{name}")
            client.delete_resource_owned_automations(f"prefect.deployment.{deployment.id}")
            client.delete_deployment(deployment.id)
    for name in FIXED:
        for automation in client.read_automations_by_name(name):
            client.delete_automation(automation.id)
    with contextlib.suppress(ObjectNotFound):
        client.delete_work_pool(DEFAULT_POOL)
    with contextlib.suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name("simtom-api")


@pytest.fixture
def prefect(prefect_api: str) -> Iterator[SyncPrefectClient]:
    """A client of the session's server, without prefect.yaml's deployments before and after."""
    with get_client(sync_client=True) as client:
        _clear(client)
        try:
            yield client
        finally:
            _clear(client)


def setup(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    """Run ``bnpl prefect setup``; the outcome it printed for each deployment."""
    main(["prefect", "setup", *args])
    out = capsys.readouterr().out
    found = dict(re.findall(r"^deployment (\S+)\s+(\S+)", out, flags=re.MULTILINE))
    return found


def test_setup_registers_every_deployment_of_prefect_yaml_and_a_rerun_changes_nothing(
    prefect: SyncPrefectClient, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every deployment of prefect.yaml is created on its pool with its parameters, schedule,
    concurrency limit (1, ENQUEUE) and triggers (bnpl-features runs on a Completed bnpl-daily run);
    a second setup reports them unchanged and keeps their ids and one trigger automation; a limit
    changed on the server is put back."""
    first = setup(capsys)
    assert first == {f"{d['name']}/{d['name']}": "created" for d in DECLARED}

    ids = {}
    for entry in DECLARED:
        name = entry["name"]
        deployment = prefect.read_deployment_by_name(f"{name}/{name}")
        ids[name] = deployment.id
        assert deployment.work_pool_name == entry["work_pool"]["name"] == DEFAULT_POOL
        assert deployment.entrypoint == entry["entrypoint"]
        assert deployment.parameters == (entry.get("parameters") or {})
        crons = [getattr(s.schedule, "cron", None) for s in deployment.schedules]
        assert crons == [s["cron"] for s in entry.get("schedules") or []], name
        limit = entry.get("concurrency_limit")
        if limit is None:
            assert deployment.global_concurrency_limit is None, name
        else:
            assert deployment.global_concurrency_limit is not None, name
            assert deployment.global_concurrency_limit.limit == limit["limit"], name
            assert deployment.concurrency_options is not None
            assert deployment.concurrency_options.collision_strategy == limit["collision_strategy"]
        triggers = prefect.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
        assert len(triggers) == len(entry.get("triggers") or []), name
    assert ids["bnpl-ingest-day"] and prefect.read_deployment(ids["bnpl-daily"]).schedules

    (automation,) = prefect.read_resource_related_automations(
        f"prefect.deployment.{ids['bnpl-features']}"
    )
    trigger = automation.trigger
    assert isinstance(trigger, EventTrigger)
    assert trigger.expect == {"prefect.flow-run.Completed"}
    assert trigger.match_related == ResourceSpecification(
        {"prefect.resource.role": "deployment", "prefect.resource.name": "bnpl-daily"}
    )
    (action,) = automation.actions
    assert isinstance(action, RunDeployment) and action.deployment_id == ids["bnpl-features"]

    again = setup(capsys)
    assert again == {key: "unchanged" for key in first}
    for name, deployment_id in ids.items():
        assert prefect.read_deployment_by_name(f"{name}/{name}").id == deployment_id
    assert (
        len(prefect.read_resource_related_automations(f"prefect.deployment.{ids['bnpl-features']}"))
        == 1
    )

    prefect.update_deployment(ids["bnpl-quality-gate"], DeploymentUpdate(concurrency_limit=5))
    drifted = prefect.read_deployment(ids["bnpl-quality-gate"]).global_concurrency_limit
    assert drifted is not None and drifted.limit == 5
    fixed = setup(capsys)
    assert fixed.pop("bnpl-quality-gate/bnpl-quality-gate") == "updated"
    assert set(fixed.values()) == {"unchanged"}
    gate_limit = prefect.read_deployment(ids["bnpl-quality-gate"]).global_concurrency_limit
    assert gate_limit is not None and gate_limit.limit == 1


def test_a_deployment_prefect_cannot_deploy_is_one_line_naming_the_cause(
    prefect: SyncPrefectClient, tmp_path: Path
) -> None:
    """A well-formed file whose deployment names a work pool the server lacks fails with
    Prefect's own reason, and registers nothing."""
    (tmp_path / "prefect.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "bnpl",
                "deployments": [
                    {
                        "name": "bnpl-quality-gate",
                        "entrypoint": "bnpl_flows/quality.py:quality_gate",
                        "work_pool": {"name": "bnpl-no-such-pool"},
                    }
                ],
            }
        )
    )
    (tmp_path / "bnpl_flows").symlink_to(REPO / "bnpl_flows")
    with pytest.raises(ConfigError, match=r"failed: .*'bnpl-no-such-pool' which does not exist"):
        register_deployments(tmp_path / "prefect.yaml")
    with pytest.raises(ObjectNotFound):
        prefect.read_deployment_by_name("bnpl-quality-gate/bnpl-quality-gate")
