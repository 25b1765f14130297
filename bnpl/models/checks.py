"""The checks a mart's header declares: their names and what they assert. The quality gate
evaluates them (:mod:`bnpl.quality.declared`); ``docs/models.md`` lists them.

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
``{'accepted_values': [...]}``            ``<prefix>_<column>_accepted_values`` (values bound; NULL
                                          passes only on a nullable column)
========================================  ===========================================================

The names are those of the hand-written checks they replaced, so ``dq_results`` history stays
comparable. Only marts are gated (checked in the audit area before publication); intermediate
models feed them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeGuard

from bnpl.models.model import ColumnDoc, Model

GATED_LAYER = "marts"
"""The layer whose declarations become checks."""

Kind = Literal["unique", "not_null", "relationship", "accepted_values"]


@dataclass(frozen=True, slots=True)
class DeclaredCheck:
    """One check a mart declares.

    Attributes:
        name: the ``check_name`` in ``dq_results``.
        kind: what it asserts of ``columns``.
        model: the mart.
        columns: the checked columns.
        description: what it asserts, in one sentence.
        day_column: the mart's partition column (limits the check to the checked days), or None.
        references: ``model.column`` a relationship's values must exist in.
        accepted_values: the values an ``accepted_values`` check allows.
        allow_null: an ``accepted_values`` check lets NULL pass (the column is nullable).
    """

    name: str
    kind: Kind
    model: str
    columns: tuple[str, ...]
    description: str
    day_column: str | None
    references: str | None = None
    accepted_values: tuple[str | int | float | bool, ...] | None = None
    allow_null: bool = False


def with_tests(column: ColumnDoc, tests: Sequence[object]) -> ColumnDoc:
    """``column`` (as ``column(...)`` declared it) with its ``tests=[...]`` applied, written as
    dbt writes them: ``'not_null'``, ``'unique'``, ``{'accepted_values': [...]}``,
    ``{'relationships': 'model.column'}``.

    Raises:
        ValueError: an unknown test or a bad argument (the message lists the tests).
    """
    nullable, references = column.nullable, column.references
    unique, accepted = False, None
    for test in tests:
        kind, arg = (
            next(iter(test.items())) if isinstance(test, dict) and len(test) == 1 else (test, None)
        )
        if kind == "not_null" and arg is None:
            nullable = False
        elif kind == "unique" and arg is None:
            unique = True
        elif kind == "accepted_values" and _scalars(arg):
            accepted = tuple(arg)
        elif kind == "relationships" and isinstance(arg, str) and arg.count(".") == 1:
            if references not in (None, arg):
                raise ValueError(f"column {column.name!r} references {references!r} and {arg!r}")
            references = arg
        else:
            raise ValueError(
                f"column {column.name!r} has test {test!r}; tests are 'not_null', 'unique', "
                "{'accepted_values': [value, ...]} and {'relationships': 'model.column'}"
            )
    return dataclasses.replace(
        column, nullable=nullable, references=references, unique=unique, accepted_values=accepted
    )


def _scalars(value: object) -> TypeGuard[list[str | int | float | bool]]:
    return (
        isinstance(value, list | tuple)
        and bool(value)
        and all(isinstance(v, str | int | float | bool) for v in value)
    )


def check_prefix(model: Model) -> str:
    """The prefix of a mart's check names: its name without ``bnpl_``."""
    return model.name.replace("bnpl_", "", 1)


def declared_checks(model: Model) -> list[DeclaredCheck]:
    """The checks ``model`` declares (none unless it is a mart), in this order: key unique, keys
    not null, other columns not null, relationships, then each column's tests."""
    if model.layer != GATED_LAYER:
        return []
    prefix, day = check_prefix(model), model.config.partition_by
    within = " within the range" if day else ""
    checks: list[DeclaredCheck] = []

    def add(
        name: str,
        kind: Kind,
        columns: list[str],
        description: str,
        *,
        references: str | None = None,
        accepted_values: tuple[str | int | float | bool, ...] | None = None,
        allow_null: bool = False,
    ) -> None:
        checks.append(
            DeclaredCheck(
                f"{prefix}_{name}",
                kind,
                model.name,
                tuple(columns),
                description,
                day,
                references,
                accepted_values,
                allow_null,
            )
        )

    key = list(model.config.unique_key)
    if key:
        add("key_unique", "unique", key, f"{', '.join(key)} occurs once in {model.name}{within}")
    keys = [c.name for c in model.columns if c.name in key or (c.references and not c.nullable)]
    if keys:
        plural = len(keys) > 1
        add(
            "keys_not_null" if plural else "key_not_null",
            "not_null",
            keys,
            f"{', '.join(keys)} {'are' if plural else 'is'} never null in {model.name}",
        )
    required = [c.name for c in model.columns if not c.nullable and c.name not in keys]
    if required:
        add("not_null", "not_null", required, "its declared non-null columns are never null")
    for column in model.columns:
        if column.references:
            add(
                f"{column.name.removesuffix('_key')}_exists",
                "relationship",
                [column.name],
                f"every non-null {column.name} is in {column.references}",
                references=column.references,
            )
    for column in model.columns:
        if column.unique:
            add(
                f"{column.name}_unique",
                "unique",
                [column.name],
                f"{column.name} occurs once in {model.name}{within}",
            )
        if column.accepted_values is not None:
            add(
                f"{column.name}_accepted_values",
                "accepted_values",
                [column.name],
                f"{column.name} is one of {list(column.accepted_values)}"
                + (" or null" if column.nullable else ""),
                accepted_values=column.accepted_values,
                allow_null=column.nullable,
            )
    return checks
