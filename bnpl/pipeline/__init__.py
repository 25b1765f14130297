"""The one composition of bnpl's stages. The CLI, every flow and a notebook call these verbs and
nothing below them::

    from bnpl import pipeline

    with pipeline.open_session(settings) as session:            # warehouse + source, once
        summary = pipeline.ingest_range(session, start, end)    # plan, skip, fetch ‖ prepare, load
        # or one day, step by step (the daily flow runs each step as a task):
        request = pipeline.plan_day(settings, day)
        fetched = pipeline.fetch_day(session, request)          # extract_daily_batch
        admitted = pipeline.prepare_day(session, request, fetched)   # validate_raw_schema
        loaded = pipeline.load_day(session, admitted)           # normalize_entities
        built = pipeline.build(session.warehouse, start=day, end=day, snapshots=False)
                                                                # run_sql_pipeline
        gate = pipeline.gate(session.warehouse, settings, built.marts, start=day, end=day,
                             logical_date=day, run_id=run_id)    # validate_business_rules
        gate = pipeline.publish(session.warehouse, gate)        # publish_quality_metrics

    pipeline.write_audit_publish(warehouse, settings, run_id=run_id)   # build, gate, publish
    with pipeline.open_session(settings) as session:             # the daily run's six steps
        result = pipeline.DailyRun(day, run_id=run_id).run(session)

Ingest: :func:`fetch_day`, :func:`prepare_day` (the day's one parse, then the quarantine
threshold, checked once), :func:`load_day`, :func:`ingest_day` (the three, and the failure log),
:func:`ingest_range`. Write-audit-publish: :func:`build`, :func:`gate`, :func:`publish`,
:func:`write_audit_publish`. A day whose rows arrived live will be sealed by a verb of its own
here (:func:`seal_day`: :func:`read_live`, :func:`prepare_seal`, :func:`load_seal`, then
write-audit-publish), reusing the batch contracts and the same atomic day replace.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# eager: write-audit-publish is what most commands run, and importing the submodule first binds
# the verb ``publish`` over the submodule of the same name
from bnpl.pipeline.publish import Published, build, gate, publish, write_audit_publish

if TYPE_CHECKING:
    from bnpl.ingest import (
        AdmittedDay,
        DayResult,
        IngestSession,
        IngestSummary,
        open_session,
        preflight,
        record_failed_day,
    )
    from bnpl.pipeline.daily import (
        DailyResult,
        DailyRun,
        DailySteps,
        StepTiming,
        previous_day,
        render_daily_summary,
    )
    from bnpl.pipeline.days import (
        fetch_day,
        ingest_day,
        ingest_range,
        load_day,
        plan_day,
        prepare_day,
    )
    from bnpl.pipeline.seal import Sealed, load_seal, prepare_seal, read_live, seal_day
    from bnpl.quality.gate import gate_error, gate_range

__all__ = [
    "AdmittedDay",
    "DailyResult",
    "DailyRun",
    "DailySteps",
    "DayResult",
    "IngestSession",
    "IngestSummary",
    "Published",
    "Sealed",
    "StepTiming",
    "build",
    "fetch_day",
    "gate",
    "gate_error",
    "gate_range",
    "ingest_day",
    "ingest_range",
    "load_day",
    "load_seal",
    "open_session",
    "plan_day",
    "preflight",
    "prepare_day",
    "prepare_seal",
    "previous_day",
    "publish",
    "read_live",
    "record_failed_day",
    "render_daily_summary",
    "seal_day",
    "write_audit_publish",
]

_HOMES = {
    **dict.fromkeys(
        (
            "AdmittedDay",
            "DayResult",
            "IngestSession",
            "IngestSummary",
            "open_session",
            "preflight",
            "record_failed_day",
        ),
        "bnpl.ingest",
    ),
    **dict.fromkeys(
        (
            "DailyResult",
            "DailyRun",
            "DailySteps",
            "StepTiming",
            "previous_day",
            "render_daily_summary",
        ),
        "bnpl.pipeline.daily",
    ),
    **dict.fromkeys(
        ("fetch_day", "ingest_day", "ingest_range", "load_day", "plan_day", "prepare_day"),
        "bnpl.pipeline.days",
    ),
    **dict.fromkeys(
        ("Sealed", "load_seal", "prepare_seal", "read_live", "seal_day"), "bnpl.pipeline.seal"
    ),
    **dict.fromkeys(("gate_error", "gate_range"), "bnpl.quality.gate"),
}
"""Where each verb outside write-audit-publish lives, imported on first use (PEP 562): ``bnpl
build`` and ``bnpl check`` load without the ingest side (pandera, DuckDB's loader, the source
client)."""


def __getattr__(name: str) -> Any:
    """A verb of :data:`__all__`, imported from its module on first use."""
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module 'bnpl.pipeline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
