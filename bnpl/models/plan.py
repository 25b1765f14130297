"""Planning a build: each selected model's action, days, relations, parameters and SQL.

Days: ``start``/``end`` (inclusive) are the days an incremental build replaces, bound as
``@start_date``/``@end_date``. Without them, and for a full refresh, a ``table`` model or an
incremental model built for the first time, the days are every day in the ledger
(``bnpl_raw.source_batches``). A model with ``lookback_days`` also replaces that many days after
the range, up to the last loaded day.

With ``audit=True`` every selected mart targets ``bnpl_audit`` under its own name, and a ``ref()``
to a mart built in the same run reads the audit copy; other refs read the published tables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import polars as pl
import sqlglot.errors

from bnpl import sqlcache as sql_cache
from bnpl.calendar import check_range, holiday_name, iter_days
from bnpl.errors import ConfigError, ModelError
from bnpl.models.compile import (
    Action,
    CompiledModel,
    Relation,
    Resolver,
    compile_model,
    holiday_parameter_names,
    span_query,
)
from bnpl.models.model import SOURCES, Model, Project
from bnpl.warehouse.base import Warehouse
from bnpl.warehouse.names import AUDIT, MARTS
from bnpl.warehouse.names import LEDGER as _LEDGER

LEDGER = Relation(*_LEDGER)
PROBE_DAY = date(1970, 1, 1)
"""The day a view's schema probe filters its partition column on: no rows are read, but
BigQuery's partition-filter enforcement sees a filter."""
HOLIDAY_WINDOW = timedelta(days=366)
"""``calendar_holidays()`` covers the built days widened by this on both sides (proximity)."""


_COMPILED: dict[tuple[object, ...], CompiledModel] = {}
"""Compiled models by everything their statements depend on. Values are bound parameters, so a
process that builds day after day (simulated daily runs, a notebook) compiles each model once per
action instead of once per build (transpiling a model costs ~0.1 s); each entry is also kept on
disk (:mod:`bnpl.sqlcache`), so the next ``bnpl`` command does not transpile it again."""
_COMPILED_MAX = 256


@dataclass(frozen=True)
class Step:
    compiled: CompiledModel
    start: date | None
    end: date | None
    params: Mapping[str, Any]
    audited: bool


def _family(dtype: pl.DataType) -> str | None:
    """The declared type a result column's Polars type corresponds to (None: all-null, any)."""
    if dtype == pl.Null:
        return None
    if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum):
        return "STRING"
    if dtype.is_integer():
        return "INT64"
    if dtype.is_float():
        return "FLOAT64"
    if isinstance(dtype, pl.Decimal):
        # DuckDB sums BIGINT into HUGEINT, which arrives as decimal(38, 0); BigQuery's INT64 sum
        # and NUMERIC (scale 9) never look like that
        return "INT64" if dtype.scale == 0 else "NUMERIC"
    if dtype == pl.Boolean:
        return "BOOL"
    if dtype == pl.Date:
        return "DATE"
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMP" if dtype.time_zone else "DATETIME"
    return str(dtype)


def check_schema(model: Model, schema: Mapping[str, pl.DataType], what: str) -> None:
    """Raise :class:`ModelError` unless ``schema`` has exactly the declared columns and types."""
    declared = {c.name: c.type for c in model.columns}
    got = {name: _family(dtype) for name, dtype in schema.items()}
    missing = [n for n in declared if n not in got]
    extra = [n for n in got if n not in declared]
    wrong = [
        f"{n} is {got[n]}, declared {declared[n]}"
        for n in declared
        if n in got and got[n] is not None and got[n] != declared[n]
    ]
    if missing or extra or wrong:
        problems = []
        if missing:
            problems.append(f"missing {missing}")
        if extra:
            problems.append(f"undeclared {extra}")
        problems += wrong
        raise ModelError(
            f"{model.where()}: {what} break its declared schema ({'; '.join(problems)}); "
            "change the SELECT or the column() declarations"
        )


def holidays_for(start: date, end: date) -> list[tuple[date, str]]:
    """The holidays ``calendar_holidays()`` binds for a build of ``start..end``: every
    :func:`bnpl.calendar.holiday_name` within :data:`HOLIDAY_WINDOW` of the range."""
    found = []
    for day in iter_days(start - HOLIDAY_WINDOW, end + HOLIDAY_WINDOW):
        name = holiday_name(day)
        if name is not None:
            found.append((day, name))
    return found


