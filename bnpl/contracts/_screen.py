"""The fast screen: a frame checked against a Pandera schema in one Polars pass, and Pandera's
own row-level failures for a frame that does not pass it.

Pandera runs each check as its own query (a few collects per check, ~80 checks), a fixed cost
per day whatever its size. Most days are clean, so :func:`passes` evaluates the schema's own
check expressions in a single ``select``; only a day that fails it is validated by Pandera,
whose ``failure_cases`` then decide and name every failure (:func:`failures`).

Pandera has no public way to get a polars check's expression: its own check backend calls
``Check._check_fn`` with the check's ``_check_kwargs``, and so does :func:`_check_expr` (the
attributes are read in one place, and a check that does not yield a plain expression makes the
screen step aside, so a Pandera change can cost speed, never correctness).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandera.backends.polars.builtin_checks  # noqa: F401  (Polars versions of built-in checks)
import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData
from pandera.errors import SchemaErrors

from bnpl.errors import ContractError


@dataclass(frozen=True)
class Failure:
    """One failed check on one row of a validated frame."""

    row: int
    check: str
    column: str | None
    message: str


class _Capture:
    """Stands in for the LazyFrame a Pandera check selects from, and hands back the expression."""

    def select(self, *exprs: object) -> object:
        # one expression is the rule; anything else (several columns folded by Pandera, a
        # selector) is not captured and the schema is left to Pandera
        return exprs[0] if len(exprs) == 1 and isinstance(exprs[0], pl.Expr) else None


_SCREENS: dict[int, tuple[pa.DataFrameSchema, tuple[pl.Schema, list[pl.Expr]] | None]] = {}
""":func:`_screen` of each schema seen, by ``id`` (the schema is kept, so the id stays its own)."""


def _screen(schema: pa.DataFrameSchema) -> tuple[pl.Schema, list[pl.Expr]] | None:
    """The dtypes ``schema`` expects and one boolean expression per rule (None: not screenable).

    Built once per schema: calling Pandera's check functions to get their expressions costs
    about as much as evaluating them on a day.
    """
    cached = _SCREENS.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    screen = _build_screen(schema)
    if len(_SCREENS) >= 1024:
        _SCREENS.clear()
    _SCREENS[id(schema)] = (schema, screen)
    return screen


def _build_screen(schema: pa.DataFrameSchema) -> tuple[pl.Schema, list[pl.Expr]] | None:
    expected = pl.Schema({name: column.dtype.type for name, column in schema.columns.items()})
    exprs: list[pl.Expr] = []
    for check in schema.checks:  # row-wise rules over several columns (the ledger's)
        expr = _check_expr(check, "*")
        if expr is None:
            return None
        exprs.append(expr)
    for name, column in schema.columns.items():
        value = pl.col(name)
        if not column.nullable:
            present = value.is_not_null()
            exprs.append(present & ~value.is_nan() if expected[name].is_float() else present)
        if column.unique:
            exprs.append(~value.is_duplicated())
        for check in column.checks:
            expr = _check_expr(check, name)
            if expr is None:
                return None
            exprs.append(expr)
    return expected, [_screen_rule(e, i) for i, e in enumerate(exprs)]


def _screen_rule(expr: pl.Expr, index: int) -> pl.Expr:
    # one output column per rule: Polars evaluates them in parallel, where one all_horizontal
    # over every rule runs as a single expression (figures: docs/decisions.md, Speed)
    return expr.all().alias(f"_rule_{index}")


def _check_expr(check: pa.Check, column: str) -> pl.Expr | None:
    """The row-wise boolean expression of a Pandera check on ``column`` (``"*"``: a
    dataframe-level check; None: not a plain expression). Pandera's polars checks are
    ``data.lazyframe.select(<expr>)``: capture it."""
    if check.element_wise:
        return None
    out = check._check_fn(PolarsData(_Capture(), column), **check._check_kwargs)  # type: ignore[arg-type]
    if not isinstance(out, pl.Expr):
        return None
    return out.fill_null(check.ignore_na)


def passes(
    frame: pl.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    extra: Sequence[tuple[pa.Check, str]] = (),
) -> bool:
    """True when every row of ``frame`` passes every check of ``schema``, in one Polars pass.

    Pandera runs each check as its own query (a few collects per check), a fixed cost per day
    whatever its size. Most days are clean, so this screen evaluates the schema's own check expressions (its built-in and custom checks, null and
    uniqueness rules, with Pandera's null handling) in a single ``select``; only a day that
    fails it is validated by Pandera, which then decides every row and names every failure.
    False also means "cannot screen" (a check that is not a plain expression, a dtype or column
    mismatch): Pandera then validates and reports. ``extra`` are more ``(check, column)`` pairs
    (a day's own rule on top of a shared schema, without copying the schema).
    """
    screen = _screen(schema)
    if screen is None:
        return False
    expected, rules = screen
    if frame.schema != expected:
        return False
    more = [_check_expr(check, column) for check, column in extra]
    if any(expr is None for expr in more):
        return False
    rules = [*rules, *(_screen_rule(e, -1 - i) for i, e in enumerate(more) if e is not None)]
    if frame.is_empty() or not rules:
        return True
    return all(frame.select(rules).row(0))


def failures(
    frame: pl.DataFrame,
    schema: pa.DataFrameSchema,
    *,
    screened: bool = False,
    derived: frozenset[str] = frozenset(),
) -> list[Failure]:
    """Every row-level failure of ``frame`` under ``schema`` (empty when it is valid).
    ``screened``: the caller's :func:`passes` already failed, go straight to Pandera. Failures on
    ``derived`` columns sort after those on source fields.

    Raises:
        ContractError: on a failure that is not about a row (a missing column, a wrong dtype):
            the frame was built wrong, which no quarantine can fix.
    """
    if not screened and passes(frame, schema):
        return []
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    frame_level = cases.filter(pl.col("index").is_null())
    if frame_level.height:
        raise ContractError(
            f"{schema.name} frame does not match its contract: "
            f"{frame_level.select('column', 'check', 'failure_case').rows()}; "
            "this is a bug in bnpl's normalisation, not in the data"
        )
    order = {name: i for i, name in enumerate(schema.columns)}
    rules = {c.name for col in schema.columns.values() for c in col.checks if c.error is None}
    rows = cases.select(
        "index", "check", "column", "failure_case", pl.col("check_number").fill_null(-1)
    ).rows()
    rows.sort(key=lambda r: (r[2] in derived, r[1] in rules, order.get(r[2], 999), r[4], r[0]))
    # built-in checks are identified with their arguments, e.g. "isin(['a', 'b'])": name them
    # by the check alone and keep the arguments in the message
    return [Failure(r[0], r[1].split("(")[0], r[2], f"{r[2]}={r[3]} fails {r[1]}") for r in rows]


def check_or_raise(frame: pl.DataFrame, model: type[pa.DataFrameModel]) -> None:
    found = failures(frame, model.to_schema())
    if found:
        first = found[0]
        raise ContractError(
            f"{model.__name__} rows break their contract ({len(found)} failures, first: "
            f"{first.message}); these rows are derived by bnpl, so this is a bug to report"
        )
