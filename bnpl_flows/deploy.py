"""The deployments of ``prefect.yaml``, registered by ``bnpl prefect setup``.

``prefect.yaml`` is the one list of deployments (name, entrypoint, work pool, parameters,
schedules, concurrency limit, triggers, pull steps). :func:`register_deployments` hands it to
Prefect's own deploy machinery, ``prefect --no-prompt deploy --all --prefect-file FILE`` run from
the file's directory (entrypoints and the ``code-dir`` build step resolve against it), so what
setup registers is exactly what ``prefect deploy`` would, and nothing here repeats the list.

Outcomes are read back from the server: a deployment whose settings and triggers are the same after
the deploy as before is ``unchanged``. Prefect's deploy replaces a deployment's trigger automations
on every run (deleted and created again, with the same content): their ids change, nothing else.

The file comes from ``--prefect-file``, else the source checkout bnpl runs from (``pip install
-e``, or an image with the code), else the copy a wheel carries
(``bnpl_flows/_deployments/prefect.yaml``, read through :mod:`importlib.resources`), else the
current directory. Prefect's deploy runs from the directory that holds ``bnpl_flows/``, so the
entrypoints (``bnpl_flows/daily.py:...``) resolve in a checkout and in ``site-packages`` alike.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml  # type: ignore[import-untyped]  # pyyaml comes with prefect; no stubs installed
from prefect.client.orchestration import SyncPrefectClient
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
from prefect.settings import PREFECT_API_KEY, PREFECT_HOME

import bnpl_flows
from bnpl.bundle import bundled_dir
from bnpl.errors import ConfigError
from bnpl_flows.infra import Outcome, SetupStep, api_url, server

logger = logging.getLogger(__name__)

PREFECT_FILE = "prefect.yaml"
CHECKOUT = Path(bnpl_flows.__file__).resolve().parents[1]
"""The directory holding ``bnpl_flows/``: the repository root in a source checkout."""
DEPLOY_TIMEOUT_S = 600.0
"""Upper bound of one ``prefect deploy --all`` (it imports every entrypoint's module)."""

_SETTINGS = (
    "parameters",
    "schedules",
    "concurrency_options",
    "work_pool_name",
    "work_queue_name",
    "entrypoint",
    "path",
    "pull_steps",
    "job_variables",
    "tags",
    "description",
    "paused",
    "enforce_parameter_schema",
)
"""The fields of a deployment that a deploy sets and setup compares."""
_VOLATILE = {"id", "created", "updated", "deployment_id", "owner_resource"}


def bundled_prefect_file() -> Path:
    """Where an installed wheel carries ``prefect.yaml`` (an editable install has none there)."""
    return bundled_dir("bnpl_flows._deployments") / PREFECT_FILE


def find_prefect_file(path: Path | None = None) -> Path:
    """``path``, else the checkout's ``prefect.yaml``, else the wheel's, else the current
    directory's.

    Raises:
        ConfigError: no such file.
    """
    candidates = (
        [path]
        if path is not None
        else [CHECKOUT / PREFECT_FILE, bundled_prefect_file(), Path(PREFECT_FILE)]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    raise ConfigError(
        f"no {PREFECT_FILE} at {', '.join(str(c) for c in candidates)}: the deployments are "
        "declared in the repository's prefect.yaml; run from a checkout of bnpl, pass "
        "--prefect-file PATH, or skip them with --no-deployments"
    )


def declared_deployments(prefect_file: Path) -> list[str]:
    """The deployment names ``prefect_file`` declares, after checking its shape.

    Raises:
        ConfigError: the file is unreadable, not YAML, or a deployment lacks a name, an
            entrypoint (``path.py:flow``) or a work pool name.
    """
    try:
        config: Any = yaml.safe_load(prefect_file.read_text())
    except (OSError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"cannot read {prefect_file}: {reason}") from None
    entries = config.get("deployments") if isinstance(config, dict) else None
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{prefect_file} declares no deployments (a `deployments:` list)")
    names: list[str] = []
    for i, entry in enumerate(entries):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{prefect_file}: deployment #{i + 1} has no name")
        entrypoint = entry.get("entrypoint")
        if not isinstance(entrypoint, str) or ":" not in entrypoint:
            raise ConfigError(f"{prefect_file}: {name} has no entrypoint `path.py:flow_function`")
        pool = entry.get("work_pool")
        if not isinstance(pool, dict) or not pool.get("name"):
            raise ConfigError(f"{prefect_file}: {name} has no work_pool name")
        if name in names:
            raise ConfigError(f"{prefect_file}: deployment {name} is declared twice")
        names.append(name)
    return names


def _scrub(value: Any) -> Any:
    """``value`` without ids and timestamps, which change whenever Prefect rewrites an object."""
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def _snapshot(client: SyncPrefectClient, names: list[str]) -> dict[str, str]:
    """``flow/deployment`` -> its settings and triggers as canonical JSON, for ``names``."""
    found = client.read_deployments(
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=names))
    )
    flows = {flow.id: flow.name for flow in client.read_flows()} if found else {}
    state: dict[str, str] = {}
    for deployment in found:
        settings = deployment.model_dump(mode="json", include=set(_SETTINGS))
        limit = deployment.global_concurrency_limit  # the deployment's limit lives here in 3.x
        settings["limit"] = None if limit is None else [limit.limit, limit.active]
        triggers = client.read_resource_related_automations(f"prefect.deployment.{deployment.id}")
        settings["triggers"] = sorted(
            json.dumps(_scrub(a.model_dump(mode="json")), sort_keys=True) for a in triggers
        )
        key = f"{flows.get(deployment.flow_id, deployment.flow_id)}/{deployment.name}"
        state[key] = json.dumps(_scrub(settings), sort_keys=True)
    return state