class _Planner:
    """Decides each selected model's action, days, relations and parameters."""

    def __init__(
        self,
        warehouse: Warehouse,
        project: Project,
        selected: list[Model],
        *,
        start: date | None,
        end: date | None,
        full_refresh: bool,
        audit: bool,
        params: Mapping[str, Any],
    ) -> None:
        self.warehouse = warehouse
        self.project = project
        self.selected = {m.name for m in selected}
        self.start, self.end = start, end
        self.full_refresh = full_refresh
        self.audit = audit
        self.params = params
        self.qualify = warehouse.table
        self._exists: dict[Relation, bool] = {}
        self._span: tuple[date, date] | None = None

    def exists(self, relation: Relation) -> bool:
        if relation not in self._exists:
            self._exists[relation] = self.warehouse.table_exists(relation.dataset, relation.table)
        return self._exists[relation]

    def span(self, model: Model) -> tuple[date, date]:
        """Every loaded day, from the ledger."""
        if self._span is None:
            if not self.exists(LEDGER):
                raise ModelError(
                    f"{model.where()}: the ledger {LEDGER} does not exist, so there are no loaded "
                    "days to build; load data first (bnpl backfill)"
                )
            sql = span_query(self.qualify, LEDGER, self.warehouse.dialect)
            row = self.warehouse.query(sql).row(0, named=True)
            if row["first_day"] is None:
                raise ModelError(
                    f"{model.where()}: the ledger {LEDGER} is empty, so there are no loaded days "
                    "to build; load data first (bnpl backfill)"
                )
            self._span = (row["first_day"], row["last_day"])
        return self._span

    def published(self, model: Model) -> Relation:
        return Relation(model.dataset, model.name)

    def target(self, model: Model) -> Relation:
        if self.audit and model.dataset == MARTS:
            return Relation(AUDIT, model.name)
        return self.published(model)

    def ref(self, model: Model, name: str) -> Relation:
        upstream = self.project.models[name]
        if name in self.selected:
            return self.target(upstream)
        relation = self.published(upstream)
        if not self.exists(relation):
            raise ModelError(
                f"{model.where()}: ref({name!r}) reads {relation}, which does not exist and is not "
                f"selected; build it too (bnpl build --select +{model.name})"
            )
        return relation

    def source(self, model: Model, source_name: str, table: str) -> Relation:
        relation = Relation(SOURCES[source_name], table)
        if not self.exists(relation):
            raise ModelError(
                f"{model.where()}: source({source_name!r}, {table!r}) reads {relation}, which does "
                "not exist in the warehouse; load data first (bnpl backfill)"
            )
        return relation

    def step(self, model: Model) -> Step:
        published = self.published(model)
        target = self.target(model)
        this: Relation | None = None
        days: tuple[date, date] | None
        action: Action
        if model.config.materialized == "view":
            action, days = "view", None
        elif (
            model.config.materialized == "table" or self.full_refresh or not self.exists(published)
        ):
            action, days = "create", self.span(model)
        else:
            action = "replace_range" if model.config.strategy == "replace_range" else "merge"
            if self.start and self.end:
                days = (self.start, self.end)
                if model.config.lookback_days:
                    # later days' windows read these days: replace them too, up to the last
                    # loaded day (none after a daily run's day)
                    reach = self.end + timedelta(days=model.config.lookback_days)
                    days = (self.start, max(self.end, min(reach, self.span(model)[1])))
            else:
                days = self.span(model)
            this = target
        missing = [p for p in model.config.parameters if p not in self.params]
        if missing:
            raise ModelError(
                f"{model.where()}: declares parameters {missing} that the build was not given; "
                "pass them with params={...}"
            )
        params: dict[str, Any] = {k: v for k, v in self.params.items() if k in model.parameters}
        holidays: list[tuple[date, str]] = []
        if days is not None:
            params |= {"start_date": days[0], "end_date": days[1]}
            if model.uses_holidays:
                holidays = holidays_for(*days)
        elif model.config.partition_by:
            params |= {"start_date": PROBE_DAY, "end_date": PROBE_DAY}
        for index, (day, name) in enumerate(holidays):
            date_name, name_name = holiday_parameter_names(index)
            params |= {date_name: day, name_name: name}
        resolver = Resolver(
            dialect=self.warehouse.dialect,
            qualify=self.qualify,
            ref=lambda name: self.ref(model, name),
            source=lambda source_name, table: self.source(model, source_name, table),
            holidays=len(holidays),
        )
        # what the statements depend on: the template, and every relation as the warehouse names it
        relations = [self.ref(model, name) for name in model.refs]
        relations += [self.source(model, name, table) for name, table in model.sources]
        relations += [target] if this is None else [target, this]
        key = (
            model.path,
            model.rendered,
            model.config,
            model.columns,
            self.warehouse.dialect,
            tuple(self.qualify(r.dataset, r.table).sql() for r in relations),
            action,
            this is None,
            len(holidays),
        )
        compiled = _COMPILED.get(key)
        if compiled is None:
            entry = sql_cache.key("model", repr(key))
            compiled = _from_disk(sql_cache.get(entry), model, target, action)
            if compiled is None:
                try:
                    compiled = compile_model(
                        model, resolver, target=target, action=action, this=this
                    )
                except sqlglot.errors.SqlglotError as exc:
                    raise ModelError(
                        f"{model.where()}: cannot be written for {self.warehouse.dialect}: {exc}"
                    ) from None
                sql_cache.put(entry, _to_disk(compiled))
            if len(_COMPILED) >= _COMPILED_MAX:
                _COMPILED.clear()
            _COMPILED[key] = compiled
        unbound = sorted(compiled.all_parameters - set(params))
        if unbound:
            raise ModelError(f"{model.where()}: uses parameters {unbound} that nothing binds")
        return Step(
            compiled,
            days[0] if days else None,
            days[1] if days else None,
            params,
            audited=target.dataset == AUDIT,
        )


