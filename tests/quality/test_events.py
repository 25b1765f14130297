"""The failure event, the artifacts' content and the alert automation built from them."""

from __future__ import annotations

import json
import uuid
from datetime import date

import jinja2
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import EventTrigger
from prefect.events.schemas.events import Resource

from bnpl.quality import (
    FAILED_EVENT,
    CheckResult,
    GateResult,
    failure_event,
    results_table,
    summary_markdown,
)
from bnpl_flows.infra import AUTOMATIONS_DIR, load_automations, with_notification_block


def result(name: str, status: str, severity: str = "error", details: str = "ok") -> CheckResult:
    return CheckResult(
        name, "integrity", "bnpl_raw.transactions", severity, status, 1.0, 0.0, details
    )  # type: ignore[arg-type]


GATE = GateResult(
    run_id="run-7",
    logical_date=date(2024, 3, 2),
    start=date(2024, 3, 1),
    end=date(2024, 3, 2),
    results=(
        result(
            "transactions_key_unique", "fail", details="2 violating rows, e.g. transaction_key=abc"
        ),
        result("volume_vs_expected", "pass"),
        result("customer_attribute_changes", "warn", severity="warn", details="share 9%"),
        result("weekend_dip", "skip"),
    ),
    built=("mart_bnpl_transactions",),
)


def test_failure_event_names_the_failing_checks_in_its_payload() -> None:
    """bnpl.quality.failed carries only the blocking checks, with their details, and the run."""
    event = failure_event(GATE)
    assert event.event == FAILED_EVENT == "bnpl.quality.failed"
    assert event.resource["prefect.resource.id"] == "bnpl.quality.gate.run-7"
    assert event.payload["failed_check_names"] == ["transactions_key_unique"]
    assert event.payload["failed_checks"][0]["details"].startswith("2 violating rows")
    assert event.payload["warning_count"] == 1
    json.dumps(event.payload)  # the payload must be JSON-serialisable to be sent


def test_results_table_has_one_row_per_check() -> None:
    """The table artifact lists every result with its status."""
    table = results_table(GATE)
    assert [row["check"] for row in table] == [r.check_name for r in GATE.results]
    assert [row["status"] for row in table] == ["fail", "pass", "warn", "skip"]


def test_summary_markdown_states_the_verdict_and_the_problems() -> None:
    """The markdown summary says the gate blocked, counts statuses and lists failing and warning checks only."""
    text = summary_markdown(GATE)
    assert "**blocked**" in text
    assert "fail: 1" in text and "warn: 1" in text and "pass: 1" in text
    assert "transactions_key_unique" in text and "customer_attribute_changes" in text
    assert "volume_vs_expected" not in text


def test_alert_automation_reacts_to_the_event_and_renders_its_payload() -> None:
    """The automation file triggers on bnpl.quality.failed and its message names the failing check."""
    block = uuid.uuid4()
    (found,) = [a for a in load_automations(AUTOMATIONS_DIR) if FAILED_EVENT in a.trigger.expect]
    automation = with_notification_block(found, block)
    assert automation is not None
    assert isinstance(automation.trigger, EventTrigger)
    assert automation.trigger.expect == {FAILED_EVENT}
    assert automation.trigger.match.matches(Resource(failure_event(GATE).resource))
    assert not automation.trigger.match.matches(
        Resource({"prefect.resource.id": "prefect.flow-run.x"})
    )
    action = automation.actions[0]
    assert isinstance(action, SendNotification) and action.block_document_id == block
    context = {"event": {"payload": failure_event(GATE).payload}}
    body = jinja2.Template(action.body).render(context)
    assert "transactions_key_unique [bnpl_raw.transactions]: 2 violating rows" in body
    assert "2024-03-01..2024-03-02" in jinja2.Template(action.subject).render(context)
