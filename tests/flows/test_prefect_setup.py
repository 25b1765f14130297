"""``bnpl prefect setup`` against a real Prefect server (the session's ``prefect_api``, shared with
the other flow tests): what it registers, read back through Prefect's client, and that a second
run changes nothing while a run after drift puts things back.

The objects setup manages have fixed names (the ``simtom-api`` limit, the automations), so each test
starts and ends with them removed from the shared server; the pools and blocks are the tests' own.
The GCP block holds a key generated here: google-auth parses it locally, nothing calls Google.
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitUpdate, WorkPoolUpdate
from prefect.events.actions import DoNothing, SendNotification
from prefect.events.schemas.automations import EventTrigger
from prefect.exceptions import ObjectNotFound
from prefect.states import Late, Scheduled

from bnpl.cli import main
from bnpl_flows.daily import daily_bnpl_processing

pytestmark = [pytest.mark.prefect_server, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
POOL = "bnpl-setup-test"
LIMIT = "simtom-api"
AUTOMATION = "bnpl-quality-gate-failed"
AUTOMATIONS = ("bnpl-daily-failed", "bnpl-daily-unfinished", AUTOMATION)
NOTIFY = "custom-webhook/bnpl-setup-test"
GCP_BLOCK = "bnpl-setup-test"


def _clear(client: SyncPrefectClient) -> None:
    """Remove what setup creates under fixed names, and this module's pools."""
    for name in AUTOMATIONS:
        for automation in client.read_automations_by_name(name):
            client.delete_automation(automation.id)
    for name in (POOL, f"{POOL}-cloud-run"):
        with contextlib.suppress(ObjectNotFound):
            client.delete_work_pool(name)
    with contextlib.suppress(ObjectNotFound):
        client.delete_global_concurrency_limit_by_name(LIMIT)
    with contextlib.suppress(ObjectNotFound):
        gcp = client.read_block_document_by_name(GCP_BLOCK, block_type_slug="gcp-credentials")
        client.delete_block_document(gcp.id)


@pytest.fixture
def prefect() -> Iterator[SyncPrefectClient]:
    """A client of the session's Prefect server, without this module's objects before and after."""
    with get_client(sync_client=True) as client:
        _clear(client)
        try:
            yield client
        finally:
            _clear(client)


@pytest.fixture
def alerts_block(prefect: SyncPrefectClient) -> UUID:
    """A webhook block on the server for the automation to send through (to a closed loopback
    port: nothing triggers it here)."""
    webhook = CustomWebhookNotificationBlock(name="bnpl alerts", url="http://127.0.0.1:9/hook")
    block_id = webhook.save(NOTIFY.split("/")[1], overwrite=True)
    assert block_id is not None
    return block_id


def setup(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, str]:
    """Run ``bnpl prefect setup`` in this process; the outcome of each line it printed, by object."""
    main(["prefect", "setup", "--no-deployments", "--pool", POOL, *args])
    out = capsys.readouterr().out
    lines = [re.fullmatch(r"(.+?)\s{2,}(\S+)(?: \((.*)\))?", line) for line in out.splitlines()]
    assert all(lines), out
    return {m.group(1): m.group(2) for m in lines if m}


def template(name: str) -> dict[str, Any]:
    """A work-pool base job template as committed under deployments/."""
    loaded: dict[str, Any] = json.loads((REPO / "deployments" / name).read_text())
    return loaded


