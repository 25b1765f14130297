"""Model governance as a Prefect flow: ``bnpl-train``.

Wiring only. The flow reads the settings once, trains on the training set as of ``as_of``
(default: the last loaded day) with :func:`bnpl.governance.train`, then compares the new
challenger with the champion with :func:`bnpl.governance.promote` and attaches the comparison as
the markdown artifact ``model-decision``. The deployment runs after each completed
``bnpl-features`` run (a deployment trigger in ``prefect.yaml``).

The first champion is an explicit decision: without a champion the flow promotes only when
``initial`` is true; otherwise it trains, says in the artifact how to make the first champion
(``bnpl model promote --initial``) and completes.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from bnpl import governance
from bnpl.features import last_loaded_day
from bnpl.governance.report import decision_markdown
from bnpl.settings import Settings, load_settings
from bnpl.warehouse import open_warehouse
from bnpl_flows._runtime import Day, forward_bnpl_logs


@task(name="train-model", cache_policy=NO_CACHE, persist_result=False)
def train_model(settings: Settings, as_of: date) -> dict[str, Any]:
    """Train as of ``as_of`` and register the challenger; returns its version and test figures."""
    result = governance.train(settings, as_of=as_of)
    test = result.scores.get("test", {})
    return {
        "version": result.version,
        "training": str(result.training),
        "test_roc_auc": test["model"].roc_auc if "model" in test else None,
        "risk_score_test_roc_auc": test["risk_score"].roc_auc if "risk_score" in test else None,
    }


@task(name="promote-model", cache_policy=NO_CACHE, persist_result=False)
def promote_model(settings: Settings, as_of: date, initial: bool) -> str:
    """Compare the challenger with the champion (or make the first champion when ``initial``
    and there is none); returns the decision as Markdown."""
    from bnpl.governance import registry, store

    client = store.open_client(settings)
    name = settings.model.registered_model
    if registry.alias_version(client, name, registry.CHAMPION) is None and not initial:
        return (
            f"# {name}: no champion yet\n\nThe new version is the challenger. Make the first "
            "champion explicitly: `bnpl model promote --initial`, or run this flow with "
            "`initial: true`.\n"
        )
    decision = governance.promote(
        settings,
        as_of=as_of,
        initial=initial and registry.alias_version(client, name, registry.CHAMPION) is None,
        flow_run_id=flow_run.get_id(),
    )
    return decision_markdown(decision)


@flow(name="bnpl-train")
def bnpl_train(as_of: Day | None = None, initial: bool = False) -> str:
    """Train as of ``as_of`` (default: the last loaded day), then promote; returns the
    decision's first line."""
    forward_bnpl_logs()
    settings = load_settings()
    if as_of is None:
        warehouse = open_warehouse(settings)
        try:
            as_of = last_loaded_day(warehouse)
        finally:
            warehouse.close()
    trained = train_model(settings, as_of)
    markdown = promote_model(settings, as_of, initial)
    create_markdown_artifact(
        key="model-decision",
        markdown=markdown,
        description=f"bnpl-train as of {as_of}: version {trained['version']} trained",
    )
    return markdown.splitlines()[0].lstrip("# ")