def _to_disk(compiled: CompiledModel) -> dict[str, Any]:
    return {
        "query": compiled.query,
        "probe": compiled.probe,
        "statements": list(compiled.statements),
        "probe_parameters": sorted(compiled.probe_parameters),
        "parameters": [sorted(p) for p in compiled.parameters],
    }


def _from_disk(
    entry: dict[str, Any] | None, model: Model, target: Relation, action: Action
) -> CompiledModel | None:
    """A compiled model from a disk cache entry (:mod:`bnpl.sqlcache`); None if absent or
    not of the written shape."""
    if entry is None:
        return None
    try:
        return CompiledModel(
            model=model,
            target=target,
            action=action,
            query=str(entry["query"]),
            probe=str(entry["probe"]),
            statements=tuple(str(s) for s in entry["statements"]),
            probe_parameters=frozenset(str(p) for p in entry["probe_parameters"]),
            parameters=tuple(frozenset(str(p) for p in ps) for ps in entry["parameters"]),
        )
    except (KeyError, TypeError):
        return None


def validate_range(start: date | None, end: date | None, full_refresh: bool) -> None:
    """Raise :class:`ConfigError` unless ``start..end`` is a build's range: both or neither, in
    order, and not with a full refresh. Call before opening a warehouse."""
    if (start is None) != (end is None):
        raise ConfigError(
            "give both start and end (inclusive days), or neither for every loaded day"
        )
    if start is not None and end is not None:
        check_range(start, end)
        if full_refresh:
            raise ConfigError(
                "a full refresh rebuilds every loaded day; drop --start/--end, or drop "
                "--full-refresh to rebuild only those days"
            )


def plan_build(
    warehouse: Warehouse,
    project: Project,
    *,
    selection: Sequence[str] = (),
    start: date | None = None,
    end: date | None = None,
    full_refresh: bool = False,
    audit: bool = False,
    params: Mapping[str, Any] | None = None,
) -> list[CompiledModel]:
    """What :func:`build_models` would run, without writing (it reads table existence and the
    ledger). Raises the same errors."""
    return [
        step.compiled
        for step in plan_steps(
            warehouse, project, selection, start, end, full_refresh, audit, params
        )
    ]


def plan_steps(
    warehouse: Warehouse,
    project: Project,
    selection: Sequence[str],
    start: date | None,
    end: date | None,
    full_refresh: bool,
    audit: bool,
    params: Mapping[str, Any] | None,
) -> list[Step]:
    validate_range(start, end, full_refresh)
    selected = project.order(selection)
    planner = _Planner(
        warehouse,
        project,
        selected,
        start=start,
        end=end,
        full_refresh=full_refresh,
        audit=audit,
        params=dict(params or {}),
    )
    return [planner.step(model) for model in selected]
