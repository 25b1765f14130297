"""The Prefect objects bnpl's deployments rely on, and the checks that they exist.

:func:`setup_prefect` (``bnpl prefect setup``) creates or updates, idempotently:

* the work pool, from ``deployments/<type>-pool.json`` (process locally; Cloud Run or Kubernetes);
* the global concurrency limit ``simtom-api``, which caps source requests across every process;
* the prefect-gcp ``GcpCredentials`` block when a key file is given (also how credentials rotate);
* the automations under ``deployments/automations/`` (matched by name: created or updated), their
  placeholder notification block (the all-zero id) replaced by the block given with ``notify``,
  else by ``do-nothing`` (the firings then show in the event feed only).

The deployments of ``prefect.yaml`` come next, from ``bnpl_flows/deploy.py`` (the command runs
both).

The ``require_*`` functions are the pre-flight checks flows run before they start work, so a
missing pool, limit, deployment or block fails the run at once with the command that fixes it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import yaml  # type: ignore[import-untyped]  # pyyaml comes with prefect; no stubs installed
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
    WorkPoolCreate,
    WorkPoolUpdate,
)
from prefect.client.schemas.objects import WorkPool, WorkPoolStatus
from prefect.events.actions import DoNothing
from prefect.events.schemas.automations import AutomationCore
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from pydantic import ValidationError

from bnpl.bundle import bundled_dir
from bnpl.errors import ConfigError

logger = logging.getLogger(__name__)

DEPLOYMENTS_DIR = bundled_dir("bnpl_flows._deployments")
"""Work-pool templates and automations: the repository's ``deployments/``, shipped in the wheel."""
AUTOMATIONS_DIR = DEPLOYMENTS_DIR / "automations"

POOL_TEMPLATES: dict[str, str] = {
    "process": "process-pool.json",
    "cloud-run-v2": "cloud-run-pool.json",
    "kubernetes": "kubernetes-pool.json",
}
"""Work-pool type -> base job template file under ``deployments/``."""

DEFAULT_POOL = "bnpl-process"
"""The local process pool ``prefect.yaml`` deploys to."""

API_LIMIT = "simtom-api"
"""Global concurrency limit on requests to the source, shared by every flow run."""

SETUP_HINT = "run `bnpl prefect setup`"

Outcome = Literal["created", "updated", "unchanged", "found"]

PLACEHOLDER_BLOCK = UUID(int=0)
"""The block id automation files carry until a real notification block is filled in."""


@dataclass(frozen=True, slots=True)
class SetupStep:
    """One object :func:`setup_prefect` looked after.

    Attributes:
        kind: ``work pool``, ``concurrency limit``, ``block type``, ``block`` or ``automation``.
        name: the object's name in Prefect.
        outcome: ``created``, ``updated``, ``unchanged`` or ``found`` (checked, not managed).
        note: a remark (an automation without a notification block).
    """

    kind: str
    name: str
    outcome: Outcome
    note: str = ""


# --- the server ------------------------------------------------------------------------------


def api_url() -> str:
    """The configured Prefect API URL.

    Raises:
        ConfigError: when no server is configured (Prefect would start a temporary one that dies
            with the process, which cannot hold pools, deployments or workers).
    """
    url = PREFECT_API_URL.value()
    if not url:
        raise ConfigError(
            "no Prefect server is configured (PREFECT_API_URL is unset); start one with "
            "`prefect server start` and `prefect config set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api`, or log in to Prefect Cloud with "
            "`prefect cloud login`"
        )
    return str(url)


@contextmanager
def server() -> Iterator[SyncPrefectClient]:
    """A client of the configured server, after checking that it answers."""
    url = api_url()
    with get_client(sync_client=True) as client:
        failure = client.api_healthcheck()
        if failure is not None:
            raise ConfigError(
                f"the Prefect API at {url} does not answer ({failure}); start the server with "
                "`prefect server start` or fix PREFECT_API_URL"
            )
        yield client


# --- setup -----------------------------------------------------------------------------------


def load_pool_template(pool_type: str) -> dict[str, Any]:
    """The base job template for ``pool_type`` from ``deployments/``."""
    if pool_type not in POOL_TEMPLATES:
        raise ConfigError(
            f"work pool type {pool_type!r} is not one of {', '.join(sorted(POOL_TEMPLATES))}"
        )
    path = DEPLOYMENTS_DIR / POOL_TEMPLATES[pool_type]
    try:
        template: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the work-pool template {path}: {exc}") from None
    return template


