"""Every governance decision, kept twice: as tags on the MLflow model versions involved and as a
row of ``bnpl_audit.model_decisions`` (declared in ``schemas/bnpl_audit/model_decisions.json``,
created by either warehouse's ``ensure_schema``). Values are bound parameters; a column without
a value (no comparison: an initial champion, a rollback) is written as NULL.

Read them with ``bnpl.read_table("bnpl_audit.model_decisions")``.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlglot

from bnpl.governance import registry, store
from bnpl.governance.metrics import Comparison
from bnpl.governance.window import Window
from bnpl.timeutil import utc_now
from bnpl.version import VERSION
from bnpl.warehouse import Warehouse
from bnpl.warehouse.names import MODEL_DECISIONS

logger = logging.getLogger(__name__)

NO_DAY = date(1970, 1, 1)
"""Stands for NULL in a DATE parameter (BigQuery parameters need a type, so no bare None)."""

_INSERT = """
INSERT INTO t (
  decision_id, decided_at, registered_model, action, verdict, champion_version,
  challenger_version, new_champion_version, as_of_date, window_start, window_end, rows,
  positives, roc_auc_champion, roc_auc_challenger, roc_auc_delta_low, roc_auc_delta_high,
  ece_delta, risk_score_roc_auc, figures, reason, flow_run_id, bnpl_version
)
VALUES (
  @decision_id, @decided_at, @registered_model, @action, @verdict, NULLIF(@champion_version, 0),
  NULLIF(@challenger_version, 0), @new_champion_version, NULLIF(@as_of_date, @no_day),
  NULLIF(@window_start, @no_day), NULLIF(@window_end, @no_day),
  CASE WHEN @compared THEN @rows END, CASE WHEN @compared THEN @positives END,
  CASE WHEN @compared THEN @roc_auc_champion END, CASE WHEN @compared THEN @roc_auc_challenger END,
  CASE WHEN @compared THEN @roc_auc_delta_low END, CASE WHEN @compared THEN @roc_auc_delta_high END,
  CASE WHEN @compared THEN @ece_delta END, CASE WHEN @has_baseline THEN @risk_score_roc_auc END,
  @figures, @reason, NULLIF(@flow_run_id, ''), @bnpl_version
)
"""


@dataclass(frozen=True)
class Decision:
    """One decision.

    Attributes:
        action: ``promote``, ``initial`` or ``rollback``.
        verdict: ``promoted``, ``kept``, ``initial`` or ``rolled_back``.
        registered_model: the model's name.
        champion: champion version before (None: none).
        challenger: the version compared, made champion or restored.
        new_champion: champion version after.
        reason: one sentence.
        as_of: as-of date of the outcomes compared.
        window: the evaluation window.
        comparison: the figures (None: nothing compared).
        monitor: the newest ``bnpl model monitor`` figures of the versions compared (version
            text -> figures; evidence shown beside the comparison, not part of the rule).
        decision_id: unique id.
        decided_at: when (UTC).
    """

    action: str
    verdict: str
    registered_model: str
    champion: int | None
    challenger: int | None
    new_champion: int
    reason: str
    as_of: date | None = None
    window: Window | None = None
    comparison: Comparison | None = None
    monitor: Mapping[str, Any] | None = None
    decision_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    decided_at: datetime = field(default_factory=utc_now)

    def figures(self) -> dict[str, Any]:
        """Every figure as plain JSON-able values ({} when nothing was compared)."""
        c = self.comparison
        if c is None:
            return {}
        return {
            "rows": c.rows,
            "positives": c.positives,
            "champion": c.champion.as_dict(),
            "challenger": c.challenger.as_dict(),
            "risk_score": c.baseline.as_dict() if c.baseline else None,
            "deltas": {m: [i.point, i.low, i.high] for m, i in c.deltas.items()},
            "resamples": c.resamples,
            "confidence": c.confidence,
            **({"monitor": dict(self.monitor)} if self.monitor else {}),
        }


def params(decision: Decision, flow_run_id: str | None = None) -> dict[str, Any]:
    """The insert's parameters (every one typed, none None)."""
    c = decision.comparison
    auc = c.deltas["roc_auc"] if c else None
    return {
        "decision_id": decision.decision_id,
        "decided_at": decision.decided_at,
        "registered_model": decision.registered_model,
        "action": decision.action,
        "verdict": decision.verdict,
        "champion_version": decision.champion or 0,
        "challenger_version": decision.challenger or 0,
        "new_champion_version": decision.new_champion,
        "as_of_date": decision.as_of or NO_DAY,
        "window_start": decision.window.start if decision.window else NO_DAY,
        "window_end": decision.window.end if decision.window else NO_DAY,
        "no_day": NO_DAY,
        "compared": c is not None,
        "has_baseline": bool(c and c.baseline),
        "rows": c.rows if c else 0,
        "positives": c.positives if c else 0,
        "roc_auc_champion": c.champion.roc_auc if c else 0.0,
        "roc_auc_challenger": c.challenger.roc_auc if c else 0.0,
        "roc_auc_delta_low": auc.low if auc else 0.0,
        "roc_auc_delta_high": auc.high if auc else 0.0,
        "ece_delta": c.deltas["ece"].point if c else 0.0,
        "risk_score_roc_auc": c.baseline.roc_auc if c and c.baseline else 0.0,
        "figures": json.dumps(decision.figures(), sort_keys=True),
        "reason": decision.reason,
        "flow_run_id": flow_run_id or "",
        "bnpl_version": VERSION,
    }


def write_decision(
    warehouse: Warehouse, decision: Decision, *, flow_run_id: str | None = None
) -> None:
    """Append ``decision`` to ``bnpl_audit.model_decisions`` (the table created if missing)."""
    warehouse.ensure_schema()
    statement = sqlglot.parse_one(_INSERT, read="bigquery")
    statement.this.set("this", warehouse.table(*MODEL_DECISIONS))
    warehouse.execute(warehouse.render(statement), params(decision, flow_run_id))
    logger.info(
        "recorded decision %s (%s: %s) in %s",
        decision.decision_id,
        decision.action,
        decision.verdict,
        MODEL_DECISIONS,
    )


def tag_decision(client: Any, decision: Decision) -> None:
    """Tag the versions involved: ``bnpl.decision.<id>`` with the verdict and reason on each,
    and ``bnpl.last_decision`` on the registered model."""
    summary = json.dumps(
        {
            "action": decision.action,
            "verdict": decision.verdict,
            "champion": decision.champion,
            "challenger": decision.challenger,
            "new_champion": decision.new_champion,
            "window": str(decision.window) if decision.window else None,
            "decided_at": decision.decided_at.isoformat(),
            "reason": decision.reason,
            "figures": decision.figures(),
        },
        sort_keys=True,
    )[:5000]
    involved = {v for v in (decision.champion, decision.challenger, decision.new_champion) if v}
    for version in sorted(involved):
        registry.tag_version(
            client,
            decision.registered_model,
            version,
            {f"bnpl.decision.{decision.decision_id}": summary},
        )
    with store.quiet():
        client.set_registered_model_tag(decision.registered_model, "bnpl.last_decision", summary)
