"""prefect.yaml, the work-pool templates, the automations, and setup's errors without a server."""

from __future__ import annotations

import importlib
import re
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest
import yaml
from prefect import Flow
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.events.actions import DoNothing, SendNotification
from prefect.events.schemas.automations import EventTrigger
from prefect.events.schemas.events import ResourceSpecification
from prefect.settings import PREFECT_API_URL, temporary_settings

from bnpl.cli import main
from bnpl.errors import ConfigError
from bnpl_flows import deploy, infra


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (tests/conftest.py has the same; this
    directory's conftest shadows it for ``from conftest import``)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


REPO = Path(__file__).resolve().parents[2]
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def _prefect_yaml() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return loaded


def _deployment(name: str) -> dict[str, Any]:
    (found,) = [d for d in _prefect_yaml()["deployments"] if d["name"] == name]
    return found


def test_prefect_yaml_declares_the_deployments_on_the_process_pool() -> None:
    """bnpl-daily, bnpl-ingest-day, bnpl-backfill, bnpl-features, bnpl-quality-gate,
    bnpl-model-monitor and bnpl-train exist, all on the bnpl-process pool; only bnpl-daily and
    bnpl-model-monitor have a schedule."""
    deployments = _prefect_yaml()["deployments"]
    assert sorted(d["name"] for d in deployments) == [
        "bnpl-backfill",
        "bnpl-daily",
        "bnpl-features",
        "bnpl-ingest-day",
        "bnpl-model-monitor",
        "bnpl-quality-gate",
        "bnpl-train",
    ]
    assert {d["work_pool"]["name"] for d in deployments} == {infra.DEFAULT_POOL}
    assert [d["name"] for d in deployments if d.get("schedules")] == [
        "bnpl-daily",
        "bnpl-model-monitor",
    ]


def test_deployments_that_write_the_warehouse_run_one_at_a_time() -> None:
    """Every deployment but the per-day ingest unit (fanned out by bnpl-backfill under
    simtom-api) has a concurrency limit of 1 whose second run waits (ENQUEUE)."""
    limited = {d["name"]: d.get("concurrency_limit") for d in _prefect_yaml()["deployments"]}
    assert limited.pop("bnpl-ingest-day") is None
    assert set(limited) == {
        "bnpl-daily",
        "bnpl-backfill",
        "bnpl-features",
        "bnpl-quality-gate",
        "bnpl-model-monitor",
        "bnpl-train",
    }
    assert all(
        limit == {"limit": 1, "collision_strategy": "ENQUEUE"} for limit in limited.values()
    ), limited


def test_features_run_after_each_completed_daily_deployment_run() -> None:
    """bnpl-features has no cron: its one trigger is a Completed run of the bnpl-daily
    deployment, and it passes no parameters (the export is as of the last loaded day)."""
    features = _deployment("bnpl-features")
    assert "schedules" not in features and not features["parameters"]
    (trigger,) = features["triggers"]
    assert trigger["expect"] == ["prefect.flow-run.Completed"]
    assert trigger["match"] == {"prefect.resource.id": "prefect.flow-run.*"}
    assert trigger["match_related"] == {
        "prefect.resource.role": "deployment",
        "prefect.resource.name": "bnpl-daily",
    }
    from prefect.events import DeploymentEventTrigger

    assert DeploymentEventTrigger.model_validate(trigger).enabled


def test_train_deployment_is_triggered_by_a_completed_features_run() -> None:
    """bnpl-train has no schedule: its one trigger is a Completed run of the bnpl-features
    deployment."""
    train = _deployment("bnpl-train")
    assert "schedules" not in train
    (trigger,) = train["triggers"]
    assert trigger["expect"] == ["prefect.flow-run.Completed"]
    assert trigger["match_related"] == {
        "prefect.resource.role": "deployment",
        "prefect.resource.name": "bnpl-features",
    }


def test_every_entrypoint_names_a_flow() -> None:
    """Each entrypoint is ``file.py:function`` and the function is a Prefect flow."""
    for deployment in _prefect_yaml()["deployments"]:
        path, _, function = deployment["entrypoint"].partition(":")
        assert (REPO / path).is_file(), path
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        assert isinstance(getattr(module, function), Flow), deployment["entrypoint"]


def test_daily_deployment_runs_at_two_utc_for_the_previous_day() -> None:
    """bnpl-daily is scheduled at 02:00 UTC and passes no logical_date (yesterday is derived)."""
    daily = _deployment("bnpl-daily")
    assert [(s["cron"], s["timezone"]) for s in daily["schedules"]] == [("0 2 * * *", "UTC")]
    assert "logical_date" not in (daily.get("parameters") or {})


def test_pull_steps_set_the_code_directory_and_forward_logs() -> None:
    """The worker chdirs to the deploy-time code directory, then forwards bnpl's logs."""
    config = _prefect_yaml()
    (build,) = config["build"]
    step = build["prefect.deployments.steps.run_shell_script"]
    assert step["id"] == "code-dir" and "FLOW_CODE_DIR" in step["script"]
    pulls = [next(iter(s)) for s in config["pull"]]
    assert pulls == [
        "prefect.deployments.steps.set_working_directory",
        "bnpl_flows._runtime.forward_bnpl_logs",
    ]
    assert config["pull"][0][pulls[0]]["directory"] == "{{ code-dir.stdout }}"
    assert importlib.import_module("bnpl_flows._runtime").forward_bnpl_logs() == {
        "forwarded_loggers": "bnpl,flows"
    }


@pytest.mark.parametrize("pool_type", sorted(infra.POOL_TEMPLATES))
def test_pool_templates_are_valid_and_every_placeholder_is_declared(pool_type: str) -> None:
    """Each base job template validates as a work pool and uses only variables it declares."""
    template = infra.load_pool_template(pool_type)
    WorkPoolCreate(name="t", type=pool_type, base_job_template=template)
    used = set(re.findall(r"{{\s*([a-z_]+)\s*}}", str(template["job_configuration"])))
    assert used <= set(template["variables"]["properties"]), used - set(
        template["variables"]["properties"]
    )


def test_container_pools_require_an_image_and_leave_retries_to_prefect() -> None:
    """Cloud Run and Kubernetes pools have no stock image default and no infrastructure retries."""
    cloud_run = infra.load_pool_template("cloud-run-v2")
    assert "image" in cloud_run["variables"]["required"]
    assert cloud_run["variables"]["properties"]["max_retries"]["default"] == 0
    kubernetes = infra.load_pool_template("kubernetes")
    assert "image" in kubernetes["variables"]["required"]
    assert kubernetes["job_configuration"]["job_manifest"]["spec"]["backoffLimit"] == 0


def test_unknown_pool_type_is_a_config_error() -> None:
    """A pool type without a template names the ones there are."""
    with pytest.raises(ConfigError, match="process"):
        infra.load_pool_template("ecs")


def test_automation_files_load_and_a_placeholder_block_is_filled_or_does_nothing(
    tmp_path: Path,
) -> None:
    """Automations load from YAML; the all-zero block id is replaced by the block given, or the
    notification by a do-nothing action when there is none."""
    (tmp_path / "alert.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "alert",
                "trigger": {
                    "type": "event",
                    "expect": ["bnpl.quality.failed"],
                    "posture": "Reactive",
                },
                "actions": [
                    {"type": "send-notification", "block_document_id": PLACEHOLDER, "body": "x"}
                ],
            }
        )
    )
    (tmp_path / "notes.txt").write_text("not an automation")
    (automation,) = infra.load_automations(tmp_path)
    (nothing,) = infra.with_notification_block(automation, None).actions
    assert isinstance(nothing, DoNothing)
    block = infra.UUID(int=7)
    filled = infra.with_notification_block(automation, block)
    (action,) = filled.actions
    assert isinstance(action, SendNotification) and action.block_document_id == block


