"""Model monitoring as a Prefect flow: ``bnpl-model-monitor``.

Wiring only. The flow reads the settings once and runs
:func:`bnpl.governance.monitor.monitor_warehouse` as of ``as_of`` (default: the last loaded day):
the logged scores (``bnpl_raw.scores``) against the outcomes matured by then, per model version
and ``per`` period, appended to ``bnpl_audit.model_monitor``; the table is the markdown artifact ``model-monitor``. The
deployment runs daily (a schedule in ``prefect.yaml``); no scores yet fails the run with the
one-line reason.
"""

from __future__ import annotations

from datetime import date

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from bnpl.governance.monitor import monitor_warehouse
from bnpl.governance.monitor_figures import Grain, monitor_markdown
from bnpl.settings import Settings, load_settings
from bnpl_flows._runtime import Day, forward_bnpl_logs


@task(name="monitor-model", cache_policy=NO_CACHE, persist_result=False)
def monitor_model(settings: Settings, as_of: date | None, per: Grain) -> str:
    """Compute and record the figures; returns them as Markdown."""
    result = monitor_warehouse(settings, as_of=as_of, grain=per, flow_run_id=flow_run.get_id())
    return monitor_markdown(result)


@flow(name="bnpl-model-monitor")
def bnpl_model_monitor(as_of: Day | None = None, per: Grain = "week") -> str:
    """Monitor the logged scores on matured outcomes; returns the table's title."""
    forward_bnpl_logs()
    markdown = monitor_model(load_settings(), as_of, per)
    create_markdown_artifact(
        key="model-monitor", markdown=markdown, description=f"bnpl-model-monitor per {per}"
    )
    return markdown.splitlines()[0].lstrip("# ")
