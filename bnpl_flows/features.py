"""The training-set export as a Prefect flow: ``bnpl-features``.

Wiring only. The flow reads the settings once, (re)builds the as-of snapshot marts
(``mart_bnpl_ml_training_set``, ``mart_bnpl_risk_features``: tables whose every row depends on the
as-of date) from the published upstream marts, exports the training set as of ``as_of`` (default:
the last loaded day) with :func:`bnpl.features.export`, and attaches the data card as the markdown
artifact ``training-set-card``. The upstream marts are built by the daily flow or ``bnpl build``;
when they stop before the as-of date the export fails with :class:`bnpl.errors.ModelError`.
"""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from bnpl import features, pipeline
from bnpl.settings import Settings, load_settings
from bnpl.warehouse import open_warehouse
from bnpl.warehouse.labels import job_labels
from bnpl_flows._runtime import Day, forward_bnpl_logs
from bnpl_flows.quality import publish_gate_outcome

SNAPSHOT_MARTS = ["mart_bnpl_ml_training_set", "mart_bnpl_risk_features"]
"""The marts rebuilt whole as of the last loaded day before an export."""
DEFAULT_OUT = Path(".bnpl/features")
"""Exports go to ``<out>/as-of-YYYY-MM-DD`` unless ``out`` is given."""


@task(name="build-snapshot-marts", cache_policy=NO_CACHE, persist_result=False)
def build_snapshot_marts(settings: Settings) -> list[str]:
    """Rebuild the as-of snapshot marts as of the last loaded day, check them (the quality gate:
    results stored, artifacts, the failure event) and publish them if they pass."""
    warehouse = open_warehouse(settings)
    run_id = flow_run.get_id() or uuid.uuid4().hex
    try:
        with job_labels(run_id=run_id):
            published = pipeline.write_audit_publish(
                warehouse,
                settings,
                run_id=run_id,
                selection=SNAPSHOT_MARTS,
                on_result=publish_gate_outcome,
            )
        return list(published.build.marts)
    finally:
        warehouse.close()


@task(name="export-training-set", cache_policy=NO_CACHE, persist_result=False)
def export_training_set(settings: Settings, as_of: date | None, out: str | None) -> dict[str, Any]:
    """Export the training set as of ``as_of`` (default: the last loaded day) to ``out``
    (default: ``.bnpl/features/as-of-<date>``); returns its data card."""
    if as_of is None:
        warehouse = open_warehouse(settings)
        try:
            as_of = features.last_loaded_day(warehouse)
        finally:
            warehouse.close()
    out_dir = Path(out) if out else DEFAULT_OUT / f"as-of-{as_of.isoformat()}"
    card = dict(features.export(as_of, out_dir, settings=settings).card)
    return card | {"out_dir": str(out_dir)}


@flow(name="bnpl-features")
def bnpl_features(
    as_of: Day | None = None, out: str | None = None, build: bool = True
) -> dict[str, int]:
    """Export the training set as of ``as_of`` (default: the last loaded day) to ``out``
    (default ``.bnpl/features/as-of-<date>``), after rebuilding the snapshot marts when
    ``build``. Returns the rows per split."""
    forward_bnpl_logs()
    settings = load_settings()
    if build:
        build_snapshot_marts(settings)
    card = export_training_set(settings, as_of, out)
    create_markdown_artifact(
        key="training-set-card",
        markdown=features.card_markdown(card),
        description=f"Training set as of {card['as_of']} ({card['rows']:,} rows) in {card['out_dir']}",
    )
    return {name: split["rows"] for name, split in card["splits"].items()}