def test_daily_automations_watch_failed_crashed_late_and_unfinished_runs() -> None:
    """bnpl-daily-failed reacts to Failed, Crashed, TimedOut and Late runs of the flow
    bnpl-daily; bnpl-daily-unfinished fires when a Running one has no final state in 2 h."""
    automations = {a.name: a for a in infra.load_automations()}
    failed = automations["bnpl-daily-failed"].trigger
    unfinished = automations["bnpl-daily-unfinished"].trigger
    assert isinstance(failed, EventTrigger) and isinstance(unfinished, EventTrigger)
    assert failed.posture == "Reactive" and failed.threshold == 1
    assert failed.expect == {
        f"prefect.flow-run.{s}" for s in ("Failed", "Crashed", "TimedOut", "Late")
    }
    assert unfinished.posture == "Proactive"
    assert unfinished.after == {"prefect.flow-run.Running"}
    assert "prefect.flow-run.Completed" in unfinished.expect
    assert unfinished.within.total_seconds() == 7200
    for trigger in (failed, unfinished):
        assert trigger.match_related == ResourceSpecification(
            {"prefect.resource.role": "flow", "prefect.resource.name": "bnpl-daily"}
        )


def test_the_projects_automations_parse() -> None:
    """Every file under deployments/automations/ is a valid Prefect automation."""
    for automation in infra.load_automations():
        assert automation.name and automation.actions


