"""The quality checks each mart declares in its header (:mod:`bnpl.models.checks` names them and
says what they assert), evaluated as SQL assertions like the hand-written ones."""

from __future__ import annotations

from dataclasses import dataclass

from bnpl.models.checks import DeclaredCheck, declared_checks
from bnpl.models.model import Model, Project
from bnpl.quality.base import Check, Outcome
from bnpl.quality.context import CheckContext
from bnpl.quality.integrity import Relation, SqlAssertion


@dataclass(frozen=True, slots=True)
class _WithParent:
    """A relationship assertion, skipped when the parent mart is not built by the run."""

    parent: str
    assertion: SqlAssertion

    def __call__(self, ctx: CheckContext) -> Outcome:
        if not ctx.has_model(self.parent):
            return Outcome("skip", None, None, f"{self.parent} is not built by this run")
        return self.assertion(ctx)


def relation_of(model: Model) -> str:
    """How a check names a model: a mart by its bare name (the run's marts dataset, the audit
    area while gating); another model as ``dataset.name``."""
    return model.name if model.layer == "marts" else f"{model.dataset}.{model.name}"


def _assertion(declared: DeclaredCheck, project: Project) -> SqlAssertion | _WithParent:
    relation = Relation(relation_of(project.models[declared.model]))
    common = {"relation": relation, "day_column": declared.day_column}
    if declared.kind in ("unique", "not_null"):
        return SqlAssertion(declared.kind, {**common, "columns": list(declared.columns)})
    if declared.kind == "accepted_values":
        (column,) = declared.columns
        return SqlAssertion(
            "accepted_values",
            {**common, "columns": [column], "allow_null": declared.allow_null},
            {f"accepted_{column}": list(declared.accepted_values or ())},
        )
    assert declared.references is not None
    parent_name, _, parent_column = declared.references.partition(".")
    parent = relation_of(project.models[parent_name])
    return _WithParent(
        parent,
        SqlAssertion(
            "relationship",
            {
                "child": relation,
                "column": declared.columns[0],
                "parent": Relation(parent),
                "parent_column": parent_column,
                "day_column": declared.day_column,
                "same_day": False,
                "parent_partitioned": False,
            },
        ),
    )


def declared_model_checks(project: Project) -> list[Check]:
    """Every mart's declared checks, marts in dependency order."""
    return [
        Check(
            name=declared.name,
            category="integrity",
            model=declared.model,
            severity="error",
            description=declared.description,
            evaluate=_assertion(declared, project),
        )
        for model in project.models.values()
        for declared in declared_checks(model)
    ]
