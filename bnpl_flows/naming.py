"""One naming scheme for bnpl's Prefect objects, checked by ``tests/flows/test_naming.py``.

* **Flows**: ``bnpl-<what>`` in kebab-case (``bnpl-daily``, ``bnpl-ingest-day``, ``bnpl-features``).
* **Deployments**: named after their flow, so a deployment is addressed as ``<flow>/<flow>``
  (``prefect deployment run bnpl-daily/bnpl-daily``); :func:`deployment_of` builds it.
* **Tasks**: kebab-case verbs (``fetch-and-prepare``, ``run-quality-gate``), except the daily DAG's
  six seed tasks, whose snake_case names are part of the DAG's published shape.
* **Automations**: ``<flow>-<condition>`` (``bnpl-daily-failed``, ``bnpl-quality-gate-failed``).

A new flow (say ``bnpl_flows/train.py``'s ``bnpl-train``) follows the scheme by taking a
``bnpl-`` name, and gets its deployment with one entry under ``deployments:`` in ``prefect.yaml``
named like the flow.
"""

from __future__ import annotations

import re
from typing import Any

from prefect import Flow

SEED_TASKS = (
    "extract_daily_batch",
    "validate_raw_schema",
    "normalize_entities",
    "run_sql_pipeline",
    "validate_business_rules",
    "publish_quality_metrics",
)
"""The daily DAG's task names, in order; kept as they are (snake_case) on purpose."""

FLOW_NAME = re.compile(r"bnpl(-[a-z0-9]+)+")
"""Flow and deployment names."""
TASK_NAME = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
"""Task names other than :data:`SEED_TASKS`."""
AUTOMATION_NAME = FLOW_NAME
"""Automation names: the flow they watch, then the condition."""


def deployment_of(flow: Flow[..., Any]) -> str:
    """``flow/deployment`` of the deployment named after ``flow`` (``bnpl-daily/bnpl-daily``)."""
    return f"{flow.name}/{flow.name}"