def test_a_broken_automation_file_names_itself(tmp_path: Path) -> None:
    """A file that is not an automation fails setup with its path."""
    (tmp_path / "bad.yaml").write_text("name: x\ntrigger: 3\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml is not a valid Prefect automation"):
        infra.load_automations(tmp_path)


def test_setup_without_a_server_says_how_to_configure_one(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`bnpl prefect setup` with no PREFECT_API_URL exits 2 and names the variable to set."""
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(SystemExit) as exit_:
        main(["prefect", "setup"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "PREFECT_API_URL is unset" in err and "prefect server start" in err


def test_setup_against_a_dead_server_says_it_does_not_answer() -> None:
    """A configured but unreachable API is a ConfigError naming its URL."""
    url = f"http://127.0.0.1:{free_port()}/api"
    with (
        temporary_settings(updates={PREFECT_API_URL: url}),
        pytest.raises(ConfigError, match="does not answer"),
    ):
        infra.setup_prefect()


def test_setup_rejects_a_key_without_a_block_name(tmp_path: Path) -> None:
    """--gcp-key-file needs --gcp-credentials-block; nothing is contacted."""
    with pytest.raises(ConfigError, match="--gcp-credentials-block"):
        infra.setup_prefect(gcp_key_file=tmp_path / "key.json")


def test_the_checkouts_prefect_yaml_is_found_and_lists_its_deployments() -> None:
    """Without --prefect-file setup uses the checkout's prefect.yaml and reads every name from it."""
    found = deploy.find_prefect_file()
    assert found == (REPO / "prefect.yaml").resolve()
    assert deploy.declared_deployments(found) == [d["name"] for d in _prefect_yaml()["deployments"]]


def test_without_a_checkout_the_wheels_prefect_yaml_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Installed from a wheel (no prefect.yaml beside bnpl_flows/), setup uses the copy the wheel
    carries in bnpl_flows/_deployments, before any prefect.yaml of the current directory."""
    site = tmp_path / "site-packages"
    bundled = site / "bnpl_flows" / "_deployments" / "prefect.yaml"
    bundled.parent.mkdir(parents=True)
    shutil.copy(REPO / "prefect.yaml", bundled)
    (tmp_path / "prefect.yaml").write_text("name: another project\n")
    monkeypatch.setattr(deploy, "CHECKOUT", site)
    monkeypatch.setattr(deploy, "bundled_prefect_file", lambda: bundled)
    assert deploy.find_prefect_file() == bundled.resolve()
    assert deploy.declared_deployments(bundled) == [
        d["name"] for d in _prefect_yaml()["deployments"]
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("deployments: [\n", r"cannot read .*prefect\.yaml: while parsing"),
        ("name: bnpl\n", "declares no deployments"),
        ("deployments:\n  - entrypoint: a.py:f\n", "deployment #1 has no name"),
        ("deployments:\n  - name: bnpl-x\n    work_pool: {name: p}\n", "bnpl-x has no entrypoint"),
        ("deployments:\n  - name: bnpl-x\n    entrypoint: a.py:f\n", "bnpl-x has no work_pool"),
    ],
)
def test_an_invalid_prefect_yaml_exits_2_before_anything_is_contacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    """`bnpl prefect setup --prefect-file BAD` exits 2 with one line naming the file and the fault,
    even with no server configured (the file is checked first)."""
    bad = tmp_path / "prefect.yaml"
    bad.write_text(text)
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(SystemExit) as exit_:
        main(["prefect", "setup", "--prefect-file", str(bad)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip()
    assert re.search(message, err), err
    assert "PREFECT_API_URL" not in err


def test_a_missing_prefect_yaml_says_how_to_name_or_skip_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A --prefect-file that does not exist exits 2, pointing at --prefect-file and
    --no-deployments."""
    with pytest.raises(SystemExit) as exit_:
        main(["prefect", "setup", "--prefect-file", str(tmp_path / "nope.yaml")])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "--no-deployments" in err, err


def test_setup_without_deployments_needs_no_prefect_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--no-deployments skips the file entirely: a missing one is not an error (the run then
    stops at the unset server)."""
    with temporary_settings(restore_defaults={PREFECT_API_URL}), pytest.raises(SystemExit) as exit_:
        main(["prefect", "setup", "--no-deployments", "--prefect-file", str(tmp_path / "x.yaml")])
    assert exit_.value.code == 2
    assert "PREFECT_API_URL is unset" in capsys.readouterr().err
