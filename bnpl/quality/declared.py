"""Checks generated from what each mart declares in its header (:mod:`bnpl.models`), as dbt's
generic tests are: not written again by hand in :mod:`bnpl.quality.checks`.

For a mart named ``mart_bnpl_<x>`` (the check prefix drops ``bnpl_``: ``mart_<x>``):

========================================  ===========================================================
declaration                               check (integrity, severity ``error``)
========================================  ===========================================================
``unique_key``                            ``<prefix>_key_unique``: the key occurs once (within the
                                          checked days when the mart has ``partition_by``)
``unique_key`` columns and non-null       ``<prefix>_key_not_null`` (one column) or
``references`` columns                    ``<prefix>_keys_not_null``: the keys are never NULL
any other ``nullable=False`` column       ``<prefix>_not_null``
``references='m.c'`` /                    ``<prefix>_<column without _key>_exists``: every non-NULL
``{'relationships': 'm.c'}``              value has a row in ``m`` (any day)
``tests=['unique']``                      ``<prefix>_<column>_unique``
``{'accepted_values': [...]}``            ``<prefix>_<column>_accepted_values`` (values bound)
========================================  ===========================================================

The names are the ones the hand-written checks had, so ``dq_results`` history stays comparable.
Marts are checked in the audit area while gating; intermediate models feed them and are not
gated themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bnpl.models.model import ColumnDoc, Model, Project
from bnpl.quality.base import Check, Outcome
from bnpl.quality.context import CheckContext
from bnpl.quality.integrity import Relation, SqlAssertion

GATED_LAYER = "marts"
"""The layer whose declarations become checks."""


@dataclass(frozen=True, slots=True)
class _WithParent:
    """A relationship assertion, skipped when the parent mart is not built by the run."""

    parent: str
    assertion: SqlAssertion

    def __call__(self, ctx: CheckContext) -> Outcome:
        if not ctx.has_model(self.parent):
            return Outcome("skip", None, None, f"{self.parent} is not built by this run")
        return self.assertion(ctx)


def check_prefix(model: Model) -> str:
    """The prefix of a mart's generated check names: its name without ``bnpl_``."""
    return model.name.replace("bnpl_", "", 1)


def _relation(model: Model) -> Relation:
    """A mart by its bare name (the run's marts dataset); other models by ``dataset.name``."""
    return Relation(model.name if model.layer == GATED_LAYER else f"{model.dataset}.{model.name}")


def _check(
    model: Model, name: str, description: str, evaluate: Callable[[CheckContext], Outcome]
) -> Check:
    return Check(name, "integrity", model.name, "error", description, evaluate)


def _names(columns: Sequence[ColumnDoc]) -> str:
    return ", ".join(c.name for c in columns)


def model_checks(model: Model, project: Project) -> list[Check]:
    """The checks ``model``'s declarations generate (see the module docstring), in this order:
    key unique, keys not null, other columns not null, relationships, column tests."""
    prefix, relation, day = check_prefix(model), _relation(model), model.config.partition_by
    within = " within the range" if day else ""
    base = {"relation": relation, "day_column": day}
    checks: list[Check] = []
    key = model.config.unique_key
    if key:
        checks.append(
            _check(
                model,
                f"{prefix}_key_unique",
                f"{', '.join(key)} occurs once in {model.name}{within}",
                SqlAssertion("unique", {**base, "columns": list(key)}),
            )
        )
    keys = [c for c in model.columns if c.name in key or (c.references and not c.nullable)]
    if keys:
        checks.append(
            _check(
                model,
                f"{prefix}_{'key' if len(keys) == 1 else 'keys'}_not_null",
                f"{_names(keys)} {'is' if len(keys) == 1 else 'are'} never null in {model.name}",
                SqlAssertion("not_null", {**base, "columns": [c.name for c in keys]}),
            )
        )
    required = [c for c in model.columns if not c.nullable and c not in keys]
    if required:
        checks.append(
            _check(
                model,
                f"{prefix}_not_null",
                f"the declared non-null columns of {model.name} are never null",
                SqlAssertion("not_null", {**base, "columns": [c.name for c in required]}),
            )
        )
    for column in model.columns:
        if column.references is None:
            continue
        parent_name, _, parent_column = column.references.partition(".")
        parent = project.models[parent_name]
        checks.append(
            _check(
                model,
                f"{prefix}_{column.name.removesuffix('_key')}_exists",
                f"every {model.name}.{column.name} is in {column.references}",
                _WithParent(
                    _relation(parent).model,
                    SqlAssertion(
                        "relationship",
                        {
                            "child": relation,
                            "column": column.name,
                            "parent": _relation(parent),
                            "parent_column": parent_column,
                            "day_column": day,
                            "same_day": False,
                            "parent_partitioned": False,
                        },
                    ),
                ),
            )
        )
    for column in model.columns:
        if column.unique:
            checks.append(
                _check(
                    model,
                    f"{prefix}_{column.name}_unique",
                    f"{column.name} occurs once in {model.name}{within}",
                    SqlAssertion("unique", {**base, "columns": [column.name]}),
                )
            )
        if column.accepted_values is not None:
            checks.append(
                _check(
                    model,
                    f"{prefix}_{column.name}_accepted_values",
                    f"{column.name} is one of {list(column.accepted_values)}"
                    f"{' or null' if column.nullable else ''}",
                    SqlAssertion(
                        "accepted_values",
                        {**base, "columns": [column.name], "allow_null": column.nullable},
                        {f"accepted_{column.name}": list(column.accepted_values)},
                    ),
                )
            )
    return checks


def declared_model_checks(project: Project) -> list[Check]:
    """Every mart's generated checks, marts in dependency order."""
    return [
        check
        for model in project.models.values()
        if model.layer == GATED_LAYER
        for check in model_checks(model, project)
    ]