def test_setup_registers_pool_limit_and_automation_and_a_second_run_changes_nothing(
    prefect: SyncPrefectClient, alerts_block: UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    """On an empty server setup creates the process pool with the committed template, the
    simtom-api limit with the given slots, and the alert automation sending through the named
    block; run again, it reports everything unchanged and creates no second object."""
    first = setup(capsys, "--api-limit", "3", "--notify", NOTIFY)
    assert first == {
        f"work pool {POOL}": "created",
        f"concurrency limit {LIMIT}": "created",
        **{f"automation {name}": "created" for name in AUTOMATIONS},
    }

    pool = prefect.read_work_pool(POOL)
    assert pool.type == "process"
    assert pool.base_job_template == template("process-pool.json")
    assert not pool.is_paused
    limit = prefect.read_global_concurrency_limit_by_name(LIMIT)
    assert (limit.limit, limit.active) == (3, True)
    (automation,) = prefect.read_automations_by_name(AUTOMATION)
    assert automation.enabled
    assert isinstance(automation.trigger, EventTrigger)
    assert automation.trigger.expect == {"bnpl.quality.failed"}
    (action,) = automation.actions
    assert isinstance(action, SendNotification)
    assert action.block_document_id == alerts_block

    again = setup(capsys, "--api-limit", "3", "--notify", NOTIFY)
    assert set(again.values()) == {"unchanged"} and again.keys() == first.keys()
    assert prefect.read_work_pool(POOL).id == pool.id
    assert prefect.read_global_concurrency_limit_by_name(LIMIT).id == limit.id
    assert [a.id for a in prefect.read_automations_by_name(AUTOMATION)] == [automation.id]


def test_setup_puts_back_what_drifted_on_the_server(
    prefect: SyncPrefectClient, alerts_block: UUID, capsys: pytest.CaptureFixture[str]
) -> None:
    """A pool template edited on the server, a deactivated limit and a disabled automation are
    updated back to the declared settings; a new --api-limit then resizes the limit alone."""
    setup(capsys, "--api-limit", "3", "--notify", NOTIFY)
    edited = template("process-pool.json")
    edited["variables"]["properties"]["command"] = {"type": "string", "default": "edited"}
    prefect.update_work_pool(POOL, WorkPoolUpdate(base_job_template=edited))
    prefect.update_global_concurrency_limit(LIMIT, GlobalConcurrencyLimitUpdate(active=False))
    (automation,) = prefect.read_automations_by_name(AUTOMATION)
    prefect.pause_automation(automation.id)
    assert not prefect.read_automation(automation.id).enabled

    steps = setup(capsys, "--api-limit", "3", "--notify", NOTIFY)
    drifted = {f"work pool {POOL}", f"concurrency limit {LIMIT}", f"automation {AUTOMATION}"}
    assert {k for k, v in steps.items() if v == "updated"} == drifted, steps
    assert {v for k, v in steps.items() if k not in drifted} == {"unchanged"}, steps
    assert prefect.read_work_pool(POOL).base_job_template == template("process-pool.json")
    limit = prefect.read_global_concurrency_limit_by_name(LIMIT)
    assert (limit.limit, limit.active) == (3, True)
    (automation,) = prefect.read_automations_by_name(AUTOMATION)
    assert automation.enabled

    resized = setup(capsys, "--api-limit", "5", "--notify", NOTIFY)
    assert resized[f"concurrency limit {LIMIT}"] == "updated"
    assert {v for k, v in resized.items() if LIMIT not in k} == {"unchanged"}
    assert prefect.read_global_concurrency_limit_by_name(LIMIT).limit == 5


def test_setup_without_a_notification_block_creates_automations_that_do_nothing(
    prefect: SyncPrefectClient,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without --notify each automation is created with a do-nothing action in place of its
    notification, and the line says to pass --notify; the pool and the limit
    (BNPL_INGEST__CONCURRENCY slots, here 2) are created too."""
    monkeypatch.setenv("BNPL_INGEST__CONCURRENCY", "2")
    main(["prefect", "setup", "--no-deployments", "--pool", POOL])
    out = capsys.readouterr().out
    for name in AUTOMATIONS:
        assert re.search(rf"automation {name}\s+created \(.*--notify", out), out
        (automation,) = prefect.read_automations_by_name(name)
        assert [type(a) for a in automation.actions] == [DoNothing]
    assert prefect.read_work_pool(POOL).type == "process"
    assert prefect.read_global_concurrency_limit_by_name(LIMIT).limit == 2


class Inbox:
    """An HTTP server on 127.0.0.1 that keeps the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        received: list[dict[str, Any]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                received.append(json.loads(self.rfile.read(length) or b"{}"))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.received = received
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, text: str, timeout_s: float = 60.0) -> dict[str, Any]:
        """The first message whose subject or body contains ``text``, polling until timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for message in list(self.received):
                if text in json.dumps(message):
                    return message
            time.sleep(0.5)
        pytest.fail(f"no notification mentioning {text!r} in {timeout_s} s: {self.received}")


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    """A webhook receiver for the automations' notifications, stopped after the test."""
    receiver = Inbox()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
        thread.join(timeout=5)


def test_a_failed_and_a_late_daily_run_notify_through_the_block(
    prefect: SyncPrefectClient, inbox: Inbox, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the automations set up to notify through a webhook block, a real bnpl-daily run
    that fails (a day that has not ended) and a run the server marks Late each reach the
    webhook, from the server's own state-change events, naming the run and its state."""
    webhook = CustomWebhookNotificationBlock(
        name="bnpl alerts",
        url=inbox.url,
        json_data={"subject": "{{subject}}", "body": "{{body}}"},
        allow_private_urls=True,
    )
    webhook.save(NOTIFY.split("/")[1], overwrite=True)
    setup(capsys, "--notify", NOTIFY)

    failed = daily_bnpl_processing(logical_date=date(2999, 1, 1), return_state=True)
    assert failed.is_failed()
    run = prefect.read_flow_run(failed.state_details.flow_run_id)
    message = inbox.wait_for(run.name)
    assert message["subject"] == f"bnpl-daily run {run.name} is Failed", message
    assert "has not ended yet" in message["body"], message

    late = prefect.create_flow_run(
        daily_bnpl_processing, state=Scheduled(scheduled_time=datetime.now(UTC) + timedelta(days=1))
    )
    try:
        prefect.set_flow_run_state(
            late.id, Late(), force=True
        )  # what Prefect's late-runs service does
        message = inbox.wait_for(late.name)
        assert message["subject"] == f"bnpl-daily run {late.name} is Late", message
    finally:
        prefect.delete_flow_run(late.id)


def service_account_key(path: Path) -> dict[str, str]:
    """Write a service-account key file with a freshly generated RSA key (parsed locally by
    google-auth, never used to call Google); returns its content."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    info = {
        "type": "service_account",
        "project_id": "bnpl-setup-test",
        "private_key_id": "0" * 40,
        "private_key": pem.decode(),
        "client_email": "bnpl@bnpl-setup-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return info


def test_setup_stores_the_gcp_key_and_points_a_cloud_run_pool_at_it(
    prefect: SyncPrefectClient, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """With a key file, setup saves the GcpCredentials block (created, then updated when the key
    rotates) and the Cloud Run pool's template defaults its credentials to that block."""
    from prefect_gcp import GcpCredentials

    block = GCP_BLOCK
    pool = f"{POOL}-cloud-run"
    key = service_account_key(tmp_path / "key.json")
    args = ["--no-deployments", "--pool", pool, "--pool-type", "cloud-run-v2"]
    args += ["--gcp-credentials-block", block]
    main(["prefect", "setup", *args, "--gcp-key-file", str(tmp_path / "key.json")])
    out = capsys.readouterr().out
    assert re.search(rf"block gcp-credentials/{block}\s+created", out), out
    assert re.search(rf"work pool {pool}\s+created", out), out

    stored = GcpCredentials.load(block)
    assert stored.service_account_info is not None
    assert stored.service_account_info.get_secret_value()["client_email"] == key["client_email"]
    credentials = prefect.read_work_pool(pool).base_job_template["variables"]["properties"][
        "credentials"
    ]
    assert credentials["default"] == {"$ref": {"block_document_id": str(stored._block_document_id)}}

    rotated = service_account_key(tmp_path / "key.json")
    main(["prefect", "setup", *args, "--gcp-key-file", str(tmp_path / "key.json")])
    out = capsys.readouterr().out
    assert re.search(rf"block gcp-credentials/{block}\s+updated", out), out
    assert re.search(rf"work pool {pool}\s+unchanged", out), out
    secret = GcpCredentials.load(block).service_account_info
    assert secret is not None
    assert secret.get_secret_value()["private_key"] == rotated["private_key"]