def load_automations(directory: Path = AUTOMATIONS_DIR) -> list[AutomationCore]:
    """Every automation defined in ``*.yaml``, ``*.yml`` or ``*.json`` under ``directory``.

    A file holds one automation, a list, or ``{"automations": [...]}`` (the format of
    ``prefect automation create --from-file``). A missing directory gives an empty list.
    """
    if not directory.is_dir():
        return []
    found: list[AutomationCore] = []
    for path in sorted(directory.iterdir()):
        if path.suffix.lower() not in (".yaml", ".yml", ".json"):
            continue
        try:
            data: Any = yaml.safe_load(path.read_text())  # YAML is a superset of JSON
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read automation file {path}: {exc}") from None
        if isinstance(data, dict) and "automations" in data:
            data = data["automations"]
        for item in data if isinstance(data, list) else [data]:
            try:
                found.append(AutomationCore.model_validate(item))
            except ValidationError as exc:
                raise ConfigError(f"{path} is not a valid Prefect automation: {exc}") from None
    return found


def _ensure_pool(
    client: SyncPrefectClient, name: str, pool_type: str, template: dict[str, Any]
) -> SetupStep:
    try:
        existing = client.read_work_pool(name)
    except ObjectNotFound:
        client.create_work_pool(
            WorkPoolCreate(name=name, type=pool_type, base_job_template=template)
        )
        return SetupStep("work pool", name, "created")
    if existing.type != pool_type:
        raise ConfigError(
            f"work pool {name!r} already exists with type {existing.type!r}, not {pool_type!r}; "
            f"choose another name with --pool or delete it with `prefect work-pool delete {name}`"
        )
    if existing.base_job_template == template:
        return SetupStep("work pool", name, "unchanged")
    client.update_work_pool(name, WorkPoolUpdate(base_job_template=template))
    return SetupStep("work pool", name, "updated")


def _ensure_limit(client: SyncPrefectClient, limit: int) -> SetupStep:
    try:
        existing = client.read_global_concurrency_limit_by_name(API_LIMIT)
    except ObjectNotFound:
        client.create_global_concurrency_limit(
            GlobalConcurrencyLimitCreate(name=API_LIMIT, limit=limit, active=True)
        )
        return SetupStep("concurrency limit", API_LIMIT, "created")
    if existing.limit == limit and existing.active:
        return SetupStep("concurrency limit", API_LIMIT, "unchanged")
    client.update_global_concurrency_limit(
        API_LIMIT, GlobalConcurrencyLimitUpdate(limit=limit, active=True)
    )
    return SetupStep("concurrency limit", API_LIMIT, "updated")


def _ensure_gcp_block(
    name: str, key_file: Path | None, template: dict[str, Any], pool_type: str
) -> list[SetupStep]:
    from prefect_gcp import GcpCredentials

    steps: list[SetupStep] = []
    GcpCredentials.register_type_and_schema()
    steps.append(SetupStep("block type", "gcp-credentials", "found"))
    if key_file is not None:
        try:
            info = json.loads(key_file.read_text())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the service-account key {key_file}: {exc}") from None
        existed = _block_exists(GcpCredentials, name)
        block_id = GcpCredentials(service_account_info=info).save(name, overwrite=True)
        steps.append(
            SetupStep("block", f"gcp-credentials/{name}", "updated" if existed else "created")
        )
    else:
        block = _load_block(GcpCredentials, name)
        block_id = block._block_document_id
        steps.append(SetupStep("block", f"gcp-credentials/{name}", "found"))
    if pool_type == "cloud-run-v2" and block_id is not None:
        # The Cloud Run worker authenticates with this block unless a deployment overrides it.
        credentials = template["variables"]["properties"]["credentials"]
        credentials["default"] = {"$ref": {"block_document_id": str(block_id)}}
    return steps


def _block_exists(block_cls: Any, name: str) -> bool:
    try:
        block_cls.load(name)
    except ValueError:
        return False
    return True


def _load_block(block_cls: Any, name: str) -> Any:
    try:
        return block_cls.load(name)
    except ValueError:
        raise ConfigError(
            f"the {block_cls.get_block_type_slug()} block {name!r} does not exist on "
            f"{api_url()}; create it with `bnpl prefect setup --gcp-credentials-block {name} "
            "--gcp-key-file KEY.json` (or in the UI), or unset "
            "BNPL_WAREHOUSE__CREDENTIALS_BLOCK to use application-default credentials"
        ) from None


def _is_placeholder(action: Any) -> bool:
    return getattr(action, "block_document_id", None) == PLACEHOLDER_BLOCK


def with_notification_block(automation: AutomationCore, block_id: UUID | None) -> AutomationCore:
    """The automation with placeholder block ids replaced by ``block_id``, else by do-nothing."""
    actions: list[Any] = [
        (DoNothing() if block_id is None else a.model_copy(update={"block_document_id": block_id}))
        if _is_placeholder(a)
        else a
        for a in automation.actions
    ]
    return automation.model_copy(update={"actions": actions})


def _notification_block_id(block: str) -> UUID:
    from prefect.blocks.core import Block

    try:
        loaded: Any = Block.load(block)
    except (ValueError, KeyError) as exc:
        raise ConfigError(
            f"notification block {block!r} not found ({exc}); create it first, e.g. "
            "`prefect block create slack-webhook`, and pass it as <block-type-slug>/<name>"
        ) from None
    block_id: UUID | None = loaded._block_document_id
    if block_id is None:  # pragma: no cover - a loaded block has its document id
        raise ConfigError(f"notification block {block!r} has no document id")
    return block_id


