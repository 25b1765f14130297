"""Markdown of decisions and versions (the CLI's output and the Prefect artifact)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bnpl.governance import registry, store
from bnpl.governance.decisions import Decision
from bnpl.settings import Settings


def decision_markdown(decision: Decision) -> str:
    """The decision: verdict, window and every figure beside ``risk_score`` alone."""
    lines = [
        f"# {decision.registered_model}: {decision.verdict}",
        "",
        decision.reason[0].upper() + decision.reason[1:] + ".",
        "",
        f"- Champion before: {decision.champion or '-'}; challenger: {decision.challenger or '-'}; "
        f"champion now: {decision.new_champion}.",
        f"- Decision id: `{decision.decision_id}` (bnpl_audit.model_decisions, MLflow tags).",
    ]
    c = decision.comparison
    if c is not None:
        lines += [
            f"- Evaluation window: {decision.window} as of {decision.as_of}: {c.rows:,} matured "
            f"outcomes, {c.positives:,} defaults; paired bootstrap of {c.resamples} resamples, "
            f"{100 * c.confidence:g} % intervals.",
            "",
            "| metric | champion | challenger | risk_score alone | change | interval |",
            "|---|---:|---:|---:|---:|---|",
        ]
        for metric, interval in c.deltas.items():
            base = f"{getattr(c.baseline, metric):.4f}" if c.baseline else "-"
            lines.append(
                f"| {metric} | {getattr(c.champion, metric):.4f} | "
                f"{getattr(c.challenger, metric):.4f} | {base} | {interval.point:+.4f} | "
                f"{interval.low:+.4f} to {interval.high:+.4f} |"
            )
        lines += [
            "",
            "Higher is better for roc_auc and pr_auc, lower for brier and ece. simtom draws the "
            "outcome from risk_score plus noise, so no model can add much beyond it.",
        ]
    if decision.monitor:
        lines += ["", *monitor_lines(decision.monitor)]
    return "\n".join(lines) + "\n"


def _metric(client: Any, run_id: str, key: str) -> str:
    if not run_id:
        return "-"
    with store.quiet():
        value = client.get_run(run_id).data.metrics.get(key)
    return "-" if value is None else f"{value:.4f}"


def versions_markdown(settings: Settings) -> str:
    """Every version: aliases, as-of date, training window, test ROC AUC beside risk_score."""
    client = store.open_client(settings)
    name = settings.model.registered_model
    registry.require_model(client, name)
    lines = [
        f"Registered model {name} in {store.describe_uri(client.tracking_uri)}",
        "",
        "| version | aliases | as of | trained on | test ROC AUC | risk_score test ROC AUC |",
        "|---:|---|---|---|---:|---:|",
    ]
    for v in registry.versions(client, name):
        lines.append(
            f"| {v.version} | {', '.join(v.aliases) or '-'} | {v.as_of} | {v.training} | "
            f"{_metric(client, v.run_id, 'test_model_roc_auc')} | "
            f"{_metric(client, v.run_id, 'test_risk_score_roc_auc')} |"
        )
    return "\n".join(lines) + "\n"


def monitor_lines(monitor: Mapping[str, Any]) -> list[str]:
    """The live monitoring evidence of a decision (``bnpl model monitor``'s newest run)."""

    def num(value: Any) -> str:
        return "-" if value is None else f"{float(value):.4f}"

    first = next(iter(monitor.values()))
    lines = [
        f"Live monitoring (bnpl_audit.model_monitor, run `{first['run_id']}` as of "
        f"{first['as_of']}): the logged scores on matured outcomes.",
        "",
        "| version | role | scores | matured | approval rate | latest period | ROC AUC | Brier "
        "| ECE | max score PSI |",
        "|---:|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for version, f in monitor.items():
        lines.append(
            f"| {version} | {f['role']} | {f['scores']:,} | {f['matured']:,} | "
            f"{num(f['approval_rate'])} | {f['latest_period'] or '-'} | {num(f['latest_roc_auc'])} "
            f"| {num(f['latest_brier'])} | {num(f['latest_ece'])} | {num(f['max_score_psi'])} |"
        )
    return lines
