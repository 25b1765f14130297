"""SQL assertions: a template in ``sql/assertions/`` selects the rows that violate a rule; the
check fails when there are more than ``max_violations`` of them.

Used for keys, relationships, accepted values and ranges, and the contract's invariants.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from bnpl.quality.assertions import CompiledSql
from bnpl.quality.base import Level, Outcome
from bnpl.quality.context import CheckContext

SAMPLE_SIZE = 5
"""Violating rows quoted in a result's details."""


@dataclass(frozen=True, slots=True)
class Relation:
    """A template variable naming a model (``bnpl_raw.transactions`` or a bare mart name),
    resolved to the run's warehouse and area when the check runs."""

    model: str


@dataclass(frozen=True, slots=True)
class SqlAssertion:
    """Evaluate ``sql/assertions/<template>.sql``: violating rows, counted in the warehouse.

    Attributes:
        template: template path under ``sql/assertions`` without ``.sql``.
        variables: Jinja variables (structure only: relations, column names). ``day_column``
            (default ``transaction_date``) limits a table to the checked days; None reads it all.
        params: bound query parameters (accepted values, limits).
        max_violations: violating rows (or groups) tolerated.
    """

    template: str
    variables: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    max_violations: int = 0

    def compile(self, ctx: CheckContext) -> CompiledSql:
        """The SQL this assertion runs in ``ctx``'s warehouse: its violations, counted, and a
        sample of them."""
        variables = {"day_column": "transaction_date"} | {
            name: ctx.relation(value.model) if isinstance(value, Relation) else value
            for name, value in self.variables.items()
        }
        return ctx.render(
            "_violations", {**variables, "assertion": self.template, "sample_size": SAMPLE_SIZE}
        )

    def __call__(self, ctx: CheckContext) -> Outcome:
        compiled = self.compile(ctx)
        frame = ctx.warehouse.query(compiled.sql, compiled.bind({**ctx.params, **self.params}))
        violations = int(frame["dq_violations"][0]) if frame.height else 0
        level: Level = "fail" if violations > self.max_violations else "pass"
        return Outcome(
            level=level,
            observed=float(violations),
            threshold=float(self.max_violations),
            details=describe_violations(violations, frame.drop("dq_violations")),
        )


def describe_violations(count: int, sample: pl.DataFrame) -> str:
    """``"none"`` or ``"<count> violating rows, e.g. col=value, …; …"``."""
    if count == 0:
        return "no violating rows"
    examples = "; ".join(
        ", ".join(f"{k}={_short(v)}" for k, v in row.items())
        for row in sample.iter_rows(named=True)
    )
    return f"{count} violating rows, e.g. {examples}"


def _short(value: object) -> str:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."