def _ensure_automation(client: SyncPrefectClient, automation: AutomationCore) -> SetupStep:
    existing = client.read_automations_by_name(automation.name)
    if not existing:
        client.create_automation(automation)
        return SetupStep("automation", automation.name, "created")
    current = AutomationCore.model_validate(existing[0].model_dump(exclude={"id"}))
    if current == automation:
        return SetupStep("automation", automation.name, "unchanged")
    client.update_automation(existing[0].id, automation)
    return SetupStep("automation", automation.name, "updated")


def setup_prefect(
    *,
    pool: str = DEFAULT_POOL,
    pool_type: str = "process",
    api_limit: int = 4,
    gcp_credentials_block: str | None = None,
    gcp_key_file: Path | None = None,
    notify: str | None = None,
    automations_dir: Path = AUTOMATIONS_DIR,
) -> list[SetupStep]:
    """Create or update everything bnpl's deployments need on the configured Prefect server.

    Idempotent: a second call reports ``unchanged`` for everything it created. ``api_limit`` is
    the number of source requests in flight across all runs (``simtom-api`` slots).
    ``gcp_credentials_block`` names the prefect-gcp block for BigQuery and Cloud Run; with
    ``gcp_key_file`` the block is created or overwritten from that service-account key (how
    credentials rotate), without it the block must already exist. ``notify`` names the
    notification block (``slack-webhook/bnpl-alerts``) the automations send through; without it
    they fire into the event feed only (a ``do-nothing`` action).

    Raises:
        ConfigError: no server configured or reachable, a bad template or automation file, a
            pool of another type under the same name, a missing block.
    """
    if api_limit < 1:
        raise ConfigError(f"the {API_LIMIT} limit must be at least 1, got {api_limit}")
    if gcp_key_file is not None and gcp_credentials_block is None:
        raise ConfigError("--gcp-key-file needs --gcp-credentials-block NAME to store it under")
    template = load_pool_template(pool_type)
    automations = load_automations(automations_dir)
    with server() as client:
        steps: list[SetupStep] = []
        if gcp_credentials_block is not None:
            steps += _ensure_gcp_block(gcp_credentials_block, gcp_key_file, template, pool_type)
        steps.append(_ensure_pool(client, pool, pool_type, template))
        steps.append(_ensure_limit(client, api_limit))
        block_id = _notification_block_id(notify) if notify is not None else None
        for automation in automations:
            step = _ensure_automation(client, with_notification_block(automation, block_id))
            if block_id is None and any(map(_is_placeholder, automation.actions)):
                step = replace(step, note="no notification block: event feed only; pass --notify")
            steps.append(step)
    for step in steps:
        logger.info("%s %s: %s %s", step.kind, step.name, step.outcome, step.note)
    return steps


# --- pre-flight checks for flows ---------------------------------------------------------------


def require_deployment_target(deployment: str) -> WorkPool:
    """Check that ``deployment`` (``flow/deployment``) exists and its pool can run it.

    Returns the deployment's work pool.

    Raises:
        ConfigError: the deployment, its pool or the ``simtom-api`` limit is missing, or no
            worker polls the pool (its runs would wait forever).
    """
    with server() as client:
        try:
            target = client.read_deployment_by_name(deployment)
        except ObjectNotFound:
            raise ConfigError(
                f"deployment {deployment!r} does not exist; {SETUP_HINT} (it registers the "
                "deployments of prefect.yaml)"
            ) from None
        if not target.work_pool_name:
            raise ConfigError(f"deployment {deployment!r} has no work pool; redeploy it")
        try:
            pool = client.read_work_pool(target.work_pool_name)
        except ObjectNotFound:
            raise ConfigError(
                f"work pool {target.work_pool_name!r} of deployment {deployment!r} does not "
                f"exist; {SETUP_HINT} (or `bnpl prefect setup --pool {target.work_pool_name}`)"
            ) from None
        try:
            client.read_global_concurrency_limit_by_name(API_LIMIT)
        except ObjectNotFound:
            raise ConfigError(
                f"the global concurrency limit {API_LIMIT!r} does not exist; {SETUP_HINT}"
            ) from None
    if pool.is_paused:
        raise ConfigError(
            f"work pool {pool.name!r} is paused; resume it with `prefect work-pool resume {pool.name}`"
        )
    push = pool.type.endswith(":push")
    if not push and pool.status == WorkPoolStatus.NOT_READY:
        raise ConfigError(
            f"no worker is polling work pool {pool.name!r}; start one with "
            f"`prefect worker start --pool {pool.name}`"
        )
    return pool


def require_gcp_block(name: str) -> None:
    """Check that the prefect-gcp ``GcpCredentials`` block ``name`` exists.

    Raises:
        ConfigError: naming the command that creates it.
    """
    from prefect_gcp import GcpCredentials

    _load_block(GcpCredentials, name)
