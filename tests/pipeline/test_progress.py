"""The verbs report progress: ingest_range per day, write_audit_publish per model then per check;
DailyRun records every step and the publication."""

from __future__ import annotations

import dataclasses
import uuid

from fake_source import DAYS

import bnpl
from bnpl import ingest, pipeline
from bnpl.progress import ProgressEvent
from bnpl.settings import Settings


def _lenient(session: ingest.IngestSession) -> ingest.IngestSession:
    """The fake source serves a share of each seeded day: volume is reported, not blocking."""
    quality = session.settings.quality.model_copy(
        update={"severity_overrides": {"volume_vs_expected": "warn"}}
    )
    settings = session.settings.model_copy(update={"quality": quality})
    return dataclasses.replace(session, settings=settings)


def test_ingest_range_and_write_audit_publish_report_each_step(
    session: ingest.IngestSession,
) -> None:
    """Events start at 0 of the total and end at total of total, stage by stage; each item is
    a day, a model or a check in turn."""
    session = _lenient(session)
    seen: list[ProgressEvent] = []
    summary = pipeline.ingest_range(session, DAYS[0], DAYS[-1], progress=seen.append)
    assert len(summary.loaded) == 3
    assert (seen[0].stage, seen[0].done, seen[0].total) == ("ingest", 0, 3)
    assert (seen[-1].done, seen[-1].total, seen[-1].item) == (3, 3, str(DAYS[-1]))
    seen.clear()
    done = pipeline.write_audit_publish(
        session.warehouse, session.settings, run_id=uuid.uuid4().hex, progress=seen.append
    )
    stages = [e.stage for e in seen]
    assert stages == sorted(stages) and set(stages) == {"build", "check"}  # build, then check
    built = [e.item for e in seen if e.stage == "build" and e.done]
    assert built == [m.name for m in done.build.models]
    checked = [e.item for e in seen if e.stage == "check" and e.done]
    assert done.gate is not None and checked == [r.check_name for r in done.gate.results]


def test_daily_run_times_six_steps_and_records_the_publication(
    session: ingest.IngestSession, settings: Settings
) -> None:
    """A direct daily run goes through the six steps in order; its published marts are in the
    publish log under its run id; its summary names each step."""
    session = _lenient(session)
    run = pipeline.DailyRun(DAYS[0], run_id="run-1")
    result = run.run(session)
    assert [s.step for s in run.done] == [
        "extract_daily_batch",
        "validate_raw_schema",
        "normalize_entities",
        "run_sql_pipeline",
        "validate_business_rules",
        "publish_quality_metrics",
    ]
    log = bnpl.read_table("bnpl_audit.publish_log", settings=settings)
    assert set(log["run_id"]) == {"run-1"} and log.height == result.models_published > 0
    assert pipeline.DailyResult.from_dict(result.as_dict()) == result
    assert "| normalize_entities |" in run.summary(outcome="completed")