def _deploy_env() -> dict[str, str]:
    """This process's environment with the Prefect server and home it uses."""
    env = dict(os.environ)
    env.update(PREFECT_API_URL=api_url(), PREFECT_HOME=str(PREFECT_HOME.value()))
    key = PREFECT_API_KEY.value()  # Prefect Cloud: the key of this process's profile, if any
    if key:
        env["PREFECT_API_KEY"] = str(key)
    env.update(NO_COLOR="1", COLUMNS="500")  # one unwrapped line per message
    return env


def _deploy(prefect_file: Path) -> None:
    args = [sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--all"]
    args += ["--prefect-file", str(prefect_file)]
    bundled = prefect_file == bundled_prefect_file().resolve()
    try:
        done = subprocess.run(
            args,
            cwd=CHECKOUT if bundled else prefect_file.parent,  # where bnpl_flows/ is
            env=_deploy_env(),
            capture_output=True,
            text=True,
            timeout=DEPLOY_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"`prefect deploy --all` of {prefect_file} took over {DEPLOY_TIMEOUT_S:.0f} s; "
            "check that the Prefect API answers"
        ) from None
    logger.debug("prefect deploy output:\n%s%s", done.stdout, done.stderr)
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        reason = lines[-1] if lines else f"exit code {done.returncode}"
        raise ConfigError(f"`prefect deploy --all` of {prefect_file} failed: {reason}")


def register_deployments(prefect_file: Path) -> list[SetupStep]:
    """Create or update every deployment of ``prefect_file`` on the configured server.

    Returns one step per deployment: ``created``, ``updated`` (settings or triggers differed) or
    ``unchanged``.

    Raises:
        ConfigError: no server, an invalid file, or Prefect's deploy failing (its last line).
    """
    names = declared_deployments(prefect_file)
    with server() as client:
        before = _snapshot(client, names)
        _deploy(prefect_file)
        after = _snapshot(client, names)
    steps: list[SetupStep] = []
    for key in sorted(after):
        outcome: Outcome = (
            "created"
            if key not in before
            else "unchanged"
            if before[key] == after[key]
            else "updated"
        )
        steps.append(SetupStep("deployment", key, outcome))
    for step in steps:
        logger.info("%s %s: %s", step.kind, step.name, step.outcome)
    return steps
